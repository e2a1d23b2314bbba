/**
 * `pipe metrics show [--all-commits | REV...]` and `pipe metrics diff [A_REV [B_REV]]`.
 *
 * `show` prints one row per metrics file (and revision, when revisions are asked for) with one column per metric,
 * as `dvc metrics show` does; `diff` prints `Path  Metric  <A>  <B>  Change`. Numbers are rounded to `--precision`
 * significant digits (default 5) in tables; `--json` carries the values as read.
 */
import { error, warning } from "../../core/diagnostic.js";
import { WORKSPACE } from "../../git/revision.js";
import { showMetrics } from "../../compare/metrics.js";
import { addAllCommits } from "../../compare/comparison.js";
import { showJson, showTable } from "../../report/metrics.js";
import { renderTable } from "../../report/table.js";
import type { CommandContext } from "../context.js";
import { DEFAULT_PRECISION, EXIT_OK } from "../context.js";
import { cachedReader, metricsDiff, prepareComparison, printJson, printWarnings, usageError, type MetricsDiffOptions } from "../compare.js";

export interface MetricsShowOptions {
  allCommits?: boolean;
  json?: boolean;
  md?: boolean;
  /** Parsed by the CLI (1 to 100; default 5). */
  precision?: number;
}

export type { MetricsDiffOptions } from "../compare.js";


export async function runShow(ctx: CommandContext, revs: string[], opts: MetricsShowOptions): Promise<number> {
  const precision = opts.precision ?? DEFAULT_PRECISION;
  if (opts.allCommits && revs.length > 0) return usageError(ctx, [error("usage", "--all-commits takes no revisions: it shows the workspace and every commit")]);
  const names = revs.length > 0 ? [...new Set(revs)] : [WORKSPACE];
  const prepared = await prepareComparison(ctx, "metrics show reads revisions from git", names, opts.json === true);
  if (typeof prepared === "number") return prepared;
  const { cmp } = prepared;
  const sides = prepared.sides;
  if (opts.allCommits) {
    const all = await addAllCommits(cmp, "metrics show --all-commits reads revisions from git");
    if (!all.ok) return usageError(ctx, all.errors);
    sides.push(...all.value.sides);
    printWarnings(ctx, all.value.warnings);
  }
  const r = await showMetrics(sides, cmp.tracked, { display: cmp.display, cached: cachedReader(cmp) });
  if (!r.ok) return usageError(ctx, r.errors);
  printWarnings(ctx, r.value.warnings);
  if (opts.json) {
    printJson(ctx, showJson(r.value, sides, revs.length === 0 && opts.allCommits !== true));
    return EXIT_OK;
  }
  if (r.value.rows.length === 0) {
    if (cmp.tracked.metrics.size === 0) printWarnings(ctx, [warning("warning", "no metrics files: declare them in a stage's `metrics:` or in the top-level `metrics:` list")]);
    return EXIT_OK;
  }
  const withRevision = opts.allCommits === true || revs.length > 0;
  ctx.io.out(renderTable(showTable(r.value, withRevision, precision), opts.md ? "markdown" : "plain"));
  return EXIT_OK;
}

export async function runDiff(ctx: CommandContext, aRev: string | undefined, bRev: string | undefined, opts: MetricsDiffOptions): Promise<number> {
  return metricsDiff(ctx, aRev, bRev, opts);
}
