import { describe, expect, it } from "vitest";
import { schedule, type WorkStatus } from "../../src/exec/scheduler.js";

/** DVC's plan_repro graph: stage -> the stages it depends on. */
const DVC_GRAPH: Record<string, string[]> = { "1": ["2", "3"], "2": ["4", "5"], "3": ["6", "7"], "8": ["9"] };
const DVC_ORDER = ["4", "5", "2", "6", "7", "3", "1", "9", "8"];
const up = (g: Record<string, string[]>) => (id: string) => g[id] ?? [];

/** A fake runner: each node takes `ms[id]` (default 5) ms; `fail` lists failing nodes. Records what overlapped. */
function fake(opts: { ms?: Record<string, number>; fail?: string[] } = {}) {
  const log: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const finished = new Set<string>();
  const work = async (id: string): Promise<WorkStatus> => {
    log.push(`start ${id}`);
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setTimeout(r, opts.ms?.[id] ?? 5));
    running--;
    finished.add(id);
    log.push(`end ${id}`);
    return opts.fail?.includes(id) ? "failed" : "ok";
  };
  return { work, log, finished, max: () => maxRunning };
}

describe("schedule", () => {
  it("with -j1 runs exactly the execution order, one at a time", async () => {
    const f = fake();
    const r = await schedule({ order: DVC_ORDER, upstream: up(DVC_GRAPH), jobs: 1, work: f.work });
    expect(r.started).toEqual(DVC_ORDER);
    expect(f.max()).toBe(1);
    expect([...r.outcomes.values()].every((o) => o === "ok")).toBe(true);
    expect(r.interrupted).toBe(false);
  });

  it("with -j2 never starts a node before its upstream is done, and prefers the earliest ready node", async () => {
    const f = fake({ ms: { "4": 30, "5": 5 } });
    const r = await schedule({ order: DVC_ORDER, upstream: up(DVC_GRAPH), jobs: 2, work: f.work });
    expect(f.max()).toBe(2);
    for (const [node, deps] of Object.entries(DVC_GRAPH)) {
      for (const d of deps) expect(f.log.indexOf(`end ${d}`)).toBeLessThan(f.log.indexOf(`start ${node}`));
    }
    // 4 and 5 start together; when 5 ends, 2 is not ready (4 runs), so the earliest ready node is 6.
    expect(r.started.slice(0, 3)).toEqual(["4", "5", "6"]);
    expect(r.outcomes.size).toBe(9);
  });

  it("runs independent nodes in parallel up to N and no further", async () => {
    const order = Array.from({ length: 10 }, (_, i) => `n${i}`);
    const f = fake({ ms: Object.fromEntries(order.map((id) => [id, 15])) });
    await schedule({ order, upstream: () => [], jobs: 3, work: f.work });
    expect(f.max()).toBe(3);
  });

  it("stops starting new nodes after the first failure; running ones finish", async () => {
    const f = fake({ fail: ["5"] });
    const r = await schedule({ order: DVC_ORDER, upstream: up(DVC_GRAPH), jobs: 1, work: f.work });
    expect(r.started).toEqual(["4", "5"]);
    expect(r.outcomes.get("5")).toBe("failed");
    expect(r.outcomes.get("9")).toBe("not-started");
    expect(r.outcomes.get("1")).toBe("not-started");
  });

  it("with keep-going, skips only what is downstream of the failure", async () => {
    const f = fake({ fail: ["5"] });
    const blocked: [string, string][] = [];
    const r = await schedule({
      order: DVC_ORDER,
      upstream: up(DVC_GRAPH),
      jobs: 1,
      keepGoing: true,
      work: f.work,
      onBlocked: (id, by) => blocked.push([id, by]),
    });
    expect(r.started).toEqual(["4", "5", "6", "7", "3", "9", "8"]);
    expect(r.outcomes.get("2")).toBe("blocked");
    expect(r.outcomes.get("1")).toBe("blocked");
    expect(r.outcomes.get("3")).toBe("ok");
    expect(blocked).toEqual([
      ["2", "5"],
      ["1", "2"],
    ]);
  });

  it("treats 'skipped' as done for downstream nodes", async () => {
    const r = await schedule({
      order: ["a", "b"],
      upstream: (id) => (id === "b" ? ["a"] : []),
      jobs: 1,
      work: async (id) => (id === "a" ? "skipped" : "ok"),
    });
    expect(r.outcomes.get("a")).toBe("skipped");
    expect(r.outcomes.get("b")).toBe("ok");
  });

  it("ignores upstream nodes that are not part of the order (-s)", async () => {
    const r = await schedule({ order: ["1"], upstream: up(DVC_GRAPH), jobs: 1, work: async () => "ok" });
    expect(r.started).toEqual(["1"]);
  });

  it("an abort stops starting nodes, passes the signal to running work and reports the interrupt", async () => {
    const ac = new AbortController();
    const seen: string[] = [];
    const r = await schedule({
      order: ["a", "b", "c"],
      upstream: () => [],
      jobs: 2,
      signal: ac.signal,
      work: (id, signal) =>
        new Promise<WorkStatus>((resolve) => {
          seen.push(id);
          if (id === "a") setTimeout(() => ac.abort(), 10);
          signal?.addEventListener("abort", () => resolve("failed"));
        }),
    });
    expect(seen).toEqual(["a", "b"]);
    expect(r.interrupted).toBe(true);
    expect(r.outcomes.get("a")).toBe("failed");
    expect(r.outcomes.get("c")).toBe("not-started");
  });

  it("an already aborted signal starts nothing", async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await schedule({ order: ["a"], upstream: () => [], jobs: 1, signal: ac.signal, work: async () => "ok" });
    expect(r.started).toEqual([]);
    expect(r.interrupted).toBe(true);
    expect(r.outcomes.get("a")).toBe("not-started");
  });

  it("an exception in work is a bug: the run stops and it is rethrown after running nodes settle", async () => {
    const ended: string[] = [];
    await expect(
      schedule({
        order: ["a", "b", "c"],
        upstream: () => [],
        jobs: 2,
        work: async (id) => {
          if (id === "a") throw new Error("boom");
          await new Promise((r) => setTimeout(r, 10));
          ended.push(id);
          return "ok";
        },
      }),
    ).rejects.toThrow("boom");
    expect(ended).toEqual(["b"]);
  });

  it("handles an empty order", async () => {
    const r = await schedule({ order: [], upstream: () => [], jobs: 4, work: async () => "ok" });
    expect(r.outcomes.size).toBe(0);
  });

  it("reports progress with the running set", async () => {
    const snaps: string[] = [];
    await schedule({
      order: ["a", "b", "c"],
      upstream: (id) => (id === "c" ? ["a", "b"] : []),
      jobs: 2,
      work: async () => "ok",
      onProgress: (running, done, total) => snaps.push(`${done}/${total}:${running.join(",")}`),
    });
    expect(snaps[0]).toBe("0/3:a,b");
    expect(snaps).toContain("2/3:c");
  });

  it("schedules a 5,000-node chain and a 5,000-node fan-in without quadratic work", async () => {
    const n = 5000;
    const chain = Array.from({ length: n }, (_, i) => `s${i}`);
    const r1 = await schedule({ order: chain, upstream: (id) => (id === "s0" ? [] : [`s${Number(id.slice(1)) - 1}`]), jobs: 2, work: async () => "ok" });
    expect(r1.started).toEqual(chain);
    // Fan-in: the last node depends on all others; with keep-going a failure of the first blocks only it.
    let calls = 0;
    const fan = [...chain, "sink"];
    const r2 = await schedule({
      order: fan,
      upstream: (id) => (id === "sink" ? chain : []),
      jobs: 2,
      keepGoing: true,
      work: async (id) => {
        calls++;
        return id === "s0" ? "failed" : "ok";
      },
    });
    expect(calls).toBe(n);
    expect(r2.outcomes.get("sink")).toBe("blocked");
  });

  it("rejects a node listed twice in the order (a caller bug)", async () => {
    await expect(schedule({ order: ["a", "a"], upstream: () => [], jobs: 1, work: async () => "ok" })).rejects.toThrow("twice");
  });
});

describe("-j values", () => {
  it("a positive integer, 'auto' (the CPU count), or the config's jobs, 1 when neither is given", async () => {
    const { parseJobs } = await import("../../src/exec/session.js");
    const os = await import("node:os");
    expect(parseJobs(undefined, undefined)).toBe(1);
    expect(parseJobs("3", undefined)).toBe(3);
    expect(parseJobs(undefined, 4)).toBe(4);
    expect(parseJobs("2", 4)).toBe(2);
    expect(parseJobs("auto", undefined)).toBe(Math.max(1, os.availableParallelism()));
    expect(parseJobs(undefined, "auto")).toBe(Math.max(1, os.availableParallelism()));
    for (const bad of ["0", "-1", "1.5", "two", ""]) expect(parseJobs(bad, undefined)).toBeUndefined();
  });
});
