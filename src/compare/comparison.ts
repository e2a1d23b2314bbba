/**
 * The set-up `params diff` and `metrics show/diff` share: open each named side (a git revision or the workspace) of
 * a project and gather the params and metrics files each side's pipeline declares, keeping each revision's stages
 * files for the cached metrics reader. Expected failures (git, an unknown revision) are values; revisions whose
 * pipeline does not load are not failures but one warning (`revisionLoadWarning`).
 */
import path from "node:path";
import { error, fail, ok, warning, type Diagnostic, type Result } from "../core/diagnostic.js";
import { listAllCommits } from "../git/git.js";
import { commitSide, openSide, projectGit, type ProjectGit, type Side } from "../git/revision.js";
import type { Pipeline } from "../core/model.js";
import { addPipeline, emptyTracked, type Tracked } from "./tracked.js";

export interface Comparison {
  root: string;
  git: ProjectGit | undefined;
  tracked: Tracked;
  /** How a root-relative file is shown: relative to the directory the command runs in, as DVC shows it (root-relative for `--json`). */
  display: (file: string) => string;
  /** The stages files (and texts) of each revision side, as scanned. */
  stagesAt: Map<Side, Map<string, string>>;
}

export interface Opened {
  cmp: Comparison;
  sides: Side[];
  /** Revisions whose pipeline did not load (at most one warning). */
  warnings: Diagnostic[];
}

/**
 * Adds what the pipeline of a revision side declares to `cmp.tracked`, and keeps its stages files for the cached
 * metrics reader. Returns the side's load errors (the caller warns with `revisionLoadWarning`), or a git failure.
 */
export async function addRevision(cmp: Comparison, side: Side): Promise<Result<Diagnostic[]>> {
  const { trackRevision } = await import("./params-at-revision.js");
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

/** Adds each revision side to `cmp`: the warning for those whose pipeline did not load, or a git failure. */
async function addRevisions(cmp: Comparison, sides: readonly Side[]): Promise<Result<Diagnostic[]>> {
  const failed: { side: Side; errors: Diagnostic[] }[] = [];
  for (const s of sides) {
    if (s.kind === "workspace") continue;
    const r = await addRevision(cmp, s);
    if (!r.ok) return r;
    if (r.value.length > 0) failed.push({ side: s, errors: r.value });
  }
  return ok(revisionLoadWarning(failed));
}

/**
 * Opens the named sides of the project at `root` and gathers what each declares. `workspace` is the workspace's
 * pipeline, loaded by the caller only when the workspace is one of the sides (comparing two revisions never depends
 * on it, so a broken workspace does not stop it).
 */
export async function openComparison(
  root: string,
  workspace: Pipeline | undefined,
  names: readonly string[],
  why: string,
  display: (file: string) => string,
): Promise<Result<Opened>> {
  const pg = await projectGit(root);
  if (!pg.ok) return pg;
  const sides: Side[] = [];
  for (const name of names) {
    const s = await openSide(root, pg.value, name, why);
    if (!s.ok) return s;
    sides.push(s.value);
  }
  const cmp: Comparison = { root, git: pg.value, tracked: emptyTracked(), display, stagesAt: new Map() };
  if (workspace) addPipeline(cmp.tracked, workspace);
  const w = await addRevisions(cmp, sides);
  if (!w.ok) return w;
  return ok({ cmp, sides, warnings: w.value });
}

/** `--all-commits`: every commit of the repository as a side, added to `cmp`, with the warning for those that do not load. */
export async function addAllCommits(cmp: Comparison, why: string): Promise<Result<{ sides: Side[]; warnings: Diagnostic[] }>> {
  if (!cmp.git) return fail([error("git", `not a git repository: ${why}`)]);
  const commits = await listAllCommits(cmp.git.repo);
  if (!commits.ok) return commits;
  const git = cmp.git;
  const sides = commits.value.map((sha) => commitSide(git, sha, sha));
  const w = await addRevisions(cmp, sides);
  if (!w.ok) return w;
  return ok({ sides, warnings: w.value });
}

/** `--targets` paths (relative to `cwd`) as root-relative paths; errors for paths outside the root. */
export function rootTargets(root: string, cwd: string, targets: readonly string[] | undefined): Result<string[] | undefined> {
  if (targets === undefined) return ok(undefined);
  const out: string[] = [];
  const bad: Diagnostic[] = [];
  for (const t of targets) {
    const rel = path.relative(root, path.resolve(cwd, t));
    if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) bad.push(error("usage", `target '${t}' is not a file inside the project`));
    else out.push(rel.split(path.sep).join("/"));
  }
  return bad.length > 0 ? fail(bad) : ok(out);
}
