/**
 * The object-store contract: what every place that holds content-addressed objects offers, whether it is the
 * project's cache (`.pipe/cache`, the first implementation), DVC's cache read as a source, or a remote (a directory,
 * S3, SFTP, WebDAV, HTTP). The record, restore and transfer paths see only this interface, so an object can move
 * between any two stores (`push` is a copy from the cache to a remote, `fetch` the other way) and checkout can place
 * an object from whatever store holds it.
 *
 * Ids are `ObjectKey`s: the hash algorithm and the hex digest (plus `.dir` for a directory manifest), so one store
 * can hold pipe's xxh64 objects beside DVC's md5 ones (`files/xxh64/ab/cdef...`, `files/md5/ab/cdef...`).
 *
 * Rules every implementation keeps (the contract suite, `tests/unit/object-store-contract.ts`, checks them):
 * - an object is visible under its name only complete: it is written under a temporary name and made visible by a
 *   rename or a conditional create, so a reader never sees half an object, and a writer killed mid-way leaves at
 *   most garbage that `list` does not report as an object;
 * - expected failures (missing object, corrupt bytes, no space, permission, an unreachable server) are values with a
 *   typed reason and the store's own words for what to check; only bugs throw;
 * - `has`/`hasMany` answer from the store itself (no trust in what a caller believes), in as few requests as the
 *   store allows (`hasMany` may list a prefix instead of asking per object);
 * - `get` verifies the bytes against the id before the destination gets its name: a corrupt object is reported,
 *   never materialised;
 * - a read-only store (DVC's cache, an HTTP remote, `--dry`) reports `read-only` for put and remove.
 */
import type { Readable } from "node:stream";
import { unreachable } from "../core/unreachable.js";

/** An object's name: the algorithm of its hash and the lower-case hex digest, `.dir` for a directory manifest. */
export interface ObjectKey {
  algo: "xxh64" | "md5";
  /** Hex digest, with `.dir` appended for a directory manifest. */
  id: string;
}

export type StoreFailure =
  | { reason: "missing"; key: ObjectKey }
  | { reason: "corrupt"; key: ObjectKey; actual: string }
  | { reason: "read-only"; store: string }
  | { reason: "no-space"; store: string }
  | { reason: "permission"; store: string; detail: string }
  | { reason: "unreachable"; store: string; detail: string }
  | { reason: "auth"; store: string; detail: string }
  | { reason: "other"; store: string; detail: string };

/** A store operation's outcome: its value, or a failure with a typed reason (never an exception). */
export type StoreResult<T> = { ok: true; value: T } | { ok: false; failure: StoreFailure };

/** What a put did: stored it, found it already there (and intact, where the store can tell), or replaced a damaged one. */
export type PutOutcome = "stored" | "present" | "repaired";

export interface ListedObject {
  key: ObjectKey;
  /** Bytes, when the listing tells it. */
  size?: number;
}

export interface ObjectStore {
  /** How messages name this store: `cache`, `remote 'storage' (s3://bucket/prefix)`. */
  readonly label: string;
  /** Puts and removes are refused (`read-only`). */
  readonly readOnly: boolean;
  has(key: ObjectKey): Promise<StoreResult<boolean>>;
  /** The subset of `keys` the store holds. */
  hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>>;
  /** Writes the verified object to `destAbs` (temp file beside it, then rename). */
  getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>>;
  /** The object's bytes as a stream; the caller verifies (the transfer path hashes while it copies). */
  open(key: ObjectKey): Promise<StoreResult<Readable>>;
  /** Stores the file at `srcAbs` under `key`; the caller vouches that its bytes hash to `key`. */
  putFile(key: ObjectKey, srcAbs: string): Promise<StoreResult<PutOutcome>>;
  /** Stores `size` bytes from `data` under `key`; nothing is visible under the name unless all of them arrived. */
  putStream(key: ObjectKey, data: Readable, size: number): Promise<StoreResult<PutOutcome>>;
  /** Every object, in no particular order; temporary files of interrupted writes are not objects. */
  list(): AsyncIterable<StoreResult<ListedObject>>;
  remove(key: ObjectKey): Promise<StoreResult<void>>;
  /** Re-hashes the object: `ok`, or a `missing`/`corrupt` failure. */
  verify(key: ObjectKey): Promise<StoreResult<void>>;
  /**
   * Only for stores whose objects are plain files on this machine (the project's cache, DVC's cache): the object's
   * file, so that checkout can link it per `cache.type` instead of copying it. The caller verifies before it links.
   * Absent (or undefined for a key) elsewhere: such objects are placed with `getToFile`.
   */
  localFile?(key: ObjectKey): string | undefined;
}

