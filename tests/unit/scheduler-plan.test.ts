/** Stage selection for repro (`exec/plan.ts`) on DVC's plan_repro graph {1:[2,3], 2:[4,5], 3:[6,7], 8:[9]}. */
import { describe, expect, it } from "vitest";
import { planRepro } from "../../src/exec/plan.js";
import type { StageGraph } from "../../src/core/model.js";

const deps: Record<string, string[]> = { "1": ["2", "3"], "2": ["4", "5"], "3": ["6", "7"], "8": ["9"] };
const order = ["4", "5", "2", "6", "7", "3", "1", "9", "8"];

function graph(): StageGraph {
  const upstream = new Map<string, string[]>(order.map((a) => [a, deps[a] ?? []]));
  const downstream = new Map<string, string[]>(order.map((a) => [a, []]));
  for (const a of order) for (const u of upstream.get(a)!) downstream.get(u)!.push(a);
  return {
    pipeline: { root: "/x", files: [], stages: [], params: [], metrics: [], plots: [] },
    stages: new Map(),
    upstream,
    downstream,
    order,
  };
}

describe("planRepro", () => {
  const g = graph();
  it("selects everything in execution order without targets", () => {
    expect(planRepro(g, undefined, {}).selected).toEqual(order);
  });
  it("a target brings its upstream", () => {
    expect(planRepro(g, ["1"], {}).selected).toEqual(["4", "5", "2", "6", "7", "3", "1"]);
    expect(planRepro(g, ["3"], {}).selected).toEqual(["6", "7", "3"]);
  });
  it("-s: the targets only", () => {
    expect(planRepro(g, ["1", "9"], { singleItem: true }).selected).toEqual(["1", "9"]);
  });
  it("-d: the targets and their downstream", () => {
    expect(planRepro(g, ["4"], { downstream: true }).selected).toEqual(["4", "2", "1"]);
    expect(planRepro(g, ["2", "3"], { downstream: true }).selected).toEqual(["2", "3", "1"]);
  });
  it("-p: the connected components of the targets", () => {
    expect(planRepro(g, ["8"], { pipeline: true }).selected).toEqual(["9", "8"]);
    expect(planRepro(g, ["9"], { pipeline: true }).selected).toEqual(["9", "8"]);
    expect(planRepro(g, ["2", "8"], { pipeline: true }).selected).toEqual(order);
    expect(planRepro(g, ["4"], { pipeline: true }).selected).toEqual(["4", "5", "2", "6", "7", "3", "1"]);
  });
  it("-f forces the targets (with -d their downstream), not their upstream; without targets, everything", () => {
    expect([...planRepro(g, ["1"], { force: true }).forced]).toEqual(["1"]);
    expect([...planRepro(g, ["4"], { force: true, downstream: true }).forced].sort()).toEqual(["1", "2", "4"]);
    expect(planRepro(g, undefined, { force: true }).forced.size).toBe(9);
    expect(planRepro(g, ["1"], {}).forced.size).toBe(0);
  });
});
