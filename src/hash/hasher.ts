/**
 * The one place workspace content hashes come from. A `Hasher` is created once per invocation; it memoises results per
 * path, consults the stat cache before reading anything, and streams file contents in chunks (4 MiB, 1 MiB for legacy
 * md5; never a whole file in memory).
 *
 * How a path is hashed:
 *
 * - a file: stat it; if the stat cache has (path, inode, size, mtime_ns) for the algorithm, that is the hash;
 *   otherwise stream its bytes through the digest and remember the result (in the stat cache only when the file's
 *   mtime is safely older than the moment we started reading it, see `state.ts`).
 * - a directory: walk it (symlinks followed, loops and special files are errors, empty directories contribute
 *   nothing, what the ignore rules leave out is skipped as DVC skips it, and so are temp files a killed `pipe` left:
 *   `ignore.ts`), stat'ing every file, and
 *   fingerprint the listing (relpath, inode, size, mtime_ns of every file, and the rules, see `listing.ts`). If the stat cache has a hash for that fingerprint, that is the answer. Otherwise hash every file
 *   as above, build the manifest sorted by relpath, and hash the manifest bytes; the result is `<digest>.dir`, with
 *   the manifest attached so the cache can store it under that name (after a fingerprint hit the manifest is rebuilt
 *   from the stat cache when first asked for), and the fingerprint is recorded with it unless a file is racy.
 *
 * Files are re-stat'ed on every request, so a memoised file hash is reused only while its stat is unchanged;
 * directory results are memoised until `invalidate` is called on the directory, something inside it, or one of its
 * ancestors (`recordStage` does that for the outputs a stage just wrote).
 */
import path from "node:path";
import { chunkSizeFor, createDigest, createDigestSync, digestBytes, prepareDigest, type HashAlgo } from "./algorithms.js";
import { nodeHashFs, readChunksSync, type FsStat, type HashFs } from "./fs.js";
import { ignoredByDefault, isPipeTempName, PROJECT_DIRS, readIgnoreFiles, RULES_VERSION, type IgnoreSource, type IgnoreTest } from "./ignore.js";
import { Listing } from "./listing.js";
import { hashPool, poolStarted, type PoolResult } from "./pool.js";
import { ignoredBy, type IgnoreMatcher } from "./ignore-rules.js";
import { serializeManifest, sortEntries, type DirManifest, type ManifestEntry } from "./manifest.js";
import { RACY_WINDOW_NS, StatCache } from "./state.js";

export type { HashAlgo } from "./algorithms.js";

export interface HashedFile {
  kind: "file";
  algo: HashAlgo;
  /** 16 hex digits (xxh64) or 32 (md5). */
  hash: string;
  size: number;
}

export interface HashedDir {
  kind: "dir";
  algo: HashAlgo;
  /** Digest of the manifest bytes plus `.dir`. */
  hash: string;
  /** Sum of the file sizes. */
  size: number;
  nfiles: number;
  manifest: DirManifest;
}

export type HashedPath = HashedFile | HashedDir;

export type HashOutcome = HashedPath | { kind: "missing" } | { kind: "error"; message: string };

export interface HasherOptions {
  /** Absolute project root: stat cache keys are relative to it. */
  root: string;
  fs?: HashFs;
  /** Absolute path of `.pipe/state`; omit to keep the stat cache in memory only. */
  stateFile?: string;
  /** Use this stat cache instead of loading one (tests). */
  statCache?: StatCache;
  /** Wall clock in nanoseconds since the epoch (injected by tests). */
  now?: () => bigint;
  /** A file modified less than this long before its hash was taken is not written to the stat cache. Default 2 s. */
  racyWindowNs?: bigint;
  /** Files read at once while hashing a directory. Default 8. */
  concurrency?: number;
  /**
   * Hash a directory's many unread files on worker threads, one per core (`pool.ts`), when there are enough of them
   * to pay for it. Default: on when the file system's content is the disk's (`HashFs.readsDisk`: the real one, or a
   * wrapper that only records stats, as the status memo's does); a test's fake or counting `fs` is the main thread's
   * alone.
   */
  workers?: boolean;
}

