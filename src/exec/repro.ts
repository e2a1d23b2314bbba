/**
 * `repro`'s engine: brings selected stages up to date, in dependency order, up to `jobs` at a time (spec 3, 4, 5).
 *
 * Each stage is judged immediately before it would run (so an upstream stage that regenerated identical bytes stops
 * the propagation: early cutoff). The choice is `plan/decide.ts`'s (this engine gathers the facts it asks for), and
 * is one of:
 *
 * - frozen (and not forced): skipped, never run; but outputs of it that are missing and that the cache holds as its
 *   lock entry records them are checked out (what `checkout` would do), so the stages below find their inputs;
 * - fresh: skipped, except a fresh stage whose lock entry still has DVC's md5 hashes (from a `dvc.lock`, or carried
 *   into `pipe.lock` with it), which is recorded into `pipe.lock` (hashing with xxh64, storing outputs) without
 *   running anything;
 * - stale only because outputs are missing that the cache holds: outputs checked out, nothing run;
 * - stale, and the run-cache knows these exact inputs with every output object cached: outputs restored from it;
 * - otherwise run: deps and params checked (a missing one fails the stage before it runs), non-persistent outputs
 *   saved to the cache when their content is not what the lock records (so never lost; but what a failed run of the
 *   stage itself left is not saved: `run-marker.ts`), then removed (persistent ones unprotected), the run marked, the
 *   deps and params hashed as the command will find them, the command run (each command announced as it starts),
 *   every declared output verified, then recorded (`record.ts`: outputs hashed and stored, the run-cache entry and
 *   the lock entry written with the deps as they were at the start, the mark removed).
 *
 * An executor that `queues` (SLURM with `submit: plan`) lets a stage start as soon as the stages it needs are
 * submitted: the scheduler is told at once (`release`), and a stage below one in flight is decided as `--dry` decides a
 * stage below one that would run (it runs; its inputs are checked by its job, not before), its job waiting on theirs.
 * When such an upstream job fails, the scheduler drops the stages waiting on it (`dependency-failed`): they are
 * reported as not run. A run a coordinator that died left in flight is followed again (`Executor.attach`) before
 * anything is decided for its stage.
 *
 * A failure is recorded nowhere: the stage's lock entry and cached objects stay as they were. The lock entry of a
 * stage that succeeded is written right away, so an interrupted run keeps what finished. An environment error (a
 * full disk, a read-only mount: `core/env-error.ts`) anywhere in a stage's work is such a failure of that stage,
 * with reason `environment` and a message saying what to do, not a crash of the run.
 *
 * `--dry` goes through the same decisions without the scheduler, applied by a dry applier that writes nothing and
 * treats the outputs of stages that would run as "will be produced".
 */
import { watchHashing } from "./hash-progress.js";
import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { error, type Diagnostic } from "../core/diagnostic.js";
import type { LockStore } from "../lock/read.js";
import type { LockEntry } from "../lock/types.js";
import { pathKey } from "../lock/types.js";
import { LockWriter } from "../lock/store.js";
import type { DepEntry, Stage, StageGraph } from "../core/model.js";
import { indexOf } from "../graph/graph.js";
import type { OutIndex } from "../graph/trie.js";
import type { StageStatus, StaleReason } from "../status/types.js";
import { absOf, checkStage, type Workspace } from "../status/workspace.js";
import type { DiagnosedFailure, EventSink, RestoreSource, RunReason, StageFailureFacts } from "./events.js";
import { unreachable } from "../core/unreachable.js";
import { isCached, storeOutput, type CacheContext } from "../storage/checkout.js";
import { addToGitignore } from "../storage/gitignore.js";
import type { LinkType } from "../storage/link.js";
import { ensureDirInside, safeRemove } from "../storage/fs.js";
import { unprotect } from "../storage/link.js";
import type { RunCache, RunEntry, RunKeyInput } from "../storage/runcache.js";
import type { LocalCache } from "../storage/store.js";
import { envDiagnostic, envErrorOf, envFailure } from "../core/env-error.js";
import { clearRunMarker, entryStamp, readRunMarker, writeRunMarker } from "./run-marker.js";
import { schedule, type WorkStatus } from "./scheduler.js";
import type { Executor, Outcome, StageJob, StageRun } from "../executors/executor.js";
import { lockedOutputs, restoreOutputs, type LockedOut } from "./restore.js";
import { cacheContextOf, hashInputs, recordAndStore, runKeyOf, toOutputHash, type Recorder, type StageInputs } from "./record.js";
import { decide, hasDvcHashes, type Action, type Fact, type StageFacts } from "../plan/decide.js";

export interface ReproFlags {
  /** Run the stages of `forced` even when fresh (and skip the run-cache for them). */
  forceDownstream: boolean;
  keepGoing: boolean;
  dry: boolean;
  /** false with `--no-run-cache`. */
  runCache: boolean;
  /** false with `--no-commit`: outputs are not stored in the cache (the lock is still written). */
  commit: boolean;
  jobs: number;
}

export interface ReproInput {
  graph: StageGraph;
  /** The stages to bring up to date, in execution order. */
  selected: readonly string[];
  /** Stages to run even if fresh (`-f`). */
  forced: ReadonlySet<string>;
  flags: ReproFlags;
  ws: Workspace;
  locks: LockStore;
  store: LocalCache;
  runs: RunCache;
  linkTypes: readonly LinkType[];
  /** Add cached outputs to `.gitignore` (config `gitignore`). */
  gitignore: boolean;
  /** Runs stage commands; an aborted `signal` cancels its runs. */
  executor: Executor;
  emit: EventSink;
  signal?: AbortSignal;
  now?: () => number;
}

