/**
 * Moving objects between the project cache and a remote: the engine under `push`, `fetch` and `pull`.
 *
 * How one batch goes: the destination is asked once which of the keys it already holds (`hasMany`: the store decides
 * whether a listing or per-object checks cost fewer requests), and only the others are copied, `jobs` at a time.
 * Every copy is verified where it matters:
 * - into the cache (`fetch`), the object is downloaded beside its final name under a temp name, hashed with the
 *   algorithm its key names, and renamed only when it matches (`CacheObjects.receive`); a corrupt object is named,
 *   left out, and the others go on;
 * - out of the cache (`push`), the object is verified in the cache first (a file damaged through a hard link is never
 *   uploaded under its old name), then put with the store's own atomic write (temp name + rename, or a conditional
 *   create), so an interrupted push leaves nothing under an object's name and running it again finishes it.
 * A failure of the remote itself (unreachable, credentials, no space, permission) stops the batch: every further
 * object would fail the same way, and one clear error beats ten thousand.
 *
 * What happens is told as events (`TransferEvent`) for a reporter; nothing here prints.
 */
import { keyString, type ObjectKey, type ObjectStore, type StoreFailure } from "../storage/object-store.js";
import type { CacheObjects } from "./transfer-cache.js";

export type Direction = "push" | "fetch";

export type TransferEvent =
  /** The destination was asked which of `total` objects it holds: `present` of them. */
  | { type: "checked"; direction: Direction; total: number; present: number; bytes: number }
  | { type: "transferred"; direction: Direction; key: ObjectKey; bytes: number }
  /** The source does not have it. */
  | { type: "missing"; direction: Direction; key: ObjectKey }
  /** It could not be copied (corrupt at the source, or a failure of one object). */
  | { type: "failed"; direction: Direction; key: ObjectKey; failure: StoreFailure };

export interface TransferCounts {
  transferred: number;
  bytes: number;
  present: number;
  missing: ObjectKey[];
  failed: { key: ObjectKey; failure: StoreFailure }[];
  /** A failure of the store itself that stopped the transfer. */
  fatal?: StoreFailure;
}

export function emptyCounts(): TransferCounts {
  return { transferred: 0, bytes: 0, present: 0, missing: [], failed: [] };
}

export function addCounts(into: TransferCounts, c: TransferCounts): void {
  into.transferred += c.transferred;
  into.bytes += c.bytes;
  into.present += c.present;
  into.missing.push(...c.missing);
  into.failed.push(...c.failed);
  into.fatal ??= c.fatal;
}

export interface TransferOptions {
  jobs: number;
  on: (e: TransferEvent) => void;
  signal?: AbortSignal;
  /** Keys whose absence at the source is expected (revisions' deps): not reported, not counted as missing. */
  optional?: ReadonlySet<string>;
}

/** Whether a `hasMany` answer holds `k` (stores answer with key strings, `xxh64/ab12...`; plain ids are accepted too). */
export function holds(set: ReadonlySet<string>, k: ObjectKey): boolean {
  return set.has(keyString(k)) || set.has(k.id);
}

/** Failures that concern the store, not one object: the transfer stops. */
function isFatal(f: StoreFailure): boolean {
  return f.reason === "unreachable" || f.reason === "auth" || f.reason === "no-space" || f.reason === "permission" || f.reason === "read-only";
}

function dedupe(keys: readonly ObjectKey[]): ObjectKey[] {
  const seen = new Set<string>();
  const out: ObjectKey[] = [];
  for (const k of keys) {
    const s = `${k.algo}/${k.id}`;
    if (seen.has(s)) continue;
    seen.add(s);
    out.push(k);
  }
  return out;
}

