/**
 * Reading the repository at a revision through git itself: the work tree root, revision names to commits, and file
 * contents at a commit (one `git cat-file --batch` process for any number of files), so `params diff` and `metrics`
 * see exactly what git has, for any revision git understands (`HEAD~1`, a branch, a tag, a short sha).
 *
 * Git failing the way users make it fail (not a repository, an unknown revision) is a `Diagnostic`; git missing or
 * crashing is an `io` diagnostic too, never an exception. Paths here are relative to the git root, POSIX-style.
 */
import { execFile, spawn } from "node:child_process";
import { didYouMean, error, fail, ok, type Result } from "../core/diagnostic.js";

/** What `cat-file` found at `rev:path`. */
/** `bytes`: the file as stored, for binary files (plot images); `text` is its UTF-8 decoding. */
export type BlobAt = { kind: "file"; text: string; bytes?: Buffer } | { kind: "dir" } | { kind: "missing" };

export interface GitOutput {
  code: number;
  stdout: Buffer;
  stderr: string;
}

// Readers never take the index lock (spec 6: readers never block); messages are parsed, so they must be English.
const GIT_ENV = { ...process.env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C", LANGUAGE: "C" };

export function runGit(cwd: string, args: string[]): Promise<GitOutput | Error> {
  return new Promise((resolve) => {
    execFile("git", args, { cwd, env: GIT_ENV, encoding: "buffer", maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && typeof e.code !== "number") {
        resolve(e);
        return;
      }
      resolve({ code: e ? Number(e.code) : 0, stdout, stderr: stderr.toString("utf8") });
    });
  });
}

export function gitMissing(e: Error): Result<never> {
  return fail([error("io", `cannot run git: ${e.message}`)]);
}

/** A git work tree, by its absolute root. */
export interface GitRepo {
  root: string;
}

/** The git work tree holding `dir`, or `undefined` when `dir` is not inside one. */
export async function openGitRepo(dir: string): Promise<Result<GitRepo | undefined>> {
  const r = await runGit(dir, ["rev-parse", "--show-toplevel"]);
  if (r instanceof Error) return gitMissing(r);
  if (r.code !== 0) return ok(undefined);
  const root = r.stdout.toString("utf8").trim();
  return ok(root === "" ? undefined : { root });
}

/** A resolved revision: its commit, or `null` for `HEAD` of a repository without commits yet. */
export interface Commit {
  name: string;
  sha: string | null;
}

/** Short names of branches and tags, for "did you mean". */
async function refNames(repo: GitRepo): Promise<string[]> {
  const r = await runGit(repo.root, ["for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/tags", "refs/remotes"]);
  if (r instanceof Error || r.code !== 0) return [];
  return r.stdout.toString("utf8").split("\n").filter(Boolean);
}

/**
 * Resolves `name` to a commit. In a repository with no commits, `HEAD` (and the unborn branch's name) resolve to
 * `null`: there is nothing to compare against, so every value is new.
 */