/** What happened to one stage. */
export type StageResult = "ran" | "restored-run-cache" | "restored-cache" | "recorded" | "up-to-date" | "frozen" | "failed" | "not-run";

export interface ReproResult {
  results: Map<string, StageResult>;
  interrupted: boolean;
  /** Problems found before anything ran (missing deps no stage produces, unreadable lock files). */
  preflight: Diagnostic[];
  /** The preflight problem is an invalid project (a damaged lock file: exit 2) rather than a failure (exit 1). */
  preflightInvalid: boolean;
}

function failureReasonOf(ds: readonly Diagnostic[]): DiagnosedFailure {
  if (ds.some((d) => d.reason === "environment")) return "environment";
  if (ds.some((d) => d.reason === "stage-failed")) return "missing-output";
  if (ds.some((d) => d.reason === "missing-dep" || d.reason === "params")) return "missing-dep";
  return "io";
}

/** A file-system step failed: because of the machine (a full disk...), or otherwise. */
function ioFailureOf(ds: readonly Diagnostic[]): DiagnosedFailure {
  return ds.some((d) => d.reason === "environment") ? "environment" : "io";
}

/**
 * Applies a decision's actions (skip and fail aside, which need nothing but an event). `repro` has the real one,
 * `repro --dry` the dry one; both also say how they see the stages before this one (`upstreamChanging`, `assumed`).
 */
interface Applier {
  /** Direct upstream stages whose outputs may change before this stage runs (`--dry`: those that would run). */
  upstreamChanging(s: Stage): string[];
  /** The status as this applier sees it (`--dry`: outputs that would be checked out count as there). */
  assumed(s: Stage, st: StageStatus): StageStatus;
  reRecord(s: Stage): Promise<StageResult>;
  restoreFrozen(s: Stage, complete: boolean): Promise<StageResult>;
  /** "fallback": it could not be done (a corrupt object); the stage is decided again without that option. */
  restore(s: Stage, a: Extract<Action, { kind: "restore" }>): Promise<StageResult | "fallback">;
  run(s: Stage, a: Extract<Action, { kind: "run" }>, signal: AbortSignal | undefined): Promise<StageResult>;
}

export class ReproEngine {
  private readonly results = new Map<string, StageResult>();
  private readonly entries = new Map<string, LockEntry | undefined>();
  private readonly flavors = new Map<string, "pipe" | "dvc" | undefined>();
  private readonly cc: CacheContext;
  private readonly producers: OutIndex;
  private readonly gitignored = new Set<string>();
  private readonly lockWriter: LockWriter;
  private readonly reportedCorrupt = new Set<string>();
  private readonly applier: Applier;
  private readonly recorder: Recorder;
  /** Stages whose runs a queuing executor has accepted and that have not finished, with their runs. */
  private readonly inFlight = new Map<string, StageRun>();
  /** The scheduler's `release` of each stage being worked on. */
  private readonly releases = new Map<string, () => void>();
  /** Queued runs cancelled because the run stops after a failure (reported as not run, not as failed). */
  private readonly stoppedQueued = new Set<string>();

  constructor(private readonly input: ReproInput) {
    const ws = input.ws;
    this.cc = cacheContextOf(ws, input.store, input.linkTypes);
    this.recorder = { ws, cc: this.cc, runs: input.runs, emit: input.emit };
    this.producers = indexOf(input.graph);
    this.lockWriter = new LockWriter(input.graph.pipeline);
    this.applier = input.flags.dry ? this.dryApplier() : this.realApplier();
  }

  private stage(address: string): Stage {
    const s = this.input.graph.stages.get(address);
    if (!s) throw new Error(`unknown stage ${address}`);
    return s;
  }

  /** Reads lock entries and checks that no selected stage depends on a path that neither exists nor gets produced. */
  async preflight(): Promise<{ errors: Diagnostic[]; invalid: boolean }> {
    const { selected, locks, ws } = this.input;
    const errors: Diagnostic[] = [];
    const badDirs = new Set<string>();
    for (const a of selected) {
      const s = this.stage(a);
      const r = await locks.forStage(s);
      if (!r.ok) {
        if (!badDirs.has(s.dir)) errors.push(...r.errors);
        badDirs.add(s.dir);
        continue;
      }
      this.entries.set(a, r.value?.stages.get(s.name));
      this.flavors.set(a, r.value?.flavor);
    }
    if (errors.length > 0) return { errors, invalid: true };
    // These stats are kept for the stage checks that follow (one stat per path per run; see `StatMemo`).
    ws.statMemo.remember();
    for (const a of selected) {
      const s = this.stage(a);
      if (s.frozen && !this.input.forced.has(a)) continue;
      for (const d of s.deps) {
        if (d.external || this.producers.producersOf(d).length > 0) continue;
        if (ws.hasher.stat(absOf(ws.root, d.rootPath)) !== undefined) continue;
        errors.push(
          error("missing-dep", `stage '${s.address}': dependency '${d.path}' does not exist and no stage produces it`, d.loc ?? s.loc),
        );
      }
    }
    ws.statMemo.stopRemembering();
    return { errors, invalid: false };
  }

