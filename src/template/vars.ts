/**
 * Filling a template context: the default `params.yaml` beside the stages file, then the items of a `vars` list
 * (a file, `file:key1,key2`, or an inline mapping), at the top of the file or in a stage, as DVC's
 * `Context.load_from_vars` does. Every problem is a diagnostic located at the `vars` entry that caused it (or at
 * the key of an inline mapping), with notes pointing into the files involved. Files are read once per expansion.
 */
import type { BigIntStats } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, isSeq, visit, type Document, type LineCounter, type Node } from "yaml";
import { didYouMean, error, type Diagnostic, type RelatedInfo, type SourceLocation } from "../core/diagnostic.js";
import { nodeLocation, offsetLocation } from "../formats/yaml.js";
import { NotRegularFile, readRegularFile } from "../formats/input-file.js";
import { decodeUtf8 } from "../formats/text.js";
import type { Context, MergeConflict } from "./context.js";
import { findReferences, type Reference } from "./expr.js";
import { isVMap, nodeToValue, type Locations, type Value, type VMap } from "./value.js";
import { readVarsText } from "./vars-file.js";

/** What the loader needs to know about the stages file being expanded. */
export interface StagesSource {
  root: string;
  /** The stages file, root-relative. */
  file: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  sources: Map<string, string>;
  /** Told about every file looked at, before it is read (see `ReadObserver`). */
  onRead?: ReadObserver;
  /**
   * Reads a vars/params file by its root-relative path instead of the disk (a git revision: `params diff` and
   * `metrics` load the pipeline a commit holds). Without it, files are read from `root`.
   */
  readText?: TextReader;
}

/** What a `TextReader` found. */
export type TextRead = { kind: "file"; text: string } | { kind: "dir" } | { kind: "missing" } | { kind: "unreadable"; why: string };

export type TextReader = (rel: string) => Promise<TextRead>;

/**
 * Told the root-relative path of every vars/params file the loader looks at, with its stat taken *before* the file
 * is read (`null`: it does not exist), so that a cache of the result can be keyed on what was read
 * (`project/load-cache.ts`). The stat comes first on purpose: a file changed after it is read then has a stat that
 * differs from the recorded one, so the change is seen; the other order could record the new stat with old contents.
 */
export type ReadObserver = (rel: string, st: BigIntStats | null) => void;

type LoadedFile =
  | { ok: true; value: VMap; locs: Locations }
  | { ok: false; kind: "missing" | "directory" }
  | { ok: false; kind: "invalid"; errors: Diagnostic[] }
  | { ok: false; kind: "not-mapping"; found: string }
  | { ok: false; kind: "unreadable"; why: string };

export const DEFAULT_PARAMS_FILE = "params.yaml";

/** `a/b/../c` -> `a/c`, `` for the root itself; absolute paths stay absolute. */
export function joinRel(base: string, p: string): string {
  const j = path.posix.normalize(path.posix.isAbsolute(p) ? p : path.posix.join(base || ".", p));
  const trimmed = j.length > 1 ? j.replace(/\/+$/, "") : j;
  return trimmed === "." ? "" : trimmed;
}

function typeName(v: Value): string {
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return "a string";
  if (typeof v === "number" || typeof v === "bigint") return "a number";
  if (typeof v === "boolean") return "a boolean";
  return "a scalar";
}

/** Reads vars/params files for one expansion, each once. */
export class VarsLoader {
  private readonly files = new Map<string, Promise<LoadedFile>>();

  constructor(readonly src: StagesSource) {}

  /** The location of `ref` inside the YAML node holding string `s` (the node's start when it cannot be found). */
  refLocation(node: unknown, s: string, ref: Reference): SourceLocation {
    const at = nodeLocation(this.src, node);
    const range = (node as Node | undefined)?.range;
    if (!range) return at;
    const raw = this.src.text.slice(range[0], range[1]);
    // The n-th occurrence of the reference in the value is the n-th in the source, unless YAML escaping or folding
    // changed it; then the node's start is the best we have.
    let n = 0;
    for (let i = s.indexOf(ref.text); i >= 0 && i < ref.start; i = s.indexOf(ref.text, i + 1)) n++;
    let j = -1;
    for (let k = 0; k <= n; k++) {
      j = raw.indexOf(ref.text, j + 1);
      if (j < 0) return at;
    }
    return offsetLocation(this.src, range[0] + j, ref.text.length);
  }

  private read(rel: string): Promise<LoadedFile> {
    let p = this.files.get(rel);
    if (!p) {
      p = this.load(rel);
      this.files.set(rel, p);
    }
    return p;
  }

