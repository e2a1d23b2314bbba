/**
 * Which params and metrics files a project declares, as `params diff` and `metrics show/diff` need them.
 *
 * One `Tracked` set gathers what every compared side declares (the union: a file or key the pipeline declared at one
 * revision but not at the other is still compared on both):
 * - a loaded `Pipeline` (the workspace's, or the one a revision holds, `at-revision.ts`), which is exact: stage
 *   `params:` with their keys, stage `metrics:` outputs, top-level `params:` and `metrics:` lists, and the vars-file
 *   keys stages' `${...}` read;
 * - failing that, a revision's stages files read as plain YAML without templating (`addStagesText`), for a revision
 *   whose pipeline does not load. Entries holding `${...}` (in the path, or in the stage's `wdir`) cannot be resolved
 *   without the revision's variables and are skipped, and which vars keys stages read is unknown.
 * All paths are relative to the project root, POSIX-style.
 */
import path from "node:path";
import { parseYaml, toPlain } from "../formats/yaml.js";
import type { Pipeline } from "../core/model.js";
import { globCovers, isGlobKey } from "../params/glob.js";

export const DEFAULT_PARAMS_FILE = "params.yaml";

export interface TrackedParamsFile {
  /** Keys some stage depends on; `null` when a stage depends on the whole file; undefined when no stage does. */
  stageKeys?: Set<string> | null;
  /** Listed in a top-level `params:`: compared whole (so is the root's `params.yaml`). */
  listed: boolean;
  /** Keys some stage's `${...}` read from this file (DVC's tracked vars); undefined when none did. */
  varKeys?: Set<string>;
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
    for (const u of s.varsUsed ?? []) {
      const e = paramsEntry(t, u.file);
      e.varKeys ??= new Set();
      for (const k of u.keys) e.varKeys.add(k);
    }
  }
  for (const f of p.params) addListedParams(t, f.rootPath);
  for (const f of p.metrics) t.metrics.add(f.rootPath);
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

function addStageBody(t: Tracked, dir: string, body: Record<string, unknown>): void {
  const wdirRaw = body["wdir"];
  if (wdirRaw !== undefined && typeof wdirRaw !== "string") return;
  const wdir = wdirRaw === undefined ? dir : resolveUnder(dir, wdirRaw);
  if (wdir === undefined) return;
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
 * Adds what a stages file's text declares, read as plain YAML (no templating); `file` is relative to the root. For a
 * revision whose pipeline does not load. Text that does not parse adds nothing.
 */
export function addStagesText(t: Tracked, file: string, text: string): void {
  // parseYaml checks aliases first, so an alias bomb is a parse error here, not an exception.
  const parsed = parseYaml(file, text);
  if (parsed.doc.errors.length > 0) return;
  const plain = toPlain(parsed);
  if (!plain.ok) return;
  const top = plain.value;
  if (!isRecord(top)) return;
  const dir = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
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

/**
 * Whether a flat key is covered by a tracked key (`train` covers `train.lr`; the glob `data.moons*` covers
 * `data.moons.noise`, every match counting, as DVC's `params diff` reads globs with `dpath.search`).
 */
export function keyCovered(flatKey: string, tracked: ReadonlySet<string>): boolean {
  if (tracked.has(flatKey)) return true;
  for (let i = flatKey.indexOf("."); i >= 0; i = flatKey.indexOf(".", i + 1)) {
    if (tracked.has(flatKey.slice(0, i))) return true;
  }
  for (const k of tracked) if (isGlobKey(k) && globCovers(flatKey, k)) return true;
  return false;
}
