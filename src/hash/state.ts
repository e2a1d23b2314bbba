/**
 * The stat cache, `.pipe/state`: (path, inode, size, mtime_ns) -> hash, so a file whose stat has not changed is
 * never read again. It is what makes a no-op `status` a walk of stats and string compares, like ninja's.
 *
 * On disk it is an append-only log, one entry per line, later lines winning:
 *
 *     pipe-state 1
 *     <algo>\t<ino>\t<size>\t<mtime_ns>\t<hash>\t<path>
 *
 * with `path` relative to the project root (POSIX). Saving appends only the entries learnt in this process, in one
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

const HEADER = "pipe-state 1";

interface StateRecord {
  ino: string;
  size: number;
  mtimeNs: string;
  hash: string;
}

const ALGOS: ReadonlySet<string> = new Set(["xxh64", "md5", "legacy-md5"]);
function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

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
  private readonly entries = new Map<string, StateRecord>();
  private readonly fresh = new Map<string, StateRecord>();
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
      const line = text.slice(pos, end);
      pos = end + 1;
      this.lines++;
      // Fields by hand (no split, no regex per field): loading 10,000 entries must cost a few milliseconds.
      const t1 = line.indexOf("\t");
      const t2 = line.indexOf("\t", t1 + 1);
      const t3 = line.indexOf("\t", t2 + 1);
      const t4 = line.indexOf("\t", t3 + 1);
      const t5 = line.indexOf("\t", t4 + 1);
      if (t1 < 0 || t2 < 0 || t3 < 0 || t4 < 0 || t5 < 0 || t5 === line.length - 1) continue;
      const algo = line.slice(0, t1);
      const ino = line.slice(t1 + 1, t2);
      const size = Number(line.slice(t2 + 1, t3));
      const mtimeNs = line.slice(t3 + 1, t4);
      const hash = line.slice(t4 + 1, t5);
      if (!ALGOS.has(algo) || !isDigits(ino) || !Number.isSafeInteger(size) || size < 0 || !isDigits(mtimeNs) || !isHex(hash)) continue;
      this.entries.set(`${algo}\t${line.slice(t5 + 1)}`, { ino, size, mtimeNs, hash });
    }
  }

  /** Number of live entries (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  /** The cached hash of `relPath` if its stat still matches. */
  get(algo: HashAlgo, relPath: string, st: FsStat): string | undefined {
    const e = this.entries.get(key(algo, relPath));
    if (!e) return undefined;
    if (e.ino !== st.ino || e.size !== st.size || e.mtimeNs !== st.mtimeNs) return undefined;
    return e.hash;
  }

  /** Remembers a hash learnt in this process; written by `save` unless superseded. */
  set(algo: HashAlgo, relPath: string, st: FsStat, hash: string): void {
    if (relPath.includes("\n")) return;
    const k = key(algo, relPath);
    const prev = this.entries.get(k);
    if (prev && prev.hash === hash && prev.ino === st.ino && prev.size === st.size && prev.mtimeNs === st.mtimeNs) return;
    const rec = { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, hash };
    this.entries.set(k, rec);
    this.fresh.set(k, rec);
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
        for (const [k, e] of this.entries) body.push(line(k, e));
        writeFileSync(tmp, body.join("\n") + "\n");
        renameSync(tmp, this.file);
        this.lines = this.entries.size;
      } else {
        const body: string[] = [];
        for (const [k, e] of this.fresh) body.push(line(k, e));
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

function key(algo: HashAlgo, relPath: string): string {
  return `${algo}\t${relPath}`;
}

function line(k: string, e: StateRecord): string {
  const tab = k.indexOf("\t");
  return `${k.slice(0, tab)}\t${e.ino}\t${e.size}\t${e.mtimeNs}\t${e.hash}\t${k.slice(tab + 1)}`;
}