  async run(): Promise<ReproResult> {
    const { selected, flags, emit } = this.input;
    const pre = await this.preflight();
    if (pre.errors.length > 0) {
      return { results: this.results, interrupted: false, preflight: pre.errors, preflightInvalid: pre.invalid };
    }
    this.warnExternal();
    emit({ type: "plan", stages: selected, jobs: flags.jobs, dry: flags.dry });
    if (flags.dry) {
      await this.dryRun();
      return { results: this.results, interrupted: false, preflight: [], preflightInvalid: false };
    }
    const stopWatching = watchHashing(this.input.ws.hasher.stats, emit);
    const r = await schedule({
      order: selected,
      upstream: (id) => this.input.graph.upstream.get(id) ?? [],
      jobs: flags.jobs,
      keepGoing: flags.keepGoing,
      ...(this.input.signal ? { signal: this.input.signal } : {}),
      work: (id, signal, release) => {
        this.releases.set(id, release);
        return this.work(id, signal).finally(() => this.releases.delete(id));
      },
      onBlocked: (id, by) => {
        this.results.set(id, "not-run");
        emit({ type: "stage-not-run", stage: id, because: "upstream-failed", upstream: by });
      },
      onProgress: (running, finished, total) => emit({ type: "progress", running, finished, total }),
    }).finally(stopWatching);
    for (const [id, o] of r.outcomes) {
      if (o === "not-started") {
        this.results.set(id, "not-run");
        emit({ type: "stage-not-run", stage: id, because: "stopped" });
      }
    }
    emit({ type: "progress", running: [], finished: selected.length, total: selected.length });
    return { results: this.results, interrupted: r.interrupted, preflight: [], preflightInvalid: false };
  }

  private warnExternal(): void {
    const ext: string[] = [];
    for (const a of this.input.selected) {
      const s = this.stage(a);
      for (const x of [...s.deps, ...s.outs]) if (x.external) ext.push(x.path);
    }
    if (ext.length > 0) {
      const uniq = [...new Set(ext)];
      this.input.emit({ type: "warning", warning: { kind: "external-not-checked", paths: uniq } });
    }
  }

  /** Forced by `-f`, or by `--force-downstream` because an upstream stage ran. */
  private isForced(address: string): boolean {
    if (this.input.forced.has(address)) return true;
    if (!this.input.flags.forceDownstream) return false;
    return (this.input.graph.upstream.get(address) ?? []).some((u) => {
      const r = this.results.get(u);
      return r === "ran" || r === "restored-run-cache";
    });
  }

  private async work(address: string, signal: AbortSignal | undefined): Promise<WorkStatus> {
    let r: StageResult;
    try {
      r = (await this.reattach(address, signal)) ?? (await this.stageWork(address, signal));
    } catch (e) {
      // A full disk, a read-only mount, a permission: this stage fails, saying so, and the run goes on as after any
      // failure (what finished stays recorded; the lock is only ever replaced whole). Anything else is a bug.
      const env = envErrorOf(e);
      if (!env) throw e;
      r = this.fail(this.stage(address), "environment", [envDiagnostic(env, { root: this.input.ws.root })]);
    }
    this.results.set(address, r);
    if (r === "failed" && !this.input.flags.keepGoing) this.stopQueued();
    return r === "failed" || r === "not-run" ? "failed" : r === "up-to-date" || r === "frozen" ? "skipped" : "ok";
  }

  /**
   * After a failure without `-k` nothing new starts; jobs still waiting in a queue have not started either, so they
   * are cancelled and reported as not run (running ones finish, as locally).
   */
  private stopQueued(): void {
    for (const [stage, run] of this.inFlight) {
      if (run.queued?.() !== true) continue;
      this.stoppedQueued.add(stage);
      run.cancel();
    }
  }

  /** The job a dead coordinator left in flight for this stage, followed to its end and recorded. */
  private async reattach(address: string, signal: AbortSignal | undefined): Promise<StageResult | undefined> {
    const { executor, emit } = this.input;
    if (executor.attach === undefined || this.input.flags.dry) return undefined;
    const s = this.stage(address);
    let attachedId: string | undefined;
    const job = this.jobOf(s, (id) => (attachedId = id));
    const run = await executor.attach(job);
    if (run === undefined) return undefined;
    emit({ type: "stage-start", stage: s.address, cmd: s.cmd, reasons: [], ...(executor.scheduled === true ? { job: true as const } : {}) });
    if (attachedId !== undefined) emit({ type: "stage-job", stage: s.address, job: attachedId, state: "attached" });
    return this.follow(s, run, signal, (this.input.now ?? (() => performance.now()))());
  }

  /**
   * A stamp of the stage's inputs that no selected stage produces (source files and params files: size and mtime;
   * a directory: every file under it, since editing a file in place leaves the directory's own mtime alone), so that
   * a job a dead coordinator left is re-attached to only when what it read is still there unchanged. Outputs of
   * other stages are left out: they are rewritten by their own jobs meanwhile, which is expected.
   */
  private identityOf(s: Stage): string {
    const { ws } = this.input;
    const stamp = (rootPath: string): string => {
      try {
        const abs = absOf(ws.root, rootPath);
        const st = statSync(abs);
        if (!st.isDirectory()) return `${rootPath}:${st.size}:${st.mtimeMs}`;
        return `${rootPath}:${createHash("sha1").update(treeStamp(abs, "")).digest("hex")}`;
      } catch {
        return `${rootPath}:-`;
      }
    };
    const parts: string[] = [];
    for (const d of s.deps) if (!d.external && this.producers.producersOf(d).length === 0) parts.push(stamp(d.rootPath));
    for (const p of s.params) parts.push(stamp(p.rootPath));
    return [...new Set(parts)].sort().join("|");
  }

