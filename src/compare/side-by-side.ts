/**
 * Params and metrics of several sides at once, for the report's side-by-side tables: the files `params diff` and
 * `metrics show` would compare (every key of `params.yaml` and the listed params files, the keys stages track of the
 * others; every declared metrics file), read at each side and flattened to dotted keys. A file absent or unreadable
 * at a side leaves that side's cells empty; what went wrong is a warning, as in `params diff`.
 */
import { ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { Side } from "../git/revision.js";
import type { Flat } from "../params/diff.js";
import { readMetricsSide, selectMetrics, type CachedReader } from "./metrics.js";
import { flatOf, parseParamsFlat, pickKeys, readSide, readWarnings, selectParams } from "./params.js";
import type { Tracked } from "./tracked.js";

/** One kind's values: file -> key -> one value per side (undefined where the side has none). */
export type SideBySide = Map<string, Map<string, unknown[]>>;

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function addSide(out: SideBySide, file: string, flat: Flat | undefined, i: number, n: number): void {
  if (!flat) return;
  const keys = out.get(file) ?? new Map<string, unknown[]>();
  for (const [k, v] of Object.entries(flat)) {
    const row = keys.get(k) ?? new Array<unknown>(n).fill(undefined);
    row[i] = v;
    keys.set(k, row);
  }
  out.set(file, keys);
}

function sorted(m: SideBySide): SideBySide {
  return new Map([...m].sort(([a], [b]) => byCodeUnit(a, b)).map(([f, keys]) => [f, new Map([...keys].sort(([a], [b]) => byCodeUnit(a, b)))]));
}

export async function paramsAndMetrics(sides: readonly Side[], tracked: Tracked, cached?: CachedReader): Promise<Result<{ params: SideBySide; metrics: SideBySide; warnings: Diagnostic[] }>> {
  const params: SideBySide = new Map();
  const metrics: SideBySide = new Map();
  const warnings: Diagnostic[] = [];
  const selection = selectParams(tracked, { deps: false });
  const metricFiles = selectMetrics(tracked, undefined);
  for (const [i, side] of sides.entries()) {
    const p = await readSide(side, selection.map((s) => s.file), parseParamsFlat);
    if (!p.ok) return p;
    for (const s of selection) {
      const read = p.value.get(s.file) ?? { state: "missing" as const };
      if (read.state === "invalid") warnings.push(...readWarnings("params", s.file, side, read, true));
      addSide(params, s.file, pickKeys(flatOf(read), s.keys), i, sides.length);
    }
    const m = await readMetricsSide(side, metricFiles, cached);
    if (!m.ok) return m;
    for (const [f, read] of m.value) {
      if (read.state === "invalid") warnings.push(...readWarnings("metrics", f, side, read, true));
      addSide(metrics, f, flatOf(read), i, sides.length);
    }
  }
  return ok({ params: sorted(params), metrics: sorted(metrics), warnings });
}
