/**
 * `pipe metrics show [--all-commits | REV...]` and `pipe metrics diff [A_REV [B_REV]]`.
 *
 * `show` prints one row per metrics file (and revision, when revisions are asked for) with one column per metric,
 * as `dvc metrics show` does; `diff` prints `Path  Metric  <A>  <B>  Change`. Numbers are rounded to `--precision`
 * significant digits (default 5) in tables; `--json` carries the values as read.
 */
import { error, warning, type Diagnostic } from "../../core/diagnostic.js";
import { listAllCommits } from "../../git/git.js";
import { commitSide, WORKSPACE, type Side } from "../../git/revision.js";
import { diffMetrics, showMetrics, type CachedReader, type MetricsShowOutcome } from "../../metrics/compare.js";
import { renderValue, toJsonValue } from "../../params/format.js";
import { renderTable, type TableData } from "../../report/table.js";
import type { CommandContext } from "../context.js";
import { EXIT_OK } from "../context.js";
import { addRevision, prepareComparison, printDiff, printJson, printWarnings, resolveTargets, revisionLoadWarning, usageError, type Comparison } from "./params-diff.js";

export interface MetricsShowOptions {
  allCommits?: boolean;
  json?: boolean;
  md?: boolean;
  /** Parsed by the CLI (1 to 100; default 5). */
  precision?: number;
}

export interface MetricsDiffOptions {
  all?: boolean;
  targets?: string[];
  json?: boolean;
  md?: boolean;
  path?: boolean;
  precision?: number;
}

export const DEFAULT_PRECISION = 5;

/** The `metrics show` table: `[Revision]  Path  <metric...>`, metric columns sorted, `-` where a file lacks one. */
export function showTable(outcome: MetricsShowOutcome, withRevision: boolean, precision: number): TableData {
  const keys = [...new Set(outcome.rows.flatMap((r) => Object.keys(r.values)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const headers = [...(withRevision ? ["Revision"] : []), "Path", ...keys];
  const rows = outcome.rows.map((r) => [
    ...(withRevision ? [r.side] : []),
    r.file,
    ...keys.map((k) => (Object.hasOwn(r.values, k) ? renderValue(r.values[k], precision) : "-")),
  ]);
  return { headers, rows };
}

/**
 * `--json` of `show`, in DVC 3's layout (`dvc metrics show --json`): `{rev: {data: {file: {data: metrics} | {error:
 * message}}}}`, metrics nested as in the file. The workspace shown alone (no revisions, no `--all-commits`) is the
 * revision `""`, as DVC names it there. Revisions in the order shown (Maps: an object would move an all-digit
 * abbreviated sha ahead of the others).
 */
export function showJson(outcome: MetricsShowOutcome, sides: readonly Side[], workspaceAlone: boolean): Map<string, { data: Map<string, unknown> }> {
  const files = new Map<string, Map<string, unknown>>();
  for (const s of sides) files.set(s.name, new Map());
  for (const r of outcome.rows) files.get(r.side)!.set(r.file, { data: toJsonValue(r.data) });
  for (const e of outcome.errors) files.get(e.side)!.set(e.file, { error: e.message });
  const out = new Map<string, { data: Map<string, unknown> }>();
  for (const [rev, data] of files) out.set(workspaceAlone ? "" : rev, { data });
  return out;
}

/** Reads metrics outputs missing from a revision's tree through its lock and the cache. */
function cachedReader(cmp: Comparison): CachedReader {
  return async (side, files) => {
    const { readCachedAt } = await import("../../metrics/cached.js");
    return readCachedAt(cmp.root, side, cmp.stagesAt.get(side) ?? new Map(), files);
  };
}

export async function runShow(ctx: CommandContext, revs: string[], opts: MetricsShowOptions): Promise<number> {
  const precision = opts.precision ?? DEFAULT_PRECISION;
  if (opts.allCommits && revs.length > 0) return usageError(ctx, [error("usage", "--all-commits takes no revisions: it shows the workspace and every commit")]);
  const names = revs.length > 0 ? [...new Set(revs)] : [WORKSPACE];
  const prepared = await prepareComparison(ctx, "metrics show reads revisions from git", names, opts.json === true);
  if (typeof prepared === "number") return prepared;
  const { cmp } = prepared;
  const sides = prepared.sides;
  if (opts.allCommits) {
    if (!cmp.git) return usageError(ctx, [error("git", "not a git repository: metrics show --all-commits reads revisions from git")]);
    const commits = await listAllCommits(cmp.git.repo);
    if (!commits.ok) return usageError(ctx, commits.errors);
    const failed: { side: Side; errors: Diagnostic[] }[] = [];
    for (const sha of commits.value) {
      const side = commitSide(cmp.git, sha, sha);
      const r = await addRevision(cmp, side);
      if (!r.ok) return usageError(ctx, r.errors);
      if (r.value.length > 0) failed.push({ side, errors: r.value });
      sides.push(side);
    }
    printWarnings(ctx, revisionLoadWarning(failed));
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
  const precision = opts.precision ?? DEFAULT_PRECISION;
  const aName = aRev ?? "HEAD";
  const bName = bRev ?? WORKSPACE;
  const prepared = await prepareComparison(ctx, "metrics diff compares git revisions", [aName, bName], opts.json === true);
  if (typeof prepared === "number") return prepared;
  const { cmp, sides } = prepared;
  const targets = resolveTargets(ctx, cmp.root, opts.targets);
  if (!targets.ok) return usageError(ctx, targets.errors);
  const r = await diffMetrics(sides[0]!, sides[1]!, cmp.tracked, {
    all: opts.all === true,
    ...(targets.value ? { targets: targets.value } : {}),
    display: cmp.display,
    cached: cachedReader(cmp),
  });
  if (!r.ok) return usageError(ctx, r.errors);
  return printDiff(ctx, r.value, opts, { title: "Metric", aName, bName, path: opts.path !== false, change: true, precision });
}
