/**
 * The git plumbing experiments are made of: a commit built from a directory's files through a temporary index
 * (`GIT_INDEX_FILE`, `read-tree`, `add`, `write-tree`, `commit-tree`), refs set and listed, worktrees added and
 * removed. Nothing here moves the user's branch, index or `HEAD`: every write goes to an index file of our own and to
 * refs under `refs/exps/`.
 *
 * Failures of git are `Diagnostic`s (`git` reason) carrying git's own message; git missing is an `io` diagnostic.
 */
import { execFile } from "node:child_process";
import { copyFile, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";

export interface Git {
  /** Where git runs: a directory inside the work tree (the project root, or a temporary worktree). */
  cwd: string;
}

const BASE_ENV = { LC_ALL: "C", LANGUAGE: "C", GIT_TERMINAL_PROMPT: "0" };

/** Runs git; the result is stdout (trimmed of its final newline), or a `git` diagnostic with git's stderr. */
export function git(g: Git, args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Result<string>> {
  return new Promise((resolve) => {
    const child = execFile(
      "git",
      args,
      { cwd: g.cwd, env: { ...process.env, ...BASE_ENV, ...opts.env }, maxBuffer: 1 << 30 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        if (e && typeof e.code !== "number") {
          resolve(fail([error("io", `cannot run git: ${e.message}`)]));
          return;
        }
        if (e) {
          resolve(fail([error("git", `git ${args[0] ?? ""} failed: ${String(stderr).trim() || `exit ${String(e.code)}`}`)]));
          return;
        }
        resolve(ok(String(stdout).replace(/\n$/, "")));
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The absolute root of the work tree holding `dir`. */
export async function topLevel(dir: string): Promise<Result<string>> {
  const r = await git({ cwd: dir }, ["rev-parse", "--show-toplevel"]);
  if (!r.ok) return fail([error("git", `'${dir}' is not inside a git repository (experiments are git commits)`)]);
  return r;
}

/** The commit `HEAD` names; a `git` diagnostic when the repository has no commit yet. */
export async function headSha(g: Git): Promise<Result<string>> {
  const r = await git(g, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
  if (!r.ok) return fail([error("git", "the repository has no commit yet: commit the project first (an experiment's baseline is HEAD)")]);
  return r;
}

export async function resolveSha(g: Git, rev: string): Promise<string | undefined> {
  const r = await git(g, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`]);
  return r.ok ? r.value : undefined;
}

export interface SnapshotInput {
  /** The git work tree root whose files are taken. */
  top: string;
  /** Paths relative to `top` whose tracked files are taken as they are now (`git add -u`: untracked files left out). */
  addAll: readonly string[];
  /** Paths relative to `top` taken even when ignored (`git add -f`): locks and outputs git is to hold. */
  force: readonly string[];
}

/**
 * A tree of the work tree's index with the files under `addAll` and `force` as they are now, written through a copy
 * of that index (its stat data spares re-hashing unchanged files): the index itself is never written.
 */
export async function snapshotTree(s: SnapshotInput): Promise<Result<string>> {
  const g = { cwd: s.top };
  const own = await indexFileOf(s.top);
  if (!own.ok) return own;
  const index = path.join(os.tmpdir(), `pipe-exp-index-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const env = { GIT_INDEX_FILE: index };
  try {
    try {
      await copyFile(own.value, index);
    } catch {
      const r = await git(g, ["read-tree", "HEAD"], { env });
      if (!r.ok) return r;
    }
    const steps: string[][] = [];
    if (s.addAll.length > 0) steps.push(["add", "-u", "--", ...s.addAll]);
    if (s.force.length > 0) steps.push(["add", "-f", "--", ...s.force]);
    for (const args of steps) {
      const r = await git(g, args, { env });
      if (!r.ok) return r;
    }
    return await git(g, ["write-tree"], { env });
  } finally {
    await rm(index, { force: true });
  }
}

/**
 * The index file of the work tree at `top`: `.git/index`, or for a linked worktree (`.git` is a file naming its git
 * directory) the index in that directory. Read from the files rather than asked of git: one process less per commit.
 */
async function indexFileOf(top: string): Promise<Result<string>> {
  const dotGit = path.join(top, ".git");
  try {
    const text = await readFile(dotGit, "utf8");
    const m = /^gitdir: (.+)$/m.exec(text);
    if (m) return ok(path.resolve(top, m[1]!.trim(), "index"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EISDIR") return ok(path.join(dotGit, "index"));
  }
  return git({ cwd: top }, ["rev-parse", "--path-format=absolute", "--git-path", "index"]);
}

/** The identity of commits, per repository: git's configured user, or one of last resort (a CI box has none). */
const identities = new Map<string, Promise<Record<string, string>>>();
function identityEnv(g: Git): Promise<Record<string, string>> {
  let r = identities.get(g.cwd);
  if (!r) {
    r = (async () => {
      const env: Record<string, string> = {};
      const ident = await git(g, ["var", "GIT_COMMITTER_IDENT"]);
      if (!ident.ok) {
        env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "pipe";
        env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "pipe@localhost";
      }
      return env;
    })();
    identities.set(g.cwd, r);
  }
  return r;
}

/** A commit of `tree` with the given parent and message. */
export async function commitTree(g: Git, tree: string, parent: string, message: string): Promise<Result<string>> {
  return git(g, ["commit-tree", tree, "-p", parent, "-F", "-"], { env: await identityEnv(g), input: message });
}

/** Points `ref` at `sha`; with `expectNew` it fails when the ref already exists (a name taken meanwhile). */
export async function updateRef(g: Git, ref: string, sha: string, expectNew = false): Promise<Result<string>> {
  const zero = "0".repeat(sha.length);
  return git(g, ["update-ref", "-m", "pipe exp", ref, sha, ...(expectNew ? [zero] : [])]);
}

export async function deleteRef(g: Git, ref: string): Promise<Result<string>> {
  return git(g, ["update-ref", "-d", ref]);
}

export interface RefLine {
  ref: string;
  sha: string;
  /** Committer time, seconds since the epoch. */
  time: number;
}

/** Refs under `prefix` (a glob for-each-ref understands), oldest first. */
export async function listRefs(g: Git, pattern: string): Promise<Result<RefLine[]>> {
  const r = await git(g, ["for-each-ref", "--sort=committerdate", "--sort=refname", "--format=%(refname)%00%(objectname)%00%(committerdate:unix)", pattern]);
  if (!r.ok) return r;
  const lines = r.value.split("\n").filter(Boolean);
  const out = lines.map((l) => {
    const [ref = "", sha = "", time = "0"] = l.split("\0");
    return { ref, sha, time: Number(time) };
  });
  out.sort((a, b) => a.time - b.time || (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  return ok(out);
}
