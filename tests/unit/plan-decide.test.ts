/** The repro decision (`plan/decide.ts`) over a table of cases: no disk, facts given, the action and what was asked. */
import { describe, expect, it } from "vitest";
import { decide, decideWithoutRunning, type DecideFlags, type Decision, type Fact, type StageFacts } from "../../src/plan/decide.js";
import type { LockEntry } from "../../src/lock/types.js";
import type { Stage } from "../../src/core/model.js";
import type { RunEntry } from "../../src/storage/runcache.js";
import type { StageStatus, StaleReason } from "../../src/status/types.js";
import { error } from "../../src/core/diagnostic.js";

const loc = { file: "pipe.yaml", line: 1, column: 1 };

function stage(over: Partial<Stage> = {}): Stage {
  return {
    address: "train",
    name: "train",
    file: "pipe.yaml",
    dir: "",
    wdir: "",
    cmd: "python train.py",
    deps: [{ path: "data.csv", rootPath: "data.csv", external: false, outside: false }],
    outs: [{ path: "model.pkl", rootPath: "model.pkl", external: false, kind: "outs", cache: true, persist: false, flags: {} }],
    params: [],
    frozen: false,
    alwaysChanged: false,
    loc,
    ...over,
  } as Stage;
}

const entry: LockEntry = {
  cmd: "python train.py",
  deps: [{ path: "data.csv", algo: "xxh64", hash: "a", size: 1 }],
  params: {},
  outs: [{ path: "model.pkl", algo: "xxh64", hash: "b", size: 1 }],
} as unknown as LockEntry;

function status(reasons: StaleReason[]): StageStatus {
  return { address: "train", stale: reasons.length > 0, frozen: false, reasons, external: [] };
}
const fresh = status([]);
const outDeleted = status([{ kind: "changed-outs", changes: [{ path: "model.pkl", change: "deleted" }] } as StaleReason]);
const depModified = status([{ kind: "changed-deps", changes: [{ path: "data.csv", change: "modified" }] } as StaleReason]);
const depDeleted = status([{ kind: "changed-deps", changes: [{ path: "data.csv", change: "deleted" }] } as StaleReason]);
const hit: RunEntry = { outs: [{ path: "model.pkl", hash: "c", size: 1 }] };
const inputsOk = { ok: true as const, key: { cmd: "python train.py", deps: [["data.csv", "a"] as const], params: {}, outs: ["model.pkl"] } };
const missing = error("missing-dep", "stage 'train': dependency 'data.csv' does not exist", loc);
const inputsBad = { ok: false as const, errors: [missing] };

const REAL: DecideFlags = { dry: false, runCache: true };
const DRY: DecideFlags = { dry: true, runCache: true };
const CHECKOUT: DecideFlags = { dry: false, runCache: true, mode: "checkout" };
const COMMIT: DecideFlags = { dry: false, runCache: true, mode: "commit" };

/** Decides as the engine does: each fact asked for is taken from `known` (it must be there), in the order asked. */
function run(s: Stage, base: Partial<StageFacts>, known: Partial<StageFacts>, flags: DecideFlags): { action: Decision; asked: Fact[] } {
  const facts: StageFacts = { forced: false, entry, dvcEntry: false, upstreamChanging: [], ...base };
  const asked: Fact[] = [];
  for (;;) {
    const d = decide(s, facts, flags);
    if (d.kind !== "need") return { action: d, asked };
    if (!(d.fact in known)) throw new Error(`asked for '${d.fact}', which the case does not give`);
    asked.push(d.fact);
    (facts as unknown as Record<string, unknown>)[d.fact] = (known as Record<string, unknown>)[d.fact];
  }
}

interface Case {
  name: string;
  stage?: Partial<Stage>;
  base?: Partial<StageFacts>;
  known: Partial<StageFacts>;
  flags?: DecideFlags;
  action: Record<string, unknown>;
  asked: Fact[];
}