/** A directory's unread files go to the worker pool from this many files and this many bytes on. */
const POOL_MIN_FILES = 8;
const POOL_MIN_BYTES = 16 << 20;
/**
 * A single file this large is read and digested on a worker too: its small cache-resident reads cost a quarter of
 * the main thread's large ones (see `pool.ts`), and the main thread stays free. Starting the workers costs 20-30 ms
 * of CPU each (measured on a 2-core VM) against a saving of about 0.35 s of CPU a GiB, so a lone file starts them
 * from 256 MiB on (with some margin); once they run, from 64 MiB.
 */
const POOL_MIN_FILE_BYTES = 64 << 20;
const POOL_START_FILE_BYTES = 256 << 20;

export interface HasherStats {
  /** Content bytes read for hashing (counted as they are read, so a large file's progress shows). */
  bytesRead: number;
  /**
   * Content bytes this hasher has set out to read: a file's size when its read is queued, a directory's unread files
   * when its walk is done. `bytesQueued - bytesRead` is what is left (progress: `hashProgress`).
   */
  bytesQueued: number;
  /** Files whose content was read. */
  filesRead: number;
  /** Files whose hash came from the stat cache (a directory answered by its fingerprint counts all its files). */
  statCacheHits: number;
  /** Directories answered by the fingerprint of their listing. */
  dirCacheHits: number;
}

const ALGOS: readonly HashAlgo[] = ["xxh64", "md5", "legacy-md5"];

const MISSING: HashOutcome = Object.freeze({ kind: "missing" }) as HashOutcome;

interface FileMemo {
  st: FsStat;
  outcome: Promise<HashOutcome>;
}

class HashError extends Error {}

const DOT = 0x2e;

/** The ignore rules in force during a walk: those applying at the directory being listed, and every file's id. */
interface WalkIgnore {
  matchers: readonly IgnoreMatcher[];
  /** Identity of every ignore file that applied anywhere in the walk (`IgnoreSource.id`), in walk order. */
  ids: string[];
}

export class Hasher {
  readonly root: string;
  private readonly rootSlash: string;
  readonly fs: HashFs;
  readonly state: StatCache;
  readonly stats: HasherStats = { bytesRead: 0, bytesQueued: 0, filesRead: 0, statCacheHits: 0, dirCacheHits: 0 };
  private readonly now: () => bigint;
  private readonly racyWindowNs: bigint;
  private readonly concurrency: number;
  private readonly workers: boolean;
  private readonly files = new Map<string, FileMemo>();
  // Reads in flight across the whole hasher, so many deps hashed at once never exhaust file descriptors.
  private reading = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly dirs = new Map<string, Promise<HashOutcome>>();
  /** Ignore files of the directories above those hashed, by root-relative directory (`` or `a/b/`). */
  private readonly ignoreFilesAbove = new Map<string, IgnoreSource[]>();

  constructor(opts: HasherOptions) {
    this.root = path.resolve(opts.root);
    this.rootSlash = this.root.endsWith("/") ? this.root : this.root + "/";
    this.fs = opts.fs ?? nodeHashFs;
    this.state = opts.statCache ?? new StatCache(opts.stateFile === undefined ? {} : { file: opts.stateFile });
    this.now = opts.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.racyWindowNs = opts.racyWindowNs ?? RACY_WINDOW_NS;
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.workers = opts.workers ?? this.fs.readsDisk === true;
  }

  /** Stat following symlinks; `undefined` when missing. */
  stat(absPath: string): FsStat | undefined {
    return this.fs.stat(absPath);
  }

  /**
   * The answer for a path that needs no reading: missing, or a file whose stat matches the stat cache or this
   * process's memo. `undefined` means "call `hashPath`". Lets a no-op check run without a promise per file.
   */
  peek(absPath: string, algo: HashAlgo): HashOutcome | undefined {
    const abs = isNormalAbsolute(absPath) ? absPath : path.resolve(absPath);
    let st: FsStat | undefined;
    try {
      st = this.fs.stat(abs);
    } catch {
      return undefined;
    }
    if (!st) return MISSING;
    if (st.kind !== "file") return undefined;
    const cached = this.state.get(algo, this.stateKey(abs), st);
    if (cached !== undefined) {
      this.stats.statCacheHits++;
      return { kind: "file", algo, hash: cached, size: st.size };
    }
    return undefined;
  }

