/**
 * `push`, `fetch` and `status --cloud` over tracked outputs (`gather.ts`): which remote each output goes to, and the
 * objects behind a directory output. A directory is its `.dir` manifest plus the objects the manifest names. A push
 * sends the files first and the manifest last, so a remote that has a manifest has its files (a push killed between
 * the two is finished by the next one); a fetch takes the manifest first (it is what says which files to take), then
 * the files. The copying itself is `transfer.ts`'s.
 *
 * Which remote: with `-r NAME` every output goes to that one (what the command line says wins); otherwise an
 * output's own `remote:` is used, and the default remote for the rest.
 */
import { digestBytes } from "../hash/algorithms.js";
import { parseManifest, type ManifestEntry } from "../storage/manifest.js";
import { readManifest } from "../storage/checkout.js";
import { algorithmsOf } from "../storage/digest.js";
import { keyString, type ObjectKey, type ObjectStore, type StoreFailure } from "../storage/object-store.js";
import type { TrackedOutput } from "./gather.js";
import { addCounts, emptyCounts, fetchObjects, holds, pushObjects, type TransferCounts, type TransferEvent } from "./transfer.js";
import { keyOfId, type CacheObjects } from "./transfer-cache.js";

/** A remote by name (undefined: the one chosen for the command: `-r`, else the default), opened, or why not. */
export type RemoteOpener = (name: string | undefined) => Promise<{ ok: true; store: ObjectStore; name: string } | { ok: false; message: string }>;

export interface SyncInput {
  cache: CacheObjects;
  outputs: readonly TrackedOutput[];
  open: RemoteOpener;
  /** `-r` was given: every output goes to it. */
  remoteGiven: boolean;
  jobs: number;
  on: (e: TransferEvent) => void;
  signal?: AbortSignal;
  /** Ids whose absence is expected (hashes named at revisions that may be deps never cached). */
  optional?: ReadonlySet<string>;
}

export interface SyncOutcome {
  counts: TransferCounts;
  /** Remotes that could not be opened, and why. */
  unopened: string[];
  /** Per remote used: its name. */
  remotes: string[];
}

/** Outputs grouped by the remote they go to (`undefined`: the command's remote). */
function byRemote(outputs: readonly TrackedOutput[], remoteGiven: boolean): Map<string | undefined, TrackedOutput[]> {
  const m = new Map<string | undefined, TrackedOutput[]>();
  for (const o of outputs) {
    const r = remoteGiven ? undefined : o.remote;
    const list = m.get(r) ?? [];
    list.push(o);
    m.set(r, list);
  }
  return m;
}

function isDir(k: ObjectKey): boolean {
  return k.id.endsWith(".dir");
}

function entryKeys(entries: readonly ManifestEntry[]): ObjectKey[] {
  return entries.map((e) => keyOfId(e.hash));
}

const failure = (key: ObjectKey, actual: string): StoreFailure => ({ reason: "corrupt", key, actual });

