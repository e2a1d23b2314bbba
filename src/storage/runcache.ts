/**
 * The run-cache (spec 3): `.pipe/runs/<2>/<rest>` maps the hash of a stage's inputs to the hashes of the outputs
 * one successful run produced, so a stale stage whose exact inputs ran before is restored instead of re-run.
 *
 * The key is the hash of the canonical JSON of `{cmd, deps: [[path, hash]...], params, outs: [paths]}` with deps and
 * outs sorted by path (their declaration order does not change what the command computes). One entry per key: a
 * later run of the same inputs replaces it (the last outputs win, as they are also what the lock holds).
 * Entries are written atomically; an unreadable entry is a miss, never an error (the run-cache is rebuildable).
 */
import { lstat, readdir, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import { ok, type Result } from "../core/diagnostic.js";
import { envFailure } from "../core/env-error.js";
import { canonicalJson, defaultDigester, type Digester } from "./digest.js";
import { atomicWrite, ensureDirInside, errnoOf, TEMP_MARK } from "./fs.js";
import { isSafeRelpath } from "./manifest.js";
import { isObjectId } from "./store.js";

export const RUNS_DIR = ".pipe/runs";

export interface RunKeyInput {
  /** The interpolated command (a list stays a list). */
  cmd: string | readonly string[];
  /** [root path or URL, hash] of every dep. */
  deps: readonly (readonly [string, string])[];
  /** Tracked params: `{file: {key: value}}`. */
  params: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Root paths of every output (outs, metrics, plots). */
  outs: readonly string[];
}

export interface RunOut {
  /** Root path of the output. */
  path: string;
  hash: string;
  size: number;
  nfiles?: number;
}

export interface RunEntry {
  outs: RunOut[];
}

export interface RunCacheEntryInfo {
  key: string;
  path: string;
  size: number;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonical JSON document a run key hashes. Exported for tests and `--dry -v`. */
export function runKeyDocument(input: RunKeyInput): string {
  return canonicalJson({
    cmd: input.cmd,
    deps: [...input.deps].map(([p, h]) => [p, h]).sort((a, b) => cmp(a[0]!, b[0]!)),
    params: input.params,
    outs: [...input.outs].sort(cmp),
  });
}

function isRunOut(x: unknown): x is RunOut {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Record<string, unknown>;
  return (
    typeof o["path"] === "string" &&
    isSafeRelpath(o["path"]) &&
    typeof o["hash"] === "string" &&
    isObjectId(o["hash"]) &&
    typeof o["size"] === "number" &&
    (o["nfiles"] === undefined || typeof o["nfiles"] === "number")
  );
}

export class RunCache {
  readonly root: string;
  readonly dir: string;
  private readonly digester: Digester;

  constructor(root: string, digester: Digester = defaultDigester) {
    this.root = path.resolve(root);
    this.dir = path.join(this.root, RUNS_DIR);
    this.digester = digester;
  }

  async key(input: RunKeyInput): Promise<string> {
    return this.digester.bytes(runKeyDocument(input), "xxh64");
  }

  private pathOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), key.slice(2));
  }

  /** The entry for `key`, or undefined (absent, unreadable, or not describing exactly `outs`). */
  async lookup(key: string, outs?: readonly string[]): Promise<RunEntry | undefined> {
    if (!/^[0-9a-f]{16}$/.test(key)) return undefined;
    let text: string;
    try {
      text = await readFile(this.pathOf(key), "utf8");
    } catch (e) {
      if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return undefined;
      throw e;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return undefined;
    }
    const list = typeof raw === "object" && raw !== null ? (raw as { outs?: unknown }).outs : undefined;
    if (!Array.isArray(list) || !list.every(isRunOut)) return undefined;
    const entry: RunEntry = { outs: list.map((o) => ({ ...o })) };
    if (outs) {
      const want = [...outs].sort(cmp);
      const have = entry.outs.map((o) => o.path).sort(cmp);
      if (want.length !== have.length || want.some((p, i) => p !== have[i])) return undefined;
    }
    return entry;
  }

  async record(key: string, entry: RunEntry): Promise<Result<void>> {
    const dir = await ensureDirInside(this.root, path.posix.join(RUNS_DIR, key.slice(0, 2))).catch(
      (e: unknown) => envFailure<string>(e, { doing: "recording the run-cache entry", root: this.root }) ?? Promise.reject(e),
    );
    if (!dir.ok) return dir;
    const outs = [...entry.outs].sort((a, b) => cmp(a.path, b.path));
    try {
      await atomicWrite(this.pathOf(key), canonicalJson({ outs }) + "\n");
    } catch (e) {
      // The run-cache is rebuildable: a full or read-only disk costs a future restore, and the caller says so.
      const f = envFailure<void>(e, { doing: "recording the run-cache entry", root: this.root, path: this.pathOf(key) });
      if (f) return f;
      throw e;
    }
    return ok(undefined);
  }

  /** Every entry (sorted by key), with leftover temp files as keys-less garbage in `temps`. */
  async list(): Promise<{ entries: RunCacheEntryInfo[]; temps: string[] }> {
    const entries: RunCacheEntryInfo[] = [];
    const temps: string[] = [];
    let shards: string[];
    try {
      shards = await readdir(this.dir);
    } catch (e) {
      if (errnoOf(e) === "ENOENT") return { entries, temps };
      throw e;
    }
    for (const shard of shards.sort()) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const sdir = path.join(this.dir, shard);
      if (!(await lstat(sdir)).isDirectory()) continue;
      for (const name of (await readdir(sdir)).sort()) {
        const p = path.join(sdir, name);
        if (name.includes(TEMP_MARK)) temps.push(p);
        else if (/^[0-9a-f]{14}$/.test(name)) entries.push({ key: shard + name, path: p, size: (await lstat(p)).size });
      }
    }
    return { entries, temps };
  }

  async delete(key: string): Promise<void> {
    await unlink(this.pathOf(key)).catch((e: unknown) => {
      if (errnoOf(e) !== "ENOENT") throw e;
    });
  }
}
