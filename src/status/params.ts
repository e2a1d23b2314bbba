/**
 * Params dependencies as the lock records them and as `status` compares them, following DVC:
 *
 * - tracked keys (`- train.lr`, `- train`) record the value at that dotted path (a subtree for `train`);
 * - a whole file (`- configs/eval.yaml:`) records the file's top-level keys with their (nested) values;
 * - comparing reports `modified` (value differs, old -> new), `new` (tracked, absent from the lock), `deleted`
 *   (tracked, gone from the file) and, beyond DVC, `removed` (in the lock, no longer tracked by the stage).
 */
import path from "node:path";
import { readParamsFile } from "../formats/params-file.js";
import { sameValue } from "../params/diff.js";
import type { ParamsDep } from "../core/model.js";
import { pathKey } from "../lock/types.js";
import { globMatches, isGlobKey } from "../params/glob.js";
import type { ParamChange, ParamsFileChange, ParamsFileFacts } from "./types.js";

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

const ABSENT: unique symbol = Symbol("absent");

/**
 * The value at a dotted key. Segments are matched greedily so a key that itself holds a dot (`{"a.b": 1}`) is still
 * found; a numeric segment indexes a list, as DVC's `dpath` does. A glob key (`dataset_kwargs.moons*`, see
 * `params/glob.ts`) gives the one value it matches, and is absent when it matches none or several.
 */
export function getDotted(root: unknown, key: string): unknown | typeof ABSENT {
  if (isGlobKey(key)) {
    const m = globMatches(root, key, 2);
    return m.length === 1 ? m[0]!.value : ABSENT;
  }
  const segs = key.split(".");
  const walk = (v: unknown, i: number): unknown | typeof ABSENT => {
    if (i === segs.length) return v;
    if (isRecord(v)) {
      for (let j = segs.length; j > i; j--) {
        const k = segs.slice(i, j).join(".");
        if (Object.prototype.hasOwnProperty.call(v, k)) {
          const r = walk(v[k], j);
          if (r !== ABSENT) return r;
        }
      }
      return ABSENT;
    }
    if (Array.isArray(v)) {
      const s = segs[i]!;
      if (!/^[0-9]+$/.test(s)) return ABSENT;
      const idx = Number(s);
      return idx < v.length ? walk(v[idx], i + 1) : ABSENT;
    }
    return ABSENT;
  };
  return walk(root, 0);
}

export function isAbsent(v: unknown): v is typeof ABSENT {
  return v === ABSENT;
}

/**
 * Why the keys of a params dependency cannot all be recorded from the file's `value`, as the end of a message
 * (`params 'lr' not found in 'params.yaml'`), or undefined when every key gives one value. A glob key matching
 * several keys is refused, as DVC refuses it (`dpath.get`).
 */
export function unresolvedParams(dep: ParamsDep, value: unknown): string | undefined {
  const missing: string[] = [];
  const problems: string[] = [];
  for (const k of dep.keys ?? []) {
    if (isGlobKey(k)) {
      const m = globMatches(value, k);
      if (m.length === 0) missing.push(k);
      else if (m.length > 1) problems.push(`params key '${k}' matches ${m.length} keys in '${dep.file}' (${m.slice(0, 3).map((x) => `'${x.path.join(".")}'`).join(", ")}${m.length > 3 ? ", ..." : ""}); a glob key must match exactly one`);
    } else if (isAbsent(getDotted(value, k))) missing.push(k);
  }
  if (missing.length > 0) problems.unshift(`params ${missing.map((k) => `'${k}'`).join(", ")} not found in '${dep.file}'`);
  return problems.length > 0 ? problems.join("; ") : undefined;
}

/** The values a params dependency records now: `key -> value` (absent keys are left out). */
export function currentParamValues(dep: ParamsDep, file: ParamsFileFacts): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (file.kind !== "ok") return out;
  if (dep.keys === null) {
    if (isRecord(file.value)) for (const [k, v] of Object.entries(file.value)) out[k] = v;
    return out;
  }
  for (const k of dep.keys) {
    const v = getDotted(file.value, k);
    if (!isAbsent(v)) out[k] = v;
  }
  return out;
}

/** A path the lock records (relative to the stage's wdir) as a root path. */
export function lockRootPath(wdir: string, p: string): string {
  const r = path.posix.normalize(path.posix.join(wdir, p)).replace(/\/$/, "");
  return r === "." ? "" : r;
}

