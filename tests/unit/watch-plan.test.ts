/**
 * What `pipe watch` watches (`watchPlan`): deps no stage produces, params files and the files the load read, for the
 * targets and their upstream; never a path a stage produces.
 */
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../src/graph/graph.js";
import { loadPipeline } from "../../src/project/load.js";
import { stagesReading, watchPlan } from "../../src/exec/watch.js";
import { makeProject } from "../helpers/project.js";

async function graphOf(root: string) {
  const sources = new Map<string, string>();
  const p = await loadPipeline(root, sources);
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  const g = buildGraph(p.value);
  if (!g.ok) throw new Error(JSON.stringify(g.errors));
  return { graph: g.value, sources };
}

describe("watchPlan", () => {
  it("watches sources, params and loaded files; not outputs; only upstream of the targets", async () => {
    const root = makeProject({
      "params.yaml": "lr: 1\n",
      "vars.yaml": "name: x\n",
      "pipe.yaml": `vars: [vars.yaml]
stages:
  prep:
    cmd: cp raw/a.csv data/prep.csv
    deps: [raw, src/prep.py]
    outs: [data/prep.csv]
  train:
    cmd: echo \${lr} \${name} > model.txt
    deps: [data/prep.csv, src/train.py, https://example.com/w.bin]
    params: [lr]
    outs: [model.txt]
  other:
    cmd: cp other.txt o.txt
    deps: [other.txt]
    outs: [o.txt]
`,
      "raw/a.csv": "1\n",
    });
    const { graph, sources } = await graphOf(root);
    const all = watchPlan(graph, undefined, sources.keys());
    expect(all.paths).toEqual(["other.txt", "params.yaml", "pipe.yaml", "raw", "src/prep.py", "src/train.py", "vars.yaml"]);
    expect(all.outputs).toEqual(["data/prep.csv", "model.txt", "o.txt"]);
    const train = watchPlan(graph, ["train"], sources.keys());
    expect(train.paths).toEqual(["params.yaml", "pipe.yaml", "raw", "src/prep.py", "src/train.py", "vars.yaml"]);
    // What the queued run re-runs first: the stages reading an edited path (equal, inside a dep directory, params).
    expect(stagesReading(graph, undefined, ["raw/a.csv"])).toEqual(["prep"]);
    expect(stagesReading(graph, undefined, ["params.yaml", "other.txt"])).toEqual(["train", "other"]);
    expect(stagesReading(graph, ["train"], ["other.txt"])).toEqual([]);
    // A project that does not load: its loaded files only.
    expect(watchPlan(undefined, undefined, ["pipe.yaml"]).paths).toEqual(["pipe.yaml"]);
  });
});
