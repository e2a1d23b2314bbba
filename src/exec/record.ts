/**
 * The one record path: what the workspace holds now becomes what the lock says. `repro` takes it after a stage
 * succeeds (or is restored from the run-cache, or found fresh with DVC's hashes), `commit` for outputs produced by
 * hand. In this order, so the lock never names an object the cache does not have:
 *
 *   hash (deps, params, outs: `status/record.ts`) -> store cached outputs -> run-cache entry -> lock entry
 *
 * then the stage's run marker is cleared (what is in the workspace is the lock's now: `run-marker.ts`). After a run,
 * deps and params are recorded as they were when the command started (`hashInputs` just before it, passed in as
 * `inputsAtStart`), as make and ninja judge a target by the inputs it was built from: a dep edited while the command
 * ran is recorded with its old hash, so the next `status` says the stage is stale instead of up to date, and a
 * warning names it (no run-cache entry is written: what the output was computed from is not known). Where the
 * entry goes is the caller's (`write`): `repro`'s lock writer, `commit`'s `writeLockEntry`, and for a future
 * `pipe add` a `.dvc` file, which records a stage of outputs only (no cmd, no deps: never run-cached).
 *
 * This module also builds the one `CacheContext` every command moving outputs between the workspace and the cache
 * uses, so that each hashes through the workspace's stat cache and leaves ignored files inside directory outputs alone.
 */
