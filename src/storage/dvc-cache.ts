/**
 * DVC's own local cache as a read-only object store, for entries DVC recorded (md5): a DVC project that adopts
 * `pipe` restores its outputs from the objects DVC already has, instead of re-running the stages or downloading them
 * again. Objects are looked for in DVC 3's layout (`files/md5/<2>/<30>`) and then DVC 2's (`<2>/<30>`), below
 * `.dvc/cache` or the `cache.dir` that `.dvc/config` (or `.dvc/config.local`) sets. DVC 2 named text files by the md5
 * of their bytes with CRLF turned into LF, so both digests are accepted for an md5 key.
 *
 * Nothing here ever writes into DVC's cache: puts and removes are refused (`read-only`), and a corrupt object is
 * reported and left where it is (it is DVC's). The project's cache takes objects from it through its `sources`
 * (`store.ts`), verified on arrival.
 */
import { readFileSync, statSync } from "node:fs";
import { copyFile, open, readdir, rename, unlink } from "node:fs/promises";
import { constants as fsc } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { defaultDigester } from "./digest.js";
import { errnoOf, tempBeside } from "./fs.js";
import {
  keyString,
  storeFail,
  storeFailureOf,
  stored,
  type ListedObject,
  type ObjectKey,
  type ObjectStore,
  type PutOutcome,
  type StoreResult,
} from "./object-store.js";

const MD5_ID = /^[0-9a-f]{32}(\.dir)?$/;

/**
 * The `dir` of the `[cache]` section of DVC's INI config text, as written (undefined when not set). Only the plain
 * form DVC writes (`dir = path`, `'core'`-style quoting aside) is understood.
 */