  /** Hashes a file or directory with `algo`. Never throws for an expected condition (missing, unreadable, special). */
  async hashPath(absPath: string, algo: HashAlgo): Promise<HashOutcome> {
    const abs = isNormalAbsolute(absPath) ? absPath : path.resolve(absPath);
    let st: FsStat | undefined;
    try {
      st = this.fs.stat(abs);
    } catch (e) {
      return { kind: "error", message: `cannot stat '${this.shown(abs)}': ${messageOf(e)}` };
    }
    if (!st) return { kind: "missing" };
    if (st.kind === "file") return this.hashFile(abs, algo, st);
    if (st.kind === "dir") {
      const k = `${algo}\0${abs}`;
      let p = this.dirs.get(k);
      if (!p) {
        p = this.hashDir(abs, algo);
        this.dirs.set(k, p);
      }
      return p;
    }
    return { kind: "error", message: `'${this.shown(abs)}' is not a regular file or directory` };
  }

  /**
   * Forgets memoised results for `absPath`, everything under it and every directory above it (call after something
   * wrote there in this process).
   */
  invalidate(absPath: string): void {
    const abs = path.resolve(absPath);
    const under = abs + path.sep;
    for (const algo of ALGOS) this.files.delete(`${algo}\0${abs}`);
    // Files below `abs` only exist when it is (or was, in this process) a directory: scan the memo only then, so
    // invalidating the file outputs of 1,000 stages stays linear.
    let wasDir = false;
    for (const algo of ALGOS) if (this.dirs.has(`${algo}\0${abs}`)) wasDir = true;
    if (wasDir || this.fs.stat(abs)?.kind === "dir") {
      for (const k of [...this.files.keys()]) {
        const p = k.slice(k.indexOf("\0") + 1);
        if (p.startsWith(under)) this.files.delete(k);
      }
    }
    for (const k of [...this.dirs.keys()]) {
      const p = k.slice(k.indexOf("\0") + 1);
      if (p === abs || p.startsWith(under) || abs.startsWith(p + path.sep)) this.dirs.delete(k);
    }
  }

  /**
   * What `hashPath(absTop)` leaves out of directory `absTop`, for code that walks it itself (checkout, which must
   * leave alone what is not part of a directory output). A path below `absTop` is left out when the walk would skip
   * it or a directory on its way down from `absTop`: the ignore rules above and inside, the default names, and
   * subdirectories that are projects of their own. Outside the project root nothing is. The test reads each
   * directory's ignore files once, when first asked about it: make a new one after changing them.
   */
  ignoreTest(absTop: string): IgnoreTest {
    const top = path.resolve(absTop);
    const topKey = this.stateKey(top);
    const topRel = topKey === "" ? "" : `${topKey}/`;
    /** By root-relative directory (trailing slash): the rules in force inside it, or null when it is left out. */
    const dirs = new Map<string, WalkIgnore | null>();
    const at = (relDir: string, dirAbs: string): WalkIgnore | null => {
      let here = dirs.get(relDir);
      if (here !== undefined) return here;
      let ign: WalkIgnore;
      let entries: ReturnType<HashFs["readdir"]> | undefined;
      if (relDir === topRel) {
        // Inside the root (the test checks first), so there are rules above, if only none.
        ign = { matchers: activeMatchers(this.ignoreRulesAbove(top, topKey) ?? []), ids: [] };
      } else {
        const parentRel = relDir.slice(0, relDir.lastIndexOf("/", relDir.length - 2) + 1);
        const parent = at(parentRel, path.dirname(dirAbs));
        const name = relDir.slice(parentRel.length, -1);
        if (parent === null || this.ignored(parent, parentRel, name, true)) here = null;
        else {
          try {
            entries = this.fs.readdir(dirAbs);
          } catch (e) {
            throw new HashError(`cannot list '${this.shown(dirAbs)}': ${messageOf(e)}`);
          }
          // A project of its own, as the walk finds it.
          if (entries.some((e) => PROJECT_DIRS.includes(e.name))) here = null;
        }
        if (here === null) {
          dirs.set(relDir, null);
          return null;
        }
        ign = parent!;
      }
      let found: IgnoreSource[];
      try {
        found = readIgnoreFiles(dirAbs, relDir, entries && ((name) => entries.some((e) => e.name === name)));
      } catch (e) {
        throw new HashError(`cannot read the ignore rules in '${this.shown(dirAbs)}': ${messageOf(e)}`);
      }
      here = found.length > 0 ? { matchers: [...ign.matchers, ...activeMatchers(found)], ids: [] } : ign;
      dirs.set(relDir, here);
      return here;
    };
    const inside = top === this.root || top.startsWith(this.rootSlash);
    return (absPath, isDir) => {
      const abs = path.resolve(absPath);
      // Outside the root nothing is left out, as in DVC; nor is anything outside `absTop`, which is not its business.
      if (!inside || !abs.startsWith(top + path.sep)) return false;
      try {
        if (isDir) return at(`${this.stateKey(abs)}/`, abs) === null;
        const rel = this.stateKey(abs);
        const parentRel = rel.slice(0, rel.lastIndexOf("/") + 1);
        const parent = at(parentRel, path.dirname(abs));
        return parent === null || this.ignored(parent, parentRel, rel.slice(parentRel.length), false);
      } catch (e) {
        if (e instanceof HashError) return { error: e.message };
        throw e;
      }
    };
  }

