/**
 * Reading lock files: `pipe.lock` beside a stages file, else the `dvc.lock` there (spec 1: an existing DVC project is
 * up to date for `pipe` without re-running anything).
 *
 * Accepted layouts: DVC 2/3 and pipe (`schema: '2.0'`, `stages:`), and DVC 1's flat layout (stage names at the top
 * level). The text goes through the fast subset reader first (`fast-yaml.ts`) and through the full YAML parser only
 * when that declines; the schema is then checked on the plain value. A malformed lock is a list of located
 * diagnostics (`reason: "lock"` or `"yaml-syntax"`): the YAML is re-parsed with positions only then, to point at the
 * offending node. `readLockIn` goes through the parsed-lock cache first (`parsed-cache.ts`).
 */
import path from "node:path";
import type { Node } from "yaml";
import { error, fail, ok, type Diagnostic, type Result, type SourceLocation } from "../core/diagnostic.js";
import { NotRegularFile, readRegularFile } from "../formats/input-file.js";
import { nodeLocation, offsetLocation, parseYaml, toPlain, yamlLib, type ParsedYaml } from "../formats/yaml.js";
import { fastParseLockLayout, fastParseYaml } from "./fast-yaml.js";
import { parseLockCached } from "./parsed-cache.js";
import type { LockAlgo, LockEntry, LockFile, LockFileEntry } from "./types.js";

type Seg = string | number;

export interface Problem {
  at: Seg[];
  message: string;
  /** Point at the key rather than the value (unknown keys). */
  atKey?: boolean;
}

const STAGE_KEYS = new Set(["cmd", "deps", "params", "outs"]);
const HEX16 = /^[0-9a-f]{16}(\.dir)?$/;
const HEX32 = /^[0-9a-f]{32}(\.dir)?$/;
const ENTRY_KNOWN = new Set(["path", "hash", "md5", "xxh64", "size", "nfiles"]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

// Called once per dep/out of every stage of a lock (tens of thousands for a large pipeline): no allocation on the
// happy path beyond the entry itself; the location of a problem is built only when there is one.
function fileEntry(v: unknown, parent: readonly Seg[], index: number, problems: Problem[]): LockFileEntry | undefined {
  const at = (...more: Seg[]): Seg[] => [...parent, index, ...more];
  if (!isPlainObject(v)) {
    problems.push({ at: at(), message: `expected a mapping with 'path', found ${describe(v)}` });
    return undefined;
  }
  const p = v["path"];
  if (typeof p !== "string" || p === "") {
    problems.push({ at: p === undefined ? at() : at("path"), message: p === undefined ? "entry has no 'path'" : `'path' must be a non-empty string, found ${describe(p)}` });
    return undefined;
  }
  let extra: Record<string, unknown> | undefined;
  for (const k in v) {
    if (!ENTRY_KNOWN.has(k)) (extra ??= {})[k] = v[k];
  }
  const hashName = v["hash"];
  let algo: LockAlgo;
  let hash = "";
  let field: "md5" | "xxh64" | undefined;
  if (hashName === "xxh64") {
    if (v["xxh64"] === undefined) {
      problems.push({ at: at(), message: "entry says 'hash: xxh64' but has no 'xxh64' value" });
      return undefined;
    }
    algo = "xxh64";
    field = "xxh64";
  } else if (hashName === "md5" || hashName === undefined) {
    if (v["md5"] !== undefined) {
      algo = hashName === "md5" ? "md5" : "legacy-md5";
      field = "md5";
    } else {
      // URL deps and outs carry `checksum`/`etag` instead: nothing we can verify locally.
      algo = "none";
    }
  } else {
    problems.push({ at: at("hash"), message: typeof hashName === "string" ? `unknown hash algorithm '${hashName}' (expected xxh64 or md5)` : `'hash' must be a string, found ${describe(hashName)}` });
    return undefined;
  }
  if (field !== undefined) {
    const h = v[field];
    if (typeof h !== "string" || !(field === "md5" ? HEX32 : HEX16).test(h)) {
      problems.push({ at: at(field), message: `'${field}' must be ${field === "md5" ? 32 : 16} lowercase hex digits (with '.dir' for a directory), found ${describe(h)}` });
      return undefined;
    }
    hash = h;
  }
  const e: LockFileEntry = { path: p, algo, hash };
  const size = v["size"];
  const nfiles = v["nfiles"];
  if (size !== undefined && size !== null) {
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
      problems.push({ at: at("size"), message: `'size' must be a non-negative integer, found ${describe(size)}` });
      return undefined;
    }
    e.size = size;
  }
  if (nfiles !== undefined && nfiles !== null) {
    if (typeof nfiles !== "number" || !Number.isInteger(nfiles) || nfiles < 0) {
      problems.push({ at: at("nfiles"), message: `'nfiles' must be a non-negative integer, found ${describe(nfiles)}` });
      return undefined;
    }
    e.nfiles = nfiles;
  }
  if (extra) e.extra = extra;
  return e;
}

