/**
 * `repro`'s engine: brings selected stages up to date, in dependency order, up to `jobs` at a time (spec 3, 4, 5).
 *
 * Each stage is judged immediately before it would run (so an upstream stage that regenerated identical bytes stops
 * the propagation: early cutoff), then one of:
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
 *   command run (each command announced as it starts), every declared output verified, outputs hashed and stored,
 *   the run-cache entry and the lock entry written, the mark removed.
 *
 * A failure is recorded nowhere: the stage's lock entry and cached objects stay as they were. The lock entry of a
 * stage that succeeded is written right away, so an interrupted run keeps what finished. An environment error (a
 * full disk, a read-only mount: `config/env-error.ts`) anywhere in a stage's work is such a failure of that stage,
 * with reason `environment` and a message saying what to do, not a crash of the run.
 *
 * `--dry` goes through the same judgement without the scheduler or any write, and treats the outputs of stages that
 * would run as "will be produced".
 */
import path from "node:path";
import { error, type Diagnostic } from "../config/diagnostic.js";
import type { LockStore } from "../lock/read.js";
import type { LockEntry } from "../lock/types.js";
import { pathKey } from "../lock/types.js";
import { serializeLockEntry } from "../lock/write.js";
import { LockWriter } from "./lockfile.js";
import type { Stage, StageGraph } from "../model.js";
import { indexOf } from "../graph/graph.js";
import type { OutIndex } from "../graph/trie.js";
import { currentParamValues, unresolvedParams } from "../status/params.js";
import { recordStage, type RecordedOut } from "../status/record.js";
import type { StageStatus, StaleReason } from "../status/types.js";
import { absOf, checkStage, type Workspace } from "../status/workspace.js";
import type { DiagnosedFailure, EventSink, RunReason, StageFailureFacts } from "../report/events.js";
import { checkoutOutput, isCached, storeOutput, type CacheContext, type OutputHash } from "../cache/checkout.js";
import { addToGitignore } from "../cache/gitignore.js";
import type { LinkType } from "../cache/link.js";
import { ensureDirInside, safeRemove } from "../cache/fs.js";
import { unprotect } from "../cache/link.js";
import type { RunCache, RunEntry, RunKeyInput } from "../cache/runcache.js";
import type { ObjectStore } from "../cache/store.js";
import type { HashedPath } from "../hash/hasher.js";
import { envDiagnostic, envErrorOf, envFailure } from "../config/env-error.js";
import { clearRunMarker, entryStamp, readRunMarker, writeRunMarker } from "./run-marker.js";
import { succeeded, type Runner } from "./runner.js";
import { schedule, type WorkStatus } from "./scheduler.js";
import { unreachable } from "../core/unreachable.js";

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
  store: ObjectStore;
  runs: RunCache;
  linkTypes: readonly LinkType[];
  /** Add cached outputs to `.gitignore` (config `gitignore`). */
  gitignore: boolean;
  runner: Runner;
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
 * An entry still holding DVC's md5 hashes: read from a `dvc.lock`, or carried into `pipe.lock` when another stage of
 * the same file was written first. Recorded again (xxh64, outputs cached) the first time it is found fresh.
 */
function hasDvcHashes(entry: LockEntry): boolean {
  return [...entry.deps, ...entry.outs].some((x) => x.algo === "md5" || x.algo === "legacy-md5");
}

/** Stale only because cached outputs are missing from the workspace (restore them, run nothing). */
function onlyMissingOutputs(st: StageStatus): boolean {
  return st.reasons.length > 0 && st.reasons.every((r) => r.kind === "changed-outs" && r.changes.every((c) => c.change === "deleted"));
}

/** Run-cache key input from a recorded entry (`recordStage` keeps deps in stage order). */
export function runKeyFromEntry(s: Stage, entry: LockEntry): RunKeyInput {
  return {
    cmd: s.cmd,
    deps: s.deps.map((d, i) => [d.rootPath, entry.deps[i]?.hash ?? ""] as const),
    params: entry.params,
    outs: s.outs.map((o) => o.rootPath),
  };
}

/** The run-cache entry for what `recordStage` hashed. */
export function runEntryOf(outs: readonly RecordedOut[]): RunEntry {
  return {
    outs: outs.flatMap((ro) =>
      ro.hashed ? [{ path: ro.out.rootPath, hash: ro.hashed.hash, size: ro.hashed.size, ...(ro.hashed.kind === "dir" ? { nfiles: ro.hashed.nfiles } : {}) }] : [],
    ),
  };
}

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

