/**
 * One side of a comparison: the workspace, or the project as a git revision holds it. A `Side` reads files by their
 * path relative to the project root, whichever side it is, so `params diff` and `metrics` never care where bytes come
 * from. The project root may be a subdirectory of the git work tree; the `prefix` maps between the two.
 */
import { readdir, readFile, realpath } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { listFilesAt, openGitRepo, readFilesAt, resolveCommit, type BlobAt, type GitRepo } from "./git.js";

export const WORKSPACE = "workspace";

export interface ProjectGit {
  repo: GitRepo;
  /** The project root relative to the git root: `` or `sub/dir/`. */
  prefix: string;
}

export interface Side {
  /** As shown in table headers and messages: `workspace`, `HEAD`, `main`, `a1b2c3d`. */
  name: string;
  /** `workspace`, a commit, or `empty` (HEAD of a repository without commits: holds no file). */
  kind: "workspace" | "commit" | "empty";
  /** Reads files (root-relative); failures of git itself are errors, absent files are `missing`. */
  read(files: readonly string[]): Promise<Result<Map<string, BlobAt>>>;
  /** Files under a directory (root-relative), sorted. */
  listUnder(dir: string): Promise<Result<string[]>>;
  /** Every file of the project at this side, for finding stages files; undefined for the workspace (loaded instead). */
  listAll(): Promise<Result<string[]> | undefined>;
}

/** The git work tree holding the project, or undefined when the project is not inside one. */
export async function projectGit(projectRoot: string): Promise<Result<ProjectGit | undefined>> {
  const r = await openGitRepo(projectRoot);
  if (!r.ok || r.value === undefined) return r as Result<undefined>;
  const repo = r.value;
  let rel: string;
  try {
    rel = path.relative(await realpath(repo.root), await realpath(projectRoot));
  } catch (e) {
    return fail([error("io", `cannot resolve ${projectRoot}: ${e instanceof Error ? e.message : String(e)}`)]);
  }
  if (rel.startsWith("..") || path.isAbsolute(rel)) return ok(undefined);
  const prefix = rel === "" ? "" : rel.split(path.sep).join("/") + "/";
  return ok({ repo, prefix });
}

export function workspaceSide(root: string): Side {
  return {
    name: WORKSPACE,
    kind: "workspace",
    async read(files) {
      const out = new Map<string, BlobAt>();
      await Promise.all(
        files.map(async (f) => {
          try {
            const bytes = await readFile(path.join(root, f));
            out.set(f, { kind: "file", text: bytes.toString("utf8"), bytes });
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            out.set(f, { kind: code === "EISDIR" ? "dir" : "missing" });
          }
        }),
      );
      return ok(out);
    },
    async listUnder(dir) {
      const found: string[] = [];
      const walk = async (rel: string): Promise<void> => {
        let entries;
        try {
          entries = await readdir(path.join(root, rel), { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const p = `${rel}/${e.name}`;
          if (e.isDirectory()) await walk(p);
          else if (e.isFile()) found.push(p);
        }
      };
      await walk(dir);
      return ok(found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    },
    async listAll() {
      return undefined;
    },
  };
}

/** The side of a commit already resolved (for `--all-commits`, whose shas come from `git rev-list`). */
export function commitSide(pg: ProjectGit, name: string, sha: string): Side {
  const toGit = (f: string): string => path.posix.normalize(pg.prefix + f);
  const strip = (g: string): string => g.slice(pg.prefix.length);
  return {
    name,
    kind: "commit",
    async read(files) {
      const r = await readFilesAt(pg.repo, sha, files.map(toGit));
      if (!r.ok) return r;
      const out = new Map<string, BlobAt>();
      for (const f of files) out.set(f, r.value.get(toGit(f)) ?? { kind: "missing" });
      return ok(out);
    },
    async listUnder(dir) {
      const r = await listFilesAt(pg.repo, sha, [toGit(dir)]);
      if (!r.ok) return r;
      return ok(r.value.filter((g) => g.startsWith(pg.prefix)).map(strip));
    },
    async listAll() {
      const r = await listFilesAt(pg.repo, sha, pg.prefix === "" ? [] : [pg.prefix]);
      if (!r.ok) return r;
      return ok(r.value.filter((g) => g.startsWith(pg.prefix)).map(strip));
    },
  };
}

function emptySide(name: string): Side {
  return {
    name,
    kind: "empty",
    async read(files) {
      return ok(new Map(files.map((f) => [f, { kind: "missing" } as BlobAt])));
    },
    async listUnder() {
      return ok([]);
    },
    async listAll() {
      return ok([]);
    },
  };
}

/**
 * The side named `name`: `workspace`, or any revision git understands. `why` ends the message given outside a git
 * repository: `not a git repository: <why>` (`params diff compares git revisions`).
 */
export async function openSide(root: string, pg: ProjectGit | undefined, name: string, why: string): Promise<Result<Side>> {
  if (name === WORKSPACE) return ok(workspaceSide(root));
  if (!pg) return fail([error("git", `not a git repository: ${why}`)]);
  const c = await resolveCommit(pg.repo, name);
  if (!c.ok) return c;
  return ok(c.value.sha === null ? emptySide(name) : commitSide(pg, name, c.value.sha));
}