export function fileList(v: unknown, at: Seg[], problems: Problem[]): LockFileEntry[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    problems.push({ at, message: `expected a list of entries, found ${describe(v)}` });
    return [];
  }
  const out: LockFileEntry[] = [];
  for (let i = 0; i < v.length; i++) {
    const e = fileEntry(v[i], at, i, problems);
    if (e) out.push(e);
  }
  return out;
}

function stageEntry(v: unknown, at: Seg[], problems: Problem[]): LockEntry | undefined {
  if (!isPlainObject(v)) {
    problems.push({ at, message: `expected the stage's lock entry (a mapping with 'cmd'), found ${describe(v)}` });
    return undefined;
  }
  const before = problems.length;
  for (const k of Object.keys(v)) {
    if (!STAGE_KEYS.has(k)) problems.push({ at: [...at, k], atKey: true, message: `unknown key '${k}' in a lock entry (expected cmd, deps, params, outs)` });
  }
  const cmd = v["cmd"];
  let cmdOk: string | string[] | undefined;
  if (typeof cmd === "string") cmdOk = cmd;
  else if (Array.isArray(cmd) && cmd.every((c) => typeof c === "string")) cmdOk = cmd as string[];
  else problems.push({ at: cmd === undefined ? at : [...at, "cmd"], message: cmd === undefined ? "lock entry has no 'cmd'" : `'cmd' must be a string or a list of strings, found ${describe(cmd)}` });
  const deps = fileList(v["deps"], [...at, "deps"], problems);
  const outs = fileList(v["outs"], [...at, "outs"], problems);
  const params: Record<string, Record<string, unknown>> = {};
  const pv = v["params"];
  if (pv !== undefined && pv !== null) {
    if (!isPlainObject(pv)) problems.push({ at: [...at, "params"], message: `'params' must map params files to their values, found ${describe(pv)}` });
    else {
      for (const [file, vals] of Object.entries(pv)) {
        if (vals === null || vals === undefined) params[file] = {};
        else if (isPlainObject(vals)) params[file] = { ...vals };
        else problems.push({ at: [...at, "params", file], message: `params of '${file}' must be a mapping of keys to values, found ${describe(vals)}` });
      }
    }
  }
  if (problems.length > before || cmdOk === undefined) return undefined;
  return { cmd: cmdOk, deps, params, outs };
}

/** Checks the plain value of a lock file; `problems` get the paths of offending nodes. */
export function validateLock(value: unknown, problems: Problem[]): Map<string, LockEntry> {
  const stages = new Map<string, LockEntry>();
  if (value === null || value === undefined) return stages; // an empty file: no entries
  if (!isPlainObject(value)) {
    problems.push({ at: [], message: `a lock file must be a mapping, found ${describe(value)}` });
    return stages;
  }
  let body: Record<string, unknown>;
  let prefix: Seg[];
  if ("schema" in value) {
    if (value["schema"] !== "2.0") {
      problems.push({ at: ["schema"], message: `unsupported lock schema ${describe(value["schema"])} (expected '2.0')` });
      return stages;
    }
    for (const k of Object.keys(value)) {
      if (k !== "schema" && k !== "stages") problems.push({ at: [k], atKey: true, message: `unknown top-level key '${k}' in a lock file (expected schema, stages)` });
    }
    const s = value["stages"];
    if (s === undefined || s === null) return stages;
    if (!isPlainObject(s)) {
      problems.push({ at: ["stages"], message: `'stages' must be a mapping of stage names to entries, found ${describe(s)}` });
      return stages;
    }
    body = s;
    prefix = ["stages"];
  } else {
    body = value; // DVC 1.x: stage names at the top level
    prefix = [];
  }
  for (const [name, v] of Object.entries(body)) {
    const e = stageEntry(v, [...prefix, name], problems);
    if (e) stages.set(name, e);
  }
  return stages;
}

