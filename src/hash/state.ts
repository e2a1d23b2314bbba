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
 * fresh stat: loading 100,000 entries is two slices per line, and a lookup is one concatenation and `startsWith`. Saving appends only the entries learnt in this process, in one
 * `write` (O_APPEND), so concurrent readers never block and concurrent writers at worst duplicate lines; when the
 * log holds much more than its live entries it is rewritten compacted (temp file + rename). A line that does not
 * parse (a torn write) is skipped. The file is a cache: losing it costs one re-hash, never correctness.
 *
 * Racy entries (the racy-git problem): a file modified within `racyWindowNs` before its hash was taken could be
 * modified again within the same timestamp tick without its stat changing. Such hashes are used for this process but
 * never written, so the next run re-reads the file once, when its mtime is safely in the past.
 */
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { HashAlgo } from "./algorithms.js";
import type { FsStat } from "./fs.js";
import { readSmallFileSync } from "./fs.js";

const HEADER = "pipe-state 2";

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
  /** `<algo> <path>` -> `<ino>\t<size>\t<mtime_ns>\t<hash>`. */
  private readonly entries = new Map<string, string>();
  private readonly fresh = new Map<string, string>();
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
    const text = buf.toString("utf8");
    let pos = text.indexOf("\n");
    if (pos < 0 || text.slice(0, pos) !== HEADER) return;
    pos++;
    while (pos < text.length) {
      const end = text.indexOf("\n", pos);
      if (end < 0) break; // a torn last line (no newline yet) is ignored
      const tab = text.indexOf("\t", pos);
      this.lines++;
      // A malformed rest of line is harmless: it never matches a stat prefix, or its hash fails `isHex` in `get`.
      if (tab > pos && tab < end) this.entries.set(text.slice(pos, tab), text.slice(tab + 1, end));
      pos = end + 1;
    }
  }

  /** Number of live entries (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  /** The cached hash of `relPath` if its stat still matches. */
  get(algo: HashAlgo, relPath: string, st: FsStat): string | undefined {
    const v = this.entries.get(`${algo} ${relPath}`);
    if (v === undefined) return undefined;
    const prefix = `${st.ino}\t${st.size}\t${st.mtimeNs}\t`;
    if (!v.startsWith(prefix)) return undefined;
    const hash = v.slice(prefix.length);
    return isHex(hash) ? hash : undefined;
  }

  /** Remembers a hash learnt in this process; written by `save` unless superseded. */
  set(algo: HashAlgo, relPath: string, st: FsStat, hash: string): void {
    if (relPath.includes("\n") || relPath.includes("\t") || relPath === "") return;
    const k = `${algo} ${relPath}`;
    const v = `${st.ino}\t${st.size}\t${st.mtimeNs}\t${hash}`;
    if (this.entries.get(k) === v) return;
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
      mkdirSync(path.dirname(this.file), { recursive: true });
      const total = this.lines + this.fresh.size;
      if (this.lines === 0 || (total > this.compactMinLines && total > this.compactFactor * this.entries.size)) {
        const tmp = `${this.file}.tmp-${process.pid}`;
        const body: string[] = [HEADER];
        for (const [k, v] of this.entries) body.push(`${k}\t${v}`);
        writeFileSync(tmp, body.join("\n") + "\n");
        renameSync(tmp, this.file);
        this.lines = this.entries.size;
      } else {
        const body: string[] = [];
        for (const [k, v] of this.fresh) body.push(`${k}\t${v}`);
        appendFileSync(this.file, body.join("\n") + "\n");
        this.lines = total;
      }
      this.fresh.clear();
      return true;
    } catch {
      return false;
    }
  }
}