import { error, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { CacheContext, OutputHash } from "../storage/checkout.js";
import { storeOutput } from "../storage/checkout.js";
import type { LinkType } from "../storage/link.js";
import type { RunCache, RunEntry, RunKeyInput } from "../storage/runcache.js";
import type { LocalCache } from "../storage/store.js";
import type { HashedPath } from "../hash/hasher.js";
import type { LockEntry, LockFileEntry } from "../lock/types.js";
import { serializeLockEntry } from "../lock/write.js";
import type { DepEntry, Stage } from "../core/model.js";
import { sameValue } from "../params/diff.js";
import { currentParamValues, ParamsReader, unresolvedParams } from "../status/params.js";
import type { EventSink } from "./events.js";
import { recordStage, type RecordedOut } from "../status/record.js";
import { absOf, type Workspace } from "../status/workspace.js";
import { runCacheable } from "../plan/decide.js";
import { clearRunMarker } from "./run-marker.js";

/** The cache context of a workspace: hashing through its stat cache, its ignore rules inside directory outputs. */
export function cacheContextOf(ws: Workspace, store: LocalCache, linkTypes: readonly LinkType[]): CacheContext {
  return {
    root: ws.root,
    store,
    linkTypes,
    fileHash: async (abs, algo) => {
      const r = await ws.hasher.hashPath(abs, algo);
      return r.kind === "file" ? r.hash : "";
    },
    // A restore leaves what the ignore rules leave out of a directory output as it is, as DVC's checkout does.
    ignoreTest: (absDir) => ws.hasher.ignoreTest(absDir),
  };
}

export function toOutputHash(h: HashedPath): OutputHash {
  if (h.kind === "file") return { kind: "file", hash: h.hash, size: h.size };
  return { kind: "dir", hash: h.hash, entries: h.manifest.entries, manifestBytes: h.manifest.bytes };
}

/** A stage's deps and params as hashed at one moment, in the form the lock records them. */
export interface StageInputs {
  /** In stage order; URL deps as `algo: none`. */
  deps: LockFileEntry[];
  params: Record<string, Record<string, unknown>>;
}

/**
 * Hashes the stage's deps and reads its params as they are now (xxh64). A missing or unreadable one is an error
 * naming it; `missingNote` adds why a missing dep was not produced (its producing stage, when known).
 */
export async function hashInputs(
  ws: Workspace,
  s: Stage,
  missingNote: (d: DepEntry) => string = () => "",
): Promise<{ ok: true; inputs: StageInputs } | { ok: false; errors: Diagnostic[] }> {
  const errors: Diagnostic[] = [];
  const deps: LockFileEntry[] = [];
  await Promise.all(
    s.deps.map(async (d, i) => {
      if (d.external) {
        deps[i] = { path: d.path, algo: "none", hash: "" };
        return;
      }
      const r = await ws.hasher.hashPath(absOf(ws.root, d.rootPath), "xxh64");
      if (r.kind === "missing") errors.push(error("missing-dep", `stage '${s.address}': dependency '${d.path}' does not exist${missingNote(d)}`, d.loc ?? s.loc));
      else if (r.kind === "error") errors.push(error("io", `stage '${s.address}': cannot hash dependency '${d.path}': ${r.message}`, d.loc ?? s.loc));
      else deps[i] = { path: d.path, algo: "xxh64", hash: r.hash, size: r.size, ...(r.kind === "dir" ? { nfiles: r.nfiles } : {}) };
    }),
  );
  const params = await readParams(ws.root, ws.params, s, errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, inputs: { deps, params } };
}

/** The values of the stage's params (`params.yaml` file -> key -> value); problems are added to `errors`. */
async function readParams(root: string, reader: ParamsReader, s: Stage, errors: Diagnostic[]): Promise<StageInputs["params"]> {
  const params: Record<string, Record<string, unknown>> = {};
  for (const p of s.params) {
    const facts = await reader.read(p.rootPath, absOf(root, p.rootPath));
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
  return params;
}

/** Run-cache key input from inputs `hashInputs` read. */
export function runKeyOf(s: Stage, inputs: StageInputs): RunKeyInput {
  return {
    cmd: s.cmd,
    deps: s.deps.map((d, i) => [d.rootPath, inputs.deps[i]?.hash ?? ""] as const),
    params: inputs.params,
    outs: s.outs.map((o) => o.rootPath),
  };
}

/** Run-cache key input from a recorded entry (`recordStage` keeps deps in stage order). */
export function runKeyFromEntry(s: Stage, entry: LockEntry): RunKeyInput {
  return runKeyOf(s, entry);
}

/** The run-cache entry for what `recordStage` hashed. */
export function runEntryOf(outs: readonly RecordedOut[]): RunEntry {
  return {
    outs: outs.flatMap((ro) =>
      ro.hashed ? [{ path: ro.out.rootPath, hash: ro.hashed.hash, size: ro.hashed.size, ...(ro.hashed.kind === "dir" ? { nfiles: ro.hashed.nfiles } : {}) }] : [],
    ),
  };
}

export interface Recorder {
  ws: Workspace;
  cc: CacheContext;
  runs: RunCache;
  /** Warnings found on the way (a cache object that no longer matched its name, replaced). */
  emit: EventSink;
}

export interface RecordOptions {
  /** Store cached outputs and record the run-cache entry (false with `repro --no-commit`: the lock is still written). */
  store: boolean;
  /** Record the run-cache entry (when the stage is run-cacheable). */
  runCache: boolean;
  /** The entry the lock has now, in `pipe.lock`'s own form: an identical entry is not written again. */
  previous: LockEntry | undefined;
  /** Writes the entry: the lock of the stage's directory (a `.dvc` file for `add`). */
  write: (entry: LockEntry) => Promise<Result<void>>;
  /** After a run: the deps and params as they were when the command started (what the lock records). */
  inputsAtStart?: StageInputs;
}

export interface Recorded {
  entry: LockEntry;
  /** The entry differed from `previous` and was written. */
  written: boolean;
  /** The run-cache entry could not be written (the caller says whether that fails it). */
  runCacheErrors: Diagnostic[];
}

/** Which step failed: hashing (a dep, params or output missing or unreadable), storing, or writing the entry. */
export type RecordFailure = { step: "hash" | "store" | "write"; errors: Diagnostic[] };

export async function recordAndStore(r: Recorder, s: Stage, opts: RecordOptions): Promise<{ ok: true; value: Recorded } | { ok: false; failure: RecordFailure }> {
  const { ws } = r;
  const before = opts.inputsAtStart;
  // A directory's hash is remembered for the whole process: forget it, so a change made during the run is seen.
  if (before) for (const d of s.deps) if (!d.external) ws.hasher.invalidate(absOf(ws.root, d.rootPath));
  const rec = await recordStage(ws, s);
  if (!rec.ok) return { ok: false, failure: { step: "hash", errors: rec.errors } };
  const { outs } = rec.value;
  let entry = rec.value.entry;
  let changedDuringRun = false;
  if (before) {
    // The workspace reads a params file once per invocation: read them afresh to see an edit made during the run.
    const paramsNow = s.params.length > 0 ? await readParams(ws.root, new ParamsReader(ws.root), s, []) : entry.params;
    const atStart = asAtStart(s, { ...entry, params: paramsNow }, before);
    entry = atStart.entry;
    changedDuringRun = atStart.deps.length > 0 || atStart.params.length > 0;
    if (changedDuringRun) r.emit({ type: "warning", warning: { kind: "inputs-changed-during-run", stage: s.address, deps: atStart.deps, params: atStart.params } });
  }
  let runCacheErrors: Diagnostic[] = [];
  if (opts.store) {
    for (const ro of outs) {
      const stored = await storeRecorded(r, s, ro);
      if (!stored.ok) return { ok: false, failure: { step: "store", errors: stored.errors } };
    }
    if (opts.runCache && !changedDuringRun && runCacheable(s)) {
      const key = await r.runs.key(runKeyFromEntry(s, entry));
      const w = await r.runs.record(key, runEntryOf(outs));
      if (!w.ok) runCacheErrors = w.errors;
    }
  }
  let written = false;
  if (!(opts.previous && serializeLockEntry(opts.previous) === serializeLockEntry(entry))) {
    const w = await opts.write(entry);
    if (!w.ok) return { ok: false, failure: { step: "write", errors: w.errors } };
    written = true;
  }
  // Recorded: what is in the workspace now is the lock's (run-marker.ts).
  await clearRunMarker(ws.root, s.address);
  return { ok: true, value: { entry, written, runCacheErrors } };
}

/**
 * The entry with deps and params as they were when the command started, and which of them changed since (deps as
 * written, params files). A dep that is also one of the stage's own outputs (a persistent output read and
 * rewritten) is the stage's to change: recorded as it is now.
 */
function asAtStart(s: Stage, now: LockEntry, before: StageInputs): { entry: LockEntry; deps: string[]; params: string[] } {
  const own = (d: DepEntry): boolean =>
    s.outs.some((o) => !o.external && (o.rootPath === d.rootPath || d.rootPath.startsWith(o.rootPath + "/") || o.rootPath.startsWith(d.rootPath + "/")));
  const deps: string[] = [];
  const recorded = now.deps.map((e, i) => {
    const d = s.deps[i];
    const b = before.deps[i];
    if (d === undefined || b === undefined || d.external || own(d) || b.hash === e.hash) return e;
    deps.push(d.path);
    return b;
  });
  const files = [...new Set([...Object.keys(now.params), ...Object.keys(before.params)])];
  // Compared as values (integers beyond 2^53 are BigInts, which JSON.stringify refuses).
  const params = files.filter((f) => !sameValue(now.params[f], before.params[f]));
  return { entry: { ...now, deps: recorded, params: params.length > 0 ? before.params : now.params }, deps, params };
}

async function storeRecorded(r: Recorder, s: Stage, ro: RecordedOut): Promise<{ ok: true } | { ok: false; errors: Diagnostic[] }> {
  if (!ro.hashed || !ro.out.cache) return { ok: true };
  const res = await storeOutput(r.cc, ro.out.rootPath, toOutputHash(ro.hashed));
  // With hardlink/symlink links the workspace files were replaced by links: their stat changed.
  r.ws.hasher.invalidate(absOf(r.ws.root, ro.out.rootPath));
  if (!res.ok) return { ok: false, errors: res.errors };
  const bad = res.value.repaired;
  if (bad.length > 0) {
    r.emit({ type: "warning", warning: { kind: "cache-objects-repaired", out: ro.out.rootPath, stage: s.address, ids: bad } });
  }
  return { ok: true };
}
