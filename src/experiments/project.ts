/**
 * An experiment project: the pipe project root, the git work tree holding it, and the experiments recorded in git.
 * Recording an experiment (`recordExperiment`) turns a directory's state into a commit whose parent is the baseline,
 * holding the git-tracked files as they are (tracked changes, not untracked files), the lock files and the outputs
 * git is to hold (`cache: false` metrics and plots) even where `.gitignore` leaves them out, and points its ref at
 * it. Cached outputs are in the cache already (the run stored them), so the commit holds only their lock entries.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import type { Pipeline } from "../core/model.js";
import { findProjectRoot } from "../project/root.js";
import { commitTree, git, headSha, listRefs, snapshotTree, topLevel, updateRef, type Git, type RefLine } from "./git.js";
import { EXPS_NAMESPACE, expRef, parseExpRef } from "./names.js";

export interface ExpProject {
  /** Absolute project root. */
  root: string;
  /** Absolute root of the git work tree. */
  top: string;
  /** The project root relative to `top`, POSIX (`` when they are the same). */
  rel: string;
  g: Git;
}

export async function openExpProject(dir: string): Promise<Result<ExpProject>> {
  const found = await findProjectRoot(dir);
  if (!found.ok) return found;
  const root = found.value.root;
  const top = await topLevel(root);
  if (!top.ok) return top;
  const rel = path.relative(top.value, root).split(path.sep).join("/");
  return ok({ root, top: top.value, rel, g: { cwd: root } });
}

/** `p` (relative to the project root) relative to the git top. */
export function atTop(p: ExpProject | { rel: string }, rootPath: string): string {
  return p.rel === "" ? rootPath : `${p.rel}/${rootPath}`;
}

export interface ExpInfo {
  name: string;
  baseline: string;
  ref: string;
  sha: string;
  /** Commit time, seconds since the epoch. */
  time: number;
}

/** Experiments of every baseline (or of one), oldest first. */
export async function listExperiments(g: Git, baseline?: string): Promise<Result<ExpInfo[]>> {
  const pattern = baseline === undefined ? `${EXPS_NAMESPACE}/` : `${EXPS_NAMESPACE}/${baseline.slice(0, 2)}/${baseline.slice(2)}/`;
  const r = await listRefs(g, pattern);
  if (!r.ok) return r;
  const out: ExpInfo[] = [];
  for (const l of r.value as RefLine[]) {
    const p = parseExpRef(l.ref);
    if (p) out.push({ ...p, ref: l.ref, sha: l.sha, time: l.time });
  }
  return ok(out);
}

/**
 * The experiment a user names: its name (under HEAD's baseline first, then the newest of that name anywhere), a
 * full ref, or a commit sha (prefix) of an experiment.
 */
export async function findExperiment(g: Git, name: string): Promise<Result<ExpInfo>> {
  const all = await listExperiments(g);
  if (!all.ok) return all;
  const head = await headSha(g);
  const byName = all.value.filter((e) => e.name === name || e.ref === name || (name.length >= 7 && /^[0-9a-f]+$/.test(name) && e.sha.startsWith(name)));
  const mine = byName.filter((e) => head.ok && e.baseline === head.value);
  const hit = mine[mine.length - 1] ?? byName[byName.length - 1];
  if (!hit) return fail([error("usage", `'${name}' is not an experiment (see 'pipe exp list --all')`)]);
  return ok(hit);
}

/** The lock files and the outputs git holds (outputs not cached) of a pipeline, relative to its root. */
export function gitHeldPaths(p: Pipeline): string[] {
  const out = new Set<string>();
  for (const f of p.files) {
    const dir = path.posix.dirname(f.file);
    const base = f.flavor === "dvc" ? "dvc.lock" : "pipe.lock";
    out.add(dir === "." ? base : `${dir}/${base}`);
  }
  for (const s of p.stages) for (const o of s.outs) if (!o.cache && !o.external) out.add(o.rootPath);
  return [...out].sort();
}

export interface RecordInput {
  /** The project as found in the directory that ran (the workspace, or a worktree). */
  at: { root: string; top: string; rel: string };
  pipeline: Pipeline;
  /** Files changed by the overrides, relative to the project root. */
  params: readonly string[];
  baseline: string;
  name: string;
  message: string;
  /** The repository whose refs get the experiment (the same repository for a worktree). */
  g: Git;
}

/** Commits the state of `at` as an experiment of `baseline` and sets its ref; fails when the name is taken. */
export async function recordExperiment(r: RecordInput): Promise<Result<{ ref: string; sha: string }>> {
  const force = [...new Set([...gitHeldPaths(r.pipeline), ...r.params])]
    .filter((p) => existsSync(path.join(r.at.root, p)))
    .map((p) => atTop(r.at, p));
  const tree = await snapshotTree({ top: r.at.top, addAll: [r.at.rel === "" ? "." : r.at.rel], force });
  if (!tree.ok) return tree;
  const sha = await commitTree(r.g, tree.value, r.baseline, r.message);
  if (!sha.ok) return sha;
  const ref = expRef(r.baseline, r.name);
  const set = await updateRef(r.g, ref, sha.value, true);
  if (!set.ok) return fail([error("usage", `experiment name '${r.name}' is taken under baseline ${r.baseline.slice(0, 7)}`)]);
  return ok({ ref, sha: sha.value });
}

/** A commit of the workspace's tracked changes on top of HEAD (HEAD itself when there are none). */
export async function workspaceCommit(p: ExpProject, head: string): Promise<Result<string>> {
  const tree = await snapshotTree({ top: p.top, addAll: [p.rel === "" ? "." : p.rel], force: [] });
  if (!tree.ok) return tree;
  const headTree = await git(p.g, ["rev-parse", `${head}^{tree}`]);
  if (headTree.ok && headTree.value === tree.value) return ok(head);
  return commitTree(p.g, tree.value, head, "pipe exp: workspace of a queued experiment");
}
