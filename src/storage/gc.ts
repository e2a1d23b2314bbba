/**
 * Garbage collection of the cache (`gc`): what the scope does not name goes (`gc-refs.ts` collects what it names:
 * the lock and `.dvc` files of the workspace and of the git revisions in scope).
 *
 * - Referenced objects: every hash those files name (deps and outs, `pipe.lock` and `dvc.lock` alike), and, for a
 *   directory, every file its manifest lists. A manifest that cannot be read keeps only itself.
 * - A run-cache entry is kept when every output object it names is kept, so whatever survives can still be
 *   restored; an entry pointing at an object that goes (or is already gone) goes with it.
 * - Temp files left by an interrupted write go too (the caller holds the project write lock, so no write is in
 *   progress).
 * - `.pipe/cache/verified` keeps entries only for the objects kept (it would otherwise keep a line for every object
 *   ever removed).
 *
 * Planning is separate from deleting so `gc --dry` shows exactly what `gc` would do.
 */
import { unlink } from "node:fs/promises";
import type { LockEntry } from "../lock/types.js";
import { errnoOf } from "./fs.js";
import { parseManifest } from "./manifest.js";
import type { RunCache, RunCacheEntryInfo } from "./runcache.js";
import { describeStoreFailure, readObject, type ObjectStore } from "./object-store.js";
import { isObjectId, keyOfId, type ObjectInfo, type LocalCache } from "./store.js";

export interface GcPlan {
  /** Objects to remove, sorted by id. */
  objects: ObjectInfo[];
  /** Run-cache entries to remove, sorted by key. */
  runs: RunCacheEntryInfo[];
  /** Leftover temp files (absolute paths). */
  temps: string[];
  /** Bytes freed by removing all of the above. */
  bytes: number;
  /** Objects kept. */
  keptObjects: number;
  /** Their ids. */
  keptIds: ReadonlySet<string>;
  keptRuns: number;
}

/** Every object id the given lock entries reference, manifests expanded. */
export async function referencedObjects(store: ObjectStore, entries: Iterable<LockEntry>): Promise<Set<string>> {
  const hashes: string[] = [];
  for (const e of entries) {
    for (const f of [...e.outs, ...e.deps]) if (f.algo !== "none") hashes.push(f.hash);
  }
  return referencedIds(store, hashes);
}

/**
 * The object ids `hashes` (as lock and `.dvc` files name them) keep: each one that is an object id, and every file
 * a kept directory's manifest lists, the manifest read from the cache.
 */
export async function referencedIds(store: ObjectStore, hashes: Iterable<string>): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const h of hashes) if (isObjectId(h)) ids.add(h);
  for (const id of [...ids]) {
    if (!id.endsWith(".dir")) continue;
    // Read as it is, unverified: a damaged manifest still keeps what it names (nothing is removed on a guess).
    const data = await readObject(store, keyOfId(id));
    if (!data.ok) {
      if (data.failure.reason === "missing") continue;
      throw new Error(`cannot read manifest ${id}: ${describeStoreFailure(data.failure)}`);
    }
    for (const m of parseManifest(data.value) ?? []) ids.add(m.hash);
  }
  return ids;
}

export async function planGc(store: LocalCache, runs: RunCache, referenced: ReadonlySet<string>): Promise<GcPlan> {
  const listing = await store.listing();
  const objects = listing.objects.filter((o) => !referenced.has(o.id));
  const kept = new Set(listing.objects.filter((o) => referenced.has(o.id)).map((o) => o.id));
  const runListing = await runs.list();
  const goRuns: RunCacheEntryInfo[] = [];
  let keptRuns = 0;
  for (const r of runListing.entries) {
    const entry = await runs.lookup(r.key);
    if (entry && entry.outs.every((o) => kept.has(o.hash))) keptRuns++;
    else goRuns.push(r);
  }
  const temps = [...listing.temps, ...runListing.temps].sort();
  let bytes = 0;
  for (const o of objects) bytes += o.size;
  for (const r of goRuns) bytes += r.size;
  return { objects, runs: goRuns, temps, bytes, keptObjects: kept.size, keptIds: kept, keptRuns };
}

export async function applyGc(plan: GcPlan, store: LocalCache, runs: RunCache): Promise<void> {
  for (const o of plan.objects) await store.delete(o.id);
  await store.pruneVerified(plan.keptIds);
  for (const r of plan.runs) await runs.delete(r.key);
  for (const t of plan.temps) {
    await unlink(t).catch((e: unknown) => {
      if (errnoOf(e) !== "ENOENT") throw e;
    });
  }
}

/** `1.5 MB`-style sizes (decimal units, as `du --si` and DVC print them). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}