const cases: Case[] = [
  { name: "fresh: skipped, nothing else looked at", known: { status: fresh }, action: { kind: "skip", reason: "up-to-date" }, asked: ["status"] },
  { name: "fresh with DVC's hashes: recorded again", base: { dvcEntry: true }, known: { status: fresh }, action: { kind: "re-record" }, asked: ["status"] },
  {
    name: "frozen, outputs all there: skipped without a status",
    stage: { frozen: true },
    known: { missingOuts: 0 },
    action: { kind: "skip", reason: "frozen" },
    asked: ["missingOuts"],
  },
  {
    name: "frozen, missing outputs all cached: restored",
    stage: { frozen: true },
    known: { missingOuts: 2, missingOutsCached: true },
    action: { kind: "restore-frozen", complete: true },
    asked: ["missingOuts", "missingOutsCached"],
  },
  {
    name: "frozen, a missing output not cached: what can be is restored",
    stage: { frozen: true },
    known: { missingOuts: 1, missingOutsCached: false },
    action: { kind: "restore-frozen", complete: false },
    asked: ["missingOuts", "missingOutsCached"],
  },
  {
    name: "frozen but forced: judged like any stage",
    stage: { frozen: true },
    base: { forced: true },
    known: { status: fresh, inputs: inputsOk },
    action: { kind: "run", forced: true },
    asked: ["status", "inputs"],
  },
  {
    name: "only outputs missing, cached: restored from the cache before inputs are hashed",
    known: { status: outDeleted, outsCached: true },
    action: { kind: "restore", from: "cache" },
    asked: ["status", "outsCached"],
  },
  {
    name: "only outputs missing, not cached, run-cache hit: restored from the run-cache",
    known: { status: outDeleted, outsCached: false, inputs: inputsOk, runCacheHit: hit },
    action: { kind: "restore", from: "run-cache", hit },
    asked: ["status", "outsCached", "inputs", "runCacheHit"],
  },
  {
    name: "dep changed, run-cache miss: run",
    known: { status: depModified, inputs: inputsOk, runCacheHit: null },
    action: { kind: "run", forced: false, upstream: [] },
    asked: ["status", "inputs", "runCacheHit"],
  },
  {
    name: "dep missing: fails before the run-cache is asked",
    known: { status: depDeleted, inputs: inputsBad },
    action: { kind: "fail", reason: "missing-dep", errors: [missing] },
    asked: ["status", "inputs"],
  },
  {
    name: "--no-run-cache: the run-cache is not asked",
    flags: { dry: false, runCache: false },
    known: { status: depModified, inputs: inputsOk },
    action: { kind: "run" },
    asked: ["status", "inputs"],
  },
  {
    name: "always_changed: never from the run-cache",
    stage: { alwaysChanged: true },
    known: { status: status([{ kind: "always-changed" }]), inputs: inputsOk },
    action: { kind: "run" },
    asked: ["status", "inputs"],
  },
  {
    name: "forced and fresh: run, with neither cache asked",
    base: { forced: true },
    known: { status: fresh, inputs: inputsOk },
    action: { kind: "run", forced: true },
    asked: ["status", "inputs"],
  },
  {
    name: "forced with outputs missing: run, not restored",
    base: { forced: true },
    known: { status: outDeleted, inputs: inputsOk },
    action: { kind: "run", forced: true },
    asked: ["status", "inputs"],
  },
  {
    name: "--dry, dep missing: would run (a stage above may produce it)",
    flags: DRY,
    known: { status: depDeleted, inputs: inputsBad },
    action: { kind: "run", forced: false },
    asked: ["status", "inputs"],
  },
  {
    name: "--dry, forced: would run without hashing inputs",
    flags: DRY,
    base: { forced: true },
    known: { status: depModified },
    action: { kind: "run", forced: true },
    asked: ["status"],
  },
  {
    name: "--dry, fresh but an upstream stage would run: would run, naming it",
    flags: DRY,
    base: { upstreamChanging: ["prepare"] },
    known: { status: fresh },
    action: { kind: "run", forced: false, upstream: ["prepare"] },
    asked: ["status"],
  },
  {
    name: "--dry, an upstream stage would run: neither cache is asked",
    flags: DRY,
    base: { upstreamChanging: ["prepare"] },
    known: { status: outDeleted },
    action: { kind: "run", upstream: ["prepare"] },
    asked: ["status"],
  },
  {
    name: "--dry, run-cache hit: would restore from it",
    flags: DRY,
    known: { status: depModified, inputs: inputsOk, runCacheHit: hit },
    action: { kind: "restore", from: "run-cache" },
    asked: ["status", "inputs", "runCacheHit"],
  },
  {
    name: "--dry, fresh with DVC's hashes: the same re-record (the dry applier only says up to date)",
    flags: DRY,
    base: { dvcEntry: true },
    known: { status: fresh },
    action: { kind: "re-record" },
    asked: ["status"],
  },
  {
    name: "checkout: what the lock records is restored, whatever the status says (no fact asked)",
    flags: CHECKOUT,
    known: {},
    action: { kind: "restore", from: "cache", entry },
    asked: [],
  },
  {
    name: "checkout: a frozen, forced data source is restored as recorded too",
    flags: CHECKOUT,
    stage: { frozen: true, dataSource: true } as Partial<Stage>,
    base: { forced: true, dvcEntry: true },
    known: {},
    action: { kind: "restore", from: "cache", entry },
    asked: [],
  },
  { name: "checkout: no lock entry, nothing to restore", flags: CHECKOUT, base: { entry: undefined }, known: {}, action: { kind: "no-record" }, asked: [] },
  { name: "commit: recorded, nothing run and no fact asked", flags: COMMIT, known: {}, action: { kind: "re-record" }, asked: [] },
  { name: "commit: a frozen stage without a lock entry is recorded too", flags: COMMIT, stage: { frozen: true }, base: { entry: undefined }, known: {}, action: { kind: "re-record" }, asked: [] },
];