/** Follows a path of keys/indices through a parsed document. */
function nodeAt(p: ParsedYaml, at: readonly Seg[], atKey: boolean): Node | undefined {
  let cur: unknown = p.doc.contents;
  let key: unknown;
  for (const seg of at) {
    key = undefined;
    if (yamlLib().isMap(cur)) {
      const pair = cur.items.find((it) => (yamlLib().isScalar(it.key) ? String(it.key.value) : String(it.key)) === String(seg));
      if (!pair) return yamlLib().isNode(cur) ? cur : undefined;
      key = pair.key;
      cur = pair.value ?? pair.key;
    } else if (yamlLib().isSeq(cur)) {
      const next: unknown = cur.items[Number(seg)];
      if (next === undefined) return cur;
      cur = next;
    } else break;
  }
  if (atKey && yamlLib().isNode(key)) return key;
  return yamlLib().isNode(cur) ? cur : undefined;
}

/** Parses lock text; `file` is the lock's path relative to the root (used in diagnostics). */
export function parseLock(file: string, text: string, flavor: "pipe" | "dvc"): Result<LockFile> {
  const stages = parseChecked(file, text, validateLock);
  return stages.ok ? ok({ file, flavor, stages: stages.value }) : stages;
}

/**
 * The entries of a DVC tracking file (`data.xml.dvc`: `outs:` and, for imports, `deps:`, each with `md5`/`hash`
 * as in a lock), for `gc`, which keeps the objects they name. Other top-level keys (`md5`, `wdir`, `frozen`, `meta`)
 * are DVC's business and are not checked.
 */
export function parseDvcFile(file: string, text: string): Result<LockFileEntry[]> {
  return parseChecked(file, text, (value, problems) => {
    if (value === null || value === undefined) return [];
    if (!isPlainObject(value)) {
      problems.push({ at: [], message: `a .dvc file must be a mapping, found ${describe(value)}` });
      return [];
    }
    return [...fileList(value["deps"], ["deps"], problems), ...fileList(value["outs"], ["outs"], problems)];
  });
}

/**
 * YAML text to a checked value: the fast reader first, the full parser when it declines; problems found by `check`
 * become diagnostics located at their node (the text is parsed with positions only then).
 */
export function parseChecked<T>(file: string, text: string, check: (value: unknown, problems: Problem[]) => T): Result<T> {
  text = withoutBom(text);
  let value = fastParseLockLayout(text) ?? fastParseYaml(text);
  let parsed: ParsedYaml | undefined;
  if (value === undefined) {
    // Integers beyond 2^53 exact, as Python writes them into dvc.lock and as a JSON or TOML params file holds them.
    parsed = parseYaml(file, text, { intAsBigInt: true });
    if (parsed.doc.errors.length > 0) {
      const ds: Diagnostic[] = parsed.doc.errors.map((e) =>
        error("yaml-syntax", `invalid YAML in lock file: ${(e.message.split("\n")[0] ?? "").replace(/\s*at line \d+, column \d+:?\s*$/, "")}`, offsetLocation(parsed!, e.pos[0], e.pos[1] - e.pos[0]), {
          hint: lockHint(file),
        }),
      );
      return fail(ds);
    }
    const plain = toPlain(parsed, "lock");
    if (!plain.ok) return fail(plain.errors.map((d) => ({ ...d, hint: lockHint(file) })));
    value = plain.value;
  }
  const problems: Problem[] = [];
  const checked = check(value, problems);
  if (problems.length > 0) {
    parsed ??= parseYaml(file, text);
    const p = parsed;
    return fail(
      problems.map((pr) => {
        const node = nodeAt(p, pr.at, pr.atKey === true);
        const loc: SourceLocation = node ? nodeLocation(p, node) : { file, line: 1, col: 1 };
        return error("lock", pr.message, loc, { hint: lockHint(file) });
      }),
    );
  }
  return ok(checked);
}

