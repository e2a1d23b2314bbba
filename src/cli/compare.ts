/**
 * What `params diff`, `metrics show/diff` and `exp diff` share on the command side: open the comparison
 * (`compare/comparison.ts`) from the command's directory, print its diagnostics, and print a diff as JSON or a table.
 * The two diffs live here, not in their command files, so `exp diff` composes them without importing a command.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import { diffMetrics, type CachedReader } from "../compare/metrics.js";
import { diffParams } from "../compare/params.js";
import { WORKSPACE, type Side } from "../git/revision.js";
import type { Pipeline } from "../core/model.js";
import { openComparison, rootTargets, type Comparison } from "../compare/comparison.js";
import { diffTable, diffToJson, type DiffResult, type DiffTableOptions } from "../params/diff.js";
import { stringifyJson } from "../params/format.js";
import { whereOf } from "../project/where.js";
import { renderTable } from "../report/table.js";
import { DEFAULT_PRECISION, EXIT_OK, EXIT_USAGE, type CommandContext } from "./context.js";
import { findRootForCommand, loadForCommand, printDiagnostics } from "./load.js";

/** Prints the errors and returns the usage exit code. */
export function usageError(ctx: CommandContext, ds: readonly Diagnostic[]): number {
  printDiagnostics(ctx, ds);
  return EXIT_USAGE;
}

export function printWarnings(ctx: CommandContext, ds: readonly Diagnostic[]): void {
  if (!ctx.global.quiet) printDiagnostics(ctx, ds);
}

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.out(stringifyJson(value) + "\n");
}

/**
 * Finds the project, opens the named sides and gathers what each declares; an exit code when that fails (already
 * printed). The workspace's pipeline is loaded only when the workspace is one of the sides (when it is, its load
 * errors are printed and the exit code is 2, as for every command).
 */
export async function prepareComparison(ctx: CommandContext, why: string, names: readonly string[], json = false): Promise<{ cmp: Comparison; sides: Side[] } | number> {
  let root: string;
  let workspace: Pipeline | undefined;
  if (names.includes(WORKSPACE)) {
    const loaded = await loadForCommand(ctx);
    if (typeof loaded === "number") return loaded;
    root = loaded.project.root;
    workspace = loaded.graph.pipeline;
  } else {
    const project = await findRootForCommand(ctx);
    if (typeof project === "number") return project;
    root = project.root;
  }
  // Tables show files relative to the working directory, as DVC does; `--json` keeps them root-relative.
  const display = json ? (file: string): string => file : whereOf(root, ctx.global.cwd).path;
  const r = await openComparison(root, workspace, names, why, display);
  if (!r.ok) return usageError(ctx, r.errors);
  printWarnings(ctx, r.value.warnings);
  return { cmp: r.value.cmp, sides: r.value.sides };
}

/**
 * The end of `params diff` and `metrics diff`: warnings on stderr, then the `--json` document, or nothing when nothing
 * differs, or the table (`--md`: GitHub markdown).
 */
export function printDiff(
  ctx: CommandContext,
  result: { diff: DiffResult; warnings: readonly Diagnostic[] },
  opts: { json?: boolean; md?: boolean },
  table: DiffTableOptions,
): number {
  printWarnings(ctx, result.warnings);
  if (opts.json) {
    printJson(ctx, diffToJson(result.diff));
    return EXIT_OK;
  }
  if (result.diff.size === 0) return EXIT_OK;
  ctx.io.out(renderTable(diffTable(result.diff, table), opts.md ? "markdown" : "plain"));
  return EXIT_OK;
}

/** Reads metrics outputs missing from a revision's tree through its lock and the cache. */
export function cachedReader(cmp: Comparison): CachedReader {
  return async (side, files) => {
    const { readCachedAt } = await import("../compare/metrics-cached.js");
    return readCachedAt(cmp.root, side, cmp.stagesAt.get(side) ?? new Map(), files);
  };
}

export interface MetricsDiffOptions {
  all?: boolean;
  targets?: string[];
  json?: boolean;
  md?: boolean;
  path?: boolean;
  precision?: number;
}

export interface ParamsDiffOptions {
  all?: boolean;
  deps?: boolean;
  targets?: string[];
  json?: boolean;
  md?: boolean;
  /** false with `--no-path`. */
  path?: boolean;
}

/** `metrics diff` (and the first half of `exp diff`). */
export async function metricsDiff(ctx: CommandContext, aRev: string | undefined, bRev: string | undefined, opts: MetricsDiffOptions): Promise<number> {
  const precision = opts.precision ?? DEFAULT_PRECISION;
  const aName = aRev ?? "HEAD";
  const bName = bRev ?? WORKSPACE;
  const prepared = await prepareComparison(ctx, "metrics diff compares git revisions", [aName, bName], opts.json === true);
  if (typeof prepared === "number") return prepared;
  const { cmp, sides } = prepared;
  const targets = rootTargets(cmp.root, ctx.global.cwd, opts.targets);
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

/** `params diff` (and the second half of `exp diff`). */
export async function paramsDiff(ctx: CommandContext, aRev: string | undefined, bRev: string | undefined, opts: ParamsDiffOptions): Promise<number> {
  const aName = aRev ?? "HEAD";
  const bName = bRev ?? WORKSPACE;
  const prepared = await prepareComparison(ctx, "params diff compares git revisions", [aName, bName], opts.json === true);
  if (typeof prepared === "number") return prepared;
  const { cmp, sides } = prepared;
  const targets = rootTargets(cmp.root, ctx.global.cwd, opts.targets);
  if (!targets.ok) return usageError(ctx, targets.errors);
  const r = await diffParams(sides[0]!, sides[1]!, cmp.tracked, {
    all: opts.all === true,
    deps: opts.deps === true,
    ...(targets.value ? { targets: targets.value } : {}),
    display: cmp.display,
  });
  if (!r.ok) return usageError(ctx, r.errors);
  return printDiff(ctx, r.value, opts, { title: "Param", aName, bName, path: opts.path !== false, change: false });
}