  /** The executor's view of a stage; `queued` is told the job id when a cluster executor submits it. */
  private jobOf(s: Stage, attached?: (id: string) => void): StageJob {
    const { ws, emit } = this.input;
    const after = (this.input.graph.upstream.get(s.address) ?? []).filter((u) => this.inFlight.has(u));
    let first = attached !== undefined;
    return {
      stage: s.address,
      cmd: s.cmd,
      wdir: path.join(ws.root, s.wdir),
      root: ws.root,
      ...(after.length > 0 ? { after } : {}),
      ...(s.resources ? { resources: s.resources } : {}),
      // Only an executor that re-attaches compares it: a local run does not pay the stats.
      ...(this.input.executor.attach !== undefined ? { identity: this.identityOf(s) } : {}),
      output: {
        // Each command line is shown just before it runs, so a list `cmd` that stops early shows only what ran.
        command: (command) => emit({ type: "stage-command", stage: s.address, cmd: command }),
        line: (stream, line) => emit({ type: "stage-output", stage: s.address, stream, line }),
        partial: (stream, text) => emit({ type: "stage-output-partial", stage: s.address, stream, text }),
        job: (state, id) => {
          if (first) {
            first = false;
            attached?.(id);
            return;
          }
          emit({ type: "stage-job", stage: s.address, job: id, state });
        },
      },
    };
  }

  /** `located`: the diagnostics are shown at their positions; otherwise as about the stage. */
  private fail(s: Stage, reason: DiagnosedFailure, diagnostics: readonly Diagnostic[], located = false): "failed" {
    return this.failWith(s, { reason, diagnostics, aboutStage: !located, located });
  }

  private failWith(s: Stage, facts: StageFailureFacts): "failed" {
    this.input.emit({ type: "stage-failed", stage: s.address, ...facts });
    return "failed";
  }

  /**
   * Decides (`plan/decide.ts`) and applies, gathering each fact the decision asks for. An action that cannot be
   * completed (an object found corrupt while restoring) takes away the fact that allowed it, and the stage is decided
   * again: restoring from the cache falls back to the run-cache, the run-cache to running.
   */
  private async stageWork(address: string, signal: AbortSignal | undefined): Promise<StageResult> {
    const s = this.stage(address);
    const entry = this.entries.get(address);
    const facts: StageFacts = {
      forced: this.isForced(address),
      entry,
      dvcEntry: this.flavors.get(address) === "dvc" || (entry !== undefined && hasDvcHashes(entry)),
      upstreamChanging: this.applier.upstreamChanging(s),
    };
    const flags = { dry: this.input.flags.dry, runCache: this.input.flags.runCache };
    for (;;) {
      const d = decide(s, facts, flags);
      if (d.kind === "need") {
        await this.gather(s, facts, d.fact);
        continue;
      }
      // Anything but a skip may change the workspace: stats taken ahead of it are no longer to be trusted.
      if (d.kind !== "skip") this.input.ws.statMemo.forget();
      const r = await this.apply(s, d, signal);
      if (r !== "fallback") return r;
      if (d.kind === "restore" && d.from === "cache") facts.outsCached = false;
      else if (d.kind === "restore" && d.from === "run-cache") facts.runCacheHit = null;
      else throw new Error(`no fallback from '${d.kind}'`);
    }
  }

  private async gather(s: Stage, facts: StageFacts, fact: Fact): Promise<void> {
    switch (fact) {
      case "missingOuts":
        facts.missingOuts = this.missingOutputs(s).length;
        return;
      case "missingOutsCached":
        facts.missingOutsCached = await this.missingCached(s);
        return;
      case "status":
        facts.status = this.applier.assumed(s, await checkStage(this.input.ws, s, facts.entry));
        return;
      case "outsCached":
        facts.outsCached = facts.entry !== undefined && (await this.outsCached(s, facts.entry));
        return;
      case "inputs":
        facts.inputs = await this.currentInputs(s);
        return;
      case "runCacheHit":
        facts.runCacheHit = facts.inputs?.ok ? await this.runCacheHit(facts.inputs.key) : null;
        return;
      default:
        return unreachable(fact);
    }
  }

  /** Skips and failures are the same under `--dry`; everything else goes to the applier. */
  private apply(s: Stage, a: Action, signal: AbortSignal | undefined): Promise<StageResult | "fallback"> | StageResult {
    switch (a.kind) {
      case "skip":
        this.input.emit({ type: "stage-skipped", stage: s.address, reason: a.reason });
        return a.reason === "frozen" ? "frozen" : "up-to-date";
      case "fail":
        return this.fail(s, a.reason, a.errors, true);
      case "re-record":
        return this.applier.reRecord(s);
      case "restore-frozen":
        return this.applier.restoreFrozen(s, a.complete);
      case "restore":
        return this.applier.restore(s, a);
      case "run":
        return this.applier.run(s, a, signal);
      case "no-record":
        // Only `checkout`'s mode says it; `repro` decides in its own.
        throw new Error(`'${a.kind}' decided for '${s.address}' in repro`);
      default:
        return unreachable(a);
    }
  }

  /** `repro`: the actions done. */
  private realApplier(): Applier {
    const { emit } = this.input;
    return {
      upstreamChanging: (s) => (this.input.graph.upstream.get(s.address) ?? []).filter((u) => this.inFlight.has(u)),
      assumed: (_s, st) => st,
      reRecord: async (s) => {
        const rec = await this.recordAndCommit(s, { runCache: false });
        if (rec !== "ok") return rec;
        emit({ type: "stage-skipped", stage: s.address, reason: s.dataSource ? "data-recorded" : "up-to-date" });
        return "recorded";
      },
      restoreFrozen: async (s) => {
        if (await this.restoreFrozenOutputs(s)) {
          emit({ type: "stage-restored", stage: s.address, from: "cache" });
          return "restored-cache";
        }
        emit({ type: "stage-skipped", stage: s.address, reason: "frozen" });
        return "frozen";
      },
      restore: async (s, a) => {
        if (a.from === "cache") {
          const r = await this.restoreFromLock(s, a.entry);
          if (r !== "ok") return "fallback";
          emit({ type: "stage-restored", stage: s.address, from: "cache" });
          return "restored-cache";
        }
        const restored = await this.tryRunCache(s, a.hit);
        if (restored === "miss") return "fallback";
        if (restored === "failed") return "failed";
        emit({ type: "stage-restored", stage: s.address, from: "run-cache" });
        return "restored-run-cache";
      },
      run: async (s, a, signal) => {
        if (signal?.aborted) return "failed";
        return this.execute(s, a.status, a.forced, signal);
      },
    };
  }