describe("decide", () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = run(stage(c.stage), c.base ?? {}, c.known, c.flags ?? REAL);
      expect(r.action).toMatchObject(c.action);
      expect(r.asked).toEqual(c.asked);
    });
  }

  it("a restore that fails (fact taken back) falls to the run-cache, then to running", () => {
    const facts: StageFacts = { forced: false, entry, dvcEntry: false, upstreamChanging: [], status: outDeleted, outsCached: true, inputs: inputsOk, runCacheHit: hit };
    expect(decide(stage(), facts, REAL)).toMatchObject({ kind: "restore", from: "cache" });
    facts.outsCached = false;
    expect(decide(stage(), facts, REAL)).toMatchObject({ kind: "restore", from: "run-cache" });
    facts.runCacheHit = null;
    expect(decide(stage(), facts, REAL)).toMatchObject({ kind: "run", forced: false });
  });

  it("--dry: a dep deleted because an upstream stage would produce it again is not a reason; other reasons stay", () => {
    const both = status([
      { kind: "changed-deps", changes: [{ path: "data.csv", change: "deleted" }] } as StaleReason,
      { kind: "changed-command", old: "a", new: "b", vars: [], explained: false },
    ]);
    const r = run(stage(), { upstreamChanging: ["prepare"] }, { status: both }, DRY);
    expect(r.action).toMatchObject({ kind: "run", status: { reasons: [{ kind: "changed-command" }] } });
  });

  it("no lock entry: never restored from the cache, run", () => {
    const r = run(stage(), { entry: undefined }, { status: status([{ kind: "no-lock-entry" }]), inputs: inputsOk, runCacheHit: null }, REAL);
    expect(r.action).toMatchObject({ kind: "run" });
    expect(r.asked).not.toContain("outsCached");
  });

  it("is pure: the same facts give the same action, and the facts are not changed", () => {
    const deepFreeze = <T>(o: T): T => {
      if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
        Object.freeze(o);
        for (const v of Object.values(o)) deepFreeze(v);
      }
      return o;
    };
    const s = deepFreeze(stage());
    for (const flags of [REAL, DRY, CHECKOUT, COMMIT, { ...REAL, runCache: false }]) {
      const facts = deepFreeze<StageFacts>({
        forced: false,
        entry,
        dvcEntry: false,
        upstreamChanging: [],
        status: outDeleted,
        outsCached: false,
        inputs: inputsOk,
        runCacheHit: hit,
      });
      const before = JSON.stringify(facts);
      const first = decide(s, facts, flags);
      expect(decide(s, facts, flags)).toEqual(first);
      expect(JSON.stringify(facts)).toBe(before);
    }
  });

  it("decideWithoutRunning: checkout's and commit's one action from the lock entry alone", () => {
    expect(decideWithoutRunning(stage(), entry, "checkout")).toEqual({ kind: "restore", from: "cache", entry });
    expect(decideWithoutRunning(stage(), undefined, "checkout")).toEqual({ kind: "no-record" });
    expect(decideWithoutRunning(stage({ frozen: true }), undefined, "commit")).toEqual({ kind: "re-record" });
  });
});
