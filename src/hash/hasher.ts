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
 *   nothing), hash every file as above, build the manifest sorted by relpath, and hash the manifest bytes; the result
 *   is `<digest>.dir`, with the manifest attached so the cache can store it under that name.
 *
 * Files are re-stat'ed on every request, so a memoised file hash is reused only while its stat is unchanged;
 * directory results are memoised until `invalidate` is called on the directory, something inside it, or one of its
 * ancestors (`recordStage` does that for the outputs a stage just wrote).
 */
import path from "node:path";
import { chunkSizeFor, createDigest, digestBytes, type HashAlgo } from "./algorithms.js";
import { nodeHashFs, type FsStat, type HashFs } from "./fs.js";
import { serializeManifest, sortEntries, type DirManifest, type ManifestEntry } from "./manifest.js";
import { StatCache } from "./state.js";

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
}

export interface HasherStats {
  /** Content bytes read for hashing. */
  bytesRead: number;
  /** Files whose content was read. */
  filesRead: number;
  /** Files whose hash came from the stat cache. */
  statCacheHits: number;
}

const ALGOS: readonly HashAlgo[] = ["xxh64", "md5", "legacy-md5"];

const MISSING: HashOutcome = Object.freeze({ kind: "missing" }) as HashOutcome;

interface FileMemo {
  st: FsStat;
  outcome: Promise<HashOutcome>;
}

class HashError extends Error {}

export class Hasher {
  readonly root: string;
  private readonly rootSlash: string;
  readonly fs: HashFs;
  readonly state: StatCache;
  readonly stats: HasherStats = { bytesRead: 0, filesRead: 0, statCacheHits: 0 };
  private readonly now: () => bigint;
  private readonly racyWindowNs: bigint;
  private readonly concurrency: number;
  private readonly files = new Map<string, FileMemo>();
  // Reads in flight across the whole hasher, so many deps hashed at once never exhaust file descriptors.
  private reading = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly dirs = new Map<string, Promise<HashOutcome>>();

  constructor(opts: HasherOptions) {
    this.root = path.resolve(opts.root);
    this.rootSlash = this.root.endsWith("/") ? this.root : this.root + "/";
    this.fs = opts.fs ?? nodeHashFs;
    this.state = opts.statCache ?? new StatCache(opts.stateFile === undefined ? {} : { file: opts.stateFile });
    this.now = opts.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.racyWindowNs = opts.racyWindowNs ?? 2_000_000_000n;
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
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

  private hashFile(abs: string, algo: HashAlgo, st: FsStat): Promise<HashOutcome> {
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
    try {
      const d = await createDigest(algo);
      let n = 0;
      // A small file is read in one chunk sized to it (a 4 MiB buffer per small file would dominate); for legacy md5
      // that is still exactly DVC's chunking, since the whole file fits in its first 1 MiB chunk.
      for await (const chunk of this.fs.readChunks(abs, Math.min(chunkSizeFor(algo), Math.max(4096, st.size + 1)))) {
        d.update(chunk);
        n += chunk.length;
      }
      this.stats.bytesRead += n;
      this.stats.filesRead++;
      const hash = d.digest();
      // Only a file that was read whole and unchanged is worth remembering; a short read means it changed under us.
      if (n === st.size && BigInt(st.mtimeNs) + this.racyWindowNs <= startedNs) this.state.set(algo, rel, st, hash);
      return { kind: "file", algo, hash, size: n };
    } catch (e) {
      return { kind: "error", message: `cannot read '${this.shown(abs)}': ${messageOf(e)}` };
    }
  }

  private async hashDir(abs: string, algo: HashAlgo): Promise<HashOutcome> {
    const found: { relpath: string; abs: string; st: FsStat }[] = [];
    try {
      this.walk(abs, "", new Set(), found);
    } catch (e) {
      if (e instanceof HashError) return { kind: "error", message: e.message };
      return { kind: "error", message: `cannot list '${this.shown(abs)}': ${messageOf(e)}` };
    }
    const entries: ManifestEntry[] = new Array<ManifestEntry>(found.length);
    const pending: number[] = [];
    // Fast path: stat-cache hits resolve without a promise per file.
    for (let i = 0; i < found.length; i++) {
      const f = found[i]!;
      const cached = this.state.get(algo, this.stateKey(f.abs), f.st);
      if (cached !== undefined) {
        this.stats.statCacheHits++;
        entries[i] = { relpath: f.relpath, hash: cached, size: f.st.size };
      } else pending.push(i);
    }
    let failure: string | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pending.length && failure === undefined) {
        const i = pending[next++]!;
        const f = found[i]!;
        const r = await this.hashFile(f.abs, algo, f.st);
        if (r.kind === "file") entries[i] = { relpath: f.relpath, hash: r.hash, size: r.size };
        else failure ??= r.kind === "error" ? r.message : `'${this.shown(f.abs)}' disappeared while hashing`;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, pending.length) }, worker));
    if (failure !== undefined) return { kind: "error", message: failure };
    sortEntries(entries);
    const bytes = serializeManifest(algo, entries);
    const digest = await digestBytes(algo, bytes);
    let size = 0;
    for (const e of entries) size += e.size;
    return { kind: "dir", algo, hash: `${digest}.dir`, size, nfiles: entries.length, manifest: { algo, entries, bytes } };
  }

  private walk(dirAbs: string, prefix: string, seen: Set<string>, out: { relpath: string; abs: string; st: FsStat }[]): void {
    const dst = this.fs.stat(dirAbs);
    if (dst) {
      const id = `${dst.dev}:${dst.ino}`;
      if (seen.has(id)) throw new HashError(`symlink loop at '${this.shown(dirAbs)}'`);
      seen.add(id);
    }
    for (const ent of this.fs.readdir(dirAbs)) {
      const childAbs = path.join(dirAbs, ent.name);
      const rel = prefix === "" ? ent.name : `${prefix}/${ent.name}`;
      let kind = ent.type;
      let st: FsStat | undefined;
      if (kind === "symlink" || kind === "file") {
        st = this.fs.stat(childAbs);
        if (!st) {
          if (kind === "symlink") throw new HashError(`broken symlink '${this.shown(childAbs)}'`);
          continue; // deleted between readdir and stat
        }
        kind = st.kind;
      }
      if (kind === "dir") this.walk(childAbs, rel, seen, out);
      else if (kind === "file" && st) out.push({ relpath: rel, abs: childAbs, st });
      else throw new HashError(`'${this.shown(childAbs)}' is a special file (not a regular file, directory or symlink)`);
    }
    if (dst) seen.delete(`${dst.dev}:${dst.ino}`);
  }
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
