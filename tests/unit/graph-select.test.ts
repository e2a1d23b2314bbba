/** Target resolution and the `-s/-d/-p` selections, on DVC's own plan_repro cases and on multi-file pipelines. */
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../src/graph/graph.js";
import { componentClosure, downstreamClosure, executionOrder, resolveTargets, selectStages, upstreamClosure } from "../../src/graph/select.js";
import type { StageGraph } from "../../src/core/model.js";
import { makePipeline, pipelineFromDeps, type StageSpec } from "../helpers/stages.js";

function graphOf(p: ReturnType<typeof makePipeline>["pipeline"]): StageGraph {
  const r = buildGraph(p);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("\n"));
  return r.value;
}

describe("selection on DVC's test_repro_plan graph {1:[2,3], 2:[4,5], 3:[6,7], 8:[9]}", () => {
  const g = graphOf(pipelineFromDeps({ 1: ["2", "3"], 2: ["4", "5"], 3: ["6", "7"], 8: ["9"] }, ["1", "2", "3", "4", "5", "6", "7", "8", "9"]));
  const all = ["4", "5", "2", "6", "7", "3", "1", "9", "8"];

  it("no targets: every stage, whatever the flags", () => {
    expect(selectStages(g, [])).toEqual(all);
    expect(selectStages(g, [], { single: true })).toEqual(all);
    expect(selectStages(g, [], { downstream: true })).toEqual(all);
  });
  it("a target and its upstream", () => {
    expect(selectStages(g, ["1"])).toEqual(["4", "5", "2", "6", "7", "3", "1"]);
    expect(selectStages(g, ["3", "9"])).toEqual(["6", "7", "3", "9"]);
  });
  it("-d: the targets and their downstream, not their upstream", () => {
    expect(selectStages(g, ["4"], { downstream: true })).toEqual(["4", "2", "1"]);
    expect(selectStages(g, ["2", "3"], { downstream: true })).toEqual(["2", "3", "1"]);
  });
  it("-p: the connected components, winning over -s and -d as in DVC", () => {
    expect(selectStages(g, ["8"], { pipeline: true })).toEqual(["9", "8"]);
    expect(selectStages(g, ["9"], { pipeline: true })).toEqual(["9", "8"]);
    expect(selectStages(g, ["2", "8"], { pipeline: true })).toEqual(all);
    expect(selectStages(g, ["9"], { pipeline: true, single: true, downstream: true })).toEqual(["9", "8"]);
  });
  it("-s: the targets only, in execution order", () => {
    expect(selectStages(g, ["1", "4"], { single: true })).toEqual(["4", "1"]);
    expect(selectStages(g, ["1"], { single: true, downstream: true })).toEqual(["1"]);
  });
  it("closure helpers and executionOrder", () => {
    expect(upstreamClosure(g, ["2"])).toEqual(["4", "5", "2"]);
    expect(downstreamClosure(g, ["6"])).toEqual(["6", "3", "1"]);
    expect(componentClosure(g, ["7"])).toEqual(all.slice(0, 7));
    expect(executionOrder(g, new Set(["8", "4", "nope"]))).toEqual(["4", "8"]);
    expect(executionOrder(g, ["1", "9", "2", "4", "5", "3", "6", "7", "8"])).toEqual(all);
  });
});