export function cacheDirOf(iniText: string): string | undefined {
  let section = "";
  let dir: string | undefined;
  for (const raw of iniText.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (sec) {
      section = sec[1]!.replace(/^'|'$/g, "");
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (section === "cache" && kv && kv[1] === "dir") dir = kv[2]!.replace(/^(['"])(.*)\1$/, "$2");
  }
  return dir;
}

/** Where the DVC project at `root` keeps its cache: `cache.dir` of `.dvc/config.local` or `.dvc/config`, else `.dvc/cache`. */
export function dvcCacheDir(root: string): string {
  const dvcDir = path.join(root, ".dvc");
  for (const name of ["config.local", "config"]) {
    let text: string;
    try {
      text = readFileSync(path.join(dvcDir, name), "utf8");
    } catch {
      continue;
    }
    const dir = cacheDirOf(text);
    // A relative `cache.dir` is relative to the config file's directory, as DVC reads it.
    if (dir !== undefined && dir !== "") return path.resolve(dvcDir, dir);
  }
  return path.join(dvcDir, "cache");
}

/** The project's DVC cache as a source, when the project is a DVC project with a cache directory; else none. */
export function dvcSources(root: string): ObjectStore[] {
  const dir = dvcCacheDir(path.resolve(root));
  try {
    if (!statSync(dir).isDirectory()) return [];
  } catch {
    return [];
  }
  return [new DvcCache(dir)];
}

export class DvcCache implements ObjectStore {
  readonly readOnly = true;
  readonly label: string;

  /** `dir`: the cache directory (absolute). */
  constructor(readonly dir: string) {
    this.label = `DVC's cache (${dir})`;
  }

  private refuse<T>(): StoreResult<T> {
    return storeFail({ reason: "read-only", store: this.label });
  }

  /** The object's file in whichever layout holds it; undefined when neither does (or the key is not DVC's). */
  localFile(key: ObjectKey): string | undefined {
    if (key.algo !== "md5" || !MD5_ID.test(key.id)) return undefined;
    for (const p of [path.join(this.dir, "files", "md5", key.id.slice(0, 2), key.id.slice(2)), path.join(this.dir, key.id.slice(0, 2), key.id.slice(2))]) {
      try {
        if (statSync(p, { throwIfNoEntry: false })?.isFile()) return p;
      } catch {
        // An unreadable directory on the way holds nothing we can read.
      }
    }
    return undefined;
  }

  async has(key: ObjectKey): Promise<StoreResult<boolean>> {
    return stored(this.localFile(key) !== undefined);
  }

  async hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>> {
    const out = new Set<string>();
    for (const k of keys) if (this.localFile(k) !== undefined) out.add(keyString(k));
    return stored(out);
  }

  /** Whether the file's bytes hash to the key: md5, or DVC 2's md5 of text with CRLF made LF. `actual`: the md5. */
  private async check(key: ObjectKey, abs: string): Promise<{ ok: boolean; actual: string }> {
    const hex = key.id.endsWith(".dir") ? key.id.slice(0, -4) : key.id;
    const md5 = await defaultDigester.file(abs, "md5");
    if (md5 === hex) return { ok: true, actual: md5 };
    return { ok: (await defaultDigester.file(abs, "legacy-md5")) === hex, actual: md5 };
  }

  async verify(key: ObjectKey): Promise<StoreResult<void>> {
    const p = this.localFile(key);
    if (p === undefined) return storeFail({ reason: "missing", key });
    try {
      const m = await this.check(key, p);
      return m.ok ? stored(undefined) : storeFail({ reason: "corrupt", key, actual: m.actual });
    } catch (e) {
      return this.failOf(e, key);
    }
  }

  private failOf<T>(e: unknown, key: ObjectKey): StoreResult<T> {
    if (errnoOf(e) === "ENOENT") return storeFail({ reason: "missing", key });
    const f = storeFailureOf(e, this.label);
    if (f) return storeFail(f);
    throw e;
  }

  async getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>> {
    const p = this.localFile(key);
    if (p === undefined) return storeFail({ reason: "missing", key });
    const tmp = tempBeside(destAbs);
    try {
      await copyFile(p, tmp, fsc.COPYFILE_FICLONE | fsc.COPYFILE_EXCL);
      // The copy is what is checked: the object could change between a check of it and the copy.
      const m = await this.check(key, tmp);
      if (!m.ok) {
        await unlink(tmp);
        return storeFail({ reason: "corrupt", key, actual: m.actual });
      }
      await rename(tmp, destAbs);
      return stored(undefined);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      return this.failOf(e, key);
    }
  }

  async open(key: ObjectKey): Promise<StoreResult<Readable>> {
    const p = this.localFile(key);
    if (p === undefined) return storeFail({ reason: "missing", key });
    try {
      return stored((await open(p, "r")).createReadStream());
    } catch (e) {
      return this.failOf(e, key);
    }
  }

  async putFile(): Promise<StoreResult<PutOutcome>> {
    return this.refuse();
  }

  async putStream(_key: ObjectKey, data: Readable): Promise<StoreResult<PutOutcome>> {
    data.destroy();
    return this.refuse();
  }

  async remove(): Promise<StoreResult<void>> {
    return this.refuse();
  }

  /** DVC 3's objects, then DVC 2's; an object in both layouts is listed once. Temp files (DVC's `*.tmp`) are skipped. */
  async *list(): AsyncIterable<StoreResult<ListedObject>> {
    const seen = new Set<string>();
    for (const base of [path.join(this.dir, "files", "md5"), this.dir]) {
      let shards: string[];
      try {
        shards = (await readdir(base)).filter((s) => /^[0-9a-f]{2}$/.test(s)).sort();
      } catch (e) {
        if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") continue;
        yield this.failOf(e, { algo: "md5", id: "" });
        return;
      }
      for (const shard of shards) {
        let names: string[];
        try {
          names = (await readdir(path.join(base, shard))).sort();
        } catch (e) {
          if (errnoOf(e) === "ENOTDIR") continue;
          yield this.failOf(e, { algo: "md5", id: "" });
          return;
        }
        for (const name of names) {
          const id = shard + name;
          if (!MD5_ID.test(id) || seen.has(id)) continue;
          const st = statSync(path.join(base, shard, name), { throwIfNoEntry: false });
          if (!st?.isFile()) continue;
          seen.add(id);
          yield stored({ key: { algo: "md5", id }, size: st.size });
        }
      }
    }
  }
}