  /**
   * `--dry`: the same decisions, nothing written: each action says what it would do. Outputs of stages that would
   * run (or be restored from the run-cache) may change, so their dependents are reported as "would run" with that
   * reason (early cutoff may still spare them); outputs that would be checked out unchanged count as there.
   */
  private dryApplier(): Applier {
    const { emit } = this.input;
    const upstreamWith = (s: Stage, results: readonly StageResult[]): string[] =>
      (this.input.graph.upstream.get(s.address) ?? []).filter((u) => results.includes(this.results.get(u) ?? "not-run"));
    return {
      upstreamChanging: (s) => upstreamWith(s, ["ran", "restored-run-cache"]),
      assumed: (s, st) => this.withoutRestoredDeps(s, st, new Set(upstreamWith(s, ["restored-cache"]))),
      reRecord: (s) => {
        emit({ type: "stage-skipped", stage: s.address, reason: s.dataSource ? "data-recorded" : "up-to-date" });
        return Promise.resolve("recorded");
      },
      restoreFrozen: (s, complete) => {
        if (complete) {
          emit({ type: "stage-would-restore", stage: s.address, from: "cache" });
          return Promise.resolve("restored-cache");
        }
        emit({ type: "stage-skipped", stage: s.address, reason: "frozen" });
        return Promise.resolve("frozen");
      },
      restore: (s, a) => {
        emit({ type: "stage-would-restore", stage: s.address, from: a.from });
        return Promise.resolve(a.from === "cache" ? "restored-cache" : "restored-run-cache");
      },
      run: (s, a) => {
        if (a.forced) {
          emit({ type: "stage-would-run", stage: s.address, reasons: [{ kind: "forced" }] });
          return Promise.resolve("ran");
        }
        const reasons: RunReason[] = [...a.status.reasons];
        for (const u of a.upstream) reasons.push({ kind: "upstream-will-run", upstream: u });
        emit({ type: "stage-would-run", stage: s.address, reasons });
        return Promise.resolve("ran");
      },
    };
  }

  /** The outputs of a frozen stage that are missing from the workspace (a frozen stage never runs to make them). */
  private missingOutputs(s: Stage): Stage["outs"] {
    const { ws } = this.input;
    return s.outs.filter((o) => !o.external && ws.hasher.stat(absOf(ws.root, o.rootPath)) === undefined);
  }

  /** The cache holds every missing output of the frozen stage as its lock records it. */
  private async missingCached(s: Stage): Promise<boolean> {
    const missing = this.missingOutputs(s);
    const byPath = new Map((this.entries.get(s.address)?.outs ?? []).map((o) => [pathKey(o.path), o]));
    for (const o of missing) {
      const e = byPath.get(pathKey(o.path));
      if (!o.cache || !e || e.algo === "none" || !(await this.isCached(o.path, e.hash))) return false;
    }
    return true;
  }

  /**
   * A frozen stage is never run, but its missing cached outputs are checked out as its lock entry records them, as
   * `pipe checkout` would (so the stages below it find their inputs). What cannot be restored is named in a warning;
   * a stage that needs it then fails saying its producer is frozen. True when something was restored.
   */
  private async restoreFrozenOutputs(s: Stage): Promise<boolean> {
    const missing = this.missingOutputs(s);
    if (missing.length === 0) return false;
    const entry = this.entries.get(s.address);
    const byPath = new Map((entry?.outs ?? []).map((o) => [pathKey(o.path), o]));
    const lost: string[] = [];
    let restored = 0;
    for (const o of missing) {
      const e = byPath.get(pathKey(o.path));
      if (!o.cache || !e || e.algo === "none" || !(await this.isCached(o.path, e.hash))) {
        lost.push(o.path);
        continue;
      }
      const r = await this.checkoutLogged(s, o, e.hash);
      if (r) restored++;
      else lost.push(o.path);
    }
    if (lost.length > 0) {
      this.input.emit({ type: "warning", warning: { kind: "frozen-outputs-lost", stage: s.address, paths: lost } });
    }
    if (restored > 0) await this.gitignore(s);
    return restored > 0 && lost.length === 0;
  }

  /**
   * `isCached`, saying when a manifest it reads is corrupt (`out`: the output, for the message). The store removes
   * such an object; under `--dry` it is read-only and the object stays, so it is named once, not at every look.
   */
  private async isCached(out: string, id: string): Promise<boolean> {
    return isCached(this.input.store, id, (bad) => {
      if (this.reportedCorrupt.has(bad)) return;
      this.reportedCorrupt.add(bad);
      this.input.emit({
        type: "warning",
        warning: this.input.flags.dry ? { kind: "corrupt-object-kept", out, id: bad } : { kind: "corrupt-object-removed", out, ids: [bad] },
      });
    });
  }

  /** Checks one output out of the cache, saying what went wrong; true when it is now as recorded. */
  private checkoutLogged(s: Stage, o: Stage["outs"][number], id: string): Promise<boolean> {
    return this.restoreLogged(s, [{ out: o, id }]);
  }

