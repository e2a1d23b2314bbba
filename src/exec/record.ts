/**
 * The one record path: what the workspace holds now becomes what the lock says. `repro` takes it after a stage
 * succeeds (or is restored from the run-cache, or found fresh with DVC's hashes), `commit` for outputs produced by
 * hand. In this order, so the lock never names an object the cache does not have:
 *
 *   hash (deps, params, outs: `status/record.ts`) -> store cached outputs -> run-cache entry -> lock entry
 *
 * then the stage's run marker is cleared (what is in the workspace is the lock's now: `run-marker.ts`). Where the
 * entry goes is the caller's (`write`): `repro`'s lock writer, `commit`'s `writeLockEntry`, and for a future
 * `pipe add` a `.dvc` file, which records a stage of outputs only (no cmd, no deps: never run-cached).
 *
 * This module also builds the one `CacheContext` every command moving outputs between the workspace and the cache
 * uses, so that each hashes through the workspace's stat cache and leaves ignored files inside directory outputs alone.
 */
import type { Diagnostic, Result } from "../core/diagnostic.js";
import type { CacheContext, OutputHash } from "../storage/checkout.js";
import { storeOutput } from "../storage/checkout.js";
import type { LinkType } from "../storage/link.js";
import type { RunCache, RunEntry, RunKeyInput } from "../storage/runcache.js";
import type { LocalCache } from "../storage/store.js";
import type { HashedPath } from "../hash/hasher.js";
import type { LockEntry } from "../lock/types.js";
import { serializeLockEntry } from "../lock/write.js";
import type { Stage } from "../core/model.js";
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
  const rec = await recordStage(ws, s);
  if (!rec.ok) return { ok: false, failure: { step: "hash", errors: rec.errors } };
  const { entry, outs } = rec.value;
  let runCacheErrors: Diagnostic[] = [];
  if (opts.store) {
    for (const ro of outs) {
      const stored = await storeRecorded(r, s, ro);
      if (!stored.ok) return { ok: false, failure: { step: "store", errors: stored.errors } };
    }
    if (opts.runCache && runCacheable(s)) {
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
