/** The stage graph: edges by path, DVC's plan order, and every load-time graph error with its exact message. */
import { describe, expect, it } from "vitest";
import { renderDiagnostics, type Diagnostic } from "../../src/core/diagnostic.js";
import { buildGraph, edgeReason } from "../../src/graph/graph.js";
import type { StageGraph } from "../../src/core/model.js";
import { makePipeline, pipelineFromDeps, type StageSpec } from "../helpers/stages.js";

function graphOf(specs: StageSpec[]): StageGraph {
  const r = buildGraph(makePipeline(specs).pipeline);
  if (!r.ok) throw new Error(renderDiagnostics(r.errors));
  return r.value;
}

function errorsOf(specs: StageSpec[]): { errors: Diagnostic[]; text: string } {
  const { pipeline, sources } = makePipeline(specs);
  const r = buildGraph(pipeline);
  if (r.ok) throw new Error("expected graph errors");
  return { errors: r.errors, text: renderDiagnostics(r.errors, sources) };
}

function ups(g: StageGraph): Record<string, readonly string[]> {
  return Object.fromEntries(g.upstream);
}

describe("edges by path", () => {
  it("a dependency equal to an output", () => {
    const g = graphOf([
      { name: "prepare", deps: ["data.xml"], outs: ["prepared.csv"] },
      { name: "train", deps: ["./prepared.csv"], outs: ["model.pkl"] },
    ]);
    expect(ups(g)).toEqual({ prepare: [], train: ["prepare"] });
    expect(Object.fromEntries(g.downstream)).toEqual({ prepare: ["train"], train: [] });
    expect(edgeReason(g, "prepare", "train")?.relation).toBe("equal");
  });

  it("a dependency inside a directory output", () => {
    const g = graphOf([
      { name: "prepare", outs: ["data/prepared"] },
      { name: "train", deps: ["data/prepared/train.tsv"], outs: ["model.pkl"] },
    ]);
    expect(ups(g)["train"]).toEqual(["prepare"]);
    expect(edgeReason(g, "prepare", "train")).toMatchObject({ relation: "inside", out: { rootPath: "data/prepared" } });
  });

  it("a directory dependency holding outputs of several stages", () => {
    const g = graphOf([
      { name: "b", outs: ["data/b.csv"] },
      { name: "a", outs: ["data/a/part.csv"] },
      { name: "c", outs: ["other.csv"] },
      { name: "report", deps: ["data"], outs: ["report.md"] },
    ]);
    // Outputs inside a directory dependency come in path order.
    expect(ups(g)["report"]).toEqual(["a", "b"]);
    expect(edgeReason(g, "b", "report")?.relation).toBe("contains");
  });

  it("paths are compared after normalisation, from each stage's wdir", () => {
    const g = graphOf([
      { name: "gen", file: "sub/pipe.yaml", outs: ["out/x.txt"] },
      { name: "use", wdir: "sub", deps: ["out/x.txt"], outs: ["y.txt"] },
      { name: "use2", deps: ["sub/out/../out/x.txt"], outs: ["z.txt"] },
    ]);
    expect(ups(g)["use"]).toEqual(["sub/pipe.yaml:gen"]);
    expect(ups(g)["use2"]).toEqual(["sub/pipe.yaml:gen"]);
  });

  it("upstream follows the order the dependencies are declared, each producer once", () => {
    const g = graphOf([
      { name: "a", outs: ["a.out"] },
      { name: "b", outs: ["b.out", "b2.out"] },
      { name: "c", deps: ["b.out", "a.out", "b2.out"], outs: ["c.out"] },
    ]);
    expect(ups(g)["c"]).toEqual(["b", "a"]);
  });

  it("URLs connect by exact equality only; prefixes and paths outside the root never do", () => {
    const g = graphOf([
      { name: "upload", outs: ["s3://bucket/data"] },
      { name: "exact", deps: ["s3://bucket/data"], outs: ["e.txt"] },
      { name: "inside", deps: ["s3://bucket/data/part.csv"], outs: ["i.txt"] },
      { name: "outside", deps: ["../shared/e.txt"], outs: ["o.txt"] },
    ]);
    expect(ups(g)).toEqual({ upload: [], exact: ["upload"], inside: [], outside: [] });
  });

  it("a stage without deps or outs is a lone node", () => {
    const g = graphOf([{ name: "load" }, { name: "b", outs: ["b"] }]);
    expect(g.order).toEqual(["load", "b"]);
    expect(ups(g)).toEqual({ load: [], b: [] });
  });
});