/**
 * Compares a stage's params with the lock's. `files` holds the parsed params files by root path. Lock params of files
 * the stage no longer names are all `removed`.
 */
export function compareParams(deps: readonly ParamsDep[], lock: Readonly<Record<string, Record<string, unknown>>>, files: ReadonlyMap<string, ParamsFileFacts>, wdir = ""): ParamsFileChange[] {
  const lockByKey = new Map<string, [string, Record<string, unknown>]>();
  for (const [f, vals] of Object.entries(lock)) lockByKey.set(pathKey(f), [f, vals]);
  const out: ParamsFileChange[] = [];
  const seen = new Set<string>();
  for (const dep of deps) {
    const k = pathKey(dep.file);
    seen.add(k);
    const locked = lockByKey.get(k)?.[1] ?? {};
    const facts = files.get(dep.rootPath) ?? { kind: "missing" as const };
    const changes: ParamChange[] = [];
    if (facts.kind === "invalid") {
      out.push({ file: dep.file, rootPath: dep.rootPath, changes, error: facts.message });
      continue;
    }
    const actual = currentParamValues(dep, facts);
    // Order: the stage's keys (or, for a whole file, the file's keys in file order), then keys only the lock has.
    const keys = dep.keys === null ? [...Object.keys(actual)] : [...dep.keys];
    for (const key of Object.keys(locked)) if (!keys.includes(key)) keys.push(key);
    const tracked = (key: string): boolean => dep.keys === null || dep.keys.includes(key);
    for (const key of keys) {
      const inLock = Object.prototype.hasOwnProperty.call(locked, key);
      const inFile = Object.prototype.hasOwnProperty.call(actual, key);
      if (!tracked(key)) {
        if (inLock) changes.push({ key, change: "removed", old: locked[key] });
        continue;
      }
      if (!inFile) {
        if (inLock) changes.push({ key, change: "deleted", old: locked[key] });
        else if (dep.keys !== null) changes.push({ key, change: "deleted" });
      } else if (!inLock) changes.push({ key, change: "new", new: actual[key] });
      else if (!sameValue(locked[key], actual[key])) diffValue(key, locked[key], actual[key], changes);
    }
    if (changes.length > 0) out.push({ file: dep.file, rootPath: dep.rootPath, changes });
  }
  for (const [k, [file, vals]] of lockByKey) {
    if (seen.has(k)) continue;
    const changes: ParamChange[] = Object.keys(vals).map((key) => ({ key, change: "removed", old: vals[key] }));
    if (changes.length > 0) out.push({ file, rootPath: lockRootPath(wdir, file), changes });
  }
  return out;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A modified value that is a map on both sides (a whole section such as `params: [train]`) is reported key by key
 * (`train.epochs  60 -> 15`) rather than as two whole maps: the point of status is to say which value moved.
 * Lists and scalars are reported whole.
 */
function diffValue(key: string, old: unknown, now: unknown, changes: ParamChange[]): void {
  if (!isMap(old) || !isMap(now)) {
    changes.push({ key, change: "modified", old, new: now });
    return;
  }
  const keys = Object.keys(now);
  for (const k of Object.keys(old)) if (!Object.prototype.hasOwnProperty.call(now, k)) keys.push(k);
  for (const k of keys) {
    const sub = `${key}.${k}`;
    if (!Object.prototype.hasOwnProperty.call(old, k)) changes.push({ key: sub, change: "new", new: now[k] });
    else if (!Object.prototype.hasOwnProperty.call(now, k)) changes.push({ key: sub, change: "deleted", old: old[k] });
    else if (!sameValue(old[k], now[k])) diffValue(sub, old[k], now[k], changes);
  }
}

/** Reads and parses params files once per invocation. */
export class ParamsReader {
  private readonly memo = new Map<string, Promise<ParamsFileFacts>>();
  constructor(readonly root: string) {}

  read(rootPath: string, absPath: string): Promise<ParamsFileFacts> {
    let p = this.memo.get(rootPath);
    if (!p) {
      p = readParamsFile(absPath, rootPath).then((r): ParamsFileFacts => {
        if (r.ok) return { kind: "ok", value: r.value };
        const e = r.errors[0];
        if (e?.reason === "missing-file") return { kind: "missing" };
        return { kind: "invalid", message: e ? e.message : "cannot be parsed" };
      });
      this.memo.set(rootPath, p);
    }
    return p;
  }
}