/**
 * The key of an object name as lock files record it (`ab12...`, `ab12....dir`): 32 hex digits are md5 (DVC's), 16
 * are xxh64 (pipe's). Undefined for a name that is neither.
 */
export function keyOf(id: string): ObjectKey | undefined {
  const hex = id.endsWith(".dir") ? id.slice(0, -4) : id;
  if (/^[0-9a-f]{16}$/.test(hex)) return { algo: "xxh64", id };
  if (/^[0-9a-f]{32}$/.test(hex)) return { algo: "md5", id };
  return undefined;
}

/** An `ok` store result. */
export function stored<T>(value: T): StoreResult<T> {
  return { ok: true, value };
}

/** A failed store result. */
export function storeFail<T = never>(failure: StoreFailure): StoreResult<T> {
  return { ok: false, failure };
}

/**
 * The failure a system error of the machine stands for (`ENOSPC` -> `no-space`, `EACCES` -> `permission`, ...);
 * undefined for anything else (a bug, which the caller rethrows).
 */
export function storeFailureOf(e: unknown, store: string): StoreFailure | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  const detail = `${code}${typeof (e as { path?: unknown }).path === "string" ? ` on '${(e as { path: string }).path}'` : ""}`;
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return { reason: "no-space", store };
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return { reason: "permission", store, detail };
    case "ECONNREFUSED":
    case "ECONNRESET":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ETIMEDOUT":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { reason: "unreachable", store, detail };
    case "EIO":
    case "EMFILE":
    case "ENFILE":
    case "ENAMETOOLONG":
    case "ELOOP":
    case "EBUSY":
      return { reason: "other", store, detail };
    default:
      return undefined;
  }
}

/** One line of English for a failure (the reporters' default words). */
export function describeStoreFailure(f: StoreFailure): string {
  switch (f.reason) {
    case "missing":
      return `object ${keyString(f.key)} is missing`;
    case "corrupt":
      return `object ${keyString(f.key)} is corrupt (its bytes hash to ${f.actual})`;
    case "read-only":
      return `${f.store} is read-only`;
    case "no-space":
      return `no space left on ${f.store}`;
    case "permission":
      return `permission denied on ${f.store} (${f.detail})`;
    case "unreachable":
      return `${f.store} is unreachable (${f.detail})`;
    case "auth":
      return `${f.store} refused the credentials (${f.detail})`;
    case "other":
      return `${f.store}: ${f.detail}`;
    default:
      return unreachable(f);
  }
}

/**
 * The whole object as bytes (a manifest, a metrics file), unverified as `open` gives it: for small objects only. A
 * stream that fails part-way is a failure, never a short buffer.
 */
export async function readObject(store: ObjectStore, key: ObjectKey): Promise<StoreResult<Buffer>> {
  const r = await store.open(key);
  if (!r.ok) return r;
  const parts: Buffer[] = [];
  try {
    for await (const chunk of r.value) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  } catch (e) {
    const f = storeFailureOf(e, store.label);
    return storeFail(f ?? { reason: "other", store: store.label, detail: e instanceof Error ? e.message : String(e) });
  }
  return stored(Buffer.concat(parts));
}

/** The key as a single string (`xxh64/ab12...`), for sets and messages. */
export function keyString(key: ObjectKey): string {
  return `${key.algo}/${key.id}`;
}

/** DVC 3's layout of a key inside a remote or cache: `files/<algo>/<2 hex>/<rest>`. */
export function keyPath(key: ObjectKey): string {
  return `files/${key.algo}/${key.id.slice(0, 2)}/${key.id.slice(2)}`;
}
