/**
 * What a `gc` scope keeps (DVC 3's `dvc gc`): the hashes named by the lock files (`pipe.lock`, `dvc.lock`) and DVC
 * tracking files (`*.dvc`) of the workspace and of every git revision in scope. As in DVC, the workspace is always
 * in scope; `-a`, `-T`, `-A`, `--rev`/`-n` and `--date` add revisions, whose files are read from git, never from
 * the disk.
 *
 * Which files count, in the workspace and at a revision alike: every lock and `.dvc` file in a directory that
 * discovery would search (not `.git`, `.pipe`, `.dvc`, `node_modules`, nor a nested project, a directory holding its
 * own `.pipe/` or `.dvc/`), whether or not a stages file sits beside it. Keeping too much is harmless; deleting what
 * a lock still names is not. In the workspace, the directories are those discovery walks (so `.pipeignore` and
 * git-ignored directories are pruned as for loading); at a revision, every tracked one.
 *
 * A file of those that exists but cannot be read (no permission, a directory, a symlink loop, a symlink at a
 * revision) or parsed stops everything: what it names is unknown, so nothing may be deleted. All such files are
 * reported at once. With `skipFailed`, those at revisions are warnings instead (history cannot be corrected).
 */
import type { Dirent } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import { abbreviate, commitsInScope, HistoryReader, type FileAt, type HistoryScope } from "../git/history.js";
import { projectGit } from "../git/revision.js";
import { parseDvcFile, parseLock } from "../lock/read.js";
import type { LockFileEntry } from "../lock/types.js";
import { discoverStagesFiles, SKIPPED_DIRS } from "../project/discover.js";
import { errnoOf } from "./fs.js";

export interface GcScope extends HistoryScope {
  /** `-w`: the workspace alone (it is in every scope; this flag only makes the choice explicit). */
  workspace?: boolean;
  /**
   * `--skip-failed` (DVC 3's): a file at a revision that cannot be read or parsed is a warning, not an error, and
   * gc goes on with what the rest names. The workspace's files are never skipped: they can be corrected.
   */
  skipFailed?: boolean;
}

/** True when the scope names anything: gc without a scope refuses (as DVC's does). */
export function hasScope(s: GcScope): boolean {
  return s.workspace === true || s.allBranches === true || s.allTags === true || s.allCommits === true || s.allExperiments === true || s.rev !== undefined || s.date !== undefined;
}

export interface References {
  /** Every hash named (directories as their `.dir` manifest id; the caller expands manifests). */
  hashes: Set<string>;
  /** Lock and `.dvc` files read (distinct contents at revisions). */
  files: number;
  /** Revisions in scope, besides the workspace. */
  revisions: number;
}

const PROJECT_MARKERS = [".pipe", ".dvc"];

function isTrackingFile(name: string): boolean {
  return name === "pipe.lock" || name === "dvc.lock" || (name.endsWith(".dvc") && name !== ".dvc");
}

/** The entries a lock or `.dvc` file names; `display` is how messages name the file. */
function entriesOf(display: string, name: string, text: string): Result<LockFileEntry[]> {
  if (name.endsWith(".dvc")) return parseDvcFile(display, text);
  const lf = parseLock(display, text, name === "dvc.lock" ? "dvc" : "pipe");
  if (!lf.ok) return lf;
  const out: LockFileEntry[] = [];
  for (const e of lf.value.stages.values()) out.push(...e.deps, ...e.outs);
  return ok(out);
}

function addHashes(into: Set<string>, entries: readonly LockFileEntry[]): void {
  for (const f of entries) if (f.algo !== "none" && f.hash !== "") into.add(f.hash);
}

const base = (p: string): string => p.slice(p.lastIndexOf("/") + 1);

async function workspaceFiles(root: string, hashes: Set<string>, sources: Map<string, string>, errors: Diagnostic[]): Promise<Result<number>> {
  const dirs: string[] = [];
  const found = await discoverStagesFiles(root, (rel, _abs, kind) => {
    if (kind === "dir") dirs.push(rel);
  });
  if (!found.ok) return found;
  let files = 0;
  for (const rel of dirs.sort()) {
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(root, rel), { withFileTypes: true });
    } catch (e) {
      if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") continue;
      errors.push(error("io", `cannot read directory ${rel}: ${(e as Error).message} (it may hold a lock file)`));
      continue;
    }
    if (rel !== "" && entries.some((d) => d.isDirectory() && PROJECT_MARKERS.includes(d.name))) continue;
    for (const d of entries) {
      // A directory named `pipe.lock` is a lock that cannot be read; one named `x.dvc` is a directory.
      if (!isTrackingFile(d.name) || (d.isDirectory() && d.name.endsWith(".dvc"))) continue;
      const file = rel === "" ? d.name : `${rel}/${d.name}`;
      let text: string;
      try {
        text = await readFile(path.join(root, file), "utf8");
      } catch (e) {
        if (errnoOf(e) === "ENOENT") continue; // removed since the listing
        errors.push(error("io", `cannot read ${file}: ${(e as Error).message}`));
        continue;
      }
      files++;
      sources.set(file, text);
      const r = entriesOf(file, d.name, text);
      if (r.ok) addHashes(hashes, r.value);
      else errors.push(...r.errors);
    }
  }
  return ok(files);
}

