/**
 * The repro engine over hand-built stage graphs (no loader involved), with the local executor and a real
 * temp project: the per-stage decisions (run, skip, restore from cache or run-cache, fail) and what gets written.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LocalCache } from "../../src/storage/store.js";
import { RunCache } from "../../src/storage/runcache.js";
import { ReproEngine, summarise, type ReproFlags } from "../../src/exec/repro.js";
import type { Executor, Leftover, Outcome, OutcomeReason, StageJob, StageRun } from "../../src/executors/executor.js";
import { LocalExecutor } from "../../src/executors/local.js";
import { LockStore } from "../../src/lock/read.js";
import type { Pipeline, Stage, StageGraph } from "../../src/core/model.js";
import type { ReproEvent } from "../../src/exec/events.js";
import { failureText } from "../../src/report/repro-text.js";
import { warningText } from "../../src/report/repro-warnings.js";
import { openWorkspace } from "../../src/status/workspace.js";
import { makeProject } from "../helpers/project.js";

interface Spec {
  cmd: string;
  deps?: string[];
  outs?: (string | { path: string; cache?: boolean; persist?: boolean })[];
  params?: string[];
  frozen?: boolean;
  alwaysChanged?: boolean;
}

function stage(name: string, sp: Spec): Stage {
  const loc = { file: "pipe.yaml", line: 1, col: 1 };
  return {
    address: name,
    name,
    file: "pipe.yaml",
    dir: "",
    wdir: "",
    cmd: sp.cmd,
    deps: (sp.deps ?? []).map((p) => ({ path: p, rootPath: p, external: false, outside: false })),
    outs: (sp.outs ?? []).map((o) => {
      const x = typeof o === "string" ? { path: o } : o;
      return { path: x.path, rootPath: x.path, external: false, kind: "outs" as const, cache: x.cache ?? true, persist: x.persist ?? false, flags: {} };
    }),
    params: sp.params ? [{ file: "params.yaml", rootPath: "params.yaml", keys: [...sp.params].sort() }] : [],
    frozen: sp.frozen ?? false,
    alwaysChanged: sp.alwaysChanged ?? false,
    loc,
  };
}

/** A graph from stages in execution order (edges by exact dep == out path). */
function graphOf(root: string, specs: [string, Spec][]): StageGraph {
  const stages = specs.map(([n, s]) => stage(n, s));
  const producer = new Map<string, string>();
  for (const s of stages) for (const o of s.outs) producer.set(o.rootPath, s.address);
  const upstream = new Map<string, string[]>();
  const downstream = new Map<string, string[]>(stages.map((s) => [s.address, []]));
  for (const s of stages) {
    const ups = [...new Set(s.deps.map((d) => producer.get(d.rootPath)).filter((x): x is string => x !== undefined))];
    upstream.set(s.address, ups);
    for (const u of ups) downstream.get(u)!.push(s.address);
  }
  const pipeline: Pipeline = { root, files: [{ file: "pipe.yaml", text: "", flavor: "pipe" }], stages, params: [], metrics: [], plots: [] };
  return { pipeline, stages: new Map(stages.map((s) => [s.address, s])), upstream, downstream, order: stages.map((s) => s.address) };
}

async function repro(root: string, graph: StageGraph, opts: Partial<ReproFlags> & { selected?: string[]; forced?: string[] } = {}) {
  const events: ReproEvent[] = [];
  const ws = openWorkspace(root, { stateFile: null });
  const engine = new ReproEngine({
    graph,
    selected: opts.selected ?? [...graph.order],
    forced: new Set(opts.forced ?? []),
    flags: { forceDownstream: false, keepGoing: false, dry: false, runCache: true, commit: true, jobs: 1, ...opts },
    ws,
    locks: new LockStore(root),
    store: new LocalCache(root),
    runs: new RunCache(root),
    linkTypes: ["reflink", "copy"],
    gitignore: true,
    executor: new LocalExecutor({ root }),
    emit: (e) => events.push(e),
  });
  const result = await engine.run();
  const of = (t: ReproEvent["type"]) => events.filter((e) => e.type === t).map((e) => ("stage" in e ? e.stage : ""));
  return { result, events, of, counts: summarise(result.results) };
}