/** `push`: the objects of `outputs` (but `push: false` ones) that each remote lacks. */
export async function pushOutputs(input: SyncInput): Promise<SyncOutcome> {
  const out: SyncOutcome = { counts: emptyCounts(), unopened: [], remotes: [] };
  for (const [name, outs] of byRemote(
    input.outputs.filter((o) => o.push),
    input.remoteGiven,
  )) {
    const r = await input.open(name);
    if (!r.ok) {
      out.unopened.push(r.message);
      continue;
    }
    out.remotes.push(r.name);
    const files: ObjectKey[] = [];
    const dirs: ObjectKey[] = [];
    // A manifest on the remote vouches for its files (it is pushed only after all of them, and gc keeps them with
    // it): a directory already there costs one question, not one per file. DVC's push trusts a `.dir` the same way.
    const dirKeys = outs.map((o) => o.key).filter(isDir);
    const dirsThere = dirKeys.length > 0 ? await r.store.hasMany(dirKeys) : { ok: true as const, value: new Set<string>() };
    if (!dirsThere.ok) {
      out.counts.fatal = dirsThere.failure;
      break;
    }
    // Objects counted as there through a manifest (a file two directories share is counted once).
    const vouched = new Set<string>();
    for (const o of outs) {
      if (!isDir(o.key)) {
        files.push(o.key);
        continue;
      }
      const m = await readManifest(input.cache.store, o.key.id);
      if (m.status === "ok" && holds(dirsThere.value, o.key)) {
        const fresh = [o.key, ...entryKeys(m.entries)].filter((k) => !vouched.has(keyString(k)));
        for (const k of fresh) vouched.add(keyString(k));
        out.counts.present += fresh.length;
        input.on({ type: "checked", direction: "push", total: fresh.length, present: fresh.length, bytes: 0 });
      } else if (m.status === "ok") {
        files.push(...entryKeys(m.entries));
        dirs.push(o.key);
      } else if (m.status === "corrupt") {
        out.counts.failed.push({ key: o.key, failure: failure(o.key, m.actual) });
        input.on({ type: "failed", direction: "push", key: o.key, failure: failure(o.key, m.actual) });
      } else if (!input.optional?.has(o.key.id)) {
        out.counts.missing.push(o.key);
        input.on({ type: "missing", direction: "push", key: o.key });
      }
    }
    const opts = { jobs: input.jobs, on: input.on, ...(input.signal ? { signal: input.signal } : {}), ...(input.optional ? { optional: input.optional } : {}) };
    const c1 = await pushObjects(
      input.cache,
      r.store,
      files.filter((k) => !vouched.has(keyString(k))),
      opts,
    );
    addCounts(out.counts, c1);
    if (c1.fatal || input.signal?.aborted) break;
    // A manifest goes only when all of its files are there: otherwise the remote would claim a directory it lacks.
    const bad = new Set([...c1.missing, ...c1.failed.map((f) => f.key)].map(keyString));
    const complete: ObjectKey[] = [];
    for (const d of dirs) {
      const m = await readManifest(input.cache.store, d.id);
      if (m.status === "ok" && entryKeys(m.entries).every((k) => !bad.has(keyString(k)))) complete.push(d);
    }
    const c2 = await pushObjects(input.cache, r.store, complete, opts);
    addCounts(out.counts, c2);
    if (c2.fatal) break;
  }
  return out;
}

/** `fetch`: the objects of `outputs` the cache lacks, from each output's remote. */
export async function fetchOutputs(input: SyncInput): Promise<SyncOutcome> {
  const out: SyncOutcome = { counts: emptyCounts(), unopened: [], remotes: [] };
  for (const [name, outs] of byRemote(input.outputs, input.remoteGiven)) {
    const r = await input.open(name);
    if (!r.ok) {
      out.unopened.push(r.message);
      continue;
    }
    out.remotes.push(r.name);
    const opts = { jobs: input.jobs, on: input.on, ...(input.signal ? { signal: input.signal } : {}), ...(input.optional ? { optional: input.optional } : {}) };
    const dirs = outs.map((o) => o.key).filter(isDir);
    const c1 = await fetchObjects(r.store, input.cache, dirs, opts);
    addCounts(out.counts, c1);
    if (c1.fatal || input.signal?.aborted) break;
    const files = outs.map((o) => o.key).filter((k) => !isDir(k));
    for (const d of dirs) {
      if (!(await input.cache.store.hasId(d.id))) continue;
      const m = await readManifest(input.cache.store, d.id);
      if (m.status === "ok") files.push(...entryKeys(m.entries));
      else if (m.status === "corrupt") {
        out.counts.failed.push({ key: d, failure: failure(d, m.actual) });
        input.on({ type: "failed", direction: "fetch", key: d, failure: failure(d, m.actual) });
      }
    }
    const c2 = await fetchObjects(r.store, input.cache, files, opts);
    addCounts(out.counts, c2);
    if (c2.fatal) break;
  }
  return out;
}

