/**
 * Diffing flattened values of files between two revisions, shared by `params diff` and `metrics diff`, and the
 * table/JSON shapes of the result.
 *
 * Input: for each file, its flat `{dot.key: value}` on side A and side B (or `undefined` when the file is absent or
 * unreadable on that side). Output: `{file: {key: {old, new, diff?}}}` with only changed keys (all keys with
 * `--all`); `diff` is present when both values are numbers. Values compare structurally (`[1, 2]` equals `[1, 2]`;
 * `1` equals `1.0`, as in Python). Files and keys are sorted (code-unit order), so the output is deterministic.
 */
import { MISSING, numericDiff, renderValue, toJsonValue } from "./format.js";

export interface ValueChange {
  /** `MISSING` when the key (or the whole file) is absent on that side. */
  old: unknown;
  new: unknown;
  diff?: number | bigint;
}

/** File (as displayed) -> key -> change; both levels sorted. */
export type DiffResult = Map<string, Map<string, ValueChange>>;

export type Flat = Readonly<Record<string, unknown>>;

function canonical(v: unknown): string {
  if (v === MISSING) return "\u0000missing";
  if (typeof v === "number") return Number.isNaN(v) ? "nan" : String(v);
  if (typeof v === "bigint") return String(v);
  if (v instanceof Date) return `date:${v.toISOString()}`;
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "undefined";
}

export function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Changes between two flat mappings of one file; `undefined` stands for an absent file. */
export function diffFlat(oldFlat: Flat | undefined, newFlat: Flat | undefined, all: boolean): Map<string, ValueChange> {
  const keys = new Set([...Object.keys(oldFlat ?? {}), ...Object.keys(newFlat ?? {})]);
  const out = new Map<string, ValueChange>();
  for (const key of [...keys].sort(byCodeUnit)) {
    const o = oldFlat && Object.hasOwn(oldFlat, key) ? oldFlat[key] : MISSING;
    const n = newFlat && Object.hasOwn(newFlat, key) ? newFlat[key] : MISSING;
    if (!all && sameValue(o, n)) continue;
    const change: ValueChange = { old: o, new: n };
    const d = numericDiff(o, n);
    if (d !== undefined) change.diff = d;
    out.set(key, change);
  }
  return out;
}

/** Diffs every file; files without a row are left out. `files` maps a display name to its two sides. */
export function diffFiles(files: ReadonlyMap<string, { old: Flat | undefined; new: Flat | undefined }>, all: boolean): DiffResult {
  const out: DiffResult = new Map();
  for (const name of [...files.keys()].sort(byCodeUnit)) {
    const sides = files.get(name)!;
    const d = diffFlat(sides.old, sides.new, all);
    if (d.size > 0) out.set(name, d);
  }
  return out;
}

/** The `--json` document: `{file: {key: {old, new, diff?}}}`, missing values as `null`. */
export function diffToJson(result: DiffResult): Record<string, Record<string, { old: unknown; new: unknown; diff?: unknown }>> {
  const out: Record<string, Record<string, { old: unknown; new: unknown; diff?: unknown }>> = {};
  for (const [file, keys] of result) {
    const f: Record<string, { old: unknown; new: unknown; diff?: unknown }> = {};
    for (const [key, c] of keys) {
      f[key] = { old: toJsonValue(c.old), new: toJsonValue(c.new) };
      if (c.diff !== undefined) f[key].diff = toJsonValue(c.diff);
    }
    out[file] = f;
  }
  return out;
}

export interface DiffTableOptions {
  /** `Param` or `Metric`. */
  title: string;
  aName: string;
  bName: string;
  /** Show the Path column (`--no-path` hides it). */
  path: boolean;
  /** Add the `Change` column (metrics). */
  change: boolean;
  /** Significant digits for numbers (metrics); undefined prints numbers in full. */
  precision?: number;
}

/** Rows `Path  <title>  <A>  <B>  [Change]`, in file then key order. */
export function diffTable(result: DiffResult, o: DiffTableOptions): { headers: string[]; rows: string[][] } {
  const headers = [...(o.path ? ["Path"] : []), o.title, o.aName, o.bName, ...(o.change ? ["Change"] : [])];
  const rows: string[][] = [];
  for (const [file, keys] of result) {
    for (const [key, c] of keys) {
      let before = renderValue(c.old, o.precision);
      let after = renderValue(c.new, o.precision);
      // Two different values that print alike (`1` and `"1"`, `true` and `"true"`): a change of type, shown by
      // quoting the strings of this row.
      if (before === after && !sameValue(c.old, c.new)) {
        before = renderValue(c.old, o.precision, true);
        after = renderValue(c.new, o.precision, true);
      }
      rows.push([
        ...(o.path ? [file] : []),
        key,
        before,
        after,
        ...(o.change ? [c.diff === undefined ? "-" : renderValue(c.diff, o.precision)] : []),
      ]);
    }
  }
  return { headers, rows };
}