/**
 * Collects the hashes `scope` keeps. Texts of files read are added to `sources` (by the name diagnostics use:
 * `pipe.lock` in the workspace, `<short sha>:pipe.lock` at a revision) for rendering diagnostics.
 */
export async function collectReferences(root: string, scope: GcScope, sources: Map<string, string>): Promise<Result<References>> {
  const hashes = new Set<string>();
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const ws = await workspaceFiles(root, hashes, sources, errors);
  if (!ws.ok) return ws;
  let files = ws.value;
  const wantsHistory =
    scope.allBranches === true || scope.allTags === true || scope.allCommits === true || scope.allExperiments === true || scope.rev !== undefined || scope.date !== undefined;
  if (!wantsHistory) return errors.length > 0 ? fail(errors) : ok({ hashes, files, revisions: 0 });

  const pg = await projectGit(root);
  if (!pg.ok) return pg;
  if (!pg.value) return fail([error("git", "not a git repository: -a, -T, -A, --rev and --date keep what git revisions name", undefined, { hint: "use -w to keep what the workspace names" })]);
  const { repo, prefix } = pg.value;
  const commits = await commitsInScope(repo, scope);
  if (!commits.ok) return commits;

  const reader = new HistoryReader(repo, prefix, {
    wanted: isTrackingFile,
    skipDir: (name) => SKIPPED_DIRS.has(name),
    projectMarkers: PROJECT_MARKERS,
  });
  try {
    // Each distinct file content is parsed once; a bad one is reported once, at the first commit found holding it.
    const parsed = new Map<string, Result<LockFileEntry[]>>();
    const bad: { sha: string; file: FileAt; why?: string }[] = [];
    const perCommit = await Promise.all(commits.value.map(async (c) => ({ c, files: await reader.filesAt(c.sha) })));
    // Ask for every blob up front: git answers them in one stream instead of one round trip each.
    for (const { files: at } of perCommit) if (at.ok) for (const f of at.value) if (f.kind === "file") void reader.blob(f.oid);
    for (const { c, files: at } of perCommit) {
      if (!at.ok) return at;
      for (const f of at.value) {
        if (f.kind === "symlink") {
          bad.push({ sha: c.sha, file: f, why: "it is a symbolic link in git, so its content is unknown" });
          continue;
        }
        const key = `${f.oid}:${base(f.path)}`;
        let r = parsed.get(key);
        if (!r) {
          const text = await reader.blob(f.oid);
          if (!text.ok) return text;
          files++;
          r = entriesOf(f.path, base(f.path), text.value);
          parsed.set(key, r);
          if (!r.ok) bad.push({ sha: c.sha, file: f });
        }
        if (r.ok) addHashes(hashes, r.value);
      }
    }
    // Diagnostics name the file as git does (`a1b2c3d:sub/pipe.lock`: `git show` takes it), with its revision.
    for (const b of bad) {
      const short = await abbreviate(repo, b.sha);
      const display = `${short}:${b.file.path}`;
      const names = commits.value.find((c) => c.sha === b.sha)?.names.join(", ") ?? short;
      const into = scope.skipFailed ? warnings : errors;
      const hint = scope.skipFailed
        ? `skipped: what ${display} names is not kept (--skip-failed)`
        : `${display} is in git history (revision ${short}, in scope through ${names}): nothing can correct it there; pass --skip-failed to go on without it, or leave that revision out of the scope`;
      if (b.why) {
        into.push({ ...error("lock", `cannot read ${display}: ${b.why}`, undefined, { hint }), severity: into === warnings ? "warning" : "error" });
        continue;
      }
      const text = await reader.blob(b.file.oid);
      if (!text.ok) return text;
      sources.set(display, text.value);
      const r = entriesOf(display, base(b.file.path), text.value);
      if (!r.ok) into.push(...r.errors.map((d): Diagnostic => ({ ...d, hint, severity: into === warnings ? "warning" : "error" })));
    }
  } finally {
    reader.close();
  }
  return errors.length > 0 ? fail(errors, warnings) : ok({ hashes, files, revisions: commits.value.length }, warnings);
}
