/**
 * The project cache (`.pipe/cache`, `storage/store.ts`'s `LocalCache`, which implements the `ObjectStore` contract)
 * as the transfer path uses it: `push` copies from it, `fetch` into it. This adds the one thing a transfer needs
 * beyond the contract: `receive`, which takes an object from another store into the
 * cache verified (downloaded by the store's `getToFile` under a temporary name beside its final place, hashed on the
 * way, and only then renamed to its name), so no byte enters the cache unchecked and a killed fetch leaves only a
 * temp file the cache lists as garbage.
 *
 * The cache keeps xxh64 and md5 objects side by side under `<2 hex>/<rest>`; the key's algorithm is implied by the
 * digest's length (16 or 32 hex digits), as `storage/digest.ts` reads it.
 */
import { mkdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { algorithmsOf, defaultDigester } from "../storage/digest.js";
import { errnoOf, tempBeside } from "../storage/fs.js";
import { type ListedObject, type ObjectKey, type ObjectStore, type PutOutcome, type StoreFailure, type StoreResult } from "../storage/object-store.js";
import { LocalCache as CacheStore } from "../storage/store.js";

/** The cache's key of an object id: md5 for 32 hex digits, xxh64 otherwise. */
export function keyOfId(id: string): ObjectKey {
  const hex = id.endsWith(".dir") ? id.slice(0, -4) : id;
  return { algo: hex.length === 32 ? "md5" : "xxh64", id };
}

const okv = <T>(value: T): StoreResult<T> => ({ ok: true, value });
const failed = <T>(failure: StoreFailure): StoreResult<T> => ({ ok: false, failure });

/** The hash algorithm of a key whose bytes match its name, or the first digest computed when none does. */
export async function hashMatches(key: ObjectKey, abs: string): Promise<{ ok: boolean; actual: string }> {
  const hex = key.id.endsWith(".dir") ? key.id.slice(0, -4) : key.id;
  let actual = "";
  for (const algo of algorithmsOf(key.id)) {
    if (key.algo === "xxh64" ? algo !== "xxh64" : algo === "xxh64") continue;
    const h = await defaultDigester.file(abs, algo);
    if (h === hex) return { ok: true, actual: h };
    actual ||= h;
  }
  return { ok: false, actual };
}

export class CacheObjects implements ObjectStore {
  readonly label = "cache";
  readonly readOnly: boolean;
  constructor(readonly store: CacheStore) {
    this.readOnly = store.readOnly;
  }

  static open(root: string, opts: { readOnly?: boolean } = {}): CacheObjects {
    return new CacheObjects(new CacheStore(root, undefined, opts.readOnly ? { readOnly: true } : { recordVerified: true }));
  }

  pathOf(key: ObjectKey): string {
    return this.store.pathOf(key.id);
  }

  private envFailure(e: unknown): StoreFailure {
    const code = errnoOf(e);
    if (code === "ENOSPC" || code === "EDQUOT") return { reason: "no-space", store: this.label };
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") return { reason: "permission", store: this.label, detail: (e as Error).message };
    if (code !== undefined) return { reason: "other", store: this.label, detail: (e as Error).message };
    throw e;
  }

  has(key: ObjectKey): Promise<StoreResult<boolean>> {
    return this.store.has(key);
  }
  hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>> {
    return this.store.hasMany(keys);
  }
  getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>> {
    return this.store.getToFile(key, destAbs);
  }
  open(key: ObjectKey): Promise<StoreResult<Readable>> {
    return this.store.open(key);
  }
  putFile(key: ObjectKey, srcAbs: string): Promise<StoreResult<PutOutcome>> {
    return this.store.putFile(key, srcAbs);
  }
  putStream(key: ObjectKey, data: Readable, size: number): Promise<StoreResult<PutOutcome>> {
    return this.store.putStream(key, data, size);
  }
  list(): AsyncIterable<StoreResult<ListedObject>> {
    return this.store.list();
  }
  remove(key: ObjectKey): Promise<StoreResult<void>> {
    return this.store.remove(key);
  }
  verify(key: ObjectKey): Promise<StoreResult<void>> {
    return this.store.verify(key);
  }

  /**
   * Takes `key` from `src` into the cache: `src.getToFile` downloads it (in parallel ranges or reads where the store
   * does that) to a temp name in the object's own directory of the cache, verifying the bytes against the key
   * before that name holds them (the `getToFile` contract: every store hashes what it writes there); the cache then
   * adopts the file under the object's name with one rename. A corrupt download is reported as `corrupt` and
   * nothing of it stays; a killed fetch leaves at most a temp file the cache lists as garbage.
   */
  async receive(src: ObjectStore, key: ObjectKey): Promise<StoreResult<{ bytes: number }>> {
    if (this.readOnly) return failed({ reason: "read-only", store: this.label });
    const dest = this.pathOf(key);
    try {
      await mkdir(path.dirname(dest), { recursive: true });
    } catch (e) {
      return failed(this.envFailure(e));
    }
    const tmp = tempBeside(dest);
    const got = await src.getToFile(key, tmp);
    if (!got.ok) {
      await unlink(tmp).catch(() => undefined);
      return got;
    }
    let bytes: number;
    try {
      bytes = (await stat(tmp)).size;
    } catch (e) {
      return failed(this.envFailure(e));
    }
    const adopted = await this.store.adoptVerified(tmp, key.id);
    return adopted.ok ? okv({ bytes }) : adopted;
  }

  /** The object's size on disk, or undefined when it is not there. */
  async sizeOf(key: ObjectKey): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch {
      return undefined;
    }
  }
}
