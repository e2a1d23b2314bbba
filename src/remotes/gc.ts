/**
 * `gc -c -r NAME`: what a remote holds that no revision in scope names. The scope's hashes are those `gc` keeps
 * locally (`storage/gc-refs.ts`: every lock and `.dvc` file of the workspace and of the revisions in scope, DVC's md5
 * ones included), a directory's manifest expanded to the objects it names (read from the cache, or from the remote
 * and verified there). Everything else under `files/` (and DVC 2's `<2>/<30>` md5 objects) is planned for removal.
 * Run-cache entries (`runs/`) are not touched, as DVC's `gc -c` leaves them: an entry is a few hundred bytes, no
 * revision names it (it is keyed by a run's inputs), and one whose objects went is harmless: `fetch --run-cache`
 * treats its objects as optional and `repro` runs a stage whose entry it cannot restore from.
 *
 * A manifest named in scope that is corrupt where it was read stops the plan: what it names is unknown, so nothing
 * may go. One that exists nowhere names nothing that could still be checked out, so it protects nothing.
 */
import { digestBytes } from "../hash/algorithms.js";
import { readManifest } from "../storage/checkout.js";
import { algorithmsOf } from "../storage/digest.js";
import { parseManifest } from "../storage/manifest.js";
import { keyString, type ListedObject, type ObjectKey, type ObjectStore, type StoreFailure } from "../storage/object-store.js";
import { allLimit } from "./common.js";
import { keyOfId, type CacheObjects } from "./transfer-cache.js";

export interface RemoteGcPlan {
  /** Objects to remove, sorted by key. */
  remove: ListedObject[];
  /** Bytes they hold, where the listing told. */
  bytes: number;
  /** Objects kept. */
  kept: number;
}

export type RemoteGcFailure = { kind: "store"; failure: StoreFailure } | { kind: "corrupt-manifest"; id: string; where: string };

async function manifestFrom(remote: ObjectStore, key: ObjectKey): Promise<{ status: "ok"; ids: string[] } | { status: "missing" } | { status: "corrupt" }> {
  const s = await remote.open(key);
  if (!s.ok) return s.failure.reason === "missing" ? { status: "missing" } : { status: "corrupt" };
  const chunks: Buffer[] = [];
  for await (const c of s.value) chunks.push(Buffer.from(c as Uint8Array));
  const bytes = Buffer.concat(chunks);
  const hex = key.id.slice(0, -4);
  for (const algo of algorithmsOf(key.id)) {
    if ((await digestBytes(algo, bytes)) !== hex) continue;
    const entries = parseManifest(bytes);
    return entries ? { status: "ok", ids: entries.map((e) => e.hash) } : { status: "corrupt" };
  }
  return { status: "corrupt" };
}

/** The keys the scope's hashes name, manifests expanded (module comment). */
export async function keptKeys(hashes: Iterable<string>, cache: CacheObjects, remote: ObjectStore): Promise<{ ok: true; keep: Set<string> } | { ok: false; failure: RemoteGcFailure }> {
  const keep = new Set<string>();
  for (const h of hashes) {
    const key = keyOfId(h);
    keep.add(keyString(key));
    if (!h.endsWith(".dir")) continue;
    let ids: string[] | undefined;
    if (await cache.store.hasId(h)) {
      const m = await readManifest(cache.store, h);
      if (m.status === "ok") ids = m.entries.map((e) => e.hash);
    }
    if (ids === undefined) {
      const m = await manifestFrom(remote, key);
      if (m.status === "corrupt") return { ok: false, failure: { kind: "corrupt-manifest", id: h, where: remote.label } };
      if (m.status === "ok") ids = m.ids;
    }
    for (const id of ids ?? []) keep.add(keyString(keyOfId(id)));
  }
  return { ok: true, keep };
}

/** Lists the remote and plans the removal of what `keep` does not hold. */
export async function planRemoteGc(remote: ObjectStore, keep: ReadonlySet<string>): Promise<{ ok: true; plan: RemoteGcPlan } | { ok: false; failure: RemoteGcFailure }> {
  const remove: ListedObject[] = [];
  let kept = 0;
  let bytes = 0;
  for await (const r of remote.list()) {
    if (!r.ok) return { ok: false, failure: { kind: "store", failure: r.failure } };
    if (keep.has(keyString(r.value.key))) kept++;
    else {
      remove.push(r.value);
      bytes += r.value.size ?? 0;
    }
  }
  remove.sort((a, b) => (keyString(a.key) < keyString(b.key) ? -1 : keyString(a.key) > keyString(b.key) ? 1 : 0));
  return { ok: true, plan: { remove, bytes, kept } };
}

/** Removes the plan's objects, `jobs` at a time; the first failure of the remote stops it. */
export async function applyRemoteGc(remote: ObjectStore, plan: RemoteGcPlan, jobs: number): Promise<{ ok: true; removed: number } | { ok: false; failure: StoreFailure; removed: number }> {
  let removed = 0;
  const r = await allLimit(plan.remove, jobs, async (o) => {
    const x = await remote.remove(o.key);
    if (x.ok) removed++;
    return x;
  });
  return r.ok ? { ok: true, removed } : { ok: false, failure: r.failure, removed };
}
