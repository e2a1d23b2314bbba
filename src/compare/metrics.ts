/**
 * `metrics show` and `metrics diff` as library calls: the metrics files of a project (stage `metrics:` outputs and
 * top-level `metrics:` lists, or `--targets`), read on each side (a directory output stands for the files under it),
 * and either listed per side or diffed. A metrics file absent on one side is a warning naming that side, never a
 * failure: the table shows `-` there.
 */
import { ok, warning, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { Side } from "../git/revision.js";
import { readSide, readWarnings, pairWarnings, flatOf, type FileRead } from "./params.js";
import { diffFiles, type DiffResult, type Flat } from "../params/diff.js";
import type { Tracked } from "./tracked.js";
import { flattenMetrics, parseMetricsTree } from "../formats/metrics.js";

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The metrics files to read: `--targets` when given, else every declared one; sorted. */
export function selectMetrics(tracked: Tracked, targets: readonly string[] | undefined): string[] {
  return [...new Set(targets ?? tracked.metrics)].sort(byCodeUnit);
}

/** Texts of files a revision's tree lacks but its lock and the cache hold (see `cached.ts`). */
export type CachedReader = (side: Side, files: readonly string[]) => Promise<Map<string, string>>;

/** A metrics file read on one side; a file read `ok` also has its metrics as nested in the file, for `show --json`. */
export type MetricsRead = FileRead & { tree?: unknown };

/**
 * Reads metrics files on a side, replacing a directory by the files under it; files a revision's tree lacks are
 * looked up through `cached` (lock + cache), as DVC reads cached metrics at a revision.
 */
export async function readMetricsSide(side: Side, files: readonly string[], cached?: CachedReader): Promise<Result<Map<string, MetricsRead>>> {
  // `readSide` keeps the flat form only; the nested one is kept here, by file, as each is parsed.
  const trees = new Map<string, unknown>();
  const parse = (f: string, text: string): Result<Flat> => {
    const p = parseMetricsTree(f, text);
    if (!p.ok) return p;
    trees.set(f, p.value);
    return ok(flattenMetrics(p.value), p.warnings);
  };
  const r = await readSide(side, files, parse);
  if (!r.ok) return r;
  if (cached && side.kind === "commit") {
    const absent = [...r.value].filter(([, x]) => x.state === "missing").map(([f]) => f);
    for (const [f, text] of absent.length > 0 ? await cached(side, absent) : []) {
      const p = parse(f, text);
      r.value.set(f, p.ok ? { state: "ok", flat: p.value } : { state: "invalid", problems: p.errors });
    }
  }
  const out = new Map<string, MetricsRead>();
  const withTree = (f: string, read: FileRead): MetricsRead => (read.state === "ok" ? { ...read, tree: trees.get(f) } : read);
  for (const [f, read] of r.value) {
    if (read.state !== "dir") {
      out.set(f, withTree(f, read));
      continue;
    }
    const listed = await side.listUnder(f);
    if (!listed.ok) return listed;
    const inner = await readSide(side, listed.value, parse);
    if (!inner.ok) return inner;
    for (const [g, x] of inner.value) out.set(g, withTree(g, x));
  }
  return ok(out);
}

export interface MetricsDiffOptions {
  all: boolean;
  targets?: readonly string[];
  display: (file: string) => string;
  cached?: CachedReader;
}

export async function diffMetrics(a: Side, b: Side, tracked: Tracked, o: MetricsDiffOptions): Promise<Result<{ diff: DiffResult; warnings: Diagnostic[] }>> {
  const files = selectMetrics(tracked, o.targets);
  const [ra, rb] = await Promise.all([readMetricsSide(a, files, o.cached), readMetricsSide(b, files, o.cached)]);
  if (!ra.ok) return ra;
  if (!rb.ok) return rb;
  const names = [...new Set([...ra.value.keys(), ...rb.value.keys()])].sort(byCodeUnit);
  const warnings: Diagnostic[] = [];
  const sides = new Map<string, { old: Flat | undefined; new: Flat | undefined }>();
  const missing: FileRead = { state: "missing" };
  for (const f of names) {
    const fa = ra.value.get(f) ?? missing;
    const fb = rb.value.get(f) ?? missing;
    warnings.push(...pairWarnings("metrics", o.display(f), a, fa, b, fb, o.targets !== undefined));
    sides.set(o.display(f), { old: flatOf(fa), new: flatOf(fb) });
  }
  return ok({ diff: diffFiles(sides, o.all), warnings });
}

/** One row of `metrics show`: a file's metrics on one side. */
export interface MetricsRow {
  side: string;
  file: string;
  values: Flat;
  /** The same metrics as nested in the file (`--json`). */
  data: unknown;
}

export interface MetricsShowOutcome {
  rows: MetricsRow[];
  /** Files that could not be read, by side, for `--json`. */
  errors: { side: string; file: string; message: string }[];
  warnings: Diagnostic[];
}

/**
 * Metrics of every side, in the order of `sides`, files sorted within a side. A file missing on some sides gets one
 * warning listing them (not one per commit, which `--all-commits` would make unreadable).
 */
export async function showMetrics(
  sides: readonly Side[],
  tracked: Tracked,
  o: { targets?: readonly string[]; display: (file: string) => string; cached?: CachedReader },
): Promise<Result<MetricsShowOutcome>> {
  const files = selectMetrics(tracked, o.targets);
  const reads: Map<string, MetricsRead>[] = [];
  // A few git processes at a time: `--all-commits` may name hundreds of revisions.
  for (let i = 0; i < sides.length; i += 8) {
    const batch = await Promise.all(sides.slice(i, i + 8).map((s) => readMetricsSide(s, files, o.cached)));
    for (const r of batch) {
      if (!r.ok) return r;
      reads.push(r.value);
    }
  }
  const names = [...new Set(reads.flatMap((m) => [...m.keys()]))].sort(byCodeUnit);
  const out: MetricsShowOutcome = { rows: [], errors: [], warnings: [] };
  const missingIn = new Map<string, string[]>();
  sides.forEach((side, i) => {
    for (const f of names) {
      const read: MetricsRead = reads[i]!.get(f) ?? { state: "missing" };
      const shown = o.display(f);
      if (read.state === "ok") {
        out.rows.push({ side: side.name, file: shown, values: read.flat, data: read.tree });
      } else if (read.state === "missing") {
        if (side.kind !== "empty") missingIn.set(shown, [...(missingIn.get(shown) ?? []), side.name]);
      } else {
        const ws = readWarnings("metrics", shown, side, read, true);
        out.warnings.push(...ws);
        out.errors.push({ side: side.name, file: shown, message: ws.map((w) => w.message).join("; ") });
      }
    }
  });
  for (const [file, where] of missingIn) {
    const list = where.length > 5 ? `${where.slice(0, 5).join(", ")} and ${where.length - 5} more` : where.join(", ");
    out.warnings.push(warning("missing-file", `metrics file '${file}' does not exist in ${list}`));
  }
  return ok(out);
}
