/**
 * The load cache, `.pipe/tmp/load-cache`: what loading a valid project produced (the expanded `Pipeline`, the
 * warnings of validation and expansion, and the text of every file read, which later diagnostics quote), so that a
 * command run on an unchanged project skips YAML parsing, schema validation and template expansion, as ninja's
 * `.ninja_deps` spares it re-reading depfiles. It lives in `.pipe/tmp/`, which `.pipe/.gitignore` keeps out of git,
 * and it is only ever a cache: a file that is missing, damaged or from another version is a miss, never an error.
 *
 * The file is two lines of JSON: the key, then the payload, so a miss costs the parse of the short first line only.
 * The key holds
 * - a format tag, pipe's version and a stamp of its build (the stat of this module's file, which a `tsc` build
 *   rewrites: pipe's own developers rebuild without changing the version number, and a changed expander must not
 *   be answered from an older build's cache);
 * - the project root (a moved project keeps its inodes);
 * - the discovery result: discovery itself runs on every invocation (it is cheap and it is how a new or removed
 *   stages file is noticed), and the list it returns must equal the one the payload was loaded from;
 * - every file the load read, by root-relative path, with its stat taken before it was read (inode, size, mtime_ns
 *   and ctime_ns: ctime also catches an edit whose mtime was put back), or `-` for a file that was looked for and
 *   did not exist (the optional `params.yaml` beside a stages file): creating it must be seen too.
 *
 * It is written only after a load that succeeded and whose graph checks passed (an invalid project is never cached,
 * so every error comes from a real parse), only when `.pipe/` already exists (nothing is created in a project that
 * `pipe` was not set up in), atomically (temp file + rename, so readers never see half a file), and not when a file
 * it would be keyed on was modified less than `racyWindowNs` before the load began: such a file could change again
 * within the same timestamp tick without its stat changing (the racy-git problem, handled as `hash/state.ts` does);
 * the next invocation, when the file is safely old, writes it. The payload is plain JSON, so a value JSON cannot
 * carry exactly (a non-finite number, `-0`, `undefined`, a non-plain object) makes the result uncacheable rather
 * than altered; in practice the values are strings, numbers, booleans, lists and mappings from YAML.
 */
import { statSync, type BigIntStats } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Diagnostic } from "../core/diagnostic.js";
import type { Pipeline, StagesFileInfo } from "../core/model.js";
import type { DiscoveredFile } from "./discover.js";
import { isStringPairs, readScratchFile, writeScratchFile } from "./scratch.js";

/** Where the cache lives, relative to the project root. */
export const LOAD_CACHE_FILE = ".pipe/tmp/load-cache";

/** Bumped whenever the payload's shape changes (3: stages no longer carry `cmdVars`). */
const FORMAT = "pipe-load-cache 3";

/** Stamp of a file that was looked for and did not exist. */
const ABSENT = "-";

/** What is stored: everything `loadPipeline` gives its caller on success, except what discovery gives afresh. */
export interface LoadCachePayload {
  /** The pipeline without its root (in the key) and with the stages files' text left out where `sources` has it. */
  pipeline: Omit<Pipeline, "root" | "files"> & { files: (Omit<StagesFileInfo, "text"> & { text?: string })[] };
  /** Warnings of validation and expansion, in the order loading reported them (discovery's come first, afresh). */
  warnings: Diagnostic[];
  /** The texts loading put into `sources`, in insertion order. */
  sources: [string, string][];
}

/** The header line of the load cache; the status memo's header starts with the same fields. */
export interface LoadHeader {
  format: string;
  build: string;
  root: string;
  /** `JSON.stringify` of the discovery result. */
  discovered: string;
  /** [root-relative path, stamp], sorted by path. */
  inputs: [string, string][];
}

let buildStamp: string | undefined;

/** pipe's version plus the stat of this module's file (see the module comment). */
export function currentBuild(): string {
  if (buildStamp === undefined) {
    const self = fileURLToPath(import.meta.url);
    // The CLI required package.json already, so this is an entry of require's cache.
    const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };
    let st = "";
    try {
      const s = statSync(self, { bigint: true });
      st = `${s.size}:${s.mtimeNs}`;
    } catch {
      // Bundled or otherwise unusual installs: the version alone.
    }
    buildStamp = `${version} ${st}`;
  }
  return buildStamp;
}