export function toOutputHash(h: HashedPath): OutputHash {
  if (h.kind === "file") return { kind: "file", hash: h.hash, size: h.size };
  return { kind: "dir", hash: h.hash, entries: h.manifest.entries, manifestBytes: h.manifest.bytes };
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

  constructor(private readonly input: ReproInput) {
    const ws = input.ws;
    this.cc = {
      root: ws.root,
      store: input.store,
      linkTypes: input.linkTypes,
      fileHash: async (abs, algo) => {
        const r = await ws.hasher.hashPath(abs, algo);
        return r.kind === "file" ? r.hash : "";
      },
      // A restore leaves what the ignore rules leave out of a directory output as it is, as checkout does.
      ignoreTest: (absDir) => ws.hasher.ignoreTest(absDir),
    };
    this.producers = indexOf(input.graph);
    this.lockWriter = new LockWriter(input.graph.pipeline);
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
      const r = await locks.forDir(s.dir);
      if (!r.ok) {
        if (!badDirs.has(s.dir)) errors.push(...r.errors);
        badDirs.add(s.dir);
        continue;
      }
      this.entries.set(a, r.value?.stages.get(s.name));
      this.flavors.set(a, r.value?.flavor);
    }
    if (errors.length > 0) return { errors, invalid: true };
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
    const r = await schedule({
      order: selected,
      upstream: (id) => this.input.graph.upstream.get(id) ?? [],
      jobs: flags.jobs,
      keepGoing: flags.keepGoing,
      ...(this.input.signal ? { signal: this.input.signal } : {}),
      work: (id, signal) => this.work(id, signal),
      onBlocked: (id, by) => {
        this.results.set(id, "not-run");
        emit({ type: "stage-not-run", stage: id, because: "upstream-failed", upstream: by });
      },
      onProgress: (running, finished, total) => emit({ type: "progress", running, finished, total }),
    });
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
      r = await this.stageWork(address, signal);
    } catch (e) {
      // A full disk, a read-only mount, a permission: this stage fails, saying so, and the run goes on as after any
      // failure (what finished stays recorded; the lock is only ever replaced whole). Anything else is a bug.
      const env = envErrorOf(e);
      if (!env) throw e;
      r = this.fail(this.stage(address), "environment", [envDiagnostic(env, { root: this.input.ws.root })]);
    }
    this.results.set(address, r);
    return r === "failed" ? "failed" : r === "up-to-date" || r === "frozen" ? "skipped" : "ok";
  }

  /** `located`: the diagnostics are shown at their positions; otherwise as about the stage. */
  private fail(s: Stage, reason: DiagnosedFailure, diagnostics: readonly Diagnostic[], located = false): "failed" {
    return this.failWith(s, { reason, diagnostics, aboutStage: !located, located });
  }

  private failWith(s: Stage, facts: StageFailureFacts): "failed" {
    this.input.emit({ type: "stage-failed", stage: s.address, ...facts });
    return "failed";
  }

  private async stageWork(address: string, signal: AbortSignal | undefined): Promise<StageResult> {
    const { ws, emit, flags } = this.input;
    const s = this.stage(address);
    const forced = this.isForced(address);
    if (s.frozen && !forced) {
      if (await this.restoreFrozenOutputs(s)) {
        emit({ type: "stage-restored", stage: address, from: "cache" });
        return "restored-cache";
      }
      emit({ type: "stage-skipped", stage: address, reason: "frozen" });
      return "frozen";
    }
    const entry = this.entries.get(address);
    const status = await checkStage(ws, s, entry);
    if (!forced && !status.stale) {
      if (this.flavors.get(address) === "dvc" || (entry !== undefined && hasDvcHashes(entry))) {
        const rec = await this.recordAndCommit(s, { runCache: false });
        if (rec !== "ok") return rec;
        emit({ type: "stage-skipped", stage: address, reason: "up-to-date" });
        return "recorded";
      }
      emit({ type: "stage-skipped", stage: address, reason: "up-to-date" });
      return "up-to-date";
    }
    if (!forced && entry && onlyMissingOutputs(status) && (await this.outsCached(s, entry))) {
      const r = await this.restoreFromLock(s, entry);
      if (r === "ok") {
        emit({ type: "stage-restored", stage: address, from: "cache" });
        return "restored-cache";
      }
      // Could not restore (an object turned out corrupt): run the stage instead.
    }
    const inputs = await this.currentInputs(s);
    if (!inputs.ok) return this.fail(s, "missing-dep", inputs.errors, true);
    if (!forced && flags.runCache) {
      const restored = await this.tryRunCache(s, inputs.key);
      if (restored === "restored") {
        emit({ type: "stage-restored", stage: address, from: "run-cache" });
        return "restored-run-cache";
      }
      if (restored === "failed") return "failed";
    }
    if (signal?.aborted) return "failed";
    return this.execute(s, status, forced, signal);
  }

  /** The outputs of a frozen stage that are missing from the workspace (a frozen stage never runs to make them). */
  private missingOutputs(s: Stage): Stage["outs"] {
    const { ws } = this.input;
    return s.outs.filter((o) => !o.external && ws.hasher.stat(absOf(ws.root, o.rootPath)) === undefined);
  }

  /** `--dry`: the frozen stage has missing outputs, and the cache holds every one of them as its lock records it. */
  private async frozenRestorable(s: Stage): Promise<boolean> {
    const missing = this.missingOutputs(s);
    if (missing.length === 0) return false;
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
  private async checkoutLogged(s: Stage, o: Stage["outs"][number], id: string): Promise<boolean> {
    const r = await checkoutOutput(this.cc, o.rootPath, id);
    this.input.ws.hasher.invalidate(absOf(this.input.ws.root, o.rootPath));
    if (!r.ok) {
      this.input.emit({ type: "warning", warning: { kind: "diagnostics", stage: s.address, diagnostics: r.errors } });
      return false;
    }
    if (r.value.status === "corrupt") {
      this.input.emit({ type: "warning", warning: { kind: "corrupt-object-removed", out: o.path, ids: r.value.ids.map((x) => x.id) } });
      return false;
    }
    if (r.value.status === "missing") return false;
    this.reportSaved(r.value.saved);
    return true;
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
    const byPath = new Map(entry.outs.map((o) => [pathKey(o.path), o]));
    for (const o of s.outs) {
      if (o.external || !o.cache) continue;
      const e = byPath.get(pathKey(o.path));
      if (!e) return "failed";
      const r = await checkoutOutput(this.cc, o.rootPath, e.hash);
      this.input.ws.hasher.invalidate(absOf(this.input.ws.root, o.rootPath));
      if (!r.ok) {
        this.input.emit({ type: "warning", warning: { kind: "diagnostics", stage: s.address, diagnostics: r.errors } });
        return "failed";
      }
      if (r.value.status === "corrupt") {
        this.input.emit({
          type: "warning",
          warning: { kind: "corrupt-object-removed", out: o.path, ids: r.value.ids.map((x) => x.id), instead: { stage: s.address, from: "cache" } },
        });
        return "failed";
      }
      if (r.value.status === "missing") return "failed";
      this.reportSaved(r.value.saved);
    }
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
    const { ws } = this.input;
    const errors: Diagnostic[] = [];
    const deps: [string, string][] = [];
    await Promise.all(
      s.deps.map(async (d, i) => {
        if (d.external) {
          deps[i] = [d.rootPath, ""];
          return;
        }
        const r = await ws.hasher.hashPath(absOf(ws.root, d.rootPath), "xxh64");
        if (r.kind === "missing") {
          const producers = this.producers.producersOf(d).map((p) => p.stage);
          const frozen = producers.find((p) => p.frozen);
          const producer = frozen
            ? ` (its producing stage '${frozen.address}' is frozen, so it is not run to create it; 'pipe repro -f ${frozen.address}' does)`
            : producers.length > 0
              ? " (its producing stage has not created it)"
              : "";
          errors.push(error("missing-dep", `stage '${s.address}': dependency '${d.path}' does not exist${producer}`, d.loc ?? s.loc));
        } else if (r.kind === "error") errors.push(error("io", `stage '${s.address}': cannot hash dependency '${d.path}': ${r.message}`, d.loc ?? s.loc));
        else deps[i] = [d.rootPath, r.hash];
      }),
    );
    const params: Record<string, Record<string, unknown>> = {};
    for (const p of s.params) {
      const facts = await ws.params.read(p.rootPath, absOf(ws.root, p.rootPath));
      if (facts.kind === "missing") {
        errors.push(error("params", `stage '${s.address}': params file '${p.file}' does not exist`, p.loc ?? s.loc));
        continue;
      }
      if (facts.kind === "invalid") {
        errors.push(error("params", `stage '${s.address}': cannot read params file '${p.file}': ${facts.message}`, p.loc ?? s.loc));
        continue;
      }
      const unresolved = unresolvedParams(p, facts.value);
      if (unresolved !== undefined) {
        errors.push(error("params", `stage '${s.address}': ${unresolved}`, p.loc ?? s.loc));
        continue;
      }
      params[p.file] = { ...(params[p.file] ?? {}), ...currentParamValues(p, facts) };
    }
    if (errors.length > 0) return { ok: false, errors };
    return { ok: true, key: { cmd: s.cmd, deps, params, outs: s.outs.map((o) => o.rootPath) } };
  }

  private async tryRunCache(s: Stage, key: RunKeyInput): Promise<"restored" | "miss" | "failed"> {
    if (!runCacheable(s)) return "miss";
    const { runs, ws } = this.input;
    const k = await runs.key(key);
    const hit = await runs.lookup(k, key.outs);
    if (!hit) return "miss";
    for (const o of hit.outs) if (!(await this.isCached(o.path, o.hash))) return "miss";
    // Objects are verified before anything in the workspace changes; a corrupt one makes this a miss.
    for (const o of s.outs) {
      const h = hit.outs.find((x) => x.path === o.rootPath);
      if (!h) return "miss";
      const r = await checkoutOutput(this.cc, o.rootPath, h.hash);
      ws.hasher.invalidate(absOf(ws.root, o.rootPath));
      if (!r.ok) {
        this.input.emit({ type: "warning", warning: { kind: "diagnostics", stage: s.address, diagnostics: r.errors } });
        return "miss";
      }
      if (r.value.status === "corrupt") {
        this.input.emit({
          type: "warning",
          warning: { kind: "corrupt-object-removed", out: o.path, ids: r.value.ids.map((x) => x.id), instead: { stage: s.address, from: "run-cache" } },
        });
        return "miss";
      }
      if (r.value.status === "missing") return "miss";
      this.reportSaved(r.value.saved);
    }
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
    const { ws, emit, runner } = this.input;
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
    const reasons: RunReason[] = forced && !status.stale ? [{ kind: "forced" }] : status.reasons;
    emit({ type: "stage-start", stage: s.address, cmd: s.cmd, reasons });
    const started = (this.input.now ?? (() => performance.now()))();
    const res = await runner.run({
      stage: s.address,
      cmd: s.cmd,
      cwd: path.join(ws.root, s.wdir),
      root: ws.root,
      ...(signal ? { signal } : {}),
      // Each command line is shown just before it runs, so a list `cmd` that stops early shows only what ran.
      onCommand: (command) => emit({ type: "stage-command", stage: s.address, cmd: command }),
      onLine: (stream, line) => emit({ type: "stage-output", stage: s.address, stream, line }),
    });
    if (!succeeded(res)) {
      if (res.interrupted) return "failed";
      if (res.spawnError !== undefined) return this.failWith(s, { reason: "spawn", error: res.spawnError });
      const which = res.failedCommand !== undefined ? { command: res.failedCommand } : {};
      return this.failWith(s, { reason: "command", exitCode: res.exitCode, signal: res.signal, ...which, tail: res.tail });
    }
    const rec = await this.recordAndCommit(s, { runCache: true });
    if (rec !== "ok") return rec;
    emit({ type: "stage-finished", stage: s.address, durationMs: (this.input.now ?? (() => performance.now()))() - started });
    return "ran";
  }

  /**
   * Hashes the stage as it is now, stores its cached outputs (unless `--no-commit`), records the run-cache entry and
   * writes the lock entry, in that order: the lock never names an object the cache does not have.
   */
  private async recordAndCommit(s: Stage, opts: { runCache: boolean }): Promise<"ok" | "failed"> {
    const { ws, flags } = this.input;
    const rec = await recordStage(ws, s);
    if (!rec.ok) return this.fail(s, failureReasonOf(rec.errors), rec.errors, true);
    const { entry, outs } = rec.value;
    if (flags.commit) {
      for (const ro of outs) {
        const stored = await this.storeRecorded(s, ro);
        if (!stored.ok) return this.fail(s, ioFailureOf(stored.errors), stored.errors);
      }
      if (opts.runCache && runCacheable(s)) {
        const key = await this.input.runs.key(runKeyFromEntry(s, entry));
        const r = await this.input.runs.record(key, runEntryOf(outs));
        if (!r.ok) this.input.emit({ type: "warning", warning: { kind: "run-cache-not-updated", diagnostics: r.errors } });
      }
    }
    const prev = this.entries.get(s.address);
    if (!(prev && this.flavors.get(s.address) === "pipe" && serializeLockEntry(prev) === serializeLockEntry(entry))) {
      const w = await this.lockWriter.write(s, entry);
      if (!w.ok) return this.fail(s, ioFailureOf(w.errors), w.errors);
      this.entries.set(s.address, entry);
      this.flavors.set(s.address, "pipe");
    }
    // Recorded: what is in the workspace now is the lock's (run-marker.ts).
    await clearRunMarker(ws.root, s.address);
    await this.gitignore(s);
    return "ok";
  }

  private async storeRecorded(s: Stage, ro: RecordedOut): Promise<{ ok: true } | { ok: false; errors: Diagnostic[] }> {
    if (!ro.hashed || !ro.out.cache) return { ok: true };
    const r = await storeOutput(this.cc, ro.out.rootPath, toOutputHash(ro.hashed));
    // With hardlink/symlink links the workspace files were replaced by links: their stat changed.
    this.input.ws.hasher.invalidate(absOf(this.input.ws.root, ro.out.rootPath));
    if (!r.ok) return { ok: false, errors: r.errors };
    const bad = r.value.repaired;
    if (bad.length > 0) {
      this.input.emit({ type: "warning", warning: { kind: "cache-objects-repaired", out: ro.out.rootPath, stage: s.address, ids: bad } });
    }
    return { ok: true };
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

  /**
   * `--dry`: the same judgement, no writes. Outputs of stages that would run (or be restored from the run-cache)
   * may change, so their dependents are reported as "would run" with that reason (early cutoff may still spare them).
   */
  private async dryRun(): Promise<void> {
    const { selected, ws, emit, flags } = this.input;
    const changing = new Set<string>();
    /** Stages whose missing outputs would be checked out unchanged: their dependents see the same bytes. */
    const restoring = new Set<string>();
    for (const a of selected) {
      const s = this.stage(a);
      const forced = this.input.forced.has(a) || (flags.forceDownstream && (this.input.graph.upstream.get(a) ?? []).some((u) => changing.has(u)));
      if (s.frozen && !forced) {
        if (await this.frozenRestorable(s)) {
          emit({ type: "stage-would-restore", stage: a, from: "cache" });
          this.results.set(a, "restored-cache");
          restoring.add(a);
          continue;
        }
        emit({ type: "stage-skipped", stage: a, reason: "frozen" });
        this.results.set(a, "frozen");
        continue;
      }
      const entry = this.entries.get(a);
      const status = this.withoutRestoredDeps(s, await checkStage(ws, s, entry), restoring);
      const changedUp = (this.input.graph.upstream.get(a) ?? []).filter((u) => changing.has(u));
      if (forced) {
        emit({ type: "stage-would-run", stage: a, reasons: [{ kind: "forced" }] });
        changing.add(a);
        this.results.set(a, "ran");
        continue;
      }
      if (!status.stale && changedUp.length === 0) {
        emit({ type: "stage-skipped", stage: a, reason: "up-to-date" });
        this.results.set(a, "up-to-date");
        continue;
      }
      if (status.stale && changedUp.length === 0) {
        if (entry && onlyMissingOutputs(status) && (await this.outsCached(s, entry))) {
          emit({ type: "stage-would-restore", stage: a, from: "cache" });
          this.results.set(a, "restored-cache");
          restoring.add(a);
          continue;
        }
        if (flags.runCache && runCacheable(s)) {
          const inputs = await this.currentInputs(s);
          if (inputs.ok) {
            const hit = await this.input.runs.lookup(await this.input.runs.key(inputs.key), inputs.key.outs);
            let all = hit !== undefined;
            for (const o of hit?.outs ?? []) if (all && !(await this.isCached(o.path, o.hash))) all = false;
            if (all) {
              emit({ type: "stage-would-restore", stage: a, from: "run-cache" });
              changing.add(a);
              this.results.set(a, "restored-run-cache");
              continue;
            }
          }
        }
      }
      const reasons: RunReason[] = status.reasons.filter(
        (r) => !(changedUp.length > 0 && r.kind === "changed-deps" && r.changes.every((c) => c.change === "deleted")),
      );
      for (const u of changedUp) reasons.push({ kind: "upstream-will-run", upstream: u });
      emit({ type: "stage-would-run", stage: a, reasons });
      changing.add(a);
      this.results.set(a, "ran");
    }
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
