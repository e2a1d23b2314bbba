/**
 * `params diff` as a library call: which params files and keys to compare (from `Tracked`, `--targets`, `--deps`),
 * reading them on both sides, and the diff. Problems with one file on one side (absent, a directory, unparsable)
 * are warnings, and that side shows `-`: the comparison of every other file still stands.
 */
import { error, fail, ok, warning, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { Side } from "../git/revision.js";
import { diffFiles, type DiffResult, type Flat } from "../params/diff.js";
import { flatten, parseParamsText } from "../formats/params-file.js";
import { DEFAULT_PARAMS_FILE, keyCovered, type Tracked } from "./tracked.js";
import { unreachable } from "../core/unreachable.js";

/** What a side holds for one file: its flat values, or why there are none. */
export type FileRead = { state: "ok"; flat: Flat } | { state: "missing" } | { state: "dir" } | { state: "invalid"; problems: Diagnostic[] };

/** Reads `files` on `side` and parses each with `parse`. Only git failing is an error. */
export async function readSide(side: Side, files: readonly string[], parse: (file: string, text: string) => Result<Flat>): Promise<Result<Map<string, FileRead>>> {
  const blobs = await side.read(files);
  if (!blobs.ok) return blobs;
  const out = new Map<string, FileRead>();
  for (const f of files) {
    const b = blobs.value.get(f) ?? { kind: "missing" as const };
    if (b.kind !== "file") {
      out.set(f, { state: b.kind });
      continue;
    }
    const r = parse(f, b.text);
    out.set(f, r.ok ? { state: "ok", flat: r.value } : { state: "invalid", problems: r.errors });
  }
  return ok(out);
}

/**
 * Warnings for a file that could not be read on a side. A file absent on both sides is no news; a revision without
 * commits holds nothing, which is not worth a warning per file either.
 */
export function readWarnings(kind: "params" | "metrics", file: string, side: Side, read: FileRead, otherHasIt: boolean): Diagnostic[] {
  switch (read.state) {
    case "ok":
      return [];
    case "missing":
      return otherHasIt && side.kind !== "empty" ? [warning("missing-file", `${kind} file '${file}' does not exist in ${side.name}`)] : [];
    case "dir":
      return [warning("params", `${kind} file '${file}' is a directory in ${side.name}`)];
    case "invalid":
      return read.problems.map((d) => warning(d.reason, `cannot read ${kind} file '${file}' in ${side.name}: ${d.message.replace(`${file}: `, "")}`, d.location));
    default:
      return unreachable(read);
  }
}

/**
 * The warnings for one file compared between `a` and `b`. A file named by `--targets` (`explicit`) that neither side
 * holds gets one warning naming both sides rather than one per side.
 */
export function pairWarnings(kind: "params" | "metrics", file: string, a: Side, fa: FileRead, b: Side, fb: FileRead, explicit: boolean): Diagnostic[] {
  if (fa.state === "missing" && fb.state === "missing") {
    const where = [a, b].filter((s) => s.kind !== "empty").map((s) => s.name);
    return explicit && where.length > 0 ? [warning("missing-file", `${kind} file '${file}' does not exist in ${where.join(" or ")}`)] : [];
  }
  return [...readWarnings(kind, file, a, fa, fb.state !== "missing"), ...readWarnings(kind, file, b, fb, fa.state !== "missing")];
}

export function flatOf(read: FileRead | undefined): Flat | undefined {
  return read?.state === "ok" ? read.flat : undefined;
}

/** Params files parse to a mapping; anything else (a list, a scalar) is not a params file. */
export function parseParamsFlat(file: string, text: string): Result<Flat> {
  const r = parseParamsText(file, text);
  if (!r.ok) return r;
  const v = r.value;
  if (v === null || v === undefined) return ok({});
  if (typeof v !== "object" || Array.isArray(v) || v instanceof Date) {
    return fail([error("params", `${file}: not a params file (expected a mapping at the top level)`)]);
  }
  return ok(flatten(v));
}

export interface ParamsDiffOptions {
  /** Show unchanged keys too. */
  all: boolean;
  /** Only keys some stage depends on. */
  deps: boolean;
  /** Only these files (root-relative), compared even when nothing declares them. */
  targets?: readonly string[];
  /** The name a root-relative file is shown and sorted under. */
  display: (file: string) => string;
}

export interface ParamsDiffOutcome {
  diff: DiffResult;
  warnings: Diagnostic[];
}

interface Selection {
  file: string;
  /** Keys to keep; undefined keeps every key. */
  keys?: ReadonlySet<string>;
}

/**
 * Which files (and keys) are compared: the README's "What `params diff` compares". As DVC 3 selects them
 * (`dvc/repo/params/show.py`):
 * - every key of the root's `params.yaml` and of the top-level `params:` files (not with `--deps`);
 * - of any other file a stage depends on, the keys stages track (every key when one tracks the file whole);
 * - of a file none of the above selects, the keys some stage's `${...}` read (DVC's tracked vars), `--deps` or not;
 * - with `--targets`, those files whole (and no vars); with `--deps` too, only their keys stages track (DVC ignores
 *   `--deps` when targets are given).
 */
export function selectParams(tracked: Tracked, o: Pick<ParamsDiffOptions, "deps" | "targets">): Selection[] {
  const out: Selection[] = [];
  if (o.targets) {
    for (const file of [...new Set(o.targets)]) {
      const t = tracked.params.get(file);
      if (!o.deps) out.push({ file });
      else if (t?.stageKeys !== undefined) out.push(t.stageKeys === null ? { file } : { file, keys: t.stageKeys });
    }
    return out;
  }
  const files = new Map(tracked.params);
  if (!files.has(DEFAULT_PARAMS_FILE)) files.set(DEFAULT_PARAMS_FILE, { listed: false });
  for (const [file, t] of files) {
    if (!o.deps && (t.listed || file === DEFAULT_PARAMS_FILE)) out.push({ file });
    else if (t.stageKeys === null) out.push({ file });
    else if (t.stageKeys) out.push({ file, keys: t.stageKeys });
    // A file no stage depends on: what templating read from it. (A params file's vars are not added to its keys, as
    // DVC does not add them.)
    else if (t.varKeys) out.push({ file, keys: t.varKeys });
  }
  return out;
}

const INDEX = /^-?\d+$/;

/**
 * The entries of `flat` that `keys` select: a key selects itself and its subtree (`train` selects `train.lr`), and a
 * key through a list (`layers.0`, `models.1.lr`: flat keys stop at lists) selects that element, Python-indexed.
 */
export function pickKeys(flat: Flat | undefined, keys: ReadonlySet<string> | undefined): Flat | undefined {
  if (!flat || !keys) return flat;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) if (keyCovered(k, keys)) out[k] = v;
  for (const key of keys) {
    if (Object.hasOwn(out, key)) continue;
    for (let i = key.indexOf("."); i >= 0; i = key.indexOf(".", i + 1)) {
      const head = key.slice(0, i);
      if (!Object.hasOwn(flat, head)) continue;
      let cur: unknown = flat[head];
      let found = Array.isArray(cur);
      for (const step of found ? key.slice(i + 1).split(".") : []) {
        if (Array.isArray(cur) && INDEX.test(step)) {
          const n = Number(step);
          cur = cur[n < 0 ? cur.length + n : n];
        } else if (cur !== null && typeof cur === "object" && !Array.isArray(cur) && !(cur instanceof Date) && Object.hasOwn(cur, step)) {
          cur = (cur as Record<string, unknown>)[step];
        } else cur = undefined;
        if (cur === undefined) {
          found = false;
          break;
        }
      }
      if (found) Object.assign(out, flatten(cur, key));
      break;
    }
  }
  return out;
}

export async function diffParams(a: Side, b: Side, tracked: Tracked, o: ParamsDiffOptions): Promise<Result<ParamsDiffOutcome>> {
  const selection = selectParams(tracked, o);
  const files = selection.map((s) => s.file);
  const [ra, rb] = await Promise.all([readSide(a, files, parseParamsFlat), readSide(b, files, parseParamsFlat)]);
  if (!ra.ok) return ra;
  if (!rb.ok) return rb;
  const warnings: Diagnostic[] = [];
  const sides = new Map<string, { old: Flat | undefined; new: Flat | undefined }>();
  for (const s of selection) {
    const fa = ra.value.get(s.file)!;
    const fb = rb.value.get(s.file)!;
    warnings.push(...pairWarnings("params", o.display(s.file), a, fa, b, fb, o.targets !== undefined));
    sides.set(o.display(s.file), { old: pickKeys(flatOf(fa), s.keys), new: pickKeys(flatOf(fb), s.keys) });
  }
  return ok({ diff: diffFiles(sides, o.all), warnings });
}