describe("execution order (spec 4, DVC's plan)", () => {
  it("matches DVC's test_repro_plan graph {1:[2,3], 2:[4,5], 3:[6,7], 8:[9]}", () => {
    const defined = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
    const r = buildGraph(pipelineFromDeps({ 1: ["2", "3"], 2: ["4", "5"], 3: ["6", "7"], 8: ["9"] }, defined));
    expect(r.ok && r.value.order).toEqual(["4", "5", "2", "6", "7", "3", "1", "9", "8"]);
  });

  it("takes stages in definition order and upstream in dependency order", () => {
    const r = buildGraph(pipelineFromDeps({ z: ["y", "x"], x: ["w"] }, ["w", "z", "y", "x"]));
    expect(r.ok && r.value.order).toEqual(["w", "y", "x", "z"]);
  });

  it("downstream lists are in execution order", () => {
    const r = buildGraph(pipelineFromDeps({ late: ["src"], early: ["src"] }, ["src", "late", "early"]));
    expect(r.ok && r.value.downstream.get("src")).toEqual(["late", "early"]);
  });

  it("walks a very long chain without recursion", () => {
    const n = 20_000;
    const deps: Record<string, string[]> = {};
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      names.push(`s${i}`);
      if (i > 0) deps[`s${i}`] = [`s${i - 1}`];
    }
    // Defined last-first, so the walk has to go n deep.
    const r = buildGraph(pipelineFromDeps(deps, [...names].reverse()));
    expect(r.ok && r.value.order).toEqual(names);
  });
});