  /**
   * Restores `outs` through the restore function `checkout` uses, stopping at the first that cannot be, saying why
   * in a warning (`instead`: a corrupt object means the stage is run instead). True when every one is now as recorded.
   */
  private restoreLogged(s: Stage, outs: readonly LockedOut[], instead?: { from: RestoreSource }): Promise<boolean> {
    return restoreOutputs(this.cc, this.input.ws, outs, (r) => {
      switch (r.kind) {
        case "done":
          this.reportSaved(r.saved);
          return true;
        case "error":
          this.input.emit({ type: "warning", warning: { kind: "diagnostics", stage: s.address, diagnostics: r.errors } });
          return false;
        case "corrupt":
          this.input.emit({
            type: "warning",
            warning: {
              kind: "corrupt-object-removed",
              out: r.out.path,
              ids: r.ids.map((x) => x.id),
              ...(instead ? { instead: { stage: s.address, from: instead.from } } : {}),
              ...(r.ids[0]?.source !== undefined ? { keptIn: r.ids[0].source } : {}),
            },
          });
          return false;
        case "missing":
          return false;
        default:
          return unreachable(r);
      }
    });
  }

  /** Every cached output of the lock entry is in the cache. */
  private async outsCached(s: Stage, entry: LockEntry): Promise<boolean> {
    const byPath = new Map(entry.outs.map((o) => [pathKey(o.path), o]));
    for (const o of s.outs) {
      if (o.external) continue;
      const e = byPath.get(pathKey(o.path));
      if (!e || e.algo === "none") return false;
      if (!o.cache) {
        // A missing uncached output cannot be restored.
        if (this.input.ws.hasher.stat(absOf(this.input.ws.root, o.rootPath)) === undefined) return false;
        continue;
      }
      if (!(await this.isCached(o.path, e.hash))) return false;
    }
    return true;
  }

  private async restoreFromLock(s: Stage, entry: LockEntry): Promise<"ok" | "failed"> {
    const { outs, unrecorded } = lockedOutputs(s, entry);
    if (unrecorded.length > 0) return "failed";
    const restored = await this.restoreLogged(s, outs, { from: "cache" });
    if (!restored) return "failed";
    await clearRunMarker(this.input.ws.root, s.address);
    await this.gitignore(s);
    return "ok";
  }

  private reportSaved(saved: readonly { path: string; id: string }[]): void {
    for (const sv of saved) {
      this.input.emit({ type: "warning", warning: { kind: "unsaved-content-saved", path: sv.path, id: sv.id } });
    }
  }

  /** Current hashes of deps and values of params, checked: a missing one fails the stage before it runs. */
  private async currentInputs(s: Stage): Promise<{ ok: true; key: RunKeyInput } | { ok: false; errors: Diagnostic[] }> {
    const r = await hashInputs(this.input.ws, s, (d) => this.missingNote(d));
    return r.ok ? { ok: true, key: runKeyOf(s, r.inputs) } : r;
  }

  /** Why a missing dep was not produced: its producing stage is frozen, or did not create it. */
  private missingNote(d: DepEntry): string {
    const producers = this.producers.producersOf(d).map((p) => p.stage);
    const frozen = producers.find((p) => p.frozen);
    if (frozen) return ` (its producing stage '${frozen.address}' is frozen, so it is not run to create it; 'pipe repro -f ${frozen.address}' does)`;
    return producers.length > 0 ? " (its producing stage has not created it)" : "";
  }

  /** The run-cache entry for these inputs, when the cache holds every object of it. */
  private async runCacheHit(key: RunKeyInput): Promise<RunEntry | null> {
    const { runs } = this.input;
    const hit = await runs.lookup(await runs.key(key), key.outs);
    if (!hit) return null;
    for (const o of hit.outs) if (!(await this.isCached(o.path, o.hash))) return null;
    return hit;
  }

  private async tryRunCache(s: Stage, hit: RunEntry): Promise<"restored" | "miss" | "failed"> {
    const outs: LockedOut[] = [];
    for (const o of s.outs) {
      const h = hit.outs.find((x) => x.path === o.rootPath);
      if (!h) return "miss";
      outs.push({ out: o, id: h.hash });
    }
    // Objects are verified before anything in the workspace changes; a corrupt one makes this a miss.
    const restored = await this.restoreLogged(s, outs, { from: "run-cache" });
    if (!restored) return "miss";
    const rec = await this.recordAndCommit(s, { runCache: false });
    return rec === "ok" ? "restored" : "failed";
  }

  /**
   * Non-persistent outputs are deleted before a stage runs. One whose content is not what the lock entry records for
   * it (edited by hand since the last run, or already there before the stage first ran or before the output was
   * declared) may exist nowhere else: it is stored in the cache first, named in a warning, so a re-run never destroys
   * the only copy of anything. What the lock records is left to the stage to produce again, as before.
   */
  private async saveOutputsAboutToGo(s: Stage): Promise<Diagnostic[]> {
    const { ws } = this.input;
    const entry = this.entries.get(s.address);
    const byPath = new Map((entry?.outs ?? []).map((o) => [pathKey(o.path), o]));
    // Outputs a failed run of this stage left (it started, and was not recorded since): not saved (run-marker.ts).
    const marker = await readRunMarker(ws.root, s.address);
    const leftovers = new Set(marker !== undefined && marker.entry === entryStamp(entry) ? marker.outs : []);
    for (const o of s.outs) {
      if (o.external || o.persist) continue;
      const abs = absOf(ws.root, o.rootPath);
      if (ws.hasher.stat(abs) === undefined) continue;
      const recorded = byPath.get(pathKey(o.path));
      if (recorded && recorded.algo !== "none") {
        const now = await ws.hasher.hashPath(abs, recorded.algo);
        if ((now.kind === "file" || now.kind === "dir") && now.hash === recorded.hash) continue;
      }
      if (leftovers.has(o.rootPath)) {
        this.input.emit({ type: "warning", warning: { kind: "leftover-deleted", path: o.rootPath, stage: s.address } });
        continue;
      }
      const h = await ws.hasher.hashPath(abs, "xxh64");
      // Unreadable: it cannot be saved, so it must not be deleted either.
      if (h.kind === "error") return [error("io", `cannot save '${o.rootPath}' before the run deletes it: ${h.message}`, o.loc ?? s.loc)];
      if (h.kind !== "file" && h.kind !== "dir") continue;
      const r = await storeOutput({ ...this.cc, linkTypes: ["reflink", "copy"] }, o.rootPath, toOutputHash(h), { verify: true });
      // Not saved: then it must not be deleted either, so the stage cannot run.
      if (!r.ok) return r.errors;
      if (r.value.stored === 0) continue;
      this.input.emit({
        type: "warning",
        warning: { kind: "output-saved-before-run", path: o.rootPath, stage: s.address, id: h.hash, recorded: recorded !== undefined },
      });
    }
    return [];
  }

