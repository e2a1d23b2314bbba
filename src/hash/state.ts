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
const DIGITS = /^[0-9]+$/;
const HEX = /^[0-9a-f]+$/;

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
      const f = line.split("\t");
      if (f.length < 6) continue;
      const [algo, ino, size, mtimeNs, hash] = f as [string, string, string, string, string];
      const p = f.length === 6 ? f[5]! : f.slice(5).join("\t");
      if (!ALGOS.has(algo) || !DIGITS.test(ino) || !DIGITS.test(size) || !DIGITS.test(mtimeNs) || !HEX.test(hash) || p === "") continue;
      this.entries.set(key(algo as HashAlgo, p), { ino, size: Number(size), mtimeNs, hash });
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
