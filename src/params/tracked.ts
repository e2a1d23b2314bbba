/**
 * Which params and metrics files a project declares, as `params diff` and `metrics show/diff` need them.
 *
 * Two sources feed one `Tracked` set:
 * - the loaded workspace `Pipeline` (stage `params:` with their keys, stage `metrics:` outputs, top-level `params:`
 *   and `metrics:` lists), which is exact;
 * - the stages files of a git revision, scanned as plain YAML without templating (`addStagesText`), so a params or
 *   metrics file the pipeline declared at that revision but no longer declares is still compared. Entries holding
 *   `${...}` (in the path, or in the stage's `wdir`) cannot be resolved without the revision's variables and are
 *   skipped there; the workspace pipeline covers them when they still exist.
 * All paths are relative to the project root, POSIX-style.
 */
import path from "node:path";
import { parseDocument } from "yaml";
import type { Pipeline } from "../model.js";

export const DEFAULT_PARAMS_FILE = "params.yaml";

export interface TrackedParamsFile {
  /** Keys some stage depends on; `null` when a stage depends on the whole file; undefined when no stage does. */
  stageKeys?: Set<string> | null;
  /** Listed in a top-level `params:` (or the default `params.yaml`): compared whole. */
  listed: boolean;
  /** A `vars:` file of templating: the keys it is read for, `null` for all; undefined when no `vars:` names it. */
  varKeys?: Set<string> | null;
}

export interface Tracked {
  params: Map<string, TrackedParamsFile>;
  metrics: Set<string>;
}

export function emptyTracked(): Tracked {
  return { params: new Map(), metrics: new Set() };
}

function paramsEntry(t: Tracked, file: string): TrackedParamsFile {
  let e = t.params.get(file);
  if (!e) {
    e = { listed: false };
    t.params.set(file, e);
  }
  return e;
}

/** Records that a stage depends on `keys` of `file` (`null`: the whole file). */
export function addStageParams(t: Tracked, file: string, keys: readonly string[] | null): void {
  const e = paramsEntry(t, file);
  if (keys === null || e.stageKeys === null) {
    e.stageKeys = null;
    return;
  }
  e.stageKeys ??= new Set();
  for (const k of keys) e.stageKeys.add(k);
}

export function addListedParams(t: Tracked, file: string): void {
  paramsEntry(t, file).listed = true;
}

export function addPipeline(t: Tracked, p: Pipeline): void {
  for (const s of p.stages) {
    for (const dep of s.params) addStageParams(t, dep.rootPath, dep.keys);
    for (const o of s.outs) if (o.kind === "metrics" && !o.external) t.metrics.add(o.rootPath);
  }
  for (const f of p.params) addListedParams(t, f.rootPath);
  for (const f of p.metrics) t.metrics.add(f.rootPath);
  // The model does not carry `vars:` files; the stages files' texts do.
  for (const f of p.files) addVarsFromText(t, f.file, f.text);
}

/** Adds the `vars:` files (top-level and per stage) of a stages file's text. */
export function addVarsFromText(t: Tracked, file: string, text: string): void {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) return;
  const top: unknown = doc.toJS();
  if (!isRecord(top)) return;
  const dir = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
  addVars(t, dir, top["vars"]);
  if (!isRecord(top["stages"])) return;
  for (const st of Object.values(top["stages"])) {
    if (!isRecord(st)) continue;
    const body = isRecord(st["do"]) ? st["do"] : st;
    const w = body["wdir"];
    const wdir = w === undefined ? dir : typeof w === "string" ? resolveUnder(dir, w) : undefined;
    if (wdir !== undefined) addVars(t, wdir, body["vars"]);
  }
}

