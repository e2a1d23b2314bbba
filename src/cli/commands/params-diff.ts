/**
 * `pipe params diff [A_REV [B_REV]]`: params that differ between two revisions (default `HEAD` and the workspace).
 *
 * Also home of the set-up `metrics show/diff` share: load the workspace pipeline, find the git work tree, open each
 * side, and add to the tracked files what each compared revision's stages files declared.
 */
import path from "node:path";
import { error, fail, ok, type Diagnostic, type Result } from "../../config/diagnostic.js";
import { openSide, projectGit, type ProjectGit, type Side } from "../../git/revision.js";
import { diffParams } from "../../params/compare.js";
import { diffTable, diffToJson, type DiffResult, type DiffTableOptions } from "../../params/diff.js";
import { addPipeline, addStagesText, emptyTracked, stagesFilesOf, type Tracked } from "../../params/tracked.js";
import { stringifyJson } from "../../params/format.js";
import { renderTable } from "../../report/table.js";
import type { CommandContext } from "../context.js";
import { EXIT_OK, EXIT_USAGE } from "../context.js";
import { loadForCommand, printDiagnostics } from "../load.js";

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
  /** How a root-relative file is shown: relative to the directory the command runs in, as DVC shows it. */
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
 * Adds what the stages files of a revision declare (read without templating) to `tracked`; returns those files'
 * texts (none for the workspace, whose pipeline is loaded instead).
 */
export async function scanSide(side: Side, tracked: Tracked): Promise<Result<Map<string, string>>> {
  const texts = new Map<string, string>();
  const all = await side.listAll();
  if (all === undefined) return ok(texts);
  if (!all.ok) return all;
  const stagesFiles = stagesFilesOf(all.value);
  const read = await side.read(stagesFiles);
  if (!read.ok) return read;
  for (const f of stagesFiles) {
    const b = read.value.get(f);
    if (b?.kind !== "file") continue;
    addStagesText(tracked, f, b.text);
    texts.set(f, b.text);
  }
  return ok(texts);
}

/** Loads the project and opens the named sides; an exit code when that fails (already printed). */
export async function prepareComparison(ctx: CommandContext, why: string, names: readonly string[]): Promise<{ cmp: Comparison; sides: Side[] } | number> {
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const root = loaded.project.root;
  const pg = await projectGit(root);
  if (!pg.ok) return usageError(ctx, pg.errors);
  const sides: Side[] = [];
  for (const name of names) {
    const s = await openSide(root, pg.value, name, why);
    if (!s.ok) return usageError(ctx, s.errors);
    sides.push(s.value);
  }
  const tracked = emptyTracked();
  addPipeline(tracked, loaded.graph.pipeline);
  const stagesAt = new Map<Side, Map<string, string>>();
  for (const s of sides) {
    const scanned = await scanSide(s, tracked);
    if (!scanned.ok) return usageError(ctx, scanned.errors);
    stagesAt.set(s, scanned.value);
  }
  const cwd = ctx.global.cwd;
  const display = (file: string): string => path.relative(cwd, path.join(root, file)).split(path.sep).join("/");
  return { cmp: { root, git: pg.value, tracked, display, stagesAt }, sides };
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
  const bName = bRev ?? "workspace";
  const prepared = await prepareComparison(ctx, "params diff compares git revisions", [aName, bName]);
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
