/**
 * The repro decision: for one stage, from its status and the cache facts, the one action to take (spec 3, 4, 5).
 *
 * `decide` is a pure function. It owns the order of the choices (frozen, fresh, missing outputs the cache holds,
 * missing inputs, run-cache, run) and nothing else: it reads no disk, writes nothing and emits nothing. Facts that
 * cost something to learn (hashing inputs, looking objects up, which may find and remove a corrupt one and say so)
 * are asked for one at a time: while a fact it needs is still unknown, `decide` answers `{ kind: "need", fact }`, the
 * caller gathers it and asks again. So a fact is gathered exactly when today's choice needs it, never for a stage
 * that the first look settles.
 *
 * An action that turns out impossible when applied (an object found corrupt while restoring) is not a new kind of
 * decision: the caller records the fact that made it possible as false (`outsCached`, `runCacheHit`) and decides again.
 *
 * `repro` applies the action with the real applier, `repro --dry` with a dry one (`exec/repro.ts`); both go through
 * this function, so what `--dry` says is what a run does. `checkout` and `commit` decide here too, in their own mode
 * (`DecideMode`), and apply the actions through the functions `repro`'s applier uses: restoring outputs as the lock
 * records them (`exec/restore.ts`) and the one record path (`exec/record.ts`). Under `--dry` the facts differ only in what the dry applier
 * knows about stages before this one (`upstreamChanging`: outputs that would be produced anew), and a missing input
 * does not fail the stage (it may be an output a stage above would produce).
 */
import { error, type Diagnostic } from "../core/diagnostic.js";
import type { LockEntry } from "../lock/types.js";
import type { Stage } from "../core/model.js";
import type { RunEntry, RunKeyInput } from "../storage/runcache.js";
import type { StageStatus } from "../status/types.js";

/**
 * What the decision is for. `repro` (the default): bring the stage up to date. `checkout`: restore only what the lock
 * records, running and recording nothing (every recorded output, whatever the status: an output already as recorded
 * is left as it is). `commit`: record what the workspace holds, running nothing.
 */
export type DecideMode = "repro" | "checkout" | "commit";

export interface DecideFlags {
  dry: boolean;
  /** false with `--no-run-cache`. */
  runCache: boolean;
  mode?: DecideMode;
}

/** What is known about the stage. Optional facts are gathered on demand (see `Fact`). */
export interface StageFacts {
  /** `-f`, or `--force-downstream` below a stage that ran. */
  forced: boolean;
  /** Its lock entry, if it has one. */
  entry: LockEntry | undefined;
  /** The entry still holds DVC's md5 hashes (from a `dvc.lock`): a fresh stage is recorded again. */
  dvcEntry: boolean;
  /**
   * Direct upstream stages whose outputs may change before this stage runs: under `--dry` those that would run or be
   * restored from the run-cache; in a real run those whose jobs a queuing executor has in flight.
   */
  upstreamChanging: readonly string[];
  /** Frozen stage: how many of its outputs are missing from the workspace. */
  missingOuts?: number;
  /** Frozen stage: every missing output is cached as its lock entry records it. */
  missingOutsCached?: boolean;
  /** Its status against the lock entry. */
  status?: StageStatus;
  /** Every output of the lock entry can be restored (cached ones are in the cache, uncached ones are present). */
  outsCached?: boolean;
  /** Current hashes of deps and values of params, or why they cannot be had. */
  inputs?: { ok: true; key: RunKeyInput } | { ok: false; errors: Diagnostic[] };
  /** The run-cache entry for these inputs with every object cached, or null. */
  runCacheHit?: RunEntry | null;
}

export type Fact = "missingOuts" | "missingOutsCached" | "status" | "outsCached" | "inputs" | "runCacheHit";

export type Action =
  | { kind: "skip"; reason: "up-to-date" | "frozen" }
  /**
   * Hash with xxh64, store outputs, write the entry; run nothing. `repro`: fresh, but its entry has DVC's hashes (or
   * a data source that changed); `commit`: always.
   */
  | { kind: "re-record" }
  /** `checkout`: the stage has no lock entry (it never ran), so there is nothing to restore. */
  | { kind: "no-record" }
  /** Frozen, outputs missing: check out what the cache holds (`complete`: every missing one). */
  | { kind: "restore-frozen"; complete: boolean }
  | { kind: "restore"; from: "cache"; entry: LockEntry }
  | { kind: "restore"; from: "run-cache"; hit: RunEntry }
  /**
   * Run the command. `status`: why it is stale (under `--dry`, a dep missing because an upstream stage would
   * produce it is not among its reasons); `upstream`: the changing upstream stages (`--dry` only).
   */
  | { kind: "run"; forced: boolean; status: StageStatus; upstream: readonly string[] }
  | { kind: "fail"; reason: "missing-dep"; errors: Diagnostic[] };

export type Decision = Action | { kind: "need"; fact: Fact };

/**
 * Stages that go through the run-cache, as DVC decides: a command whose result is a function of its inputs, so
 * not `always_changed`, with deps (files or params) and outputs, every dep local, every output local, cached and
 * not persistent (a persistent output is also an input).
 */
export function runCacheable(s: Stage): boolean {
  // DVC counts params among a stage's deps: a stage driven by params alone is run-cached too.
  if (s.alwaysChanged || (s.deps.length === 0 && s.params.length === 0) || s.outs.length === 0) return false;
  return s.deps.every((d) => !d.external) && s.outs.every((o) => o.cache && !o.external && !o.persist);
}