/** `rel` joined to `dir`, normalised (`` for the root itself); undefined when it leaves the root or holds a template. */
function resolveUnder(dir: string, rel: string): string | undefined {
  if (rel.includes("${") || path.posix.isAbsolute(rel) || /^[a-z][a-z0-9+.-]*:\/\//i.test(rel)) return undefined;
  const p = path.posix.normalize(path.posix.join(dir, rel));
  if (p === ".." || p.startsWith("../")) return undefined;
  return p === "." ? "" : p.replace(/\/$/, "");
}

/** A file path under `dir` (see `resolveUnder`); never the root itself. */
function under(dir: string, rel: string): string | undefined {
  const p = resolveUnder(dir, rel);
  return p === "" ? undefined : p;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Paths of an outs-like list: `- path` or `- path: {flags}`. */
function outPaths(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  const out: string[] = [];
  for (const item of v) {
    if (typeof item === "string") out.push(item);
    else if (isRecord(item)) out.push(...Object.keys(item));
  }
  return out;
}

/**
 * `vars:` files (`- file.yaml`, `- file.yaml:a,b`; inline mappings hold no file): templating reads values from them,
 * so `params diff` lists them (spec 2.3), restricted to the named keys when the entry names some.
 */
function addVars(t: Tracked, dir: string, vars: unknown): void {
  if (!Array.isArray(vars)) return;
  for (const item of vars) {
    if (typeof item !== "string") continue;
    const colon = item.lastIndexOf(":");
    const hasKeys = colon > 0 && !/^[a-z]:[\\/]/i.test(item);
    const f = under(dir, hasKeys ? item.slice(0, colon) : item);
    if (!f) continue;
    const keys = hasKeys ? item.slice(colon + 1).split(",").map((k) => k.trim()).filter(Boolean) : [];
    const e = paramsEntry(t, f);
    if (keys.length === 0 || e.varKeys === null) e.varKeys = null;
    else {
      e.varKeys ??= new Set();
      for (const k of keys) e.varKeys.add(k);
    }
  }
}

function addStageBody(t: Tracked, dir: string, body: Record<string, unknown>): void {
  const wdirRaw = body["wdir"];
  if (wdirRaw !== undefined && typeof wdirRaw !== "string") return;
  const wdir = wdirRaw === undefined ? dir : resolveUnder(dir, wdirRaw);
  if (wdir === undefined) return;
  addVars(t, wdir, body["vars"]);
  const params = body["params"];
  if (Array.isArray(params)) {
    for (const item of params) {
      if (typeof item === "string") {
        if (item.includes("${")) continue;
        const f = under(wdir, DEFAULT_PARAMS_FILE);
        if (f) addStageParams(t, f, [item]);
      } else if (isRecord(item)) {
        for (const [file, keys] of Object.entries(item)) {
          const f = under(wdir, file);
          if (!f) continue;
          if (keys === null || (Array.isArray(keys) && keys.length === 0)) addStageParams(t, f, null);
          else if (Array.isArray(keys)) addStageParams(t, f, keys.filter((k): k is string => typeof k === "string" && !k.includes("${")));
        }
      }
    }
  }
  for (const m of outPaths(body["metrics"])) {
    const f = under(wdir, m);
    if (f) t.metrics.add(f);
  }
}

/**
 * Adds what a stages file's text declares, read as plain YAML (no templating); `file` is relative to the root.
 * Text that does not parse adds nothing: the revision's pipeline was broken, and the workspace one still counts.
 */
export function addStagesText(t: Tracked, file: string, text: string): void {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) return;
  const top: unknown = doc.toJS();
  if (!isRecord(top)) return;
  const dir = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
  addVars(t, dir, top["vars"]);
  for (const p of outPaths(top["params"])) {
    const f = under(dir, p);
    if (f) addListedParams(t, f);
  }
  for (const m of outPaths(top["metrics"])) {
    const f = under(dir, m);
    if (f) t.metrics.add(f);
  }
  const stages = top["stages"];
  if (!isRecord(stages)) return;
  for (const st of Object.values(stages)) {
    if (!isRecord(st)) continue;
    const body = isRecord(st["do"]) ? st["do"] : st;
    addStageBody(t, dir, body);
  }
}

/** Whether a flat key is covered by a tracked key (`train` covers `train.lr`). */
export function keyCovered(flatKey: string, tracked: ReadonlySet<string>): boolean {
  if (tracked.has(flatKey)) return true;
  for (let i = flatKey.indexOf("."); i >= 0; i = flatKey.indexOf(".", i + 1)) {
    if (tracked.has(flatKey.slice(0, i))) return true;
  }
  return false;
}

/** Stages files among `files` (root-relative), `pipe.yaml` winning over `dvc.yaml` in one directory. */
export function stagesFilesOf(files: readonly string[]): string[] {
  const byDir = new Map<string, string>();
  for (const f of files) {
    const base = path.posix.basename(f);
    if (base !== "pipe.yaml" && base !== "dvc.yaml") continue;
    const parts = f.split("/");
    if (parts.some((p) => p === ".git" || p === ".pipe" || p === ".dvc" || p === "node_modules")) continue;
    const dir = path.posix.dirname(f);
    if (base === "pipe.yaml" || !byDir.has(dir)) byDir.set(dir, f);
  }
  return [...byDir.values()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