  /** Persists what the stat cache learnt. `false` when it could not be written (read-only project). */
  save(): boolean {
    return this.state.save();
  }

  private shown(abs: string): string {
    const rel = path.relative(this.root, abs);
    return rel === "" ? "." : rel.split(path.sep).join("/");
  }

  private stateKey(abs: string): string {
    if (path.sep === "/" && abs.startsWith(this.rootSlash)) return abs.slice(this.rootSlash.length);
    return path.relative(this.root, abs).split(path.sep).join("/");
  }

  /** `queued`: the bytes were counted in `bytesQueued` already (a directory counts its files at once). */
  private hashFile(abs: string, algo: HashAlgo, st: FsStat, queued = false): Promise<HashOutcome> {
    const k = `${algo}\0${abs}`;
    const m = this.files.get(k);
    if (m && m.st.ino === st.ino && m.st.size === st.size && m.st.mtimeNs === st.mtimeNs) return m.outcome;
    const rel = this.stateKey(abs);
    const cached = this.state.get(algo, rel, st);
    let outcome: Promise<HashOutcome>;
    if (cached !== undefined) {
      this.stats.statCacheHits++;
      outcome = Promise.resolve({ kind: "file", algo, hash: cached, size: st.size });
    } else {
      if (!queued) this.stats.bytesQueued += st.size;
      outcome = this.readAndHash(abs, rel, algo, st);
    }
    this.files.set(k, { st, outcome });
    return outcome;
  }

  private async readAndHash(abs: string, rel: string, algo: HashAlgo, st: FsStat): Promise<HashOutcome> {
    if (this.reading >= this.concurrency * 2) await new Promise<void>((r) => this.waiting.push(r));
    this.reading++;
    try {
      return await this.readAndHashNow(abs, rel, algo, st);
    } finally {
      this.reading--;
      this.waiting.shift()?.();
    }
  }

