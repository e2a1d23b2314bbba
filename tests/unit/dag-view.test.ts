/** What `pipe dag` draws: scope (targets, --full), collapsed groups (--expand), outputs (--outs), stale marks. */
import { whereOf } from "../../src/project/where.js";
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../src/graph/graph.js";
import type { StageGraph } from "../../src/core/model.js";
import { buildView, GROUP_LIMIT, type DagView } from "../../src/report/dag/view.js";
import { makePipeline, type StageSpec } from "../helpers/stages.js";

function graphOf(specs: StageSpec[]): StageGraph {
  const r = buildGraph(makePipeline(specs).pipeline);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("\n"));
  return r.value;
}

function shape(v: DagView): { nodes: string[]; edges: string[] } {
  return { nodes: v.nodes.map((n) => n.label), edges: v.edges.map(([a, b]) => `${a} -> ${b}`) };
}

/** `n` members of group `build`, each reading `src.txt` and writing `b<i>.bin`, all read by `pack`. */
function fanOut(n: number): StageSpec[] {
  const members: StageSpec[] = [];
  for (let i = 0; i < n; i++) members.push({ name: `build@${i}`, group: "build", deps: ["src.txt"], outs: [`b${i}.bin`] });
  return [
    { name: "fetch", outs: ["src.txt"] },
    ...members,
    { name: "pack", deps: members.map((_, i) => `b${i}.bin`), outs: ["pack.tar"] },
    { name: "docs", outs: ["site"] },
  ];
}

describe("scope", () => {
  const g = graphOf([
    { name: "a", outs: ["a.txt"] },
    { name: "b", deps: ["a.txt"], outs: ["b.txt"] },
    { name: "c", deps: ["b.txt"], outs: ["c.txt"] },
    { name: "side", deps: ["a.txt"], outs: ["side.txt"] },
    { name: "alone" },
  ]);
  it("every stage in execution order, edges producer -> consumer", () => {
    expect(shape(buildView(g))).toEqual({ nodes: ["a", "b", "c", "side", "alone"], edges: ["a -> b", "a -> side", "b -> c"] });
  });
  it("a target limits the drawing to what leads to it; --full shows everything", () => {
    expect(shape(buildView(g, { targets: ["b"] }))).toEqual({ nodes: ["a", "b"], edges: ["a -> b"] });
    expect(shape(buildView(g, { targets: ["b"], full: true })).nodes).toHaveLength(5);
  });
});

describe("foreach/matrix groups", () => {
  it(`a group of more than ${GROUP_LIMIT} members is one node with merged edges`, () => {
    const v = buildView(graphOf(fanOut(GROUP_LIMIT + 1)));
    expect(shape(v)).toEqual({
      nodes: ["fetch", "build@{9}", "pack", "docs"],
      edges: ["fetch -> group:pipe.yaml:build", "group:pipe.yaml:build -> pack"],
    });
    expect(v.nodes[1]).toMatchObject({ kind: "group", stages: Array.from({ length: 9 }, (_, i) => `build@${i}`) });
  });
  it(`${GROUP_LIMIT} members, or --expand, draw every member`, () => {
    expect(shape(buildView(graphOf(fanOut(GROUP_LIMIT)))).nodes).toHaveLength(GROUP_LIMIT + 3);
    expect(shape(buildView(graphOf(fanOut(GROUP_LIMIT + 1)), { expand: true })).edges).toHaveLength(2 * (GROUP_LIMIT + 1));
  });
  it("members depending on each other do not make a self-loop", () => {
    const specs: StageSpec[] = [];
    for (let i = 0; i < 10; i++) specs.push({ name: `step@${i}`, group: "step", deps: i > 0 ? [`s${i - 1}`] : [], outs: [`s${i}`] });
    expect(shape(buildView(graphOf(specs)))).toEqual({ nodes: ["step@{10}"], edges: [] });
  });
  it("a group in another stages file is labelled with its file", () => {
    const specs = fanOut(9).map((s) => ({ ...s, file: "sub/dvc.yaml" }));
    const v = buildView(graphOf(specs));
    expect(v.nodes[1]).toMatchObject({ label: "sub/dvc.yaml:build@{9}", file: "sub/dvc.yaml" });
    // Seen from `sub/` (DVC's addressing is relative to the working directory): the bare names.
    const fromSub = buildView(graphOf(specs), { where: whereOf("/p", "/p/sub") });
    expect(fromSub.nodes[1]).toMatchObject({ label: "build@{9}", file: "dvc.yaml" });
    expect(fromSub.nodes[0]).toMatchObject({ label: "fetch" });
  });
  it("only the visible members count", () => {
    const g = graphOf(fanOut(12));
    expect(shape(buildView(g, { targets: ["build@3"] }))).toEqual({ nodes: ["fetch", "build@3"], edges: ["fetch -> build@3"] });
  });
});

describe("--outs", () => {
  it("draws outputs; a -> b when the stage writing b reads a", () => {
    const g = graphOf([
      { name: "prepare", outs: ["data/prepared"] },
      { name: "train", deps: ["data/prepared/train.csv"], outs: ["model.pkl"], metrics: ["train.json"] },
      { name: "evaluate", deps: ["model.pkl", "data/prepared"], metrics: ["eval.json"] },
      { name: "nothing", deps: ["model.pkl"] },
    ]);
    const v = buildView(g, { outs: true });
    expect(shape(v)).toEqual({
      nodes: ["data/prepared", "model.pkl", "train.json", "eval.json"],
      edges: [
        "out:data/prepared -> out:model.pkl",
        "out:data/prepared -> out:train.json",
        "out:data/prepared -> out:eval.json",
        "out:model.pkl -> out:eval.json",
      ],
    });
    expect(v.nodes.map((n) => n.kind)).toEqual(["out", "out", "out", "out"]);
  });
  it("a collapsed group's outputs are one node", () => {
    const v = buildView(graphOf(fanOut(9)), { outs: true });
    expect(shape(v).nodes).toEqual(["src.txt", "build@{9} (9 outputs)", "pack.tar", "site"]);
    expect(shape(v).edges).toEqual(["out:src.txt -> outs:group:pipe.yaml:build", "outs:group:pipe.yaml:build -> out:pack.tar"]);
  });
});

describe("stale marks", () => {
  it("marks stale stages, and groups holding one", () => {
    const g = graphOf(fanOut(9));
    const v = buildView(g, { stale: new Set(["build@4"]) });
    expect(v.marked).toBe(true);
    expect(v.nodes.filter((n) => n.stale).map((n) => n.label)).toEqual(["build@{9}"]);
    expect(buildView(g).marked).toBe(false);
  });
});