/**
 * An entry still holding DVC's md5 hashes: read from a `dvc.lock`, or carried into `pipe.lock` when another stage of
 * the same file was written first. Recorded again (xxh64, outputs cached) the first time it is found fresh.
 */
export function hasDvcHashes(entry: LockEntry): boolean {
  return [...entry.deps, ...entry.outs].some((x) => x.algo === "md5" || x.algo === "legacy-md5");
}

/** Stale only because outputs are missing from the workspace (restore them, run nothing). */
export function onlyMissingOutputs(st: StageStatus): boolean {
  return st.reasons.length > 0 && st.reasons.every((r) => r.kind === "changed-outs" && r.changes.every((c) => c.change === "deleted"));
}

const need = (fact: Fact): Decision => ({ kind: "need", fact });

/**
 * `checkout`'s and `commit`'s decision: from the lock entry alone (`entry`, whatever file it was read from), the one
 * action of that mode; they gather no other fact.
 */
export function decideWithoutRunning(stage: Stage, entry: LockEntry | undefined, mode: "checkout" | "commit"): Action {
  const d = decide(stage, { forced: false, entry, dvcEntry: false, upstreamChanging: [] }, { dry: false, runCache: false, mode });
  if (d.kind === "need") throw new Error(`'${mode}' asked for '${d.fact}' about '${stage.address}'`);
  return d;
}

export function decide(stage: Stage, facts: StageFacts, flags: DecideFlags): Decision {
  // Neither looks at the status: checkout makes the outputs what the lock says, commit makes the lock what the
  // workspace holds, frozen stages and data sources alike.
  if (flags.mode === "checkout") return facts.entry === undefined ? { kind: "no-record" } : { kind: "restore", from: "cache", entry: facts.entry };
  if (flags.mode === "commit") return { kind: "re-record" };
  const { forced } = facts;
  // A frozen stage never runs; its missing outputs are checked out so the stages below find their inputs.
  if (stage.frozen && !forced) {
    if (facts.missingOuts === undefined) return need("missingOuts");
    if (facts.missingOuts === 0) return { kind: "skip", reason: "frozen" };
    if (facts.missingOutsCached === undefined) return need("missingOutsCached");
    return { kind: "restore-frozen", complete: facts.missingOutsCached };
  }
  const st = facts.status;
  if (st === undefined) return need("status");
  if (stage.dataSource) return decideDataSource(stage, facts, st);
  const up = facts.upstreamChanging;
  // Nothing but its own status can make it run: not forced, and (under --dry) no upstream stage would change.
  const onItsOwn = !forced && up.length === 0;
  if (onItsOwn && !st.stale) return facts.dvcEntry ? { kind: "re-record" } : { kind: "skip", reason: "up-to-date" };
  if (onItsOwn && facts.entry !== undefined && onlyMissingOutputs(st)) {
    if (facts.outsCached === undefined) return need("outsCached");
    if (facts.outsCached) return { kind: "restore", from: "cache", entry: facts.entry };
  }
  // A missing dep or params file fails the stage before it runs; under --dry, or below a stage in flight, it may be
  // produced by then (a queued job's inputs are its own to check).
  if (!flags.dry && up.length === 0) {
    if (facts.inputs === undefined) return need("inputs");
    if (!facts.inputs.ok) return { kind: "fail", reason: "missing-dep", errors: facts.inputs.errors };
  }
  if (onItsOwn && flags.runCache && runCacheable(stage)) {
    if (facts.inputs === undefined) return need("inputs");
    if (facts.inputs.ok) {
      if (facts.runCacheHit === undefined) return need("runCacheHit");
      if (facts.runCacheHit !== null) return { kind: "restore", from: "run-cache", hit: facts.runCacheHit };
    }
  }
  // A dep reported deleted is one an upstream stage would produce again: that stage is the reason, not the dep.
  const reasons =
    up.length === 0
      ? st.reasons
      : st.reasons.filter((r) => !(r.kind === "changed-deps" && r.changes.every((c) => c.change === "deleted")));
  return { kind: "run", forced, status: reasons === st.reasons ? st : { ...st, reasons }, upstream: up };
}

/**
 * A data source (a `.dvc` file) has no command to run. As DVC's repro "verifies data sources": unchanged, it is
 * skipped (a DVC-written file is not rewritten behind the user's back: `pipe add` does that, and says so); missing
 * outputs the cache holds are checked out; otherwise what the workspace holds now is recorded into the file.
 */
function decideDataSource(stage: Stage, facts: StageFacts, st: StageStatus): Decision {
  if (!st.stale && !facts.forced) return { kind: "skip", reason: "up-to-date" };
  if (facts.entry !== undefined && onlyMissingOutputs(st)) {
    if (facts.outsCached === undefined) return need("outsCached");
    if (facts.outsCached) return { kind: "restore", from: "cache", entry: facts.entry };
    // Nothing to record and nothing to restore: the data is gone from here.
    const missing = st.reasons.flatMap((r) => (r.kind === "changed-outs" ? r.changes.map((c) => c.path) : []));
    return {
      kind: "fail",
      reason: "missing-dep",
      errors: [
        error("missing-dep", `data source '${stage.address}': ${missing.map((p) => `'${p}'`).join(", ")} ${missing.length === 1 ? "is" : "are"} missing, and the cache does not have ${missing.length === 1 ? "it" : "them"}`, stage.loc, {
          hint: "'pipe pull' brings tracked data from a remote",
        }),
      ],
    };
  }
  return { kind: "re-record" };
}
