/**
 * The content-addressed object store: `.pipe/cache/<first 2 hex>/<rest>`. An object's name is its content hash
 * (xxh64, or md5 for names taken from a DVC lock); a directory manifest is stored under its hash plus `.dir`.
 *
 * Invariants the rest of `pipe` relies on:
 * - an object appears under its final name only complete: it is written to a temp file in the same directory,
 *   made read-only, then renamed (a crash leaves at most a `*.pipe-tmp-*` file, which `list` reports as garbage);
 * - an object is never materialised unverified in a process: `verify` re-hashes it once per process (and again when
 *   its stat changed since) and removes it when the bytes no longer match the name (reported to the caller, who then
 *   treats it as missing); a read-only store (`--dry`) reports it the same way and leaves it where it is;
 * - an object is never taken as already stored unchecked: with `hardlink` or `symlink` links the workspace file *is*
 *   the object, so an edit through the link damages the object while its name stays. `putFile`/`putBytes` therefore
 *   compare the size first, then trust the object only if its (inode, size, mtime) is one whose bytes were checked
 *   (in this process, or recorded in `.pipe/cache/verified` by an earlier one, as DVC trusts its state database),
 *   and otherwise re-hash it. A damaged object is replaced, atomically, by a verified copy of the new content;
 * - object names are validated (hex, optional `.dir`) before they become paths, so a hand-edited lock file cannot
 *   point the store outside `.pipe/cache`.
 *
 * `.pipe/cache/verified` is an append-only log, later lines winning, of objects whose bytes were checked:
 *
 *     pipe-verified 2
 *     <id>\t<ino>\t<size>\t<mtime_ns>\t<ctime_ns>
 *
 * A write through a link changes the mtime and the ctime (the ctime even when the mtime is put back), so a recorded
 * stat no longer matches and the object is re-hashed. A log of another version is rewritten, not appended to.
 * Objects modified within `RACY_WINDOW_NS` of their check are never recorded (a second write in the same timestamp
 * tick would keep the stat): the racy-git rule the stat cache follows too. The file is a cache: losing it costs a
 * re-read of each object the next time it is stored again, never correctness. So it is written on a best-effort
 * basis: where it cannot be written (a read-only mount of the cache, a teammate's cache, a full disk) reading and
 * verifying objects works all the same, and the log is left as it is for the rest of the process.
 *
 * Each re-check of an object whose stat changed adds a line, so the log is compacted as `.pipe/state` is: when it
 * holds more than `compactFactor` lines per live entry (and more than `compactMinLines`), it is rewritten with one
 * line per object (temp file + rename, so a reader sees the old log or the new one). `gc` rewrites it without the
 * objects it removed (`pruneVerified`). Only writers, holding the project write lock, write it.
 */