/** A two-stage chain whose commands count their invocations in runs.log. */
function chain(root: string): StageGraph {
  writeFileSync(path.join(root, "params.yaml"), "lr: 0.1\n");
  writeFileSync(path.join(root, "data.txt"), "raw\n");
  return graphOf(root, [
    ["prepare", { cmd: "echo prepare >> runs.log; tr a-z A-Z < data.txt > prepared.txt", deps: ["data.txt"], outs: ["prepared.txt"] }],
    ["train", { cmd: "echo train >> runs.log; cat prepared.txt params.yaml > model.txt", deps: ["prepared.txt"], params: ["lr"], outs: ["model.txt"] }],
  ]);
}

const runsLog = (root: string): string[] => (existsSync(path.join(root, "runs.log")) ? readFileSync(path.join(root, "runs.log"), "utf8").trim().split("\n") : []);

describe("repro engine", () => {
  it("runs stale stages in order, writes pipe.lock, caches outputs, adds them to .gitignore; a second run does nothing", async () => {
    const root = makeProject();
    const g = chain(root);
    const first = await repro(root, g);
    expect(first.of("stage-start")).toEqual(["prepare", "train"]);
    expect(first.of("stage-finished")).toEqual(["prepare", "train"]);
    expect(first.counts).toMatchObject({ ran: 2, failed: 0 });
    expect(readFileSync(path.join(root, "model.txt"), "utf8")).toBe("RAW\nlr: 0.1\n");
    const lock = readFileSync(path.join(root, "pipe.lock"), "utf8");
    expect(lock).toContain("prepare:");
    expect(lock).toContain("train:");
    expect(lock).toContain("lr: 0.1");
    expect(readFileSync(path.join(root, ".gitignore"), "utf8")).toBe("/prepared.txt\n/model.txt\n".split("\n").sort().filter(Boolean).join("\n") + "\n");
    expect((await new LocalCache(root).listing()).objects.length).toBe(2);
    const second = await repro(root, g);
    expect(second.of("stage-skipped")).toEqual(["prepare", "train"]);
    expect(second.counts).toMatchObject({ ran: 0, upToDate: 2 });
    expect(runsLog(root)).toEqual(["prepare", "train"]);
  });

  it("a params change re-runs only the affected stage; changing it back restores from the run-cache", async () => {
    const root = makeProject();
    const g = chain(root);
    await repro(root, g);
    writeFileSync(path.join(root, "params.yaml"), "lr: 0.2\n");
    const r = await repro(root, g);
    expect(r.of("stage-start")).toEqual(["train"]);
    expect(readFileSync(path.join(root, "model.txt"), "utf8")).toBe("RAW\nlr: 0.2\n");
    writeFileSync(path.join(root, "params.yaml"), "lr: 0.1\n");
    const back = await repro(root, g);
    expect(back.of("stage-start")).toEqual([]);
    expect(back.of("stage-restored")).toEqual(["train"]);
    expect(back.events.find((e) => e.type === "stage-restored")).toMatchObject({ from: "run-cache" });
    expect(readFileSync(path.join(root, "model.txt"), "utf8")).toBe("RAW\nlr: 0.1\n");
    expect(runsLog(root)).toEqual(["prepare", "train", "train"]);
    // The lock now describes lr 0.1 again: nothing is stale.
    const again = await repro(root, g);
    expect(again.counts).toMatchObject({ ran: 0, restored: 0, upToDate: 2 });
  });

  it("--no-run-cache runs the command instead", async () => {
    const root = makeProject();
    const g = chain(root);
    await repro(root, g);
    writeFileSync(path.join(root, "params.yaml"), "lr: 0.2\n");
    await repro(root, g);
    writeFileSync(path.join(root, "params.yaml"), "lr: 0.1\n");
    const r = await repro(root, g, { runCache: false });
    expect(r.of("stage-start")).toEqual(["train"]);
  });

  it("a deleted output is restored from the cache without running", async () => {
    const root = makeProject();
    const g = chain(root);
    await repro(root, g);
    rmSync(path.join(root, "model.txt"));
    const r = await repro(root, g);
    expect(r.of("stage-restored")).toEqual(["train"]);
    expect(r.events.find((e) => e.type === "stage-restored")).toMatchObject({ from: "cache" });
    expect(readFileSync(path.join(root, "model.txt"), "utf8")).toBe("RAW\nlr: 0.1\n");
    expect(runsLog(root)).toEqual(["prepare", "train"]);
  });

  it("early cutoff: an upstream stage that regenerates identical bytes does not re-run its dependents", async () => {
    const root = makeProject();
    const g = chain(root);
    await repro(root, g);
    // Same content after upper-casing: prepared.txt is byte-identical.
    writeFileSync(path.join(root, "data.txt"), "RAW\n");
    const r = await repro(root, g);
    expect(r.of("stage-start")).toEqual(["prepare"]);
    expect(r.of("stage-skipped")).toEqual(["train"]);
  });

  it("a failing stage: exit data for the report, nothing recorded for it, nothing downstream run", async () => {
    const root = makeProject();
    const g = graphOf(root, [
      ["a", { cmd: "echo a > a.txt", outs: ["a.txt"] }],
      ["b", { cmd: "echo out; echo err >&2; exit 3", deps: ["a.txt"], outs: ["b.txt"] }],
      ["c", { cmd: "echo c > c.txt", deps: ["b.txt"], outs: ["c.txt"] }],
      ["d", { cmd: "echo d > d.txt", outs: ["d.txt"] }],
    ]);
    const r = await repro(root, g);
    const failed = r.events.find((e) => e.type === "stage-failed");
    expect(failed).toMatchObject({ stage: "b", reason: "command", exitCode: 3, signal: null });
    expect(failed).not.toHaveProperty("message");
    expect(failed && "tail" in failed ? failed.tail : []).toEqual(["out", "err"]);
    expect(r.of("stage-start")).toEqual(["a", "b"]);
    expect(r.counts).toMatchObject({ ran: 1, failed: 1, notRun: 2 });
    const lock = readFileSync(path.join(root, "pipe.lock"), "utf8");
    expect(lock).toContain("a:");
    expect(lock).not.toMatch(/^ {2}b:/m);
  });

  it("with keep-going, independent stages still run", async () => {
    const root = makeProject();
    const g = graphOf(root, [
      ["a", { cmd: "exit 1", outs: ["a.txt"] }],
      ["b", { cmd: "echo b > b.txt", deps: ["a.txt"], outs: ["b.txt"] }],
      ["c", { cmd: "echo c > c.txt", outs: ["c.txt"] }],
    ]);
    const r = await repro(root, g, { keepGoing: true });
    expect(r.of("stage-start")).toEqual(["a", "c"]);
    expect(r.of("stage-not-run")).toEqual(["b"]);
    expect(r.result.results.get("c")).toBe("ran");
  });

  it("a declared output the command did not create fails the stage", async () => {
    const root = makeProject();
    const g = graphOf(root, [["a", { cmd: "true", outs: ["missing.txt"] }]]);
    const r = await repro(root, g);
    expect(r.events.find((e) => e.type === "stage-failed")).toMatchObject({ reason: "missing-output" });
    expect(existsSync(path.join(root, "pipe.lock"))).toBe(false);
  });

  it("a dep that does not exist and that no stage produces stops everything before it runs", async () => {
    const root = makeProject();
    const g = graphOf(root, [
      ["a", { cmd: "echo a > a.txt", outs: ["a.txt"] }],
      ["b", { cmd: "cat nope.csv > b.txt", deps: ["a.txt", "nope.csv"], outs: ["b.txt"] }],
    ]);
    const r = await repro(root, g);
    expect(r.result.preflight.map((d) => d.message)).toEqual(["stage 'b': dependency 'nope.csv' does not exist and no stage produces it"]);
    expect(r.events).toEqual([]);
    expect(existsSync(path.join(root, "a.txt"))).toBe(false);
  });

  it("a missing params key fails that stage before it runs", async () => {
    const root = makeProject({ "params.yaml": "other: 1\n" });
    const g = graphOf(root, [["a", { cmd: "echo ran > a.txt", params: ["lr"], outs: ["a.txt"] }]]);
    const r = await repro(root, g);
    expect(r.events.find((e) => e.type === "stage-failed")).toMatchObject({
      reason: "missing-dep",
      diagnostics: [{ message: "stage 'a': params 'lr' not found in 'params.yaml'" }],
      located: true,
    });
    expect(existsSync(path.join(root, "a.txt"))).toBe(false);
  });

  it("an output edited by hand is saved to the cache before its stage re-runs, and a warning says so", async () => {
    const root = makeProject();
    const g = chain(root);
    await repro(root, g);
    writeFileSync(path.join(root, "model.txt"), "precious hand edit\n");
    const r = await repro(root, g, { runCache: false });
    expect(r.of("stage-start")).toEqual(["train"]);
    const w = r.events.find((e) => e.type === "warning");
    // The event carries the facts; the reporter makes the words.
    expect(w).toMatchObject({ warning: { kind: "output-saved-before-run", path: "model.txt", stage: "train", recorded: true } });
    const text = w?.type === "warning" ? warningText(w.warning) : "";
    expect(text).toMatch(/^'model.txt' was changed since 'train' last ran; that content was saved in the cache as [0-9a-f]{16} before the re-run$/);
    const id = /as ([0-9a-f]{16})/.exec(text)![1]!;
    expect(readFileSync(new LocalCache(root).pathOf(id), "utf8")).toBe("precious hand edit\n");
  });

  it("an edited output restored from the run-cache is saved to the cache first, and a warning says so", async () => {
    const root = makeProject();
    const g = chain(root);
    await repro(root, g);
    writeFileSync(path.join(root, "model.txt"), "another edit\n");
    const r = await repro(root, g);
    expect(r.of("stage-restored")).toEqual(["train"]);
    const w = r.events.find((e) => e.type === "warning");
    expect(w).toMatchObject({ warning: { kind: "unsaved-content-saved", path: "model.txt" } });
    expect(w?.type === "warning" ? warningText(w.warning) : "").toMatch(/^'model.txt' had content that was not in the cache; it was saved there as [0-9a-f]{16} before being replaced$/);
    expect(readFileSync(path.join(root, "model.txt"), "utf8")).toBe("RAW\nlr: 0.1\n");
  });

  it("creates the parent directory of an output before the command runs", async () => {
    const root = makeProject();
    const g = graphOf(root, [["a", { cmd: "echo a > models/deep/a.txt", outs: ["models/deep/a.txt"] }]]);
    const r = await repro(root, g);
    expect(r.counts).toMatchObject({ ran: 1, failed: 0 });
    expect(readFileSync(path.join(root, "models/deep/a.txt"), "utf8")).toBe("a\n");
  });

  it("persist outputs survive the run; others are removed before it", async () => {
    const root = makeProject();
    const g = graphOf(root, [
      ["a", { cmd: "echo x >> log.txt; test ! -e fresh.txt && echo y > fresh.txt", outs: [{ path: "log.txt", persist: true }, "fresh.txt"], alwaysChanged: true }],
    ]);
    await repro(root, g);
    const r = await repro(root, g);
    expect(r.counts.failed).toBe(0);
    expect(readFileSync(path.join(root, "log.txt"), "utf8")).toBe("x\nx\n");
  });

  it("cache: false outputs are recorded in the lock but not stored, and not gitignored", async () => {
    const root = makeProject();
    const g = graphOf(root, [["a", { cmd: "echo m > metrics.json; echo c > cached.txt", outs: [{ path: "metrics.json", cache: false }, "cached.txt"] }]]);
    await repro(root, g);
    expect(readFileSync(path.join(root, "pipe.lock"), "utf8")).toContain("metrics.json");
    const objs = (await new LocalCache(root).listing()).objects;
    expect(objs).toHaveLength(1);
    expect(readFileSync(objs[0]!.path, "utf8")).toBe("c\n");
    expect(readFileSync(path.join(root, ".gitignore"), "utf8")).toBe("/cached.txt\n");
  });

  it("--no-commit writes the lock but stores nothing", async () => {
    const root = makeProject();
    const g = graphOf(root, [["a", { cmd: "echo a > a.txt", outs: ["a.txt"] }]]);
    await repro(root, g, { commit: false });
    expect(existsSync(path.join(root, "pipe.lock"))).toBe(true);
    expect((await new LocalCache(root).listing()).objects).toEqual([]);
    expect((await new RunCache(root).list()).entries).toEqual([]);
  });

  it("frozen stages are skipped unless forced; always_changed stages always run", async () => {
    const root = makeProject();
    const g = graphOf(root, [
      ["f", { cmd: "echo f >> runs.log; echo f > f.txt", outs: ["f.txt"], frozen: true }],
      ["a", { cmd: "echo a >> runs.log; echo a > a.txt", outs: ["a.txt"], alwaysChanged: true }],
    ]);
    const r1 = await repro(root, g);
    expect(r1.events.find((e) => e.type === "stage-skipped")).toMatchObject({ stage: "f", reason: "frozen" });
    await repro(root, g);
    expect(runsLog(root)).toEqual(["a", "a"]);
    await repro(root, g, { forced: ["f"], selected: ["f"] });
    expect(runsLog(root)).toEqual(["a", "a", "f"]);
  });

  it("--force-downstream runs dependents of a stage that ran even if their deps did not change", async () => {
    const root = makeProject();
    const g = chain(root);
    await repro(root, g);
    writeFileSync(path.join(root, "data.txt"), "RAW\n");
    const r = await repro(root, g, { forceDownstream: true });
    expect(r.of("stage-start")).toEqual(["prepare", "train"]);
  });

  it("--dry runs nothing, writes nothing, and treats upstream outputs as to be produced", async () => {
    const root = makeProject();
    const g = chain(root);
    const r = await repro(root, g, { dry: true });
    expect(r.result.preflight).toEqual([]);
    expect(r.of("stage-would-run")).toEqual(["prepare", "train"]);
    expect(existsSync(path.join(root, "pipe.lock"))).toBe(false);
    expect(existsSync(path.join(root, ".pipe"))).toBe(false);
    expect(existsSync(path.join(root, "prepared.txt"))).toBe(false);
    await repro(root, g);
    writeFileSync(path.join(root, "params.yaml"), "lr: 0.2\n");
    await repro(root, g);
    writeFileSync(path.join(root, "params.yaml"), "lr: 0.1\n");
    const d = await repro(root, g, { dry: true });
    expect(d.events.find((e) => e.type === "stage-would-restore")).toMatchObject({ stage: "train", from: "run-cache" });
    expect(readFileSync(path.join(root, "model.txt"), "utf8")).toBe("RAW\nlr: 0.2\n");
  });

  it("-j2 runs independent stages at the same time", async () => {
    const root = makeProject();
    const g = graphOf(root, [
      ["a", { cmd: "touch a.started; while [ ! -e b.started ]; do sleep 0.01; done; echo a > a.txt", outs: ["a.txt"] }],
      ["b", { cmd: "touch b.started; while [ ! -e a.started ]; do sleep 0.01; done; echo b > b.txt", outs: ["b.txt"] }],
    ]);
    const r = await repro(root, g, { jobs: 2 });
    expect(r.counts).toMatchObject({ ran: 2, failed: 0 });
  });

  it("an abort terminates running stages, records nothing for them, and reports the interrupt", async () => {
    const root = makeProject();
    const g = graphOf(root, [
      ["a", { cmd: "echo a > a.txt", outs: ["a.txt"] }],
      ["b", { cmd: "touch started; sleep 30; echo b > b.txt", deps: ["a.txt"], outs: ["b.txt"] }],
      ["c", { cmd: "echo c > c.txt", deps: ["b.txt"], outs: ["c.txt"] }],
    ]);
    const ac = new AbortController();
    const events: ReproEvent[] = [];
    const engine = new ReproEngine({
      graph: g,
      selected: [...g.order],
      forced: new Set(),
      flags: { forceDownstream: false, keepGoing: false, dry: false, runCache: true, commit: true, jobs: 1 },
      ws: openWorkspace(root, { stateFile: null }),
      locks: new LockStore(root),
      store: new LocalCache(root),
      runs: new RunCache(root),
      linkTypes: ["copy"],
      gitignore: false,
      executor: new LocalExecutor({ root, killGraceMs: 500 }),
      emit: (e) => {
        events.push(e);
        if (e.type === "stage-start" && e.stage === "b") setTimeout(() => ac.abort(), 200);
      },
      signal: ac.signal,
    });
    // A run the abort did not stop would hang on `sleep` past the test's timeout; no clock is read here.
    const r = await engine.run();
    expect(r.interrupted).toBe(true);
    expect(r.results.get("a")).toBe("ran");
    expect(r.results.get("c")).toBe("not-run");
    const lock = readFileSync(path.join(root, "pipe.lock"), "utf8");
    expect(lock).toMatch(/^ {2}a:/m);
    expect(lock).not.toMatch(/^ {2}b:/m);
  });
});