/**
 * The text without a leading UTF-8 byte order mark, which editors on Windows write and which is no part of the YAML
 * (the fast reader would take it for the first key's first character).
 */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function lockHint(file: string): string {
  if (file.endsWith(".dvc")) return `the .dvc file is damaged: restore it from git (git checkout -- ${file}), or delete it and 'pipe add' its data again`;
  return `the lock file is damaged: restore it from git (git checkout -- ${file}) or delete it to re-run the stages it describes`;
}

export interface LockLocation {
  /** Absolute path of the lock file to read (pipe.lock if present, else dvc.lock), or undefined when neither exists. */
  abs: string;
  /** Relative to the root, POSIX. */
  file: string;
  flavor: "pipe" | "dvc";
}

/** The lock's text; undefined when there is none; an error when it cannot be read (a FIFO is never opened). */
async function readText(abs: string): Promise<string | undefined | Error> {
  const bytes = await readRegularFile(abs);
  if (bytes instanceof NotRegularFile) return bytes;
  if (bytes instanceof Error) return bytes.code === "ENOENT" || bytes.code === "ENOTDIR" ? undefined : bytes;
  return bytes.toString("utf8");
}

/**
 * Reads the lock beside the stages files of directory `dir` (relative to `root`, `` for the root): `pipe.lock`, else
 * `dvc.lock`; `undefined` when there is neither. Text read is added to `sources` for rendering diagnostics.
 */
export async function readLockIn(root: string, dir: string, sources?: Map<string, string>, opts: { writeCache?: boolean } = {}): Promise<Result<LockFile | undefined>> {
  for (const [name, flavor] of [
    ["pipe.lock", "pipe"],
    ["dvc.lock", "dvc"],
  ] as const) {
    const file = dir === "" ? name : `${dir}/${name}`;
    let text = await readText(path.join(root, file));
    if (text instanceof Error) return fail([error("io", `cannot read ${file}: ${text.message}`)]);
    if (text === undefined) continue;
    // Diagnostics count columns in the text without the mark, and quote this text.
    text = withoutBom(text);
    sources?.set(file, text);
    return parseLockCached(root, file, text, flavor, validateLock, opts.writeCache !== false) ?? parseLock(file, text, flavor);
  }
  return ok(undefined);
}

/** Reads each directory's lock once per invocation. */
export class LockStore {
  private readonly byDir = new Map<string, Promise<Result<LockFile | undefined>>>();
  private readonly byFile = new Map<string, Promise<Result<LockFile | undefined>>>();
  /** `writeCache: false`: read the parsed-lock cache but never rewrite it (`repro --dry` writes nothing). */
  constructor(
    readonly root: string,
    readonly sources?: Map<string, string>,
    private readonly opts: { writeCache?: boolean } = {},
  ) {}

  /** The lock of the stages file in `dir` (the stage's `dir`, not its wdir). */
  forDir(dir: string): Promise<Result<LockFile | undefined>> {
    let p = this.byDir.get(dir);
    if (!p) {
      p = readLockIn(this.root, dir, this.sources, this.opts);
      this.byDir.set(dir, p);
    }
    return p;
  }

  /**
   * The lock a stage's entry comes from: the one of its stages file's directory, or for a `.dvc` file (a data source,
   * `Stage.dataSource`) the file itself, read as a one-entry lock under the stage's name.
   */
  forStage(s: { dir: string; file: string; name: string; dataSource?: boolean }): Promise<Result<LockFile | undefined>> {
    if (!s.dataSource) return this.forDir(s.dir);
    let p = this.byFile.get(s.file);
    if (!p) {
      // Imported on first use: a project without `.dvc` files never loads the codec.
      p = import("./dvc-file.js").then((m) => m.readDvcFileAsLock(this.root, s.file, s.name, this.sources));
      this.byFile.set(s.file, p);
    }
    return p;
  }

  /** Forgets what was read (after this process wrote a lock). */
  forget(dir: string): void {
    this.byDir.delete(dir);
  }
}
