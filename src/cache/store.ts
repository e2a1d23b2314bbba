/**
 * The content-addressed object store: `.pipe/cache/<first 2 hex>/<rest>`. An object's name is its content hash
 * (xxh64, or md5 for names taken from a DVC lock); a directory manifest is stored under its hash plus `.dir`.
 *
 * Invariants the rest of `pipe` relies on:
 * - an object appears under its final name only complete: it is written to a temp file in the same directory,
 *   made read-only, then renamed (a crash leaves at most a `*.pipe-tmp-*` file, which `list` reports as garbage);
 * - an object is never materialised unverified in a process: `verify` re-hashes it once per process and removes it
 *   when the bytes no longer match the name (reported to the caller, who then treats it as missing);
 * - object names are validated (hex, optional `.dir`) before they become paths, so a hand-edited lock file cannot
 *   point the store outside `.pipe/cache`.
 */
import { constants as fsc } from "node:fs";
import { chmod, copyFile, lstat, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../config/diagnostic.js";
import { algorithmsOf, defaultDigester, type Digester } from "./digest.js";
import { atomicWrite, ensureDirInside, errnoOf, TEMP_MARK, tempBeside } from "./fs.js";

/** Where the store lives, relative to the project root. */
export const CACHE_DIR = ".pipe/cache";

const ID_RE = /^[0-9a-f]{3,128}(\.dir)?$/;

export function isObjectId(id: string): boolean {
  return ID_RE.test(id);
}

export interface ObjectInfo {
  id: string;
  /** Absolute path of the object file. */
  path: string;
  size: number;
}

export type VerifyOutcome =
  | { status: "ok" }
  | { status: "missing" }
  /** The bytes did not match the name; the object has been removed. */
  | { status: "corrupt"; actual: string };

export interface PutOptions {
  /**
   * Re-hash the copy before it gets its name, so a source that changed since it was hashed is never stored under
   * the old hash. Costs one more read of the data.
   */
  verify?: boolean;
}

export interface StoreListing {
  objects: ObjectInfo[];
  /** Temp files left by an interrupted write (absolute paths): garbage. */
  temps: string[];
}

export class ObjectStore {
  /** Absolute path of the project root. */
  readonly root: string;
  /** Absolute path of `.pipe/cache`. */
  readonly dir: string;
  private readonly digester: Digester;
  /** Ids verified (or written) by this process: their bytes are known to match. */
  private readonly verified = new Set<string>();

  constructor(root: string, digester: Digester = defaultDigester) {
    this.root = path.resolve(root);
    this.dir = path.join(this.root, CACHE_DIR);
    this.digester = digester;
  }

  /** Absolute path of an object. Throws on an invalid id: callers validate ids read from user files first. */
  pathOf(id: string): string {
    if (!isObjectId(id)) throw new Error(`invalid cache object id: ${JSON.stringify(id)}`);
    return path.join(this.dir, id.slice(0, 2), id.slice(2));
  }

  async has(id: string): Promise<boolean> {
    if (!isObjectId(id)) return false;
    try {
      return (await stat(this.pathOf(id))).isFile();
    } catch (e) {
      if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return false;
      throw e;
    }
  }

  private async shardDir(id: string): Promise<Result<string>> {
    return ensureDirInside(this.root, path.posix.join(CACHE_DIR, id.slice(0, 2)));
  }

  /**
   * Stores the file at `absSrc` under `id` (its hash, computed by the caller). Already present: nothing to do.
   * The copy is a reflink where the file system allows it.
   */
  async putFile(absSrc: string, id: string, opts: PutOptions = {}): Promise<Result<void>> {
    if (!isObjectId(id)) return fail([error("io", `cannot store '${absSrc}': invalid object id '${id}'`)]);
    if (await this.has(id)) return ok(undefined);
    const shard = await this.shardDir(id);
    if (!shard.ok) return shard;
    const dest = this.pathOf(id);
    const tmp = tempBeside(dest);
    try {
      await copyFile(absSrc, tmp, fsc.COPYFILE_FICLONE);
      if (opts.verify) {
        const algos = algorithmsOf(id);
        const seen: string[] = [];
        for (const algo of algos) {
          seen.push(await this.digester.file(tmp, algo));
          if (seen[seen.length - 1] === id) break;
        }
        if (algos.length > 0 && !seen.includes(id)) {
          await unlink(tmp);
          return fail([error("io", `'${absSrc}' changed while it was being stored (expected ${id}, read ${seen[0]})`)]);
        }
      }
      await chmod(tmp, 0o444);
      await rename(tmp, dest);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    this.verified.add(id);
    return ok(undefined);
  }

  /** Stores bytes (a directory manifest) under `id`. */
  async putBytes(id: string, data: Uint8Array | string): Promise<Result<void>> {
    if (!isObjectId(id)) return fail([error("io", `invalid object id '${id}'`)]);
    if (await this.has(id)) return ok(undefined);
    const shard = await this.shardDir(id);
    if (!shard.ok) return shard;
    await atomicWrite(this.pathOf(id), data, 0o444);
    this.verified.add(id);
    return ok(undefined);
  }

  /**
   * Checks that the object's bytes match its name, once per process. A mismatching object is deleted and reported,
   * so it can never be materialised. Names whose algorithm is unknown cannot be checked and count as ok.
   */
  async verify(id: string): Promise<VerifyOutcome> {
    if (!isObjectId(id)) return { status: "missing" };
    if (this.verified.has(id)) {
      return (await this.has(id)) ? { status: "ok" } : { status: "missing" };
    }
    const algos = algorithmsOf(id);
    const p = this.pathOf(id);
    let actual = "";
    try {
      if (algos.length === 0) {
        await stat(p);
        this.verified.add(id);
        return { status: "ok" };
      }
      const hex = id.endsWith(".dir") ? id.slice(0, -4) : id;
      for (const algo of algos) {
        const h = await this.digester.file(p, algo);
        if (h === hex) {
          this.verified.add(id);
          return { status: "ok" };
        }
        actual ||= h;
      }
    } catch (e) {
      if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return { status: "missing" };
      throw e;
    }
    await unlink(p).catch(() => undefined);
    return { status: "corrupt", actual };
  }

  /** Reads a (small) object, verified. */
  async readVerified(id: string): Promise<{ status: "ok"; data: Buffer } | Exclude<VerifyOutcome, { status: "ok" }>> {
    const v = await this.verify(id);
    if (v.status !== "ok") return v;
    try {
      return { status: "ok", data: await readFile(this.pathOf(id)) };
    } catch (e) {
      if (errnoOf(e) === "ENOENT") return { status: "missing" };
      throw e;
    }
  }

  /** Every object in the store, sorted by id, plus leftover temp files. */
  async list(): Promise<StoreListing> {
    const objects: ObjectInfo[] = [];
    const temps: string[] = [];
    let shards: string[];
    try {
      shards = await readdir(this.dir);
    } catch (e) {
      if (errnoOf(e) === "ENOENT") return { objects, temps };
      throw e;
    }
    for (const shard of shards.sort()) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const sdir = path.join(this.dir, shard);
      const st = await lstat(sdir);
      if (!st.isDirectory()) continue;
      for (const name of (await readdir(sdir)).sort()) {
        const p = path.join(sdir, name);
        if (name.includes(TEMP_MARK)) {
          temps.push(p);
          continue;
        }
        const id = shard + name;
        if (!isObjectId(id)) continue;
        const s = await lstat(p);
        if (s.isFile()) objects.push({ id, path: p, size: s.size });
      }
    }
    return { objects, temps };
  }

  /** Removes an object; missing is fine. */
  async delete(id: string): Promise<void> {
    this.verified.delete(id);
    await unlink(this.pathOf(id)).catch((e: unknown) => {
      if (errnoOf(e) !== "ENOENT") throw e;
    });
  }
}