describe("graph errors", () => {
  it("a cycle is printed whole, with the dependency making each edge", () => {
    const { errors, text } = errorsOf([
      { name: "a", deps: ["c.out"], outs: ["a.out"] },
      { name: "b", deps: ["a.out"], outs: ["b.out"] },
      { name: "c", deps: ["b.out/part"], outs: ["c.out"] },
    ]);
    expect(errors.map((e) => e.reason)).toEqual(["cycle"]);
    expect(text).toBe(
      [
        "pipe.yaml:2:3: error: cycle in the stage graph: a -> b -> c -> a",
        "  |",
        "2 |   a:",
        "  |   ^",
        "  note: pipe.yaml:11:9: a -> b: 'b' depends on 'a.out', an output of 'a'",
        "  note: pipe.yaml:17:9: b -> c: 'c' depends on 'b.out/part', inside output 'b.out' of 'b'",
        "  note: pipe.yaml:5:9: c -> a: 'a' depends on 'c.out', an output of 'c'",
        "  = a stage cannot depend, even through other stages, on its own outputs",
      ].join("\n"),
    );
  });

  it("a cycle starts at its earliest-defined stage and is reported once", () => {
    const { errors } = errorsOf([
      { name: "x", deps: ["z.out"], outs: ["x.out"] },
      { name: "z", deps: ["y.out"], outs: ["z.out"] },
      { name: "y", deps: ["x.out"], outs: ["y.out"] },
      { name: "w", deps: ["y.out"], outs: ["w.out"] },
    ]);
    expect(errors.map((e) => e.message)).toEqual(["cycle in the stage graph: x -> y -> z -> x"]);
  });

  it("two independent cycles are both reported", () => {
    const { errors } = errorsOf([
      { name: "a", deps: ["b.out"], outs: ["a.out"] },
      { name: "b", deps: ["a.out"], outs: ["b.out"] },
      { name: "c", deps: ["d.out"], outs: ["c.out"] },
      { name: "d", deps: ["c.out"], outs: ["d.out"] },
    ]);
    expect(errors.map((e) => e.message)).toEqual(["cycle in the stage graph: a -> b -> a", "cycle in the stage graph: c -> d -> c"]);
  });

  it("two stages declaring the same output: names both", () => {
    const { text } = errorsOf([
      { name: "train", outs: ["model.pkl"] },
      { name: "tune", metrics: ["model.pkl"] },
    ]);
    expect(text).toBe(
      [
        "pipe.yaml:9:9: error: output 'model.pkl' is declared by two stages: 'train' and 'tune'",
        "  |",
        "9 |       - model.pkl",
        "  |         ^^^^^^^^^",
        "  note: pipe.yaml:5:9: declared by 'train' here",
        "  = an output has exactly one producer: remove it from one of the stages, or give one of them another path",
      ].join("\n"),
    );
  });

  it("the same output twice in one stage", () => {
    const { errors } = errorsOf([{ name: "s", outs: ["a.json"], metrics: ["a.json"] }]);
    expect(errors.map((e) => [e.reason, e.message])).toEqual([["duplicate-out", "output 'a.json' is declared twice in stage 's'"]]);
  });

  it("an output inside another output, in another stage or the same one", () => {
    const { errors, text } = errorsOf([
      { name: "a", outs: ["data"] },
      { name: "b", outs: ["data/raw/x.csv"] },
      { name: "c", outs: ["out/y", "out"] },
    ]);
    expect(errors.map((e) => [e.reason, e.message])).toEqual([
      ["overlapping-outs", "output 'data/raw/x.csv' of 'b' lies inside output 'data' of 'a'"],
      ["overlapping-outs", "output 'out' of 'c' holds output 'out/y' of the same stage"],
    ]);
    expect(text.split("\n").slice(0, 6)).toEqual([
      "pipe.yaml:9:9: error: output 'data/raw/x.csv' of 'b' lies inside output 'data' of 'a'",
      "  |",
      "9 |       - data/raw/x.csv",
      "  |         ^^^^^^^^^^^^^^",
      "  note: pipe.yaml:5:9: 'data' is declared by 'a' here",
      "  = outputs must not overlap: track the directory or the files inside it, not both",
    ]);
  });

  it("a stage depending on its own output, on a path inside it, or on a directory holding it", () => {
    const { errors, text } = errorsOf([
      { name: "same", deps: ["model.pkl"], outs: ["model.pkl"] },
      { name: "inside", deps: ["cache/index"], outs: ["cache"] },
      { name: "holds", deps: ["reports"], outs: ["reports/r.md"] },
    ]);
    expect(errors.map((e) => [e.reason, e.message])).toEqual([
      ["dep-is-own-out", "stage 'same' depends on its own output 'model.pkl'"],
      ["dep-is-own-out", "stage 'inside' depends on 'cache/index', inside its own output 'cache'"],
      ["dep-is-own-out", "stage 'holds' depends on 'reports', which holds its own output 'reports/r.md'"],
    ]);
    expect(text.split("\n").slice(0, 6)).toEqual([
      "pipe.yaml:5:9: error: stage 'same' depends on its own output 'model.pkl'",
      "  |",
      "5 |       - model.pkl",
      "  |         ^^^^^^^^^",
      "  note: pipe.yaml:7:9: 'model.pkl' is declared as an output here",
      "  = a stage cannot read what it writes; to update a file in place, declare it only as an output with `persist: true`",
    ]);
  });

  it("an output of '.' (the root) is named '.', not ''", () => {
    const { errors } = errorsOf([
      { name: "a", outs: ["."] },
      { name: "b", outs: ["x"] },
    ]);
    expect(errors.map((e) => e.message)).toEqual(["stages file 'pipe.yaml' lies inside output '.' of 'a'", "output 'x' of 'b' lies inside output '.' of 'a'"]);
  });

  it("a stages file inside an output directory", () => {
    const { errors } = errorsOf([
      { name: "gen", outs: ["sub"] },
      { name: "x", file: "sub/pipe.yaml", outs: ["y"] },
    ]);
    expect(errors.map((e) => e.message)).toEqual([
      "stages file 'sub/pipe.yaml' lies inside output 'sub' of 'gen'",
      "output 'sub/y' of 'sub/pipe.yaml:x' lies inside output 'sub' of 'gen'",
    ]);
  });

  it("every error is collected, sorted by location", () => {
    const { errors } = errorsOf([
      { name: "a", deps: ["b.out"], outs: ["a.out"] },
      { name: "b", deps: ["a.out"], outs: ["b.out", "x"] },
      { name: "c", outs: ["x"] },
      { name: "d", deps: ["d"], outs: ["d"] },
    ]);
    expect(errors.map((e) => e.reason)).toEqual(["cycle", "duplicate-out", "dep-is-own-out"]);
    const lines = errors.map((e) => e.location!.line);
    expect([...lines].sort((x, y) => x - y)).toEqual(lines);
  });
});
