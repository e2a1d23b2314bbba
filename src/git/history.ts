/**
 * Git history as `gc` scopes name it (DVC's `-a`, `-T`, `-A`, `--rev` with `-n`, `--date`, `--all-experiments`): which commits are in
 * scope, and which files of interest (lock and `.dvc` files) each of those commits holds, read through git itself.
 *
 * Finding files at hundreds of commits must stay fast, so trees are read through one `git cat-file --batch`
 * (`batch.ts`) and each tree is walked once, whatever the number of commits sharing it: consecutive commits share
 * almost every subtree, so `-A` costs about one tree read per directory that ever changed, not one listing per
 * commit. Blobs are likewise read once per object id.
 */
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { CatFileBatch, parseTree, type TreeEntry } from "./batch.js";
import { gitMissing, resolveCommit, runGit, type GitRepo } from "./git.js";

export interface HistoryScope {
  /** Tips of every local branch (`-a`). */
  allBranches?: boolean;
  /** Every tag, peeled to its commit (`-T`). */
  allTags?: boolean;
  /** Every commit reachable from HEAD, a branch, a remote branch or a tag (`-A`). */
  allCommits?: boolean;
  /** A revision (`--rev`), with `num` commits from it along first parents (`-n`, default 1). */
  rev?: string;
  num?: number;
  /** Commits (of the `-A` set) whose committer date is on or after this local day, `YYYY-MM-DD` (`--date`). */
  date?: string;
  /** Every experiment commit (`refs/exps/...`, `--all-experiments`), which no branch or tag reaches. */
  allExperiments?: boolean;
}

/** A commit in scope, with the names that brought it in (for messages). */
export interface ScopedCommit {
  sha: string;
  names: string[];
}

async function lines(repo: GitRepo, args: string[]): Promise<Result<string[]>> {
  const r = await runGit(repo.root, args);
  if (r instanceof Error) return gitMissing(r);
  if (r.code !== 0) return fail([error("git", `git ${args[0]} failed: ${r.stderr.trim()}`)]);
  return ok(r.stdout.toString("utf8").split("\n").filter(Boolean));
}

/** The refs every `--all-commits` walk starts from (as `listAllCommits`): HEAD only when it names a commit. */
async function allStarts(repo: GitRepo): Promise<Result<string[]>> {
  const head = await runGit(repo.root, ["rev-parse", "--verify", "--quiet", "HEAD"]);
  if (head instanceof Error) return gitMissing(head);
  return ok([...(head.code === 0 ? ["HEAD"] : []), "--branches", "--remotes", "--tags"]);
}

/** Local midnight of `YYYY-MM-DD` in seconds, or undefined when it is no such day (DVC parses it with strptime). */
export function dayStart(date: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(y, mo - 1, d);
  if (t.getFullYear() !== y || t.getMonth() !== mo - 1 || t.getDate() !== d) return undefined;
  return Math.floor(t.getTime() / 1000);
}

/** The commits `scope` names, each once, in the order the scopes are listed above. */
export async function commitsInScope(repo: GitRepo, scope: HistoryScope): Promise<Result<ScopedCommit[]>> {
  const bySha = new Map<string, ScopedCommit>();
  const add = (sha: string, name: string): void => {
    const c = bySha.get(sha);
    if (c) {
      if (!c.names.includes(name)) c.names.push(name);
    } else bySha.set(sha, { sha, names: [name] });
  };
  if (scope.allBranches) {
    const r = await lines(repo, ["for-each-ref", "--format=%(objectname) %(refname:short)", "refs/heads"]);
    if (!r.ok) return r;
    for (const l of r.value) add(l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1));
  }
  if (scope.allTags) {
    // An annotated tag names a tag object; `*` fields are what it points at. Tags of trees or blobs hold no project.
    const r = await lines(repo, ["for-each-ref", "--format=%(objecttype) %(objectname) %(*objecttype) %(*objectname) %(refname:short)", "refs/tags"]);
    if (!r.ok) return r;
    for (const l of r.value) {
      const [type, oid, peeledType, peeled, ...name] = l.split(" ");
      if (type === "commit") add(oid!, name.join(" "));
      else if (peeledType === "commit") add(peeled!, name.join(" "));
    }
  }
  if (scope.allCommits) {
    const starts = await allStarts(repo);
    if (!starts.ok) return starts;
    const r = await lines(repo, ["rev-list", ...starts.value, "--"]);
    if (!r.ok) return r;
    for (const sha of r.value) add(sha, "--all-commits");
  }
  if (scope.rev !== undefined) {
    const c = await resolveCommit(repo, scope.rev);
    if (!c.ok) return c;
    if (c.value.sha !== null) {
      const r = await lines(repo, ["rev-list", "--first-parent", `--max-count=${scope.num ?? 1}`, c.value.sha, "--"]);
      if (!r.ok) return r;
      r.value.forEach((sha, i) => add(sha, i === 0 ? scope.rev! : `${scope.rev}~${i}`));
    }
  }
  if (scope.allExperiments) {
    const r = await lines(repo, ["for-each-ref", "--format=%(objectname) %(refname)", "refs/exps"]);
    if (!r.ok) return r;
    for (const l of r.value) add(l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1));
  }
  if (scope.date !== undefined) {
    const since = dayStart(scope.date);
    if (since === undefined) return fail([error("usage", `invalid date '${scope.date}' (expected YYYY-MM-DD)`)]);
    const starts = await allStarts(repo);
    if (!starts.ok) return starts;
    // Filtered here rather than with `--since`, which stops walking at the first older commit it meets.
    const r = await lines(repo, ["log", "--format=%H %ct", ...starts.value, "--"]);
    if (!r.ok) return r;
    for (const l of r.value) {
      const [sha, ct] = l.split(" ");
      if (Number(ct) >= since) add(sha!, `--date ${scope.date}`);
    }
  }
  return ok([...bySha.values()]);
}

