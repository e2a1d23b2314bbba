/**
 * The stat cache, `.pipe/state`: (path, inode, size, mtime_ns) -> hash, so a file whose stat has not changed is
 * never read again. It is what makes a no-op `status` a walk of stats and string compares, like ninja's.
 *
 * On disk it is an append-only log, one entry per line, later lines winning:
 *
 *     pipe-state 2
 *     <algo> <path>\t<ino>\t<size>\t<mtime_ns>\t<hash>
 *
 * with `path` relative to the project root (POSIX; paths holding a tab or a line break are never stored). The key
 * comes first and the rest of the line is kept as one string, compared against `<ino>\t<size>\t<mtime_ns>\t` of a
 * fresh stat: loading 100,000 entries is two slices per line, and a lookup is one concatenation and `startsWith`.
 * Loading is lazy, though: the first few lookups search the raw log for their line instead (a native backwards scan of
 * the bytes, ~1/20 of a parse), and only the next one parses it. A no-op `status` of one stage whose dep is a
 * directory of 100,000 files asks for a handful of keys (the directory's record, the other deps and outs), and
 * parsing those 100,000 lines, and collecting them, was ~10 % of its time. Saving appends only the entries learnt in
 * this process, in one `write` (O_APPEND), so concurrent readers never block and concurrent writers at worst duplicate lines; when the
 * log holds much more than its live entries it is rewritten compacted (temp file + rename). A line that does not
 * parse (a torn write) is skipped. A torn last line (no line break: a write that was cut short) is closed with a
 * line break before the next append, so it cannot swallow the first new entry; the torn line then reads as a
 * complete one, so a hash is trusted only at its algorithm's full length. The file is a cache: losing it costs one
 * re-hash, never correctness.
 *
 * Racy entries (the racy-git problem): a file modified within `racyWindowNs` before its hash was taken could be
 * modified again within the same timestamp tick without its stat changing. Such hashes are used for this process but
 * never written, so the next run re-reads the file once, when its mtime is safely in the past.
 *
 * Directories have entries of their own, in the same log, keyed `dir1:<algo> <path>`:
 *
 *     dir1:<algo> <path>\t<fingerprint>\t<hash>.dir
 *
 * where the fingerprint summarises the directory's listing (`listing.ts`). The key prefix is the version of that
 * record: a pipe that predates it never asks for such a key (its keys start with the algorithm), so it reads, keeps
 * and compacts these lines like any other and is otherwise unaffected, and the header stays `pipe-state 2` so that
 * older and newer pipes in one project keep sharing the file instead of each discarding the other's. A changed record
 * format gets a new prefix (`dir2:`), and lines with an unknown prefix or a value that does not parse never match.
 * A directory entry is written only when none of its files is racy (the hasher checks that), for the same reason as
 * above.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import type { HashAlgo } from "./algorithms.js";
import type { FsStat } from "./fs.js";
import { readSmallFileSync } from "./fs.js";

const HEADER = "pipe-state 2";

/**
 * How long after its last modification a file may still change without its stat changing (the racy-git problem, see
 * below): nothing trusts a file by its stat before this has passed. Timestamps tick at 1 s on some file systems, so
 * 2 s leaves a margin. Shared by every cache that trusts stats (this one, the load cache, the status memo, the
 * cache's verified-object log).
 */
export const RACY_WINDOW_NS = 2_000_000_000n;
/** Key prefix of directory records (and their format version, see above). */
const DIR_PREFIX = "dir1:";

/** The digest length of each algorithm in hex digits: a shorter value is a torn line, never a hash. */
const HEX_LENGTH: Record<HashAlgo, number> = { xxh64: 16, md5: 32, "legacy-md5": 32 };