import { RACY_WINDOW_NS } from "../hash/state.js";
import type { BigIntStats } from "node:fs";
import { closeSync, constants as fsc, fstatSync, openSync, readSync, statSync } from "node:fs";
import { appendFile, chmod, copyFile, lstat, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { envErrorOf, envFailure } from "../core/env-error.js";
import { algorithmsOf, defaultDigester, type Digester } from "./digest.js";
import { atomicWrite, ensureDirInside, errnoOf, TEMP_MARK, tempBeside } from "./fs.js";
import {
  keyOf,
  keyString,
  readObject,
  storeFail,
  storeFailureOf,
  stored,
  type ListedObject,
  type ObjectKey,
  type ObjectStore,
  type PutOutcome,
  type StoreResult,
} from "./object-store.js";

/** Existence checks of `hasMany` in flight at once (see there). */
const HAS_MANY_AT_ONCE = 64;

/** Where the store lives, relative to the project root. */
export const CACHE_DIR = ".pipe/cache";
/** The log of verified objects, relative to the project root (see above). */
export const VERIFIED_LOG = ".pipe/cache/verified";
const VERIFIED_HEADER = "pipe-verified 2";
/** An object modified less than this before it was checked is not recorded as verified (racy-git). */
export { RACY_WINDOW_NS };

/** Objects up to this size are read whole by `verifyRead` (the size the digester reads small files in one go). */
const KEPT_MAX = 128 * 1024;
const SLAB_SIZE = 4 * 1024 * 1024;

/** A line of the verified log: an object id and four decimal numbers (`fingerprint`), tab-separated. */
const LOG_LINE = /^[0-9a-f]{3,128}(?:\.dir)?\t[0-9]+\t[0-9]+\t[0-9]+\t[0-9]+$/;

const ID_RE = /^[0-9a-f]{3,128}(\.dir)?$/;

export function isObjectId(id: string): boolean {
  return ID_RE.test(id);
}

/**
 * The store key of a cache object id. The cache names objects by id alone; an id of another length than xxh64's or
 * md5's (only by hand) keeps the xxh64 tag, which makes it a key no store holds.
 */
export function keyOfId(id: string): ObjectKey {
  return keyOf(id) ?? { algo: "xxh64", id };
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
  /** The bytes did not match the name; the object has been removed (by a store that may write: see `readOnly`). */
  | {
      status: "corrupt";
      actual: string;
      /** The read-only source it was found corrupt in (DVC's cache), which keeps it; absent for this cache. */
      source?: string;
    };

export interface PutOptions {
  /**
   * Re-hash the copy before it gets its name, so a source that changed since it was hashed is never stored under
   * the old hash. Costs one more read of the data. (A copy that replaces a damaged object is always re-hashed.)
   */
  verify?: boolean;
}

/**
 * What a put did: `stored` (the object was not there), `present` (it was there and intact), `repaired` (it was
 * there but its bytes no longer matched its name, and it has been replaced by the new content).
 */
export type { PutOutcome };

export interface StoreListing {
  objects: ObjectInfo[];
  /** Temp files left by an interrupted write (absolute paths): garbage. */
  temps: string[];
}

/**
 * The stat of an object that its verification is tied to. ctime too: a write through a hard link that puts the old
 * mtime back (`touch -r`, `rsync -t --inplace`) still moves it.
 */
function fingerprint(st: BigIntStats): string {
  return `${st.ino}\t${st.size}\t${st.mtimeNs}\t${st.ctimeNs}`;
}

// Synchronous: a checkout stats every object it verifies, and a round trip through the thread pool per object cost
// more than the stat itself (`statSync` asks without an exception for a missing one).
async function statObject(p: string): Promise<BigIntStats | undefined> {
  try {
    return statSync(p, { bigint: true, throwIfNoEntry: false });
  } catch (e) {
    if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return undefined;
    throw e;
  }
}

export interface StoreOptions {
  now?: () => bigint;
  recordVerified?: boolean;
  readOnly?: boolean;
  compactFactor?: number;
  compactMinLines?: number;
  /** Read-only stores to take missing objects from (DVC's cache, `dvc-cache.ts`). */
  sources?: readonly ObjectStore[];
}

export class LocalCache implements ObjectStore {
  readonly label = "cache";
  /** Absolute path of the project root. */
  readonly root: string;
  /** Absolute path of `.pipe/cache`. */
  readonly dir: string;
  private readonly digester: Digester;
  private readonly now: () => bigint;
  /** Objects verified (or written) by this process: id -> the fingerprint their bytes were known good at. */
  private readonly verified = new Map<string, string>();
  /** `.pipe/cache/verified`, loaded on first use: id -> fingerprint, the last line of each id winning. */
  private recorded: Promise<Map<string, string>> | undefined;
  /** Entry lines in the log (torn and foreign ones too: they take room all the same). */
  private recordedLines = 0;
  /** The log exists but is not ours (another header): rewritten at the first record, never appended to. */
  private recordedForeign = false;
  /** The log ends in a torn line (a write cut short): the next line is preceded by a line break. */
  private recordedTorn = false;
  /** Writes of the log, one after the other (objects are verified concurrently). */
  private logQueue: Promise<void> = Promise.resolve();
  /** Lines verified and not written yet, and the queued write that will take them (until it starts). */
  private pendingLines: string[] = [];
  private pendingFlush: Promise<void> | undefined;
  private readonly recordVerified: boolean;
  /** A write of the log failed for a reason of the machine (read-only, full): not tried again in this process. */
  private logUnwritable = false;
  private readonly compactFactor: number;
  private readonly compactMinLines: number;
  /**
   * Nothing on disk is changed: a corrupt object is reported but stays, nothing is recorded, and a write or delete
   * is a bug (it throws). For `--dry` and for readers, which do not hold the project write lock.
   */
  readonly readOnly: boolean;
  /** Read-only stores a missing object is taken from (DVC's cache): see `takeFromSources`. */
  private readonly sources: readonly ObjectStore[];

  /**
   * `recordVerified`: append what this process verifies to `.pipe/cache/verified`. Only the writing commands
   * (holding the project write lock) pass it; readers and `--dry` write nothing, and still use what is recorded.
   * `readOnly`: see the property. `compactFactor`, `compactMinLines`: when the log is compacted (module comment);
   * defaults 2 and 1000, as for `.pipe/state`.
   */
  constructor(root: string, digester: Digester = defaultDigester, opts: StoreOptions = {}) {
    this.root = path.resolve(root);
    this.dir = path.join(this.root, CACHE_DIR);
    this.digester = digester;
    this.now = opts.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.readOnly = opts.readOnly === true;
    this.recordVerified = opts.recordVerified === true && !this.readOnly;
    this.compactFactor = opts.compactFactor ?? 2;
    this.compactMinLines = opts.compactMinLines ?? 1000;
    this.sources = opts.sources ?? [];
  }

  private assertWritable(what: string): void {
    if (this.readOnly) throw new Error(`${what} on a read-only object store`);
  }

  /** Absolute path of an object. Throws on an invalid id: callers validate ids read from user files first. */
  pathOf(id: string): string {
    if (!isObjectId(id)) throw new Error(`invalid cache object id: ${JSON.stringify(id)}`);
    return path.join(this.dir, id.slice(0, 2), id.slice(2));
  }

  /**
   * Whether the object is there (not verified): in this cache, or in one of its `sources` (DVC's cache), from which
   * `verifyId` takes it when it is needed.
   */
  async hasId(id: string): Promise<boolean> {
    if (await this.hasLocal(id)) return true;
    const key = keyOf(id);
    if (key === undefined) return false;
    for (const src of this.sources) {
      const h = await src.has(key);
      if (h.ok && h.value) return true;
    }
    return false;
  }

  /** Whether the object file is in this cache (not verified). */
  private async hasLocal(id: string): Promise<boolean> {
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

  private loadRecorded(): Promise<Map<string, string>> {
    this.recorded ??= (async () => {
      const m = new Map<string, string>();
      let text: string;
      try {
        text = await readFile(path.join(this.root, VERIFIED_LOG), "utf8");
      } catch (e) {
        // Unreadable (a teammate's cache, a failing disk) costs re-reads only: the log is a cache.
        if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR" || envErrorOf(e)) return m;
        throw e;
      }
      const lines = text.split("\n");
      if (lines[0] !== VERIFIED_HEADER) {
        this.recordedForeign = true;
        return m;
      }
      // The text after the last line break is empty, or a torn line.
      this.recordedTorn = lines[lines.length - 1] !== "";
      this.recordedLines = lines.length - 2 + (this.recordedTorn ? 1 : 0);
      for (let i = 1; i < lines.length; i++) {
        // A torn or foreign line never matches anything: skipped. One test per line (a checkout loads 20,000).
        const line = lines[i]!;
        if (!LOG_LINE.test(line)) continue;
        const tab = line.indexOf("\t");
        m.set(line.slice(0, tab), line.slice(tab + 1));
      }
      return m;
    })();
    return this.recorded;
  }

  /** Notes that the object's bytes matched its name when it had stat `st` (checked from `startedNs` on). */
  private async remember(id: string, st: BigIntStats, startedNs: bigint): Promise<void> {
    const fp = fingerprint(st);
    this.verified.set(id, fp);
    if (!this.recordVerified || st.mtimeNs + RACY_WINDOW_NS > startedNs) return;
    if (this.logUnwritable) return;
    const rec = await this.loadRecorded();
    if (rec.get(id) === fp) return;
    rec.set(id, fp);
    // Lines are written in batches: the objects of a checkout are verified concurrently, and one append per line,
    // one after the other, cost an open, a write and a close per object (20,000 of them after a hard-link checkout
    // changed every object's ctime). Each caller waits for the write that holds its line.
    this.pendingLines.push(`${id}\t${fp}\n`);
    this.pendingFlush ??= this.queueLog(async () => {
      this.pendingFlush = undefined;
      const batch = this.pendingLines;
      this.pendingLines = [];
      if (this.logUnwritable || batch.length === 0) return;
      const file = path.join(this.root, VERIFIED_LOG);
      const lines = this.recordedLines + batch.length;
      try {
        if (this.recordedForeign || (lines > this.compactMinLines && lines > this.compactFactor * rec.size)) {
          await this.rewriteLog(rec);
          return;
        }
        const exists = await stat(file).then(
          () => true,
          () => false,
        );
        // One append (O_APPEND) per batch of whole lines. After a torn line, a line break first, so that the torn
        // line cannot swallow the next one; a batch cut short leaves a torn line, which a reader skips.
        const before = !exists ? VERIFIED_HEADER + "\n" : this.recordedTorn ? "\n" : "";
        await appendFile(file, before + batch.join(""));
        this.recordedLines = exists ? lines : batch.length;
        this.recordedTorn = false;
      } catch (e) {
        // The log is a cache, and reading the store must work where it cannot be written (a read-only mount, a
        // teammate's cache) or the disk is full: the object is re-hashed next time, nothing else is lost. A write
        // cut short may have left part of a line: the next one starts on a line of its own.
        if (!envErrorOf(e)) throw e;
        this.recordedTorn = true;
        this.logUnwritable = true;
      }
    });
    await this.pendingFlush;
  }

  /** Runs `job` after the log writes queued before it (whether they succeeded or not). */
  private queueLog(job: () => Promise<void>): Promise<void> {
    const p = this.logQueue.then(job);
    this.logQueue = p.catch(() => undefined);
    return p;
  }

  /** Replaces the log by one line per entry of `rec`, atomically. */
  private async rewriteLog(rec: ReadonlyMap<string, string>): Promise<void> {
    const body = [VERIFIED_HEADER];
    for (const [id, fp] of rec) body.push(`${id}\t${fp}`);
    await atomicWrite(path.join(this.root, VERIFIED_LOG), body.join("\n") + "\n");
    this.recordedLines = rec.size;
    this.recordedForeign = false;
    this.recordedTorn = false;
  }

  /**
   * Drops from `.pipe/cache/verified` the entries of objects not in `keep` (`gc`: the objects it kept), rewriting
   * the log compacted. Nothing is written when there is nothing to drop or compact. Returns how many entries went.
   */
  async pruneVerified(keep: ReadonlySet<string>): Promise<number> {
    this.assertWritable("pruneVerified");
    const rec = await this.loadRecorded();
    let dropped = 0;
    await this.queueLog(async () => {
      for (const id of [...rec.keys()]) {
        if (keep.has(id)) continue;
        rec.delete(id);
        dropped++;
      }
      if (dropped > 0 || this.recordedForeign || this.recordedLines > rec.size) await this.rewriteLog(rec);
    });
    return dropped;
  }

  /** The object's bytes are known to match its name at stat `st`: checked in this process or recorded earlier. */
  private async trusted(id: string, st: BigIntStats): Promise<boolean> {
    const fp = fingerprint(st);
    if (this.verified.get(id) === fp) return true;
    return (await this.loadRecorded()).get(id) === fp;
  }

  /** Hash of a file under each algorithm the id may use, until one matches; the first one when none does. */
  private async matches(id: string, abs: string): Promise<{ ok: boolean; actual: string }> {
    const hex = id.endsWith(".dir") ? id.slice(0, -4) : id;
    let actual = "";
    for (const algo of algorithmsOf(id)) {
      const h = await this.digester.file(abs, algo);
      if (h === hex) return { ok: true, actual: h };
      actual ||= h;
    }
    return { ok: false, actual };
  }

  /**
   * Is the existing object (stat `st`) intact? Size first (free), then the fingerprint of an earlier check, then
   * its bytes. A name whose algorithm is unknown cannot be checked: its size has to do.
   */
  private async intact(id: string, st: BigIntStats, size: bigint, content?: Uint8Array): Promise<boolean> {
    if (!st.isFile() || st.size !== size) return false;
    if (await this.trusted(id, st)) return true;
    const startedNs = this.now();
    const p = this.pathOf(id);
    let good: boolean;
    try {
      if (content !== undefined) good = Buffer.from(content).equals(await readFile(p));
      else good = algorithmsOf(id).length === 0 || (await this.matches(id, p)).ok;
    } catch (e) {
      if (errnoOf(e) === "ENOENT") return false;
      throw e;
    }
    if (good) await this.remember(id, st, startedNs);
    return good;
  }

  /**
   * Stores the file at `absSrc` under `id` (its hash, computed by the caller). Already present and intact: nothing
   * to do. Present but damaged (see the module comment): replaced by a copy of `absSrc`, which is then re-hashed, so
   * a damaged object is never "repaired" with bytes that do not match its name either. The copy is a reflink where
   * the file system allows it.
   */
  async storeFile(absSrc: string, id: string, opts: PutOptions = {}): Promise<Result<PutOutcome>> {
    this.assertWritable("storeFile");
    if (!isObjectId(id)) return fail([error("io", `cannot store '${absSrc}': invalid object id '${id}'`)]);
    const r = await this.putFileCore(absSrc, id, opts);
    if (r.ok) return ok(r.value);
    if ("actual" in r) return fail([error("io", `'${absSrc}' changed while it was being stored (expected ${id}, read ${r.actual})`)]);
    if ("refused" in r) return r.refused;
    return this.envFail(r.error, absSrc, this.pathOf(id));
  }

  /** `storeFile`'s work, its failures left for the caller to word: a refused directory, a changed source, an error. */
  private async putFileCore(
    absSrc: string,
    id: string,
    opts: PutOptions,
  ): Promise<{ ok: true; value: PutOutcome } | { ok: false; actual: string } | { ok: false; refused: Result<never> } | { ok: false; error: unknown }> {
    const dest = this.pathOf(id);
    const existing = await statObject(dest);
    if (existing) {
      const src = await stat(absSrc, { bigint: true });
      if (await this.intact(id, existing, src.size)) return { ok: true, value: "present" };
    }
    let shard: Result<string>;
    try {
      shard = await this.shardDir(id);
    } catch (e) {
      return { ok: false, error: e };
    }
    if (!shard.ok) return { ok: false, refused: shard as Result<never> };
    const tmp = tempBeside(dest);
    try {
      // EXCL: the temp name is fresh, and without it libuv truncates the copy first, which ext4 answers with a flush
      // to disk at close (see `link.ts`).
      await copyFile(absSrc, tmp, fsc.COPYFILE_FICLONE | fsc.COPYFILE_EXCL);
      if (opts.verify || existing) {
        const algos = algorithmsOf(id);
        const m = algos.length > 0 ? await this.matches(id, tmp) : { ok: true, actual: "" };
        if (!m.ok) {
          await unlink(tmp);
          return { ok: false, actual: m.actual };
        }
      }
      await chmod(tmp, 0o444);
      const st = await stat(tmp, { bigint: true });
      // Something that is not a file where the object goes (only by hand): it holds no object, so it goes.
      if (existing && !existing.isFile()) await rm(dest, { recursive: true, force: true });
      await rename(tmp, dest);
      this.verified.set(id, fingerprint(st));
    } catch (e) {
      // No partial object stays behind (a full disk stops the copy half-way): the temp file goes.
      await unlink(tmp).catch(() => undefined);
      return { ok: false, error: e };
    }
    return { ok: true, value: existing ? "repaired" : "stored" };
  }

  /** A failed put when `e` is an environment error (a full or read-only cache); rethrows anything else (a bug). */
  private envFail<T>(e: unknown, what: string | undefined, dest: string): Result<T> {
    const src = what !== undefined ? path.relative(this.root, what).split(path.sep).join("/") : undefined;
    const doing = src !== undefined && !src.startsWith("..") ? `storing '${src}' in the cache` : "writing to the cache";
    const f = envFailure<T>(e, { doing, root: this.root, path: dest });
    if (f) return f;
    throw e;
  }

  /** Stores bytes (a directory manifest) under `id`; an existing object must hold exactly these bytes. */
  async putBytes(id: string, data: Uint8Array | string): Promise<Result<PutOutcome>> {
    this.assertWritable("putBytes");
    if (!isObjectId(id)) return fail([error("io", `invalid object id '${id}'`)]);
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    const dest = this.pathOf(id);
    const existing = await statObject(dest);
    if (existing && (await this.intact(id, existing, BigInt(bytes.byteLength), bytes))) return ok("present");
    const shard = await this.shardDir(id).catch((e: unknown) => this.envFail<string>(e, undefined, dest));
    if (!shard.ok) return shard;
    try {
      if (existing && !existing.isFile()) await rm(dest, { recursive: true, force: true });
      // atomicWrite removes its temp file when the write fails.
      await atomicWrite(dest, bytes, 0o444);
    } catch (e) {
      return this.envFail(e, undefined, dest);
    }
    const st = await statObject(dest);
    if (st) this.verified.set(id, fingerprint(st));
    return ok(existing ? "repaired" : "stored");
  }

  /**
   * Checks that the object's bytes match its name, once per process (again if its stat changed since). A mismatching
   * object is deleted (kept by a read-only store) and reported, so it can never be materialised. Names whose
   * algorithm is unknown cannot be checked and count as ok.
   */
  async verifyId(id: string): Promise<VerifyOutcome> {
    const v = await this.verifyLocal(id);
    if (v.status !== "missing" || this.sources.length === 0) return v;
    return this.takeFromSources(id);
  }

  /**
   * Brings a missing object in from the first source that holds it, verified on arrival (a put of this cache hashes
   * what it stores). A read-only cache cannot take it: the source's own verdict is given, and `readVerified` reads
   * the bytes from the source. A corrupt source object is reported with the source's name and left where it is; a
   * copy that fails (a full disk) leaves the object missing here, so the stage runs or checkout says so.
   */
  private async takeFromSources(id: string): Promise<VerifyOutcome> {
    const key = keyOf(id);
    if (key === undefined) return { status: "missing" };
    for (const src of this.sources) {
      const h = await src.has(key);
      if (!h.ok || !h.value) continue;
      if (this.readOnly) {
        const v = await src.verify(key);
        if (v.ok) return { status: "ok" };
        if (v.failure.reason === "corrupt") return { status: "corrupt", actual: v.failure.actual, source: src.label };
        continue;
      }
      const file = src.localFile?.(key);
      let r: StoreResult<PutOutcome>;
      if (file !== undefined) {
        r = await this.putFile(key, file);
      } else {
        // Through a verified copy beside the object's place (same file system: the put is a reflink or a copy).
        const shard = await this.shardDir(id);
        if (!shard.ok) return { status: "missing" };
        const tmp = tempBeside(this.pathOf(id));
        const got = await src.getToFile(key, tmp);
        if (!got.ok) {
          if (got.failure.reason === "corrupt") return { status: "corrupt", actual: got.failure.actual, source: src.label };
          continue;
        }
        r = await this.putFile(key, tmp);
        await unlink(tmp).catch(() => undefined);
      }
      if (r.ok) return this.verifyLocal(id);
      if (r.failure.reason === "corrupt") return { status: "corrupt", actual: r.failure.actual, source: src.label };
    }
    return { status: "missing" };
  }

  /**
   * `verifyId`, and for a small object (up to `KEPT_MAX` bytes) its verified bytes too, so that a copy of it is
   * written from them instead of reading the object a second time (a checkout verifies every object of an output
   * before it places the first one). One open, fstat, read and close per object, where a verify and then a copy made
   * a stat and two of each. `keep` false, a bigger object, or one not in this cache: `verifyId` as it is.
   */
  async verifyRead(id: string, keep: boolean): Promise<({ status: "ok"; data?: Buffer } | Exclude<VerifyOutcome, { status: "ok" }>)> {
    if (!keep || !isObjectId(id)) return this.verifyId(id);
    const p = this.pathOf(id);
    const startedNs = this.now();
    let fd: number;
    try {
      fd = openSync(p, "r");
    } catch (e) {
      if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR" || errnoOf(e) === "EISDIR") return this.verifyId(id);
      throw e;
    }
    let st: BigIntStats;
    let data: Buffer | undefined;
    try {
      st = fstatSync(fd, { bigint: true });
      if (st.isFile() && st.size <= BigInt(KEPT_MAX)) {
        // The size the stat says, no more (no read that only finds the end): what is checked below is these bytes,
        // and they are what gets written. A file cut short since the stat is left to `verifyId`.
        const size = Number(st.size);
        const buf = this.slabOf(size);
        let filled = 0;
        while (filled < size) {
          const n = readSync(fd, buf, filled, size - filled, null);
          if (n === 0) break;
          filled += n;
        }
        if (filled === size) data = buf;
      }
    } finally {
      closeSync(fd);
    }
    if (data === undefined) return this.verifyId(id);
    if (this.verified.get(id) === fingerprint(st)) return { status: "ok", data };
    const hex = id.endsWith(".dir") ? id.slice(0, -4) : id;
    const algos = algorithmsOf(id);
    let actual = "";
    let good = algos.length === 0;
    for (const algo of algos) {
      const h = await this.digester.bytes(data, algo);
      if (h === hex) {
        good = true;
        break;
      }
      actual ||= h;
    }
    if (good) {
      await this.remember(id, st, startedNs);
      return { status: "ok", data };
    }
    this.verified.delete(id);
    if (!this.readOnly) await unlink(p).catch(() => undefined);
    return { status: "corrupt", actual };
  }

  /**
   * A buffer of `size` bytes for `verifyRead`, cut from a shared slab: a buffer of its own per object (most are a
   * few KB) cost an allocation and its share of garbage collection each, a fifth of a checkout's time.
   */
  private slabOf(size: number): Buffer {
    if (size > SLAB_SIZE / 4) return Buffer.allocUnsafe(size);
    if (this.slab.length - this.slabUsed < size) {
      this.slab = Buffer.allocUnsafe(SLAB_SIZE);
      this.slabUsed = 0;
    }
    const b = this.slab.subarray(this.slabUsed, this.slabUsed + size);
    this.slabUsed += size;
    return b;
  }
  private slab = Buffer.alloc(0);
  private slabUsed = 0;

  /** Checks the object in this cache only (see `verifyId`). */
  private async verifyLocal(id: string): Promise<VerifyOutcome> {
    if (!isObjectId(id)) return { status: "missing" };
    const p = this.pathOf(id);
    const st = await statObject(p);
    if (!st || !st.isFile()) return { status: "missing" };
    if (this.verified.get(id) === fingerprint(st)) return { status: "ok" };
    const startedNs = this.now();
    let m: { ok: boolean; actual: string };
    try {
      m = algorithmsOf(id).length === 0 ? { ok: true, actual: "" } : await this.matches(id, p);
    } catch (e) {
      if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return { status: "missing" };
      throw e;
    }
    if (m.ok) {
      await this.remember(id, st, startedNs);
      return { status: "ok" };
    }
    this.verified.delete(id);
    if (!this.readOnly) await unlink(p).catch(() => undefined);
    return { status: "corrupt", actual: m.actual };
  }

  /** Reads a (small) object, verified. */
  async readVerified(id: string): Promise<{ status: "ok"; data: Buffer } | Exclude<VerifyOutcome, { status: "ok" }>> {
    const v = await this.verifyId(id);
    if (v.status !== "ok") return v;
    try {
      return { status: "ok", data: await readFile(this.pathOf(id)) };
    } catch (e) {
      // A read-only cache vouched for a source's object (`takeFromSources`): its bytes come from there, checked.
      if (errnoOf(e) === "ENOENT" && this.readOnly) return this.readFromSources(id);
      if (errnoOf(e) === "ENOENT") return { status: "missing" };
      throw e;
    }
  }

  private async readFromSources(id: string): Promise<{ status: "ok"; data: Buffer } | Exclude<VerifyOutcome, { status: "ok" }>> {
    const key = keyOf(id);
    if (key === undefined) return { status: "missing" };
    for (const src of this.sources) {
      const r = await readObject(src, key);
      if (!r.ok) continue;
      const hex = id.endsWith(".dir") ? id.slice(0, -4) : id;
      for (const algo of algorithmsOf(id)) if ((await this.digester.bytes(r.value, algo)) === hex) return { status: "ok", data: r.value };
      return { status: "corrupt", actual: await this.digester.bytes(r.value, algorithmsOf(id)[0] ?? "md5"), source: src.label };
    }
    return { status: "missing" };
  }

  /** Every object in the store, sorted by id, plus leftover temp files. */
  async listing(): Promise<StoreListing> {
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
      // A rewrite of the verified log that was cut short.
      if (shard.includes(TEMP_MARK)) temps.push(path.join(this.dir, shard));
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
    this.assertWritable("delete");
    // A recorded fingerprint may stay: a new object under this name is a new file, whose stat cannot match it.
    this.verified.delete(id);
    await unlink(this.pathOf(id)).catch((e: unknown) => {
      if (errnoOf(e) !== "ENOENT") throw e;
    });
  }

  // The object-store contract (`object-store.ts`), over the id-based operations above. Objects live at
  // `.pipe/cache/<2>/<rest>` whatever their algorithm: the length of the id tells xxh64 from md5.

  /** The id of `key`, when it is a name this cache can hold (its algorithm matching the digest's length). */
  private idOf(key: ObjectKey): string | undefined {
    // A name of an unknown algorithm (only by hand, or a test's) is an object all the same: its size is its check.
    const k = keyOf(key.id);
    return isObjectId(key.id) && (k === undefined || k.algo === key.algo) ? key.id : undefined;
  }

  private failOf<T>(e: unknown): StoreResult<T> {
    const f = storeFailureOf(e, this.label);
    if (f) return storeFail(f);
    throw e;
  }

  localFile(key: ObjectKey): string | undefined {
    const id = this.idOf(key);
    return id === undefined ? undefined : this.pathOf(id);
  }

  async has(key: ObjectKey): Promise<StoreResult<boolean>> {
    const id = this.idOf(key);
    if (id === undefined) return stored(false);
    try {
      return stored(await this.hasLocal(id));
    } catch (e) {
      return this.failOf(e);
    }
  }

  /**
   * Stats run `HAS_MANY_AT_ONCE` at a time: one after the other, 10,000 of them cost about 2 s of round trips through
   * libuv's thread pool; at once they overlap (the pool has four threads) and the event loop is never idle.
   */
  async hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>> {
    const out = new Set<string>();
    let failure: StoreResult<Set<string>> | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < keys.length) {
        const k = keys[next++]!;
        const r = await this.has(k);
        if (!r.ok) failure ??= r;
        else if (r.value) out.add(keyString(k));
      }
    };
    await Promise.all(Array.from({ length: Math.min(HAS_MANY_AT_ONCE, Math.max(1, keys.length)) }, worker));
    return failure ?? stored(out);
  }

  /**
   * Gives the file `tmpAbs` the name of object `id` with one rename: for a transfer that downloaded it to a temp
   * name in the object's own directory (`tempBeside(pathOf(id))`, the same file system) and verified its bytes
   * against the name on the way (the `getToFile` contract). Made read-only first, as every object is; a damaged
   * object or a non-file under the name is replaced. The temp file is gone afterwards, whatever happens.
   */
  async adoptVerified(tmpAbs: string, id: string): Promise<StoreResult<void>> {
    this.assertWritable("adoptVerified");
    if (!isObjectId(id)) {
      await unlink(tmpAbs).catch(() => undefined);
      return storeFail({ reason: "other", store: this.label, detail: `invalid object name '${id}'` });
    }
    const dest = this.pathOf(id);
    try {
      await chmod(tmpAbs, 0o444);
      const st = await stat(tmpAbs, { bigint: true });
      const existing = await statObject(dest);
      if (existing && !existing.isFile()) await rm(dest, { recursive: true, force: true });
      await rename(tmpAbs, dest);
      this.verified.set(id, fingerprint(st));
      return stored(undefined);
    } catch (e) {
      await unlink(tmpAbs).catch(() => undefined);
      return this.failOf(e);
    }
  }

  async verify(key: ObjectKey): Promise<StoreResult<void>> {
    const id = this.idOf(key);
    if (id === undefined) return storeFail({ reason: "missing", key });
    try {
      const v = await this.verifyLocal(id);
      if (v.status === "ok") return stored(undefined);
      return storeFail(v.status === "missing" ? { reason: "missing", key } : { reason: "corrupt", key, actual: v.actual });
    } catch (e) {
      return this.failOf(e);
    }
  }

  /**
   * Copies the object to a temp name beside `destAbs`, re-hashes the copy (the object may change between a check
   * and the copy, through a hard link), and only then renames it into place.
   */
  async getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>> {
    const id = this.idOf(key);
    if (id === undefined) return storeFail({ reason: "missing", key });
    const tmp = tempBeside(destAbs);
    try {
      try {
        await copyFile(this.pathOf(id), tmp, fsc.COPYFILE_EXCL);
      } catch (e) {
        if (errnoOf(e) === "ENOENT" && !(await this.hasLocal(id))) return storeFail({ reason: "missing", key });
        throw e;
      }
      const m = algorithmsOf(id).length === 0 ? { ok: true, actual: "" } : await this.matches(id, tmp);
      if (!m.ok) {
        await unlink(tmp);
        // The object itself is judged (and removed when corrupt) by a verify of its own.
        const v = await this.verifyLocal(id);
        return storeFail(v.status === "missing" ? { reason: "missing", key } : { reason: "corrupt", key, actual: m.actual });
      }
      await chmod(tmp, 0o644);
      await rename(tmp, destAbs);
      return stored(undefined);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      return this.failOf(e);
    }
  }

  async open(key: ObjectKey): Promise<StoreResult<Readable>> {
    const id = this.idOf(key);
    if (id === undefined) return storeFail({ reason: "missing", key });
    try {
      const fh = await open(this.pathOf(id), "r");
      return stored(fh.createReadStream());
    } catch (e) {
      if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return storeFail({ reason: "missing", key });
      return this.failOf(e);
    }
  }

  /** Stores the file, re-hashing the copy before it gets its name: the cache never holds an object that lies. */
  async putFile(key: ObjectKey, srcAbs: string): Promise<StoreResult<PutOutcome>> {
    if (this.readOnly) return storeFail({ reason: "read-only", store: this.label });
    const id = this.idOf(key);
    if (id === undefined) return storeFail({ reason: "other", store: this.label, detail: `invalid object name '${keyString(key)}'` });
    const r = await this.putFileCore(srcAbs, id, { verify: true });
    if (r.ok) return stored(r.value);
    if ("actual" in r) return storeFail({ reason: "corrupt", key, actual: r.actual });
    if ("refused" in r) return storeFail({ reason: "other", store: this.label, detail: r.refused.ok ? "" : r.refused.errors.map((d) => d.message).join("; ") });
    return this.failOf(r.error);
  }

  async putStream(key: ObjectKey, data: Readable, size: number): Promise<StoreResult<PutOutcome>> {
    if (this.readOnly) {
      data.destroy();
      return storeFail({ reason: "read-only", store: this.label });
    }
    const id = this.idOf(key);
    if (id === undefined) {
      data.destroy();
      return storeFail({ reason: "other", store: this.label, detail: `invalid object name '${keyString(key)}'` });
    }
    const dest = this.pathOf(id);
    const existing = await statObject(dest);
    if (existing && (await this.intact(id, existing, BigInt(size)))) {
      data.destroy();
      return stored("present");
    }
    let tmp: string | undefined;
    try {
      const shard = await this.shardDir(id);
      if (!shard.ok) {
        data.destroy();
        return storeFail({ reason: "other", store: this.label, detail: shard.errors.map((d) => d.message).join("; ") });
      }
      tmp = tempBeside(dest);
      await pipeline(data, createWriteStream(tmp, { flags: "wx", mode: 0o444 }));
      const st = await stat(tmp, { bigint: true });
      const m = algorithmsOf(id).length === 0 ? { ok: true, actual: "" } : await this.matches(id, tmp);
      if (st.size !== BigInt(size) || !m.ok) {
        await unlink(tmp);
        return storeFail({ reason: "corrupt", key, actual: m.ok ? `${st.size} bytes, not ${size}` : m.actual });
      }
      if (existing && !existing.isFile()) await rm(dest, { recursive: true, force: true });
      await rename(tmp, dest);
      this.verified.set(id, fingerprint(st));
      return stored(existing ? "repaired" : "stored");
    } catch (e) {
      data.destroy();
      if (tmp !== undefined) await unlink(tmp).catch(() => undefined);
      const f = storeFailureOf(e, this.label);
      if (f) return storeFail(f);
      // The source stream failed (a connection cut mid-way): nothing was stored.
      return storeFail({ reason: "other", store: this.label, detail: `the data stream failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  async *list(): AsyncIterable<StoreResult<ListedObject>> {
    let l: StoreListing;
    try {
      l = await this.listing();
    } catch (e) {
      yield this.failOf(e);
      return;
    }
    for (const o of l.objects) {
      const key = keyOf(o.id);
      if (key) yield stored({ key, size: o.size });
    }
  }

  async remove(key: ObjectKey): Promise<StoreResult<void>> {
    if (this.readOnly) return storeFail({ reason: "read-only", store: this.label });
    const id = this.idOf(key);
    if (id === undefined) return stored(undefined);
    try {
      await this.delete(id);
      return stored(undefined);
    } catch (e) {
      return this.failOf(e);
    }
  }
}