function stampOf(st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * The stamp a directory has now (inode, mtime_ns, ctime_ns: an entry added, removed or renamed changes them), `-`
 * when nothing is there, undefined when it is not a directory or cannot be stat'ed.
 */
export function dirStampNow(abs: string): string | undefined {
  try {
    const st = statSync(abs, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return ABSENT;
    return st.isDirectory() ? `d${st.ino}:${st.mtimeNs}:${st.ctimeNs}` : undefined;
  } catch {
    return undefined;
  }
}

/** The stamp a file has now; undefined when it cannot be a cache input (a directory, an unreadable path). */
export function stampNow(abs: string): string | undefined {
  try {
    const st = statSync(abs, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return ABSENT;
    return st.isFile() ? stampOf(st) : undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOTDIR" ? ABSENT : undefined;
  }
}

/**
 * Collects the inputs of one load: every file read (or looked for), with its stat from before the read. A file
 * recorded twice with different stats (changed between two reads of the same load), or a path that is not a regular
 * file, makes the load uncacheable.
 */
export class LoadInputs {
  private readonly stamps = new Map<string, string>();
  private newestMtimeNs = 0n;
  private usable = true;

  record(rel: string, st: BigIntStats | null): void {
    let stamp = ABSENT;
    if (st !== null) {
      if (!st.isFile()) this.usable = false;
      stamp = stampOf(st);
      if (st.mtimeNs > this.newestMtimeNs) this.newestMtimeNs = st.mtimeNs;
    }
    const prev = this.stamps.get(rel);
    if (prev !== undefined && prev !== stamp) this.usable = false;
    this.stamps.set(rel, stamp);
  }

  /** Whether the stats recorded can be trusted as a key at `startedNs`, the moment before the first read. */
  trustworthy(startedNs: bigint, racyWindowNs: bigint): boolean {
    return this.usable && this.newestMtimeNs + racyWindowNs <= startedNs;
  }

  /** By path: files are read in parallel, and the same inputs should give the same bytes. */
  entries(): [string, string][] {
    return [...this.stamps].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

export interface CacheKey {
  root: string;
  discovered: readonly DiscoveredFile[];
}

function header(key: CacheKey, inputs: [string, string][]): LoadHeader {
  return { format: FORMAT, build: currentBuild(), root: key.root, discovered: JSON.stringify(key.discovered), inputs };
}

/** A cache hit: the payload, and the inputs (with their stamps, all current) it was keyed on. */
export interface LoadCacheHit {
  payload: LoadCachePayload;
  inputs: [string, string][];
}

/**
 * The payload stored at `file` for `key`, or undefined: no file, another format, version, build, root or discovery
 * result, an input whose stat changed, or text that does not parse.
 */
export function readLoadCache(file: string, key: CacheKey): LoadCacheHit | undefined {
  const scratch = readScratchFile(file);
  if (!scratch) return undefined;
  const { text } = scratch;
  const head = scratch.head as Partial<LoadHeader>;
  const want = header(key, []);
  if (head.format !== want.format || head.build !== want.build || head.root !== want.root || head.discovered !== want.discovered) return undefined;
  if (!isStringPairs(head.inputs)) return undefined;
  for (const [rel, stamp] of head.inputs) {
    if (stampNow(path.resolve(key.root, rel)) !== stamp) return undefined;
  }
  let body: LoadCachePayload;
  try {
    body = JSON.parse(text.slice(scratch.bodyStart)) as LoadCachePayload;
  } catch {
    return undefined;
  }
  const p = body?.pipeline;
  if (typeof p !== "object" || p === null || !Array.isArray(body.warnings) || !isStringPairs(body.sources)) return undefined;
  if (![p.files, p.stages, p.params, p.metrics, p.plots].every(Array.isArray)) return undefined;
  return { payload: body, inputs: head.inputs };
}

/**
 * Whether `JSON.parse(JSON.stringify(v))` gives back a value deep-equal to `v`: null, booleans, strings, finite
 * numbers other than -0, arrays without holes, and plain objects whose values are all of these.
 */
export function jsonFaithful(v: unknown): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object": {
      if (v === null) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!(i in v) || !jsonFaithful(v[i])) return false;
        return true;
      }
      if (Object.getPrototypeOf(v) !== Object.prototype) return false;
      for (const k in v) if (!jsonFaithful((v as Record<string, unknown>)[k])) return false;
      return true;
    }
    default:
      return false;
  }
}

/**
 * Writes the cache atomically when `root/.pipe` is a directory (creating `.pipe/tmp` if needed, never `.pipe`).
 * Returns whether it was written; failures (a read-only project, a full disk) only cost the next run a miss.
 */
export function writeLoadCache(file: string, key: CacheKey, inputs: [string, string][], payload: LoadCachePayload): boolean {
  if (!jsonFaithful(payload.pipeline) || !jsonFaithful(payload.warnings)) return false;
  return writeScratchFile(file, `${JSON.stringify(header(key, inputs))}\n${JSON.stringify(payload)}\n`);
}