// ---- status --cloud ----

/** DVC's words: `new` (in the cache, not on the remote), `deleted` (on the remote only), `missing` (neither). */
export type CloudState = "ok" | "new" | "deleted" | "missing";

export interface CloudEntry {
  stage: string;
  path: string;
  id: string;
  remote: string;
  state: CloudState;
}

/**
 * Reads a manifest the cache lacks from the remote, verified (its bytes hash to its name), without storing it:
 * `status` writes nothing.
 */
async function remoteManifest(remote: ObjectStore, key: ObjectKey): Promise<ManifestEntry[] | undefined> {
  const s = await remote.open(key);
  if (!s.ok) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of s.value) chunks.push(Buffer.from(c as Uint8Array));
  const bytes = Buffer.concat(chunks);
  const hex = key.id.slice(0, -4);
  for (const algo of algorithmsOf(key.id)) {
    if ((await digestBytes(algo, bytes)) === hex) return parseManifest(bytes);
  }
  return undefined;
}

export interface CloudInput {
  cache: CacheObjects;
  outputs: readonly TrackedOutput[];
  open: RemoteOpener;
  remoteGiven: boolean;
}

/** Per output (but `push: false` ones): whether the cache and the remote hold all of its objects. */
export async function cloudStatus(input: CloudInput): Promise<{ entries: CloudEntry[]; unopened: string[]; fatal?: StoreFailure }> {
  const entries: CloudEntry[] = [];
  const unopened: string[] = [];
  for (const [name, outs] of byRemote(
    input.outputs.filter((o) => o.push),
    input.remoteGiven,
  )) {
    const r = await input.open(name);
    if (!r.ok) {
      unopened.push(r.message);
      continue;
    }
    // A manifest on the remote vouches for its files, as push trusts it (pushed after all of them, kept with them by
    // gc): a directory there is one question, not one per file. The others' objects are asked for at once.
    const dirKeys = outs.map((o) => o.key).filter(isDir);
    const dirsThere = dirKeys.length > 0 ? await r.store.hasMany(dirKeys) : { ok: true as const, value: new Set<string>() };
    if (!dirsThere.ok) return { entries, unopened, fatal: dirsThere.failure };
    const objectsOf = new Map<TrackedOutput, ObjectKey[]>();
    const ask: ObjectKey[] = [];
    for (const o of outs) {
      if (!isDir(o.key)) {
        objectsOf.set(o, [o.key]);
        ask.push(o.key);
        continue;
      }
      const vouched = holds(dirsThere.value, o.key);
      let entriesOf: ManifestEntry[] | undefined;
      if (await input.cache.store.hasId(o.key.id)) {
        const m = await readManifest(input.cache.store, o.key.id);
        if (m.status === "ok") entriesOf = m.entries;
      }
      // Not in the cache and vouched for: its files only matter for the cache side, which lacks the manifest anyway.
      if (!vouched) entriesOf ??= await remoteManifest(r.store, o.key);
      const keys = [o.key, ...entryKeys(entriesOf ?? [])];
      objectsOf.set(o, keys);
      if (!vouched) ask.push(...keys);
    }
    const there = ask.length > 0 ? await r.store.hasMany(ask) : { ok: true as const, value: new Set<string>() };
    if (!there.ok) return { entries, unopened, fatal: there.failure };
    const local = await input.cache.hasMany([...objectsOf.values()].flat());
    if (!local.ok) return { entries, unopened, fatal: local.failure };
    for (const [o, keys] of objectsOf) {
      const onRemote = (isDir(o.key) && holds(dirsThere.value, o.key)) || keys.every((k) => holds(there.value, k));
      const inCache = keys.every((k) => holds(local.value, k));
      const state: CloudState = onRemote && inCache ? "ok" : inCache ? "new" : onRemote ? "deleted" : "missing";
      entries.push({ stage: o.stage, path: o.path, id: o.key.id, remote: r.name, state });
    }
  }
  return { entries, unopened };
}