export async function resolveCommit(repo: GitRepo, name: string): Promise<Result<Commit>> {
  if (name === "" || name.includes("\n") || name.includes("\0")) return fail([error("usage", `invalid revision '${name}'`)]);
  // Two steps, not `${name}^{commit}` at once: in `:/message` git reads everything after `:/` as the message to
  // search for, so a suffix would become part of it. The name is resolved first, then its object peeled to a commit
  // (an annotated tag names a tag object; `HEAD:file` names a blob and is no revision to compare).
  const r = await runGit(repo.root, ["rev-parse", "--verify", "--quiet", "--end-of-options", name]);
  if (r instanceof Error) return gitMissing(r);
  if (r.code === 0) {
    const oid = r.stdout.toString("utf8").trim();
    const c = await runGit(repo.root, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${oid}^{commit}`]);
    if (c instanceof Error) return gitMissing(c);
    if (c.code === 0) return ok({ name, sha: c.stdout.toString("utf8").trim() });
    return fail([error("git", `'${name}' is not a commit`)]);
  }
  // An experiment's name (`pipe exp run -n NAME`) is a revision too, as in DVC: its ref is
  // `refs/exps/<2 hex>/<rest of the baseline sha>/<name>`. Of several namesakes, the one on HEAD's baseline wins,
  // else the newest: the choice `pipe exp apply/show` make, so `--rev NAME` and `--exp NAME` name the same one.
  const head = await runGit(repo.root, ["rev-parse", "--verify", "--quiet", "HEAD"]);
  if (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    const e = await runGit(repo.root, ["for-each-ref", "--sort=-committerdate", "--format=%(objectname) %(refname)", `refs/exps/*/*/${name}`]);
    const lines = e instanceof Error || e.code !== 0 ? [] : e.stdout.toString("utf8").split("\n").filter(Boolean);
    const headSha = head instanceof Error || head.code !== 0 ? "" : head.stdout.toString("utf8").trim();
    const onHead = headSha === "" ? undefined : lines.find((l) => l.endsWith(` refs/exps/${headSha.slice(0, 2)}/${headSha.slice(2)}/${name}`));
    const sha = (onHead ?? lines[0] ?? "").split(" ")[0] ?? "";
    if (sha !== "") return ok({ name, sha });
  }
  if (!(head instanceof Error) && head.code !== 0) {
    const branch = await runGit(repo.root, ["symbolic-ref", "--quiet", "--short", "HEAD"]);
    const unborn = branch instanceof Error || branch.code !== 0 ? "" : branch.stdout.toString("utf8").trim();
    if (name === "HEAD" || name === unborn) return ok({ name, sha: null });
  }
  const hint = didYouMean(name, await refNames(repo));
  return fail([error("git", `unknown revision '${name}'`, undefined, hint ? { hint } : {})]);
}

/**
 * Every commit reachable from HEAD, a local branch, a remote-tracking branch or a tag, newest first, as abbreviated
 * shas. Not `--all`: that also walks `refs/stash` (a stash is two or three commits of work in progress, never a
 * run), notes and DVC's `refs/exps`; DVC's `--all-commits` (scmrepo) walks the same refs as here.
 */
export async function listAllCommits(repo: GitRepo): Promise<Result<string[]>> {
  const head = await runGit(repo.root, ["rev-parse", "--verify", "--quiet", "HEAD"]);
  if (head instanceof Error) return gitMissing(head);
  // HEAD of a repository without commits names nothing, and rev-list would fail on it.
  const starts = [...(head.code === 0 ? ["HEAD"] : []), "--branches", "--remotes", "--tags"];
  const r = await runGit(repo.root, ["rev-list", "--date-order", "--abbrev-commit", ...starts, "--"]);
  if (r instanceof Error) return gitMissing(r);
  if (r.code !== 0) return fail([error("git", `git rev-list failed: ${r.stderr.trim()}`)]);
  return ok(r.stdout.toString("utf8").split("\n").filter(Boolean));
}

/** Files under `dirs` (or the whole tree) at `sha`, relative to the git root, sorted. */
export async function listFilesAt(repo: GitRepo, sha: string, dirs: readonly string[] = []): Promise<Result<string[]>> {
  const r = await runGit(repo.root, ["ls-tree", "-r", "-z", "--name-only", "--full-tree", sha, "--", ...dirs]);
  if (r instanceof Error) return gitMissing(r);
  if (r.code !== 0) return fail([error("git", `git ls-tree failed: ${r.stderr.trim()}`)]);
  return ok(
    r.stdout
      .toString("utf8")
      .split("\0")
      .filter(Boolean)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

const HEADER = /^([0-9a-f]{40,64}) (blob|tree|commit|tag) (\d+)$/;

/** Reads `paths` at `sha` with one `git cat-file --batch`; paths relative to the git root. */
export async function readFilesAt(repo: GitRepo, sha: string, paths: readonly string[]): Promise<Result<Map<string, BlobAt>>> {
  const out = new Map<string, BlobAt>();
  const asked = [...new Set(paths)].filter((p) => {
    // A name git cannot take on one batch line cannot exist in the tree as we look for it.
    if (p === "" || p.includes("\n") || p.startsWith("../")) {
      out.set(p, { kind: "missing" });
      return false;
    }
    return true;
  });
  if (asked.length === 0) return ok(out);
  const data = await new Promise<Buffer | Error>((resolve) => {
    const child = spawn("git", ["cat-file", "--batch"], { cwd: repo.root, env: GIT_ENV, stdio: ["pipe", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("error", (e) => resolve(e));
    child.on("close", (code) => resolve(code === 0 ? Buffer.concat(chunks) : new Error(`git cat-file exited with ${code}: ${stderr.trim()}`)));
    child.stdin.on("error", () => undefined); // git died early; reported by "close"
    child.stdin.end(asked.map((p) => `${sha}:${p}\n`).join(""));
  });
  if (data instanceof Error) return fail([error("io", `cannot read from git: ${data.message}`)]);
  let at = 0;
  for (const p of asked) {
    const nl = data.indexOf(0x0a, at);
    if (nl < 0) return fail([error("io", "cannot read from git: truncated cat-file output")]);
    const header = data.subarray(at, nl).toString("utf8");
    at = nl + 1;
    const m = HEADER.exec(header);
    if (!m) {
      out.set(p, { kind: "missing" });
      continue;
    }
    const size = Number(m[3]);
    const body = data.subarray(at, at + size);
    at += size + 1;
    if (m[2] === "blob") out.set(p, { kind: "file", text: body.toString("utf8"), bytes: body });
    else if (m[2] === "tree") out.set(p, { kind: "dir" });
    else out.set(p, { kind: "missing" });
  }
  return ok(out);
}
