/**
 * A directory remote: a path or `file://` URL, typically an NFS mount or a shared disk. Objects lie as DVC 3 lays
 * them out (`files/<algo>/<2>/<rest>`), md5 objects are also read from DVC 2's `<2>/<30>`, run-cache entries live under
 * `runs/`. Every write goes to a temp name in the object's own directory (`.<name>.pipe-tmp-<pid>-<n>`), is flushed,
 * and is then renamed, so a reader (another machine on the same share included) never sees half an object, and a
 * killed writer leaves only a temp file that `list` skips.
 */
import { constants as fsc, type Dirent } from "node:fs";
import { copyFile, mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { tempBeside, TEMP_MARK, writeAtomic } from "../core/atomic-write.js";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { keyPath, keyString, type ListedObject, type ObjectKey, type PutOutcome, type StoreFailure, type StoreResult } from "../storage/object-store.js";
import { candidatePaths, checkFile, checkKey, downloadVerified, failed, hashingCopy, jobsOf, keyOfPath, labelOf, okv, sourceSize } from "./common.js";
import type { RemoteContext } from "./index.js";
import type { RemoteSpec, RemoteStore } from "./remote.js";

/** The absolute directory a directory remote's URL names (relative paths are relative to the project root). */
export function dirRootOf(url: string, projectRoot: string): Result<string> {
  if (/^file:/i.test(url)) {
    try {
      return ok(fileURLToPath(url));
    } catch (e) {
      return fail([error("usage", `'${url}' is not a usable file:// URL: ${(e as Error).message}`)]);
    }
  }
  if (url === "~" || url.startsWith("~/")) return ok(path.join(homedir(), url.slice(1)));
  return ok(path.resolve(projectRoot, url));
}

/** Opens a directory remote; nothing is touched on disk until the first operation. */
export function openDir(spec: RemoteSpec, ctx: RemoteContext): Result<RemoteStore> {
  const root = dirRootOf(spec.url, ctx.root);
  if (!root.ok) return fail([error("usage", `remote '${spec.name}' (${spec.source}): ${root.errors[0]!.message}`)]);
  return ok(new DirStore(labelOf(spec), root.value, jobsOf(spec, "dir")));
}

/** Path segments of a run-cache entry: plain names only, so an entry can never point outside `runs/`. */
function safeRunPath(rel: string): boolean {
  return rel.split("/").every((s) => /^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(s)) && !rel.includes(TEMP_MARK);
}

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

/** Prefix directories asked with one `readdir` instead of one `stat` per key, when this many keys share one. */
const LIST_DIR_AT = 4;

export class DirStore implements RemoteStore {
  readonly kind = "dir" as const;
  readonly readOnly = false;

  constructor(
    readonly label: string,
    /** Absolute directory of the remote. */
    readonly root: string,
    readonly jobs: number,
  ) {}

  /** A failure of the file system under the remote, in words that say what to check. */
  private failure(e: unknown, what: string): StoreFailure {
    const code = codeOf(e);
    const msg = e instanceof Error ? e.message : String(e);
    if (code === "ENOSPC" || code === "EDQUOT") return { reason: "no-space", store: this.label };
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
      return { reason: "permission", store: this.label, detail: `${what}: ${msg}; check that ${this.root} is writable by this user (and mounted read-write)` };
    }
    if (code === "ENOTDIR" || code === "ESTALE" || code === "EIO" || code === "ENOTCONN" || code === "EHOSTDOWN") {
      return { reason: "unreachable", store: this.label, detail: `${what}: ${msg}; check that ${this.root} is mounted and reachable` };
    }
    return { reason: "other", store: this.label, detail: `${what}: ${msg}` };
  }

  private abs(rel: string): string {
    return path.join(this.root, ...rel.split("/"));
  }

  /** The absolute path the object is stored at, undefined when it is in neither layout. */
  private async locate(key: ObjectKey): Promise<StoreResult<{ abs: string; size: number } | undefined>> {
    for (const rel of candidatePaths(key)) {
      const abs = this.abs(rel);
      try {
        const st = await stat(abs);
        if (st.isFile()) return okv({ abs, size: st.size });
      } catch (e) {
        const code = codeOf(e);
        if (code !== "ENOENT" && code !== "ENOTDIR") return failed(this.failure(e, `cannot read ${keyString(key)}`));
      }
    }
    return okv(undefined);
  }

  async has(key: ObjectKey): Promise<StoreResult<boolean>> {
    const r = await this.locate(key);
    return r.ok ? okv(r.value !== undefined) : r;
  }

  async hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>> {
    const found = new Set<string>();
    // Group by the directory each candidate path lies in: a directory many keys share is read once.
    const byDir = new Map<string, { name: string; key: ObjectKey }[]>();
    for (const key of keys) {
      for (const rel of candidatePaths(key)) {
        const dir = path.posix.dirname(rel);
        let list = byDir.get(dir);
        if (!list) byDir.set(dir, (list = []));
        list.push({ name: path.posix.basename(rel), key });
      }
    }
    const dirs = [...byDir.entries()];
    let failure: StoreFailure | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < dirs.length) {
        const [dir, wanted] = dirs[next++]!;
        if (wanted.length >= LIST_DIR_AT) {
          let names: Set<string>;
          try {
            names = new Set(await readdir(this.abs(dir)));
          } catch (e) {
            const code = codeOf(e);
            if (code === "ENOENT" || code === "ENOTDIR") continue;
            failure = this.failure(e, `cannot list ${dir}`);
            return;
          }
          for (const w of wanted) if (names.has(w.name)) found.add(keyString(w.key));
        } else {
          for (const w of wanted) {
            if (found.has(keyString(w.key))) continue;
            try {
              if ((await stat(this.abs(`${dir}/${w.name}`))).isFile()) found.add(keyString(w.key));
            } catch (e) {
              const code = codeOf(e);
              if (code !== "ENOENT" && code !== "ENOTDIR") {
                failure = this.failure(e, `cannot read ${keyString(w.key)}`);
                return;
              }
            }
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, Math.max(1, dirs.length)) }, worker));
    return failure !== undefined ? failed(failure) : okv(found);
  }

  async open(key: ObjectKey): Promise<StoreResult<Readable>> {
    for (const rel of candidatePaths(key)) {
      try {
        const fh = await open(this.abs(rel), "r");
        return okv(fh.createReadStream({ highWaterMark: 1 << 20 }));
      } catch (e) {
        const code = codeOf(e);
        if (code !== "ENOENT" && code !== "ENOTDIR") return failed(this.failure(e, `cannot read ${keyString(key)}`));
      }
    }
    return failed({ reason: "missing", key });
  }

  getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>> {
    return downloadVerified(key, destAbs, () => this.open(key), (e) => this.failure(e, `cannot copy ${keyString(key)}`));
  }

  /** What a put finds: nothing (`stored`), the object whole (`present`), or one of the wrong size (`repaired`). */
  private async existing(key: ObjectKey, size: number): Promise<StoreResult<PutOutcome>> {
    const r = await this.locate(key);
    if (!r.ok) return r;
    if (r.value === undefined) return okv("stored");
    return okv(r.value.size === size ? "present" : "repaired");
  }

  /** Writes `fill`'s temp file beside the object's DVC 3 path, flushes it, and renames it into place. */
  private async place(key: ObjectKey, fill: (tmp: string) => Promise<StoreResult<void>>): Promise<StoreResult<void>> {
    const dest = this.abs(keyPath(key));
    try {
      await mkdir(path.dirname(dest), { recursive: true });
    } catch (e) {
      return failed(this.failure(e, `cannot create the directory of ${keyString(key)}`));
    }
    const tmp = tempBeside(dest);
    try {
      const filled = await fill(tmp);
      if (!filled.ok) {
        await unlink(tmp).catch(() => undefined);
        return filled;
      }
      // Flushed before the rename: after a crash of the file server the name never points at missing bytes.
      const fh = await open(tmp, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, dest);
      return okv(undefined);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      return failed(this.failure(e, `cannot store ${keyString(key)}`));
    }
  }

  async putFile(key: ObjectKey, srcAbs: string): Promise<StoreResult<PutOutcome>> {
    checkKey(key);
    const sized = await sourceSize(srcAbs, this.label);
    if (!sized.ok) return sized;
    const size = sized.value;
    const before = await this.existing(key, size);
    if (!before.ok || before.value === "present") return before;
    const placed = await this.place(key, async (tmp) => {
      await copyFile(srcAbs, tmp, fsc.COPYFILE_EXCL);
      return okv(undefined);
    });
    return placed.ok ? okv(before.value) : placed;
  }

  async putStream(key: ObjectKey, data: Readable, size: number): Promise<StoreResult<PutOutcome>> {
    checkKey(key);
    const before = await this.existing(key, size);
    if (!before.ok || before.value === "present") {
      data.destroy();
      return before;
    }
    const placed = await this.place(key, async (tmp) => {
      const { bytes, digest } = await hashingCopy(data, tmp, key.algo);
      if (bytes !== size) {
        return failed({ reason: "other", store: this.label, detail: `${keyString(key)}: the data ended after ${bytes} of ${size} bytes; nothing was stored` });
      }
      const bad = await checkFile(tmp, key, digest);
      return bad === undefined ? okv(undefined) : failed({ reason: "corrupt", key, actual: bad });
    });
    return placed.ok ? okv(before.value) : placed;
  }

  async *list(): AsyncIterable<StoreResult<ListedObject>> {
    // DVC 3's layout, then DVC 2's `<2>/<30>` md5 objects at the top level.
    const tops: string[] = ["files/xxh64", "files/md5", ""];
    for (const top of tops) {
      let prefixes: Dirent[];
      try {
        prefixes = await readdir(this.abs(top), { withFileTypes: true });
      } catch (e) {
        const code = codeOf(e);
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        yield failed(this.failure(e, `cannot list ${top || "the remote"}`));
        return;
      }
      for (const p of prefixes) {
        if (!p.isDirectory() || !/^[0-9a-f]{2}$/.test(p.name)) continue;
        const dir = top ? `${top}/${p.name}` : p.name;
        let names: string[];
        try {
          names = await readdir(this.abs(dir));
        } catch (e) {
          if (codeOf(e) === "ENOENT") continue;
          yield failed(this.failure(e, `cannot list ${dir}`));
          return;
        }
        for (const n of names) {
          if (n.startsWith(".") || n.includes(TEMP_MARK)) continue;
          const key = keyOfPath(`${dir}/${n}`);
          if (key) yield okv({ key });
        }
      }
    }
  }

  async remove(key: ObjectKey): Promise<StoreResult<void>> {
    for (const rel of candidatePaths(key)) {
      try {
        await unlink(this.abs(rel));
      } catch (e) {
        const code = codeOf(e);
        if (code !== "ENOENT" && code !== "ENOTDIR") return failed(this.failure(e, `cannot remove ${keyString(key)}`));
      }
    }
    return okv(undefined);
  }

  async verify(key: ObjectKey): Promise<StoreResult<void>> {
    const r = await this.locate(key);
    if (!r.ok) return r;
    if (r.value === undefined) return failed({ reason: "missing", key });
    try {
      const bad = await checkFile(r.value.abs, key);
      return bad === undefined ? okv(undefined) : failed({ reason: "corrupt", key, actual: bad });
    } catch (e) {
      return failed(this.failure(e, `cannot read ${keyString(key)}`));
    }
  }

  async *listRuns(): AsyncIterable<StoreResult<string>> {
    const walk = async function* (this: DirStore, rel: string): AsyncGenerator<StoreResult<string>> {
      let entries: Dirent[];
      try {
        entries = await readdir(this.abs(rel), { withFileTypes: true });
      } catch (e) {
        if (codeOf(e) === "ENOENT") return;
        yield failed(this.failure(e, `cannot list ${rel}`));
        return;
      }
      for (const d of entries) {
        if (d.name.startsWith(".") || d.name.includes(TEMP_MARK)) continue;
        const child = `${rel}/${d.name}`;
        if (d.isDirectory()) yield* walk.call(this, child);
        else if (d.isFile()) yield okv(child.slice("runs/".length));
      }
    };
    yield* walk.call(this, "runs");
  }

  async getRun(rel: string): Promise<StoreResult<Buffer | undefined>> {
    if (!safeRunPath(rel)) throw new Error(`not a run-cache path: ${rel}`);
    try {
      return okv(await readFile(this.abs(`runs/${rel}`)));
    } catch (e) {
      const code = codeOf(e);
      if (code === "ENOENT" || code === "ENOTDIR") return okv(undefined);
      return failed(this.failure(e, `cannot read run-cache entry ${rel}`));
    }
  }

  async putRun(rel: string, data: Uint8Array): Promise<StoreResult<void>> {
    if (!safeRunPath(rel)) throw new Error(`not a run-cache path: ${rel}`);
    const dest = this.abs(`runs/${rel}`);
    try {
      await mkdir(path.dirname(dest), { recursive: true });
      await writeAtomic(dest, data, { durable: true });
      return okv(undefined);
    } catch (e) {
      return failed(this.failure(e, `cannot store run-cache entry ${rel}`));
    }
  }

  async close(): Promise<void> {}
}