/**
 * An in-process executor: each stage's behaviour is a function of its job (write its outputs and succeed, end with
 * a given outcome, or run until cancelled), so the engine's side of the seam is tested without a process.
 */
class FakeExecutor implements Executor {
  readonly name = "local";
  readonly started: string[] = [];
  readonly cancelled: string[] = [];
  constructor(private readonly behave: (job: StageJob) => OutcomeReason | "until-cancelled") {}
  start(job: StageJob): StageRun {
    this.started.push(job.stage);
    let cancel = (): void => undefined;
    const outcome = new Promise<Outcome>((resolve) => {
      const end = (r: OutcomeReason): void => resolve({ ...r, tail: [`${job.stage} said goodbye`], durationMs: 1 });
      cancel = () => {
        this.cancelled.push(job.stage);
        end({ reason: "interrupted", signal: null });
      };
      job.output?.command?.(String(job.cmd), 0);
      const b = this.behave(job);
      if (b !== "until-cancelled") end(b);
    });
    return { outcome, cancel: () => cancel() };
  }
  cancelAll(): void {}
  settleLeftovers(): Promise<Leftover[]> {
    return Promise.resolve([]);
  }
}

describe("repro engine over the executor seam (an in-process fake executor)", () => {
  function engine(root: string, g: StageGraph, executor: Executor, opts: { signal?: AbortSignal; onEvent?: (e: ReproEvent) => void; keepGoing?: boolean } = {}) {
    const events: ReproEvent[] = [];
    const e = new ReproEngine({
      graph: g,
      selected: [...g.order],
      forced: new Set(),
      flags: { forceDownstream: false, keepGoing: opts.keepGoing ?? false, dry: false, runCache: true, commit: true, jobs: 1 },
      ws: openWorkspace(root, { stateFile: null }),
      locks: new LockStore(root),
      store: new LocalCache(root),
      runs: new RunCache(root),
      linkTypes: ["copy"],
      gitignore: false,
      executor,
      emit: (ev) => {
        events.push(ev);
        opts.onEvent?.(ev);
      },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return { events, run: () => e.run() };
  }
  /** Writes the stage's one output (`<stage>.txt`) as its command would, and succeeds. */
  const writesItsOutput = (job: StageJob): OutcomeReason => {
    writeFileSync(path.join(job.wdir, `${job.stage}.txt`), `${job.stage}\n`);
    return { reason: "succeeded" };
  };

  it("an interrupt cancels the running stage through its executor; nothing is recorded for it", async () => {
    const root = makeProject();
    const g = graphOf(root, [
      ["a", { cmd: "make a", outs: ["a.txt"] }],
      ["b", { cmd: "make b", deps: ["a.txt"], outs: ["b.txt"] }],
      ["c", { cmd: "make c", deps: ["b.txt"], outs: ["c.txt"] }],
    ]);
    const ac = new AbortController();
    const fake = new FakeExecutor((job) => (job.stage === "b" ? "until-cancelled" : writesItsOutput(job)));
    const { run } = engine(root, g, fake, {
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === "stage-command" && e.stage === "b") queueMicrotask(() => ac.abort());
      },
    });
    const r = await run();
    expect(r.interrupted).toBe(true);
    expect(fake.started).toEqual(["a", "b"]);
    expect(fake.cancelled).toEqual(["b"]);
    expect([...r.results]).toEqual([
      ["a", "ran"],
      ["b", "failed"],
      ["c", "not-run"],
    ]);
    const lock = readFileSync(path.join(root, "pipe.lock"), "utf8");
    expect(lock).toMatch(/^ {2}a:/m);
    expect(lock).not.toMatch(/^ {2}b:/m);
  });

  it("each reason of an outcome becomes a stage failure that says it, with the tail of the output where there is one", async () => {
    const root = makeProject();
    const names = ["exit", "sig", "limit", "nostart", "env"];
    const g = graphOf(root, names.map((n) => [n, { cmd: `run ${n}`, outs: [`${n}.txt`] }] as [string, Spec]));
    const outcomes: Record<string, OutcomeReason> = {
      exit: { reason: "exit-code", exitCode: 3 },
      sig: { reason: "signal", signal: "SIGSEGV" },
      limit: { reason: "limit", limit: "time", detail: "TIMEOUT" },
      nostart: { reason: "failed-to-start", message: "no shell" },
      env: { reason: "environment", message: "too many open files" },
    };
    const { events, run } = engine(root, g, new FakeExecutor((job) => outcomes[job.stage]!), { keepGoing: true });
    await run();
    const failed = events.flatMap((e) => (e.type === "stage-failed" ? [[e.stage, e.reason, failureText(e), e.reason === "command" ? e.tail : []]] : []));
    expect(failed).toEqual([
      ["exit", "command", "'exit' failed with exit code 3", ["exit said goodbye"]],
      ["sig", "command", "'sig' was killed by SIGSEGV", ["sig said goodbye"]],
      ["limit", "command", "'limit' was stopped at its time limit (TIMEOUT)", ["limit said goodbye"]],
      ["nostart", "spawn", "'nostart' could not start: no shell", []],
      ["env", "environment", "'env' could not start: too many open files", []],
    ]);
  });
});

