/** The output index: which outputs a path equals, lies inside or holds; conflicts as outputs are added; URLs. */
import { describe, expect, it } from "vitest";
import { OutIndex } from "../../src/graph/trie.js";
import { makePipeline, type StageSpec } from "../helpers/stages.js";

function indexOf(specs: StageSpec[]): ReturnType<typeof OutIndex.of> {
  return OutIndex.of(makePipeline(specs).pipeline.stages);
}

const dep = (rootPath: string, external = false) => ({ rootPath, external });

describe("OutIndex", () => {
  const { index, conflicts } = indexOf([
    { name: "a", outs: ["data/raw"] },
    { name: "b", outs: ["models/m1.pkl", "models/m2.pkl"] },
    { name: "c", outs: ["report.md", "s3://bucket/export"] },
    { name: "d", outs: ["/abs/inside/root.txt"] },
  ]);

  it("has no conflicts for disjoint outputs", () => {
    expect(conflicts).toEqual([]);
  });
  it("a path equal to an output, inside a directory output, or holding outputs (in path order)", () => {
    const at = (p: string) => index.producersOf(dep(p)).map((x) => `${x.relation}:${x.stage.name}:${x.out.rootPath}`);
    expect(at("report.md")).toEqual(["equal:c:report.md"]);
    expect(at("data/raw/2024/x.csv")).toEqual(["inside:a:data/raw"]);
    expect(at("models")).toEqual(["contains:b:models/m1.pkl", "contains:b:models/m2.pkl"]);
    // The project root holds every path output (not the URL).
    expect(at("")).toHaveLength(5);
    expect(at("data/rawish")).toEqual([]);
    expect(at("elsewhere/file")).toEqual([]);
    expect(at("../outside")).toEqual([]);
  });
  it("URLs match only exactly", () => {
    expect(index.producersOf(dep("s3://bucket/export", true)).map((x) => x.stage.name)).toEqual(["c"]);
    expect(index.producersOf(dep("s3://bucket/export/part-0", true))).toEqual([]);
    expect(index.producersOf(dep("s3://bucket", true))).toEqual([]);
  });
  it("looks up exact and enclosing outputs", () => {
    expect(index.at("models/m2.pkl")?.stage.name).toBe("b");
    expect(index.at("models")).toBeUndefined();
    expect(index.enclosing("data/raw/x/y")?.stage.name).toBe("a");
    expect(index.enclosing("data/raw")).toBeUndefined();
    expect(index.all).toHaveLength(6);
  });
  it("reports each conflict once, against the nearest enclosing output or the first output inside", () => {
    const r = indexOf([
      { name: "a", outs: ["d"] },
      { name: "b", outs: ["d/e"] },
      { name: "c", outs: ["d/e/f"] },
      { name: "x", outs: ["z/2", "z/1"] },
      { name: "y", outs: ["z", "d/e"] },
      { name: "u", outs: ["s3://b/k"] },
      { name: "v", outs: ["s3://b/k"] },
    ]);
    expect(r.conflicts.map((c) => `${c.kind}: ${c.added.stage.name}:${c.added.out.rootPath} / ${c.existing.stage.name}:${c.existing.out.rootPath}`)).toEqual([
      "inside: b:d/e / a:d",
      "inside: c:d/e/f / b:d/e",
      "contains: y:z / x:z/1",
      "duplicate: y:d/e / b:d/e",
      "duplicate: v:s3://b/k / u:s3://b/k",
    ]);
  });
});