describe("resolveTargets", () => {
  const specs: StageSpec[] = [
    { name: "prepare", outs: ["data.csv"] },
    { name: "build@a", group: "build", deps: ["data.csv"], outs: ["a.bin"] },
    { name: "build@b", group: "build", deps: ["data.csv"], outs: ["b.bin"] },
    { name: "train", file: "sub/dvc.yaml", outs: ["model"] },
    { name: "eval@x", group: "eval", file: "sub/dvc.yaml", outs: ["x.json"] },
    { name: "eval@y", group: "eval", file: "sub/dvc.yaml", outs: ["y.json"] },
    { name: "page/index", file: "sub/deeper/pipe.yaml", outs: ["index.html"] },
  ];
  const g = graphOf(makePipeline(specs, "/p").pipeline);
  const at = (targets: string[], cwd = "/p") => {
    const r = resolveTargets(g, targets, cwd, "/p");
    return r.ok ? r.value : r.errors.map((e) => `${e.reason}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`);
  };

  it("stage names and member names in the root file", () => {
    expect(at(["train"])).toEqual(["usage: unknown stage 'train' (did you mean 'sub/dvc.yaml:train'?)"]);
    expect(at(["prepare", "build@b"])).toEqual(["prepare", "build@b"]);
  });
  it("a group name selects every member in definition order", () => {
    expect(at(["build"])).toEqual(["build@a", "build@b"]);
    expect(at(["sub/dvc.yaml:eval"])).toEqual(["sub/dvc.yaml:eval@x", "sub/dvc.yaml:eval@y"]);
  });
  it("FILE:NAME and DIR:NAME", () => {
    expect(at(["sub/dvc.yaml:train"])).toEqual(["sub/dvc.yaml:train"]);
    expect(at(["sub:train", "./sub/:eval@y"])).toEqual(["sub/dvc.yaml:train", "sub/dvc.yaml:eval@y"]);
    expect(at(["sub/deeper:page/index"])).toEqual(["sub/deeper/pipe.yaml:page/index"]);
  });
  it("a stages file or its directory selects all its stages", () => {
    expect(at(["sub/dvc.yaml"])).toEqual(["sub/dvc.yaml:train", "sub/dvc.yaml:eval@x", "sub/dvc.yaml:eval@y"]);
    expect(at(["sub"])).toEqual(["sub/dvc.yaml:train", "sub/dvc.yaml:eval@x", "sub/dvc.yaml:eval@y"]);
    expect(at(["pipe.yaml"])).toEqual(["prepare", "build@a", "build@b"]);
  });
  it("from a subdirectory: names in its stages file first, paths relative to it, then to the root", () => {
    expect(at(["train"], "/p/sub")).toEqual(["sub/dvc.yaml:train"]);
    expect(at(["eval"], "/p/sub")).toEqual(["sub/dvc.yaml:eval@x", "sub/dvc.yaml:eval@y"]);
    expect(at(["dvc.yaml:train"], "/p/sub")).toEqual(["sub/dvc.yaml:train"]);
    expect(at(["deeper:page/index"], "/p/sub")).toEqual(["sub/deeper/pipe.yaml:page/index"]);
    expect(at(["../pipe.yaml:prepare"], "/p/sub")).toEqual(["prepare"]);
    // Not in sub's file: the root's stages file, then root-relative addresses as pipe prints them.
    expect(at(["prepare"], "/p/sub")).toEqual(["prepare"]);
    expect(at(["sub/dvc.yaml:train"], "/p/sub")).toEqual(["sub/dvc.yaml:train"]);
    expect(at(["/p/sub/dvc.yaml:train"], "/p/sub/deeper")).toEqual(["sub/dvc.yaml:train"]);
  });
  it("each address once, in the order the targets were given", () => {
    expect(at(["build@b", "build", "prepare"])).toEqual(["build@b", "build@a", "prepare"]);
  });
  it("an empty target is a usage error, not every stage of the directory", () => {
    expect(at([""])).toEqual(["usage: empty target: it names no stage (name a stage, a group or a stages file, or give no target to select every stage)"]);
    expect(at(["prepare", " "])).toHaveLength(1);
    expect(at([])).toEqual([]);
  });

  it("unknown targets are usage errors with the nearest names, all reported", () => {
    expect(at(["prepar", "nope:train", "sub:trian", "zzzzzzzz"])).toEqual([
      "usage: unknown stage 'prepar' (did you mean 'prepare'?)",
      "usage: unknown target 'nope:train': no stages file at 'nope' (did you mean 'sub/dvc.yaml:train'?)",
      "usage: unknown target 'sub:trian': sub/dvc.yaml has no stage 'trian' (did you mean 'sub/dvc.yaml:train'?)",
      "usage: unknown stage 'zzzzzzzz'",
    ]);
  });
});
