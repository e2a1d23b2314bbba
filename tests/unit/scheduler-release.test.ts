/**
 * The scheduler's `release` (a queuing executor's stage lets its downstream start before it finishes): downstream
 * nodes start at the release, a released node still counts towards `jobs`, and its failure blocks only what has not
 * started.
 */
import { describe, expect, it } from "vitest";
import { schedule } from "../../src/exec/scheduler.js";

const chain: Record<string, string[]> = { a: [], b: ["a"], c: ["b"], x: [] };

describe("schedule: release", () => {
  it("a released node's downstream starts before it settles", async () => {
    const finish = new Map<string, () => void>();
    const started: string[] = [];
    const p = schedule({
      order: ["a", "b", "c"],
      upstream: (id) => chain[id] ?? [],
      jobs: 10,
      work: (id, _s, release) => {
        started.push(id);
        release();
        return new Promise((r) => finish.set(id, () => r("ok")));
      },
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual(["a", "b", "c"]);
    for (const id of ["a", "b", "c"]) finish.get(id)!();
    const r = await p;
    expect([...r.outcomes.values()]).toEqual(["ok", "ok", "ok"]);
  });

  it("released nodes count towards jobs; a failure blocks only nodes not started (keep-going)", async () => {
    const started: string[] = [];
    const r = await schedule({
      order: ["a", "x", "b", "c"],
      upstream: (id) => chain[id] ?? [],
      jobs: 2,
      keepGoing: true,
      work: async (id, _s, release) => {
        started.push(id);
        if (id === "a") {
          await new Promise((res) => setTimeout(res, 20));
          return "failed";
        }
        if (id === "x") release();
        return "ok";
      },
    });
    // a never released: b and c wait for it, and are blocked by its failure.
    expect(started).toEqual(["a", "x"]);
    expect(r.outcomes.get("b")).toBe("blocked");
    expect(r.outcomes.get("c")).toBe("blocked");
    expect(r.outcomes.get("x")).toBe("ok");
  });
});