  private async load(rel: string): Promise<LoadedFile> {
    if (this.src.readText) {
      const r = await this.src.readText(rel);
      if (r.kind === "file") return this.parse(rel, r.text);
      if (r.kind === "dir") return { ok: false, kind: "directory" };
      return r.kind === "missing" ? { ok: false, kind: "missing" } : { ok: false, kind: "unreadable", why: r.why };
    }
    const abs = path.resolve(this.src.root, rel);
    const cannotRead = (e: unknown): LoadedFile => {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        this.src.onRead?.(rel, null);
        return { ok: false, kind: "missing" };
      }
      return { ok: false, kind: "unreadable", why: e instanceof Error ? e.message : String(e) };
    };
    let st: BigIntStats;
    try {
      st = await stat(abs, { bigint: true });
    } catch (e) {
      return cannotRead(e);
    }
    this.src.onRead?.(rel, st);
    if (st.isDirectory()) return { ok: false, kind: "directory" };
    // Never `readFile`: a FIFO would block the load forever.
    const bytes = await readRegularFile(abs);
    if (bytes instanceof NotRegularFile) return { ok: false, kind: "unreadable", why: bytes.message };
    if (bytes instanceof Error) return cannotRead(bytes);
    const decoded = decodeUtf8(rel, bytes);
    if (!decoded.ok) {
      this.src.sources.set(rel, decoded.text);
      return { ok: false, kind: "invalid", errors: [decoded.error] };
    }
    return this.parse(rel, decoded.text);
  }

  private parse(rel: string, text: string): LoadedFile {
    this.src.sources.set(rel, text);
    const r = readVarsText(rel, text);
    if (!r.ok) return { ok: false, kind: "invalid", errors: r.errors };
    const { value, locs } = r.value;
    // DVC reads an empty file as an empty mapping.
    if (value === null || value === undefined) return { ok: true, value: new Map(), locs };
    if (!isVMap(value)) return { ok: false, kind: "not-mapping", found: typeName(value) };
    return { ok: true, value, locs };
  }

  /** Loads `params.yaml` of `dir` when it exists, as DVC always does before `vars`. */
  async loadDefault(ctx: Context, dir: string, diags: Diagnostic[]): Promise<void> {
    const rel = joinRel(dir, DEFAULT_PARAMS_FILE);
    const f = await this.read(rel);
    if (!f.ok && f.kind === "missing") return;
    this.mergeFile(ctx, f, rel, rel, null, { file: rel, line: 1, col: 1 }, undefined, diags);
  }

  /**
   * `${...}` inside `vars` is an error (DVC reads vars before interpolating anything): one diagnostic per reference,
   * in keys and values alike. Returns whether the list is clean.
   */
  checkNoInterpolation(varsNode: unknown, diags: Diagnostic[]): boolean {
    let clean = true;
    const check = (node: unknown): void => {
      if (!isScalar(node) || typeof node.value !== "string") return;
      for (const ref of findReferences(node.value)) {
        clean = false;
        diags.push(
          error("template", `'${ref.text}' cannot be used in vars`, this.refLocation(node, node.value, ref), {
            hint: "vars are loaded before anything is interpolated: write the file name or the value literally",
          }),
        );
      }
    };
    if (isScalar(varsNode)) check(varsNode);
    else if (varsNode && typeof varsNode === "object") {
      visit(varsNode as Node, {
        Pair(_, pair) {
          check(pair.key);
        },
        Scalar(_, node) {
          check(node);
        },
      });
    }
    return clean;
  }

  /**
   * Loads every item of a `vars` list node into `ctx`. `baseDir` is the stages file's directory (top-level vars)
   * or the stage's wdir (stage vars); `stage` names the stage for stage-level vars.
   */
  async loadList(ctx: Context, varsNode: unknown, baseDir: string, stage: string | undefined, diags: Diagnostic[]): Promise<void> {
    if (!isSeq(varsNode)) return;
    for (const item of varsNode.items) {
      if (isScalar(item) && typeof item.value === "string") {
        await this.loadItem(ctx, item.value, item, baseDir, stage, diags);
      } else if (isMap(item)) {
        this.loadInline(ctx, item, stage, diags);
      }
    }
  }

  private async loadItem(ctx: Context, written: string, node: Node, baseDir: string, stage: string | undefined, diags: Diagnostic[]): Promise<void> {
    const at = nodeLocation(this.src, node);
    // DVC splits at the first colon: `file.yaml:a,b`.
    const colon = written.indexOf(":");
    const filePart = colon < 0 ? written : written.slice(0, colon);
    const keyList = colon < 0 ? [] : written.slice(colon + 1).split(",").map((k) => k.trim()).filter((k) => k !== "");
    const keys = keyList.length > 0 ? keyList : null;
    const rel = joinRel(baseDir, filePart);
    const imported = ctx.imports.get(rel);
    if (imported !== undefined) {
      // The same whole file twice is allowed (params.yaml is often listed although it is loaded anyway).
      if (keys === null && imported === null) return;
      let problem: string | undefined;
      if (keys === null) problem = `'${filePart}' cannot be loaded whole: some of its keys are already loaded (${imported!.join(", ")})`;
      else if (imported === null) problem = `'${written}' cannot load some keys of '${filePart}': the whole file is already loaded`;
      else {
        const again = keys.filter((k) => imported.includes(k));
        if (again.length > 0) problem = `key${again.length > 1 ? "s" : ""} ${again.map((k) => `'${k}'`).join(", ")} of '${filePart}' ${again.length > 1 ? "are" : "is"} already loaded`;
      }
      if (problem) {
        const hint =
          rel === joinRel(path.posix.dirname(this.src.file), DEFAULT_PARAMS_FILE) && imported === null
            ? `${DEFAULT_PARAMS_FILE} beside ${path.posix.basename(this.src.file)} is always loaded whole; remove this entry`
            : "load each file once: whole, or with all the keys you need ('file.yaml:a,b')";
        diags.push(error("vars-redefined", problem, at, { hint }));
        return;
      }
    }
    const f = await this.read(rel);
    this.mergeFile(ctx, f, rel, filePart, keys, at, stage, diags);
  }

  private mergeFile(ctx: Context, f: LoadedFile, rel: string, written: string, keys: string[] | null, at: SourceLocation, stage: string | undefined, diags: Diagnostic[]): void {
    if (!f.ok) {
      if (f.kind === "missing") {
        const resolved = rel === written ? "" : ` (resolved to '${rel}' from the project root)`;
        diags.push(
          error("missing-file", `vars file '${written}' does not exist${resolved}`, at, {
            hint: stage === undefined ? `vars files are relative to the directory of ${this.src.file}` : `vars of a stage are relative to its wdir`,
          }),
        );
      } else if (f.kind === "directory") {
        diags.push(error("missing-file", `vars file '${rel}' is a directory`, at));
      } else if (f.kind === "not-mapping") {
        diags.push(error("params", `vars file '${rel}' must hold a mapping of variables, but it holds ${f.found}`, at));
      } else if (f.kind === "unreadable") {
        diags.push(error("io", `cannot read vars file '${rel}': ${f.why}`, at));
      } else if (f.kind === "invalid") {
        diags.push(...f.errors);
      }
      return;
    }
    let value = f.value;
    if (keys) {
      value = new Map();
      for (const k of keys) {
        const v = f.value.get(k);
        if (v === undefined) {
          const dym = didYouMean(k, f.value.keys());
          diags.push(error("undefined-variable", `vars file '${rel}' has no key '${k}'`, at, dym ? { hint: dym } : {}));
          continue;
        }
        value.set(k, v);
      }
    }
    const reserved = ctx.reservedIn(value);
    if (reserved.length > 0) {
      diags.push(this.reservedError(reserved, at, stage));
      for (const k of reserved) value.delete(k);
    }
    for (const c of ctx.merge({ label: rel, file: rel, value, locs: f.locs, inline: false })) diags.push(this.conflictError(c, at, written, false));
    const prev = ctx.imports.get(rel);
    if (prev === undefined) ctx.imports.set(rel, keys ? [...keys] : null);
    else if (prev !== null && keys) prev.push(...keys);
  }

  private loadInline(ctx: Context, node: Node, stage: string | undefined, diags: Diagnostic[]): void {
    const locs: Locations = new Map();
    const value: Value = nodeToValue(this.src, node, locs);
    if (!isVMap(value)) return;
    const reserved = ctx.reservedIn(value);
    if (reserved.length > 0) {
      diags.push(this.reservedError(reserved, locs.get(reserved[0]!) ?? nodeLocation(this.src, node), stage));
      for (const k of reserved) value.delete(k);
    }
    const label = stage === undefined ? `the vars of ${this.src.file}` : `the vars of stage '${stage}'`;
    for (const c of ctx.merge({ label, value, locs, inline: true })) {
      diags.push(this.conflictError(c, c.second.loc ?? nodeLocation(this.src, node), "", true));
    }
  }

  private reservedError(keys: string[], at: SourceLocation, stage: string | undefined): Diagnostic {
    const names = keys.map((k) => `'${k}'`).join(" and ");
    return error("vars-redefined", `stage vars cannot redefine ${names}`, at, {
      hint: `${names} ${keys.length > 1 ? "are" : "is"} set by foreach/matrix for each generated stage${stage ? ` ('${stage}')` : ""}; use another name`,
    });
  }

  private conflictError(c: MergeConflict, at: SourceLocation, written: string, inline: boolean): Diagnostic {
    const msg =
      c.first.label === c.second.label
        ? `variable '${c.path}' is defined twice in ${c.first.label}`
        : `variable '${c.path}' is defined in both ${c.first.label} and ${c.second.label}`;
    const related: RelatedInfo[] = [];
    if (c.first.loc) related.push({ message: "first defined here", location: c.first.loc });
    else related.push({ message: `first defined in ${c.first.label}` });
    if (!inline && c.second.loc) related.push({ message: "defined again here", location: c.second.loc });
    const hint = inline
      ? "a variable can be defined only once: rename or remove one of them"
      : `a variable can be defined only once (a later vars file does not override an earlier one): rename one of them, or load only some top-level keys ('${written}:key1,key2')`;
    return error("vars-redefined", msg, at, { related, hint });
  }
}