describe("repro --dry says what the run then does (one decision, two appliers)", () => {
  it("over fresh, edited, restorable, run-cached, frozen and forced stages, the dry plan and the run agree", async () => {
    const root = makeProject();
    writeFileSync(path.join(root, "params.yaml"), "lr: 0.1\n");
    writeFileSync(path.join(root, "data.txt"), "raw\n");
    const specs: [string, Spec][] = [
      ["prepare", { cmd: "tr a-z A-Z < data.txt > prepared.txt", deps: ["data.txt"], outs: ["prepared.txt"] }],
      ["train", { cmd: "cat prepared.txt params.yaml > model.txt", deps: ["prepared.txt"], params: ["lr"], outs: ["model.txt"] }],
      ["report", { cmd: "wc -c < model.txt > report.txt", deps: ["model.txt"], outs: ["report.txt"] }],
    ];
    const g = graphOf(root, specs);
    const frozen = graphOf(root, specs.map(([n, s]): [string, Spec] => [n, n === "prepare" ? { ...s, frozen: true } : s]));
    const steps: [string, () => void, StageGraph, { forced?: string[] }][] = [
      ["nothing ran yet", () => {}, g, {}],
      ["all fresh", () => {}, g, {}],
      ["a dep edited", () => writeFileSync(path.join(root, "data.txt"), "raw, edited\n"), g, {}],
      ["params changed", () => writeFileSync(path.join(root, "params.yaml"), "lr: 0.2\n"), g, {}],
      ["params changed back (run-cache)", () => writeFileSync(path.join(root, "params.yaml"), "lr: 0.1\n"), g, {}],
      ["an output deleted (cache)", () => rmSync(path.join(root, "model.txt")), g, {}],
      ["a frozen stage's output deleted", () => rmSync(path.join(root, "prepared.txt")), frozen, {}],
      ["forced", () => {}, g, { forced: ["train"] }],
      ["a dep edited, an upstream stage runs", () => writeFileSync(path.join(root, "data.txt"), "raw\n"), g, {}],
    ];
    for (const [name, change, graph, opts] of steps) {
      change();
      const dry = await repro(root, graph, { ...opts, dry: true });
      const real = await repro(root, graph, opts);
      // The one thing --dry cannot know: what a stage above would produce. It says "would run" below a stage that
      // would run or come from the run-cache; the run may then find the same bytes (early cutoff) and do less.
      const changing = (a: string) => (graph.upstream.get(a) ?? []).some((u) => ["ran", "restored-run-cache"].includes(dry.result.results.get(u) ?? ""));
      const expected = [...dry.result.results].map(([a, r]) => [a, r === "ran" && changing(a) && !opts.forced?.includes(a) ? real.result.results.get(a) : r]);
      expect([...real.result.results], name).toEqual(expected);
    }
  });
});