  private async readAndHashNow(abs: string, rel: string, algo: HashAlgo, st: FsStat): Promise<HashOutcome> {
    const startedNs = this.now();
    const pool = this.workers && algo !== "legacy-md5" && st.size >= (poolStarted() ? POOL_MIN_FILE_BYTES : POOL_START_FILE_BYTES) ? hashPool() : undefined;
    if (pool && algo !== "legacy-md5") {
      let r = { lost: true } as PoolResult;
      await pool.hashAll([{ abs, algo }], (_, res) => void (r = res), (read) => void (this.stats.bytesRead += read));
      if ("error" in r) return { kind: "error", message: `cannot read '${this.shown(abs)}': ${r.error}` };
      if ("hash" in r) {
        this.stats.filesRead++;
        if (r.bytes === st.size && st.mtimeNs + this.racyWindowNs <= startedNs) this.state.set(algo, rel, st, r.hash);
        return { kind: "file", algo, hash: r.hash, size: r.bytes };
      }
      // The worker died: read it here after all (what it had read counts again; progress may pass 100%, briefly).
    }
    try {
      const d = await createDigest(algo);
      let n = 0;
      // A small file is read in one chunk sized to it (a 4 MiB buffer per small file would dominate); for legacy md5
      // that is still exactly DVC's chunking, since the whole file fits in its first 1 MiB chunk.
      for await (const chunk of this.fs.readChunks(abs, Math.min(chunkSizeFor(algo), Math.max(4096, st.size + 1)))) {
        d.update(chunk);
        n += chunk.length;
        this.stats.bytesRead += chunk.length;
      }
      this.stats.filesRead++;
      const hash = d.digest();
      // Only a file that was read whole and unchanged is worth remembering; a short read means it changed under us.
      if (n === st.size && st.mtimeNs + this.racyWindowNs <= startedNs) this.state.set(algo, rel, st, hash);
      return { kind: "file", algo, hash, size: n };
    } catch (e) {
      return { kind: "error", message: `cannot read '${this.shown(abs)}': ${messageOf(e)}` };
    }
  }

  /**
   * The hash of directory `absPath` when the stat cache answers it from the fingerprint of its listing, with nothing
   * read; undefined when it cannot (the listing changed, or the walk failed). For a caller that only asks whether a
   * directory is still what it was (the status memo), and would rather hear "don't know" than hash anything.
   */
  peekDir(absPath: string, algo: HashAlgo): string | undefined {
    const abs = isNormalAbsolute(absPath) ? absPath : path.resolve(absPath);
    const l = this.listDir(abs);
    return "error" in l ? undefined : this.state.getDir(algo, l.dirKey, l.fingerprint);
  }

  /** Walks a directory (see `walk`) and fingerprints its listing, the ignore rules that applied included. */
  private listDir(abs: string): { files: Listing; dirKey: string; relStart: number; fingerprint: string } | { error: string } {
    const files = new Listing();
    const dirKey = this.stateKey(abs);
    let ign: WalkIgnore | undefined;
    try {
      const above = this.ignoreRulesAbove(abs, dirKey);
      if (above) ign = { matchers: activeMatchers(above), ids: above.map((x) => x.id) };
      this.walk(abs, new Set(), files, ign, dirKey === "" ? "" : `${dirKey}/`, true);
    } catch (e) {
      if (e instanceof HashError) return { error: e.message };
      return { error: `cannot list '${this.shown(abs)}': ${messageOf(e)}` };
    }
    const relStart = abs.endsWith(path.sep) ? abs.length : abs.length + 1;
    return { files, dirKey, relStart, fingerprint: files.fingerprint(relStart, ign ? JSON.stringify([RULES_VERSION, ...ign.ids]) : "") };
  }