  private async execute(s: Stage, status: StageStatus, forced: boolean, signal: AbortSignal | undefined): Promise<StageResult> {
    const { ws, emit, executor } = this.input;
    const unsaved = await this.saveOutputsAboutToGo(s);
    if (unsaved.length > 0) return this.fail(s, ioFailureOf(unsaved), unsaved);
    for (const o of s.outs) {
      if (o.external) continue;
      const r = o.persist ? await unprotect(ws.root, o.rootPath) : await safeRemove(ws.root, o.rootPath);
      if (!r.ok) return this.fail(s, "io", r.errors);
      ws.hasher.invalidate(absOf(ws.root, o.rootPath));
      // The parent directory of an output is created (DVC leaves that to the command: `> models/model.pkl` fails).
      const parent = path.posix.dirname(o.rootPath);
      if (parent !== ".") {
        const d = await ensureDirInside(ws.root, parent);
        if (!d.ok) return this.fail(s, "io", d.errors);
      }
    }
    // After the deletions (a full disk has room again), before the command: what it leaves if it fails is known as
    // its leftover next time (run-marker.ts).
    const marked = await writeRunMarker(ws.root, {
      stage: s.address,
      outs: s.outs.filter((o) => !o.external).map((o) => o.rootPath),
      entry: entryStamp(this.entries.get(s.address)),
    });
    if (!marked.ok) return this.fail(s, failureReasonOf(marked.errors), marked.errors);
    // The inputs as the command will find them: what the lock records after it (`record.ts`). A dep not there yet (a
    // queued job's upstream still in flight) leaves them to be hashed after the run.
    const before = await hashInputs(ws, s);
    const reasons: RunReason[] = forced && !status.stale ? [{ kind: "forced" }] : status.reasons;
    emit({ type: "stage-start", stage: s.address, cmd: s.cmd, reasons, ...(executor.scheduled === true ? { job: true as const } : {}) });
    const started = (this.input.now ?? (() => performance.now()))();
    // An interrupt that came during the preparations above starts nothing.
    if (signal?.aborted) return "failed";
    const run = executor.start(this.jobOf(s));
    return this.follow(s, run, signal, started, before.ok ? before.inputs : undefined);
  }

  /** Waits for a started run (telling the scheduler at once when the executor queues it), then records it. */
  private async follow(s: Stage, run: StageRun, signal: AbortSignal | undefined, started: number, inputsAtStart?: StageInputs): Promise<StageResult> {
    const { emit, executor } = this.input;
    if (executor.queues === true) {
      this.inFlight.set(s.address, run);
      this.releases.get(s.address)?.();
    }
    // An interrupt cancels through the executor: it knows what "stop" means for what it started.
    const cancel = (): void => run.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    let res: Outcome;
    try {
      res = await run.outcome;
    } finally {
      signal?.removeEventListener("abort", cancel);
      this.inFlight.delete(s.address);
    }
    if (res.reason !== "succeeded") {
      const which = res.failedCommand !== undefined ? { command: res.failedCommand } : {};
      switch (res.reason) {
        case "interrupted":
          if (this.stoppedQueued.has(s.address)) {
            const by = (this.input.graph.upstream.get(s.address) ?? []).find((u) => this.results.get(u) === "failed");
            emit({ type: "stage-not-run", stage: s.address, ...(by !== undefined ? { because: "upstream-failed", upstream: by } : { because: "stopped" }) });
            return "not-run";
          }
          return "failed";
        case "dependency-failed": {
          const ups = this.input.graph.upstream.get(s.address) ?? [];
          const by = ups.find((u) => this.results.get(u) === "failed") ?? ups.find((u) => this.results.get(u) === "not-run");
          emit({ type: "stage-not-run", stage: s.address, because: "upstream-failed", ...(by !== undefined ? { upstream: by } : {}) });
          return "not-run";
        }
        case "failed-to-start":
          return this.failWith(s, { reason: "spawn", error: res.message });
        case "environment":
          return this.failWith(s, { reason: "environment", start: true, error: res.message });
        case "exit-code":
          return this.failWith(s, { reason: "command", exitCode: res.exitCode, signal: null, ...which, tail: res.tail });
        case "signal":
          return this.failWith(s, { reason: "command", exitCode: null, signal: res.signal, ...which, tail: res.tail });
        case "limit":
          return this.failWith(s, { reason: "command", exitCode: null, signal: null, ...which, limit: { limit: res.limit, detail: res.detail }, tail: res.tail });
        default:
          return unreachable(res);
      }
    }
    const rec = await this.recordAndCommit(s, { runCache: true, ...(inputsAtStart ? { inputsAtStart } : {}) });
    if (rec !== "ok") return rec;
    emit({ type: "stage-finished", stage: s.address, durationMs: (this.input.now ?? (() => performance.now()))() - started });
    return "ran";
  }