/** Runs `fn` over `items`, `limit` at a time, stopping the scheduling of new items once `stop()` says so. */
async function pool<T>(items: readonly T[], limit: number, stop: () => boolean, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stop()) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** Copies the `keys` the remote lacks from the cache to the remote. */
export async function pushObjects(cache: CacheObjects, remote: ObjectStore, keys: readonly ObjectKey[], opts: TransferOptions): Promise<TransferCounts> {
  const counts = emptyCounts();
  const all = dedupe(keys);
  if (all.length === 0) return counts;
  const have = await remote.hasMany(all);
  if (!have.ok) return { ...counts, fatal: have.failure };
  const todo: ObjectKey[] = [];
  let bytes = 0;
  for (const k of all) {
    if (holds(have.value, k)) {
      counts.present++;
      continue;
    }
    const size = await cache.sizeOf(k);
    if (size === undefined) {
      if (!opts.optional?.has(k.id)) {
        counts.missing.push(k);
        opts.on({ type: "missing", direction: "push", key: k });
      }
      continue;
    }
    bytes += size;
    todo.push(k);
  }
  opts.on({ type: "checked", direction: "push", total: all.length, present: counts.present, bytes });
  await pool(todo, opts.jobs, () => counts.fatal !== undefined || opts.signal?.aborted === true, async (k) => {
    const v = await cache.verify(k);
    if (!v.ok) {
      if (v.failure.reason === "missing") {
        counts.missing.push(k);
        opts.on({ type: "missing", direction: "push", key: k });
      } else {
        counts.failed.push({ key: k, failure: v.failure });
        opts.on({ type: "failed", direction: "push", key: k, failure: v.failure });
      }
      return;
    }
    const size = (await cache.sizeOf(k)) ?? 0;
    const r = await remote.putFile(k, cache.pathOf(k));
    if (!r.ok) {
      if (isFatal(r.failure)) counts.fatal ??= r.failure;
      else {
        counts.failed.push({ key: k, failure: r.failure });
        opts.on({ type: "failed", direction: "push", key: k, failure: r.failure });
      }
      return;
    }
    if (r.value === "present") counts.present++;
    else {
      counts.transferred++;
      counts.bytes += size;
    }
    opts.on({ type: "transferred", direction: "push", key: k, bytes: size });
  });
  return counts;
}

/** Copies the `keys` the cache lacks from the remote into the cache, each verified before it gets its name. */
export async function fetchObjects(remote: ObjectStore, cache: CacheObjects, keys: readonly ObjectKey[], opts: TransferOptions): Promise<TransferCounts> {
  const counts = emptyCounts();
  const all = dedupe(keys);
  if (all.length === 0) return counts;
  const local = await cache.hasMany(all);
  if (!local.ok) return { ...counts, fatal: local.failure };
  const todo = all.filter((k) => !holds(local.value, k));
  counts.present = all.length - todo.length;
  let wanted = todo;
  if (todo.length > 0) {
    // Asked up front: what the remote lacks is named once, and the progress total is what will really come.
    const there = await remote.hasMany(todo);
    if (!there.ok) return { ...counts, fatal: there.failure };
    wanted = [];
    for (const k of todo) {
      if (holds(there.value, k)) wanted.push(k);
      else if (!opts.optional?.has(k.id)) {
        counts.missing.push(k);
        opts.on({ type: "missing", direction: "fetch", key: k });
      }
    }
  }
  // Sizes are not known before the download (a listing may tell, a per-object check does not): bytes count as
  // they arrive.
  opts.on({ type: "checked", direction: "fetch", total: all.length, present: counts.present, bytes: 0 });
  await pool(wanted, opts.jobs, () => counts.fatal !== undefined || opts.signal?.aborted === true, async (k) => {
    const r = await cache.receive(remote, k);
    if (!r.ok) {
      if (r.failure.reason === "missing") {
        if (!opts.optional?.has(k.id)) {
          counts.missing.push(k);
          opts.on({ type: "missing", direction: "fetch", key: k });
        }
      } else if (isFatal(r.failure)) counts.fatal ??= r.failure;
      else {
        counts.failed.push({ key: k, failure: r.failure });
        opts.on({ type: "failed", direction: "fetch", key: k, failure: r.failure });
      }
      return;
    }
    counts.transferred++;
    counts.bytes += r.value.bytes;
    opts.on({ type: "transferred", direction: "fetch", key: k, bytes: r.value.bytes });
  });
  return counts;
}