  private async hashDir(abs: string, algo: HashAlgo): Promise<HashOutcome> {
    // Taken before the first stat: a file modified after this is racy for the directory's record (see below).
    const startedNs = this.now();
    const l = this.listDir(abs);
    if ("error" in l) return { kind: "error", message: l.error };
    const { files, dirKey, relStart, fingerprint } = l;

    // Fast path: the listing is the one the stat cache recorded with a hash (every file's relpath, inode, size and
    // mtime unchanged), so that hash is the answer; no per-file lookup, manifest or digest.
    const known = this.state.getDir(algo, dirKey, fingerprint);
    if (known !== undefined) {
      // The manifest is built only if a caller asks for it (storing the directory in the cache); the building may
      // have to hash a file synchronously, see `dirOnDemand`.
      await prepareDigest(algo);
      this.stats.statCacheHits += files.length;
      this.stats.dirCacheHits++;
      return this.dirOnDemand(algo, known, files, relStart);
    }

    const n = files.length;
    const stats = Array.from({ length: n }, (_, i) => files.stat(i));
    const entries: ManifestEntry[] = new Array<ManifestEntry>(n);
    const pending: number[] = [];
    // Stat-cache hits resolve without a promise per file.
    for (let i = 0; i < n; i++) {
      const st = stats[i]!;
      const cached = this.state.get(algo, this.stateKey(files.abs[i]!), st);
      if (cached !== undefined) {
        this.stats.statCacheHits++;
        entries[i] = { relpath: relpathOf(files.abs[i]!, relStart), hash: cached, size: st.size };
      } else pending.push(i);
    }
    let failure: string | undefined;
    let next = 0;
    let pendingBytes = 0;
    for (const i of pending) pendingBytes += stats[i]!.size;
    this.stats.bytesQueued += pendingBytes;
    const poolAlgo = algo === "legacy-md5" ? undefined : algo;
    const pool = this.workers && poolAlgo && pending.length >= POOL_MIN_FILES && pendingBytes >= POOL_MIN_BYTES ? hashPool() : undefined;
    const lost: number[] = [];
    if (pool && poolAlgo) {
      await pool.hashAll(
        pending.map((i) => ({ abs: files.abs[i]!, algo: poolAlgo })),
        (k, r) => {
          const i = pending[k]!;
          const fileAbs = files.abs[i]!;
          if ("lost" in r) {
            lost.push(i);
            return;
          }
          if ("error" in r) {
            failure ??= `cannot read '${this.shown(fileAbs)}': ${r.error}`;
            return;
          }
          const st = stats[i]!;
          this.stats.filesRead++;
          entries[i] = { relpath: relpathOf(fileAbs, relStart), hash: r.hash, size: r.bytes };
          const outcome: HashOutcome = { kind: "file", algo, hash: r.hash, size: r.bytes };
          this.files.set(`${algo}\0${fileAbs}`, { st, outcome: Promise.resolve(outcome) });
          // As for a file read on the main thread: remembered only when read whole and not modified lately (the
          // walk's start stands in for the read's, which is earlier, so it is the stricter test).
          if (r.bytes === st.size && st.mtimeNs + this.racyWindowNs <= startedNs) this.state.set(algo, this.stateKey(fileAbs), st, r.hash);
        },
        (read) => void (this.stats.bytesRead += read),
      );
    }
    // Without a pool, every unread file; after it, those a dying worker lost.
    const todo = pool && poolAlgo ? lost : pending;
    const worker = async (): Promise<void> => {
      while (next < todo.length && failure === undefined) {
        const i = todo[next++]!;
        const fileAbs = files.abs[i]!;
        const r = await this.hashFile(fileAbs, algo, stats[i]!, true);
        if (r.kind === "file") entries[i] = { relpath: relpathOf(fileAbs, relStart), hash: r.hash, size: r.size };
        else failure ??= r.kind === "error" ? r.message : `'${this.shown(fileAbs)}' disappeared while hashing`;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, todo.length) }, worker));
    if (failure !== undefined) return { kind: "error", message: failure };
    // The directory's record is as trustworthy as its files' records: written only when every file's hash is in the
    // stat cache for the stat we walked (a file read now and found racy, or changed while read, is not) and no file
    // was modified within the racy window before the walk began, as `state.ts` does for single files.
    let recordable = files.newestMtimeNs === undefined || files.newestMtimeNs + this.racyWindowNs <= startedNs;
    for (let j = 0; recordable && j < pending.length; j++) {
      const i = pending[j]!;
      recordable = this.state.get(algo, this.stateKey(files.abs[i]!), stats[i]!) === entries[i]!.hash;
    }
    sortEntries(entries);
    const bytes = serializeManifest(algo, entries);
    const hash = `${await digestBytes(algo, bytes)}.dir`;
    let size = 0;
    for (const e of entries) size += e.size;
    if (recordable) this.state.setDir(algo, dirKey, fingerprint, hash);
    return { kind: "dir", algo, hash, size, nfiles: n, manifest: { algo, entries, bytes } };
  }

  /**
   * The result of a fingerprint hit. Its manifest (only `repro` and `commit` need one, to store a directory output in
   * the cache) is rebuilt on first access from the stat cache, which held every file's hash when the fingerprint was
   * recorded. A file whose entry has gone since (replaced by one for another stat, the file then renamed back) is
   * hashed there and then, synchronously: the property cannot wait. Should the rebuilt manifest not hash to `hash`,
   * the cache refuses to store it (`storeOutput` checks), so the worst case is an error, never a corrupt object.
   */
  private dirOnDemand(algo: HashAlgo, hash: string, files: Listing, relStart: number): HashedDir {
    let manifest: DirManifest | undefined;
    const build = (): DirManifest => {
      const n = files.length;
      const entries = new Array<ManifestEntry>(n);
      for (let i = 0; i < n; i++) {
        const fileAbs = files.abs[i]!;
        const st = files.stat(i);
        const h = this.state.get(algo, this.stateKey(fileAbs), st) ?? this.hashFileSync(fileAbs, algo, st.size);
        entries[i] = { relpath: relpathOf(fileAbs, relStart), hash: h, size: st.size };
      }
      sortEntries(entries);
      return { algo, entries, bytes: serializeManifest(algo, entries) };
    };
    return {
      kind: "dir",
      algo,
      hash,
      size: files.totalSize,
      nfiles: files.length,
      get manifest(): DirManifest {
        return (manifest ??= build());
      },
    };
  }

  /** A file's hash without awaiting (see `dirOnDemand`); `` when it cannot be read, which no manifest check passes. */
  private hashFileSync(abs: string, algo: HashAlgo, size: number): string {
    const d = createDigestSync(algo);
    if (!d) return "";
    try {
      let n = 0;
      for (const chunk of readChunksSync(abs, Math.min(chunkSizeFor(algo), Math.max(4096, size + 1)))) {
        d.update(chunk);
        n += chunk.length;
      }
      this.stats.bytesRead += n;
      this.stats.filesRead++;
      return d.digest();
    } catch {
      return "";
    }
  }

  /**
   * The ignore files that apply inside directory `abs` from above it (the root's, and each directory's down to its
   * parent; its own are read by the walk), or undefined outside the project root, where nothing is ignored. Each
   * directory's files are read once per invocation.
   */
  private ignoreRulesAbove(abs: string, rel: string): IgnoreSource[] | undefined {
    if (abs !== this.root && !abs.startsWith(this.rootSlash)) return undefined;
    const out: IgnoreSource[] = [];
    if (rel === "") return out;
    // `base`: each directory from the root down to the parent of `rel`.
    for (let base = ""; ; ) {
      let here = this.ignoreFilesAbove.get(base);
      if (!here) {
        try {
          here = readIgnoreFiles(base === "" ? this.root : path.join(this.root, base), base);
        } catch (e) {
          throw new HashError(`cannot read the ignore rules in '${base === "" ? "." : base.slice(0, -1)}': ${messageOf(e)}`);
        }
        this.ignoreFilesAbove.set(base, here);
      }
      out.push(...here);
      const slash = rel.indexOf("/", base.length);
      if (slash < 0) return out;
      base = rel.slice(0, slash + 1);
    }
  }

  /**
   * Appends every file under `dirAbs` to `out`, depth first in directory order, following symlinks. With `ign` (a
   * directory inside the project root, `relDir` its root-relative path with a trailing slash), what the ignore rules
   * leave out is skipped: see `ignore.ts`.
   */
  private walk(dirAbs: string, seen: Set<string>, out: Listing, ign: WalkIgnore | undefined, relDir: string, top: boolean): void {
    const dst = this.fs.stat(dirAbs);
    if (dst) {
      const id = `${dst.dev}:${dst.ino}`;
      if (seen.has(id)) throw new HashError(`symlink loop at '${this.shown(dirAbs)}'`);
      seen.add(id);
    }
    const entries = this.fs.readdir(dirAbs);
    if (ign) {
      let ignoreFiles = false;
      for (const e of entries) {
        // Every name this looks for starts with a dot: one comparison for all the others.
        if (e.name.charCodeAt(0) !== DOT) continue;
        // A subdirectory that is a project of its own (DVC's subrepo) is not part of this directory.
        if (!top && PROJECT_DIRS.includes(e.name)) {
          if (dst) seen.delete(`${dst.dev}:${dst.ino}`);
          return;
        }
        if (e.name === ".pipeignore" || e.name === ".dvcignore") ignoreFiles = true;
      }
      if (ignoreFiles) {
        let found: IgnoreSource[];
        try {
          found = readIgnoreFiles(dirAbs, relDir, (name) => entries.some((e) => e.name === name));
        } catch (e) {
          throw new HashError(`cannot read the ignore rules in '${this.shown(dirAbs)}': ${messageOf(e)}`);
        }
        if (found.length > 0) {
          ign = { matchers: [...ign.matchers, ...activeMatchers(found)], ids: ign.ids };
          for (const x of found) ign.ids.push(x.id);
        }
      }
    }
    for (const ent of entries) {
      // pipe's own temp files, left by a killed process, are not the directory's content (`isPipeTempName`).
      if (ent.name.charCodeAt(0) === DOT && isPipeTempName(ent.name)) continue;
      const childAbs = childOf(dirAbs, ent.name);
      let kind = ent.type;
      // Ignored entries are skipped before their stat where the listing already tells a directory from the rest.
      if (ign && kind !== "symlink" && this.ignored(ign, relDir, ent.name, kind === "dir")) continue;
      let st: FsStat | undefined;
      if (kind === "symlink" || kind === "file") {
        st = this.fs.stat(childAbs);
        if (!st) {
          if (kind === "symlink") {
            if (ign && this.ignored(ign, relDir, ent.name, false)) continue;
            throw new HashError(`broken symlink '${this.shown(childAbs)}'`);
          }
          continue; // deleted between readdir and stat
        }
        if (ign && kind === "symlink" && this.ignored(ign, relDir, ent.name, st.kind === "dir")) continue;
        kind = st.kind;
      }
      if (kind === "dir") this.walk(childAbs, seen, out, ign, ign ? `${relDir}${ent.name}/` : relDir, false);
      else if (kind === "file" && st) out.add(childAbs, st);
      else throw new HashError(`'${this.shown(childAbs)}' is a special file (not a regular file, directory or symlink)`);
    }
    if (dst) seen.delete(`${dst.dev}:${dst.ino}`);
  }

  private ignored(ign: WalkIgnore, relDir: string, name: string, isDir: boolean): boolean {
    // The default rules only name dot files; without ignore files nothing else is ever left out.
    if (name.charCodeAt(0) === DOT && ignoredByDefault(name, isDir)) return true;
    return ign.matchers.length > 0 && ignoredBy(ign.matchers, `${relDir}${name}${isDir ? "/" : ""}`);
  }
}

