/**
 * Finding the project root from the working directory (spec 1): the nearest directory holding `.pipe/`; failing
 * that, the nearest holding `.dvc/` (a DVC project's root, even when a subdirectory has its own `dvc.yaml`); failing
 * that, a directory holding `pipe.yaml` or `dvc.yaml`: inside git the OUTERMOST one up to the git root, outside git
 * the nearest. The walk stops at the git root (a directory holding `.git`, a directory or, in worktrees and
 * submodules, a file), which is still searched; outside git it goes up to `/`.
 *
 * Why the outermost inside git: a repository with `pipe.yaml` at the top and `sub/pipe.yaml` is one project whose
 * root is the top, but before its first write it has no `.pipe/` to say so. Taking the nearest stages file from `sub`
 * made `sub` a root of its own, and the `.pipe/` that a write then creates there turns `sub` into a nested project
 * that the top's discovery skips: the project would split silently. The git repository bounds the guess. Outside
 * git there is no such bound (the walk would reach unrelated directories up to `/`), so the nearest is taken. An
 * outer directory is taken only if its discovery reaches the nearest stages file: one that the outer project's
 * `.pipeignore` or `.gitignore` leaves out is not part of that project, so the next one inward is tried.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { discoverStagesFiles } from "./discover.js";

/**
 * What `.pipe/.gitignore` lists: the machine-local folders of `.pipe/` (cache, state, run-cache, scratch). `pipe init`
 * writes it, and so does the first write to a project that has `.pipe/` but no `.gitignore` in it.
 */
export const GITIGNORE_LINES = ["/cache", "/state", "/runs", "/tmp", "/config.local.yaml"];

export interface ProjectRoot {
  /** Absolute path of the project root. */
  root: string;
  /** Absolute path of the enclosing git work tree, if any. */
  gitRoot?: string;
  hasPipeDir: boolean;
  hasDvcDir: boolean;
}

interface DirFacts {
  dir: string;
  pipeDir: boolean;
  dvcDir: boolean;
  stagesFile: boolean;
  git: boolean;
}

async function kind(p: string): Promise<"dir" | "file" | undefined> {
  try {
    const st = await stat(p);
    return st.isDirectory() ? "dir" : "file";
  } catch {
    return undefined;
  }
}

async function facts(dir: string): Promise<DirFacts> {
  const [pipe, dvc, pipeYaml, dvcYaml, git] = await Promise.all(
    [".pipe", ".dvc", "pipe.yaml", "dvc.yaml", ".git"].map((n) => kind(path.join(dir, n))),
  );
  return { dir, pipeDir: pipe === "dir", dvcDir: dvc === "dir", stagesFile: pipeYaml === "file" || dvcYaml === "file", git: git !== undefined };
}

/**
 * Among the directories holding a stages file (`seen` runs from the working directory upwards), the outermost whose
 * discovery includes the nearest one's stages file. Discovery runs only when there are several candidates, which
 * happens only before a project's first write (after it, `.pipe/` decides).
 */
async function outermostReaching(seen: readonly DirFacts[]): Promise<DirFacts | undefined> {
  const nearest = seen.find((f) => f.stagesFile);
  if (!nearest) return undefined;
  for (const outer of seen.filter((f) => f.stagesFile).reverse()) {
    if (outer === nearest) return outer;
    const found = await discoverStagesFiles(outer.dir);
    const dir = path.relative(outer.dir, nearest.dir).split(path.sep).join("/");
    if (found.ok && found.value.some((f) => f.dir === dir)) return outer;
  }
  return nearest;
}

export async function findProjectRoot(cwd: string): Promise<Result<ProjectRoot>> {
  const start = path.resolve(cwd);
  if ((await kind(start)) !== "dir") {
    return fail([error("project", `cannot run in ${start}: no such directory`)]);
  }
  const seen: DirFacts[] = [];
  let gitRoot: string | undefined;
  for (let dir = start; ; ) {
    const f = await facts(dir);
    seen.push(f);
    if (f.git) {
      gitRoot = dir;
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const pick = seen.find((f) => f.pipeDir) ?? seen.find((f) => f.dvcDir) ?? (gitRoot !== undefined ? await outermostReaching(seen) : seen.find((f) => f.stagesFile));
  if (!pick) {
    return fail([
      error("project", `not a pipe project: no .pipe/, .dvc/, pipe.yaml or dvc.yaml found in ${start} or above (run 'pipe init')`),
    ]);
  }
  const root: ProjectRoot = { root: pick.dir, hasPipeDir: pick.pipeDir, hasDvcDir: pick.dvcDir };
  if (gitRoot !== undefined) root.gitRoot = gitRoot;
  return ok(root);
}