function isHex(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

export interface StatCacheOptions {
  /** Absolute path of `.pipe/state`; undefined keeps the cache in memory only. */
  file?: string;
  /** Compact when the log has more than `factor` lines per live entry (and at least `minLines`). */
  compactFactor?: number;
  compactMinLines?: number;
}

export class StatCache {
  /**
   * `<algo> <path>` -> `<ino>\t<size>\t<mtime_ns>\t<hash>` (and directory records, see above). Before the log is
   * parsed, only what this process set; after, the log with those on top.
   */
  private readonly entries = new Map<string, string>();
  private readonly fresh = new Map<string, string>();
  /** The log as read, until it is parsed (see `lookup`). */
  private raw: Buffer | undefined;
  private scans = 0;
  private lines = 0;
  private readonly file: string | undefined;
  private readonly compactFactor: number;
  private readonly compactMinLines: number;

  constructor(opts: StatCacheOptions = {}) {
    this.file = opts.file;
    this.compactFactor = opts.compactFactor ?? 2;
    this.compactMinLines = opts.compactMinLines ?? 1000;
    if (this.file) this.load(this.file);
  }

  private load(file: string): void {
    let buf: Buffer | undefined;
    try {
      buf = readSmallFileSync(file);
    } catch {
      return; // unreadable: behave as empty, the log is only a cache
    }
    if (!buf) return;
    const nl = buf.indexOf(0x0a);
    if (nl < 0 || buf.toString("latin1", 0, nl) !== HEADER) return;
    this.raw = buf;
  }

  /** Parses the whole log into `entries`; what this process set before stays on top. */
  private parse(): void {
    const buf = this.raw;
    if (!buf) return;
    this.raw = undefined;
    const own = [...this.entries];
    this.entries.clear();
    const text = buf.toString("utf8");
    let pos = text.indexOf("\n") + 1;
    while (pos < text.length) {
      const end = text.indexOf("\n", pos);
      if (end < 0) break; // a torn last line (no newline yet) is ignored
      const tab = text.indexOf("\t", pos);
      this.lines++;
      // A malformed rest of line is harmless: it never matches a stat prefix, or its hash fails `isHex` in `get`.
      if (tab > pos && tab < end) this.entries.set(text.slice(pos, tab), text.slice(tab + 1, end));
      pos = end + 1;
    }
    for (const [k, v] of own) this.entries.set(k, v);
  }

  /** The value of `key`: from `entries`, else by scanning the raw log while fewer than `MAX_SCANS` lookups did. */
  private lookup(key: string): string | undefined {
    const v = this.entries.get(key);
    if (v !== undefined || this.raw === undefined) return v;
    // No stored key holds a tab or a line break (`set` refuses them); a needle holding one could match across lines.
    if (key.includes("\n") || key.includes("\t")) return undefined;
    if (++this.scans > MAX_SCANS) {
      this.parse();
      return this.entries.get(key);
    }
    return scanLog(this.raw, key);
  }

  /** Number of live entries (for tests and diagnostics). */
  get size(): number {
    this.parse();
    return this.entries.size;
  }

  /** The cached hash of `relPath` if its stat still matches. */
  get(algo: HashAlgo, relPath: string, st: FsStat): string | undefined {
    const v = this.lookup(`${algo} ${relPath}`);
    if (v === undefined) return undefined;
    const prefix = `${st.ino}\t${st.size}\t${st.mtimeNs}\t`;
    if (!v.startsWith(prefix)) return undefined;
    const hash = v.slice(prefix.length);
    return hash.length === HEX_LENGTH[algo] && isHex(hash) ? hash : undefined;
  }

  /** The cached `<hash>.dir` of the directory `relPath` if its listing's fingerprint is still `fingerprint`. */
  getDir(algo: HashAlgo, relPath: string, fingerprint: string): string | undefined {
    const v = this.lookup(`${DIR_PREFIX}${algo} ${relPath}`);
    if (v === undefined || fingerprint === "" || !v.startsWith(fingerprint) || v.charCodeAt(fingerprint.length) !== 0x09) return undefined;
    const hash = v.slice(fingerprint.length + 1);
    return hash.length === HEX_LENGTH[algo] + 4 && hash.endsWith(".dir") && isHex(hash.slice(0, -4)) ? hash : undefined;
  }

  /** Remembers a directory's hash with the fingerprint of the listing it was computed from. */
  setDir(algo: HashAlgo, relPath: string, fingerprint: string, hash: string): void {
    if (relPath.includes("\n") || relPath.includes("\t") || relPath === "") return;
    const k = `${DIR_PREFIX}${algo} ${relPath}`;
    const v = `${fingerprint}\t${hash}`;
    if (this.lookup(k) === v) return;
    this.entries.set(k, v);
    this.fresh.set(k, v);
  }

  /** Remembers a hash learnt in this process; written by `save` unless superseded. */
  set(algo: HashAlgo, relPath: string, st: FsStat, hash: string): void {
    if (relPath.includes("\n") || relPath.includes("\t") || relPath === "") return;
    const k = `${algo} ${relPath}`;
    const v = `${st.ino}\t${st.size}\t${st.mtimeNs}\t${hash}`;
    if (this.lookup(k) === v) return;
    this.entries.set(k, v);
    this.fresh.set(k, v);
  }

  /** Entries learnt since the last save. */
  get pending(): number {
    return this.fresh.size;
  }

  /**
   * Appends what this process learnt (or rewrites the log compacted when it has grown). Errors are swallowed and
   * reported as `false`: a read-only project still gets a correct, only slower, status.
   */
  save(): boolean {
    if (!this.file || this.fresh.size === 0) return true;
    try {
      this.parse(); // compaction needs the live entries, and appending the line count
      mkdirSync(path.dirname(this.file), { recursive: true });
      const total = this.lines + this.fresh.size;
      if (this.lines === 0 || (total > this.compactMinLines && total > this.compactFactor * this.entries.size)) {
        const tmp = `${this.file}.tmp-${process.pid}`;
        const body: string[] = [HEADER];
        for (const [k, v] of this.entries) body.push(`${k}\t${v}`);
        try {
          writeFileSync(tmp, body.join("\n") + "\n");
          renameSync(tmp, this.file);
        } catch (e) {
          // A full disk stops the write half-way: the partial copy must not stay and take the space.
          rmSync(tmp, { force: true });
          throw e;
        }
        this.lines = this.entries.size;
      } else {
        const body: string[] = [];
        for (const [k, v] of this.fresh) body.push(`${k}\t${v}`);
        appendLines(this.file, body.join("\n") + "\n");
        this.lines = total;
      }
      this.fresh.clear();
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Appends `text` (whole lines) to the log in one write, after a line break when the log does not end with one (a
 * torn last line), so that its first line stays a line of its own.
 */
function appendLines(file: string, text: string): void {
  const fd = openSync(file, "a+");
  try {
    const size = fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) text = "\n" + text;
    }
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * Lookups answered by scanning the raw log before it is parsed: a scan costs ~1/20 of a parse, so a process that
 * needs more keys than this wastes at most ~40 % of one parse, and one that needs fewer saves it whole.
 */
const MAX_SCANS = 8;

/** The rest of the last complete line of `log` whose key is `key`, as parsing the whole log would give it. */
function scanLog(log: Buffer, key: string): string | undefined {
  // The header is the first line, so every entry line follows a line break.
  const needle = Buffer.from(`\n${key}\t`, "utf8");
  let from = log.length - needle.length;
  while (from > 0) {
    const at = log.lastIndexOf(needle, from);
    if (at < 0) return undefined;
    const start = at + needle.length;
    const end = log.indexOf(0x0a, start);
    if (end >= 0) return log.toString("utf8", start, end);
    from = at - 1; // a torn last line: an earlier complete line may hold the key
  }
  return undefined;
}
