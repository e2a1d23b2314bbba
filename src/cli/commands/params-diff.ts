/**
 * `pipe params diff [A_REV [B_REV]]`: params that differ between two revisions (default `HEAD` and the workspace).
 *
 * Also home of the set-up `metrics show/diff` share: find the project and the git work tree, open each side, and
 * gather the params and metrics files each side's pipeline declares (`prepareComparison`).
 */
import { whereOf } from "../../project/where.js";
import path from "node:path";
import { error, fail, ok, warning, type Diagnostic, type Result } from "../../core/diagnostic.js";
import { openSide, projectGit, WORKSPACE, type ProjectGit, type Side } from "../../git/revision.js";
import type { Pipeline } from "../../core/model.js";
import { diffParams } from "../../params/compare.js";
import { diffTable, diffToJson, type DiffResult, type DiffTableOptions } from "../../params/diff.js";
import { addPipeline, emptyTracked, type Tracked } from "../../params/tracked.js";
import { stringifyJson } from "../../params/format.js";
import { renderTable } from "../../report/table.js";
import type { CommandContext } from "../context.js";
import { EXIT_OK, EXIT_USAGE } from "../context.js";
import { findRootForCommand, loadForCommand, printDiagnostics } from "../load.js";

export interface ParamsDiffOptions {
  all?: boolean;
  deps?: boolean;
  targets?: string[];
  json?: boolean;
  md?: boolean;
  /** false with `--no-path`. */
  path?: boolean;
}

export interface Comparison {
  root: string;
  git: ProjectGit | undefined;
  tracked: Tracked;
  /** How a root-relative file is shown: relative to the directory the command runs in, as DVC shows it (root-relative for `--json`). */
  display: (file: string) => string;
  /** The stages files (and texts) of each revision side, as scanned. */
  stagesAt: Map<Side, Map<string, string>>;
}

/** Prints the errors and returns the usage exit code. */
export function usageError(ctx: CommandContext, ds: readonly Diagnostic[]): number {
  printDiagnostics(ctx, ds);
  return EXIT_USAGE;
}

export function printWarnings(ctx: CommandContext, ds: readonly Diagnostic[]): void {
  if (!ctx.global.quiet) printDiagnostics(ctx, ds);
}

/**
 * Adds what the pipeline of a revision side declares to `cmp.tracked`, and keeps its stages files for the cached
 * metrics reader. Returns the side's load errors (the caller warns with `revisionLoadWarning`), or a git failure.
 */
export async function addRevision(cmp: Comparison, side: Side): Promise<Result<Diagnostic[]>> {
  const { trackRevision } = await import("../../params/at-revision.js");
  const r = await trackRevision(cmp.root, side, cmp.tracked);
  if (!r.ok) return r;
  cmp.stagesAt.set(side, r.value.stagesFiles);
  return ok(r.value.errors);
}

/**
 * One warning for the revisions whose pipeline did not load, with the first error of the first of them, located: the
 * comparison goes on with what their stages files name literally.
 */
export function revisionLoadWarning(failed: readonly { side: Side; errors: readonly Diagnostic[] }[]): Diagnostic[] {
  const first = failed[0];
  if (!first) return [];
  const names = failed.map((f) => f.side.name);
  const where = names.length > 5 ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more` : names.join(", ");
  const d = first.errors[0];
  const l = d?.location;
  const cause = d ? ` (${l ? `${l.file}:${l.line}:${l.col}: ` : ""}${d.message}${failed.length > 1 ? ` at ${first.side.name}` : ""})` : "";
  return [warning("warning", `the pipeline at ${where} does not load${cause}; the params and metrics its stages files name are read without templating`)];
}

/**
 * Finds the project, opens the named sides and gathers what each declares; an exit code when that fails (already
 * printed). The workspace's pipeline is loaded only when the workspace is one of the sides: comparing two revisions
 * never depends on it, so a broken workspace does not stop it (when the workspace is a side, its load errors are
 * printed and the exit code is 2, as for every command).
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
  const pg = await projectGit(root);
  if (!pg.ok) return usageError(ctx, pg.errors);
  const sides: Side[] = [];
  for (const name of names) {
    const s = await openSide(root, pg.value, name, why);
    if (!s.ok) return usageError(ctx, s.errors);
    sides.push(s.value);
  }
  // Tables show files relative to the working directory, as DVC does; `--json` keeps them root-relative.
  const display = json ? (file: string): string => file : whereOf(root, ctx.global.cwd).path;
  const cmp: Comparison = { root, git: pg.value, tracked: emptyTracked(), display, stagesAt: new Map() };
  if (workspace) addPipeline(cmp.tracked, workspace);
  const failed: { side: Side; errors: Diagnostic[] }[] = [];
  for (const s of sides) {
    if (s.kind === "workspace") continue;
    const r = await addRevision(cmp, s);
    if (!r.ok) return usageError(ctx, r.errors);
    if (r.value.length > 0) failed.push({ side: s, errors: r.value });
  }
  printWarnings(ctx, revisionLoadWarning(failed));
  return { cmp, sides };
}

/** `--targets` paths (relative to the working directory) as root-relative paths; errors for paths outside the root. */
export function resolveTargets(ctx: CommandContext, root: string, targets: readonly string[] | undefined): Result<string[] | undefined> {
  if (targets === undefined) return ok(undefined);
  const out: string[] = [];
  const bad: Diagnostic[] = [];
  for (const t of targets) {
    const rel = path.relative(root, path.resolve(ctx.global.cwd, t));
    if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) bad.push(error("usage", `target '${t}' is not a file inside the project`));
    else out.push(rel.split(path.sep).join("/"));
  }
  return bad.length > 0 ? fail(bad) : ok(out);
}

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.out(stringifyJson(value) + "\n");
}

export async function run(ctx: CommandContext, aRev: string | undefined, bRev: string | undefined, opts: ParamsDiffOptions): Promise<number> {
  const aName = aRev ?? "HEAD";
  const bName = bRev ?? WORKSPACE;
  const prepared = await prepareComparison(ctx, "params diff compares git revisions", [aName, bName], opts.json === true);
  if (typeof prepared === "number") return prepared;
  const { cmp, sides } = prepared;
  const targets = resolveTargets(ctx, cmp.root, opts.targets);
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