/** `sha` abbreviated as git would print it. */
export async function abbreviate(repo: GitRepo, sha: string): Promise<string> {
  const r = await runGit(repo.root, ["rev-parse", "--short", sha]);
  return r instanceof Error || r.code !== 0 ? sha.slice(0, 7) : r.stdout.toString("utf8").trim();
}

/** A file found at a commit: its path relative to the project root and its blob, or a symlink git holds there. */
export interface FileAt {
  path: string;
  oid: string;
  kind: "file" | "symlink";
}

export interface WalkRules {
  /** Files of interest, by name. */
  wanted(name: string): boolean;
  /** Directories never entered, by name. */
  skipDir(name: string): boolean;
  /** A directory (below the project root) holding one of these directories is another project: not entered. */
  projectMarkers: readonly string[];
}

/** Reads files at many commits of one repository through one `cat-file --batch`; `close()` when done. */
export class HistoryReader {
  private readonly batch: CatFileBatch;
  private readonly trees = new Map<string, Promise<Result<FileAt[]>>>();
  private readonly blobs = new Map<string, Promise<Result<string>>>();

  /** `prefix`: the project root relative to the git root (`` or `sub/dir/`). */
  constructor(
    readonly repo: GitRepo,
    private readonly prefix: string,
    private readonly rules: WalkRules,
  ) {
    this.batch = new CatFileBatch(repo.root);
  }

  close(): void {
    this.batch.close();
  }

  /** The wanted files of the project at commit `sha`, sorted by path. */
  async filesAt(sha: string): Promise<Result<FileAt[]>> {
    const spec = this.prefix === "" ? `${sha}^{tree}` : `${sha}:${this.prefix.slice(0, -1)}`;
    const root = await this.batch.get(spec);
    if (root instanceof Error) return fail([error("io", `cannot read from git: ${root.message}`)]);
    // The project's directory did not exist yet at that commit (or was a file): nothing of it to keep.
    if (root.kind === "missing" || root.type !== "tree") return ok([]);
    const files = await this.walk(root.oid, true, root.body);
    if (!files.ok) return files;
    return ok([...files.value].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)));
  }

  /** The text of a blob. */
  blob(oid: string): Promise<Result<string>> {
    let p = this.blobs.get(oid);
    if (!p) {
      p = this.batch.get(oid).then((o) => {
        if (o instanceof Error) return fail([error("io", `cannot read from git: ${o.message}`)]);
        if (o.kind === "missing" || o.type !== "blob") return fail([error("git", `git has no blob ${oid} (a shallow or partial clone?)`)]);
        return ok(o.body.toString("utf8"));
      });
      this.blobs.set(oid, p);
    }
    return p;
  }

  private walk(oid: string, isRoot: boolean, body?: Buffer): Promise<Result<FileAt[]>> {
    const key = `${isRoot ? "r" : "s"}${oid}`;
    let p = this.trees.get(key);
    if (!p) {
      p = this.readTree(oid, isRoot, body);
      this.trees.set(key, p);
    }
    return p;
  }

  private async readTree(oid: string, isRoot: boolean, known?: Buffer): Promise<Result<FileAt[]>> {
    let body = known;
    if (!body) {
      const o = await this.batch.get(oid);
      if (o instanceof Error) return fail([error("io", `cannot read from git: ${o.message}`)]);
      if (o.kind === "missing" || o.type !== "tree") return fail([error("git", `git has no tree ${oid} (a shallow or partial clone?)`)]);
      body = o.body;
    }
    const entries: TreeEntry[] = parseTree(body, oid.length / 2);
    const isDir = (e: TreeEntry): boolean => e.mode === "40000";
    if (!isRoot && entries.some((e) => isDir(e) && this.rules.projectMarkers.includes(e.name))) return ok([]);
    const out: FileAt[] = [];
    const subs: Promise<Result<FileAt[]>>[] = [];
    const subNames: string[] = [];
    for (const e of entries) {
      if (isDir(e)) {
        if (this.rules.skipDir(e.name)) continue;
        subs.push(this.walk(e.oid, false));
        subNames.push(e.name);
      } else if (this.rules.wanted(e.name)) {
        // Submodules (160000) are other repositories.
        if (e.mode === "120000") out.push({ path: e.name, oid: e.oid, kind: "symlink" });
        else if (e.mode.startsWith("100")) out.push({ path: e.name, oid: e.oid, kind: "file" });
      }
    }
    const results = await Promise.all(subs);
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (!r.ok) return r;
      for (const f of r.value) out.push({ ...f, path: `${subNames[i]}/${f.path}` });
    }
    return ok(out);
  }
}