  /**
   * Hashes the stage as it is now, stores its cached outputs (unless `--no-commit`), records the run-cache entry and
   * writes the lock entry, in that order (`record.ts`): the lock never names an object the cache does not have.
   */
  private async recordAndCommit(s: Stage, opts: { runCache: boolean; inputsAtStart?: StageInputs }): Promise<"ok" | "failed"> {
    const prev = this.entries.get(s.address);
    const rec = await recordAndStore(this.recorder, s, {
      store: this.input.flags.commit,
      runCache: opts.runCache,
      ...(opts.inputsAtStart ? { inputsAtStart: opts.inputsAtStart } : {}),
      previous: this.flavors.get(s.address) === "pipe" ? prev : undefined,
      write: (entry) => this.lockWriter.write(s, entry),
    });
    if (!rec.ok) {
      const { step, errors } = rec.failure;
      if (step === "hash") return this.fail(s, failureReasonOf(errors), errors, true);
      return this.fail(s, ioFailureOf(errors), errors);
    }
    const r = rec.value;
    if (r.runCacheErrors.length > 0) this.input.emit({ type: "warning", warning: { kind: "run-cache-not-updated", diagnostics: r.runCacheErrors } });
    if (r.written) {
      this.entries.set(s.address, r.entry);
      this.flavors.set(s.address, "pipe");
    }
    await this.gitignore(s);
    return "ok";
  }

  /**
   * Once per stages file and run, after a stage of it succeeds: the cached outputs of every stage of that file go
   * into its `.gitignore` together, so the file's content does not depend on which stages happened to run first.
   */
  private async gitignore(s: Stage): Promise<void> {
    if (!this.input.gitignore || this.gitignored.has(s.file)) return;
    this.gitignored.add(s.file);
    const paths: string[] = [];
    for (const t of this.input.graph.pipeline.stages) {
      if (t.file !== s.file) continue;
      for (const o of t.outs) if (o.cache && !o.external) paths.push(o.rootPath);
    }
    if (paths.length === 0) return;
    let r: Awaited<ReturnType<typeof addToGitignore>>;
    try {
      r = await addToGitignore(this.input.ws.root, s.dir, paths);
    } catch (e) {
      // The stage is recorded already: a .gitignore that cannot be written (a full disk) is worth a warning only.
      const f = envFailure<string[]>(e, { doing: "updating .gitignore", root: this.input.ws.root });
      if (!f) throw e;
      r = f;
    }
    if (!r.ok) this.input.emit({ type: "warning", warning: { kind: "diagnostics", diagnostics: r.errors } });
  }

  /** `--dry`: every stage in order, decided as a run would and applied by the dry applier. */
  private async dryRun(): Promise<void> {
    for (const a of this.input.selected) this.results.set(a, await this.stageWork(a, undefined));
  }

  /**
   * `--dry`: a dep reported `deleted` that an upstream stage would check out from the cache (same bytes as recorded)
   * is not a change.
   */
  private withoutRestoredDeps(s: Stage, st: StageStatus, restoring: ReadonlySet<string>): StageStatus {
    const ups = (this.input.graph.upstream.get(s.address) ?? []).filter((u) => restoring.has(u));
    if (ups.length === 0) return st;
    const restoredOuts = ups.flatMap((u) => this.stage(u).outs.map((o) => o.rootPath));
    const restored = (depPath: string): boolean => {
      const d = s.deps.find((x) => pathKey(x.path) === pathKey(depPath));
      return d !== undefined && restoredOuts.some((o) => d.rootPath === o || d.rootPath.startsWith(o + "/"));
    };
    const reasons = st.reasons.flatMap((r): StaleReason[] => {
      if (r.kind !== "changed-deps") return [r];
      const changes = r.changes.filter((c) => !(c.change === "deleted" && restored(c.path)));
      return changes.length > 0 ? [{ ...r, changes }] : [];
    });
    return { ...st, reasons, stale: reasons.length > 0 };
  }
}

/** Counts for the summary line. */
export function summarise(results: ReadonlyMap<string, StageResult>): { ran: number; restored: number; upToDate: number; failed: number; notRun: number } {
  const c = { ran: 0, restored: 0, upToDate: 0, failed: 0, notRun: 0 };
  for (const r of results.values()) {
    // Every result is counted somewhere: a new one that is not fails to compile.
    switch (r) {
      case "ran":
        c.ran++;
        break;
      case "restored-run-cache":
      case "restored-cache":
        c.restored++;
        break;
      case "up-to-date":
      case "frozen":
      case "recorded":
        c.upToDate++;
        break;
      case "failed":
        c.failed++;
        break;
      case "not-run":
        c.notRun++;
        break;
      default:
        return unreachable(r);
    }
  }
  return c;
}

/** Every entry under a directory, sorted, with size and mtime (a symlink: of what it points to): its stamp. */
function treeStamp(dir: string, rel: string): string {
  const parts: string[] = [];
  for (const d of readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const r = rel === "" ? d.name : `${rel}/${d.name}`;
    if (d.isDirectory()) parts.push(`${r}/`, treeStamp(dir, r));
    else {
      const st = statSync(path.join(dir, r), { throwIfNoEntry: false });
      parts.push(`${r}:${st?.size ?? "-"}:${st?.mtimeMs ?? "-"}`);
    }
  }
  return parts.join("\n");
}