/**
 * The matchers of ignore files that hold rules. A file of comments only (the `.dvcignore` that `dvc init` writes)
 * would cost a test per file for nothing; it still counts in the fingerprint's identity of the rules.
 */
function activeMatchers(sources: readonly IgnoreSource[]): IgnoreMatcher[] {
  return sources.filter((x) => x.matcher.ig.empty !== true).map((x) => x.matcher);
}

/** `dirAbs`/`name`: a plain concatenation on POSIX (both are normalised already), `path.join` elsewhere. */
function childOf(dirAbs: string, name: string): string {
  if (path.sep !== "/") return path.join(dirAbs, name);
  return dirAbs.endsWith("/") ? dirAbs + name : `${dirAbs}/${name}`;
}

/** The POSIX relpath of a file of the walk (its path from `relStart` on). */
function relpathOf(fileAbs: string, relStart: number): string {
  const rel = fileAbs.slice(relStart);
  return path.sep === "/" ? rel : rel.split(path.sep).join("/");
}

/** Already absolute and normalised (no `.`/`..` segments, no doubled or trailing slash): skip `path.resolve`. */
function isNormalAbsolute(p: string): boolean {
  // `/.` also rejects hidden names (`/a/.cache`), which then merely take the slow path.
  return path.sep === "/" && p.startsWith("/") && !p.includes("//") && !p.endsWith("/") && !p.includes("/.");
}

function messageOf(e: unknown): string {
  if (typeof e === "object" && e !== null && "code" in e) return String((e as { code: unknown }).code);
  return e instanceof Error ? e.message : String(e);
}
