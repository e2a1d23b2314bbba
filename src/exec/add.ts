/**
 * `pipe add`: tracking a file or directory that no stage produces, as `dvc add` does. Each path becomes a data
 * source, `PATH.dvc` beside it, recorded through the one record path (`record.ts`: hash, store in the cache and link
 * back per `cache.type`, then write the record), and `/PATH` goes into the `.gitignore` beside it.
 *
 * Two steps, so that bad input writes nothing: `planAdd` checks every path first (inside the root, not in `.git`,
 * `.pipe` or `.dvc`, not a `.dvc` file, existing, not an output of a stage nor overlapping a path another `.dvc`
 * file tracks) and returns located errors; `addPaths` then records each one. Adding a path again records what it
 * holds now (an unchanged path is not rewritten); a `.dvc` file DVC wrote (md5) is rewritten in pipe's form (xxh64),
 * keeping its other fields, and the result says so.
 *
 * `removeDvcFile` is `pipe remove X.dvc`: the `.dvc` file goes, its `.gitignore` lines go, the data stays.
 */
import { lstat, unlink } from "node:fs/promises";
import path from "node:path";
import { error, ok, fail, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { Stage, StageGraph } from "../core/model.js";
import { writeDvcFile } from "../lock/dvc-file.js";
import type { LockStore } from "../lock/read.js";
import { hasDvcHashes } from "../plan/decide.js";
import { addToGitignore, removeFromGitignore } from "../storage/gitignore.js";
import { runGit } from "../git/git.js";
import { recordAndStore, type Recorder } from "./record.js";

export interface AddTarget {
  /** Root-relative POSIX path of the data. */
  rootPath: string;
  /** Root-relative path of its `.dvc` file. */
  dvcFile: string;
  /** The stage the `.dvc` file is (the loaded one when the file exists). */
  stage: Stage;
}

const FORBIDDEN = new Set([".git", ".pipe", ".dvc"]);

function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}

function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(b + "/") || b.startsWith(a + "/");
}

/** A new data-source stage for `rootPath`, its `.dvc` file beside it. */
function newStage(rootPath: string): Stage {
  const dvcFile = `${rootPath}.dvc`;
  const dir = path.posix.dirname(rootPath) === "." ? "" : path.posix.dirname(rootPath);
  const base = path.posix.basename(rootPath);
  const loc = { file: dvcFile, line: 1, col: 1 };
  return {
    address: dvcFile,
    name: path.posix.basename(dvcFile),
    file: dvcFile,
    dir,
    wdir: dir,
    cmd: "",
    deps: [],
    outs: [{ path: base, rootPath, external: false, kind: "outs", cache: true, persist: false, flags: {}, loc }],
    params: [],
    frozen: false,
    alwaysChanged: false,
    dataSource: true,
    loc,
  };
}

/**
 * Checks the paths given to `pipe add` (`args` as typed, relative to `cwd`), all of them, before anything is written.
 * Errors are located where there is a place to point at (the output of a stage that produces the path).
 */
export async function planAdd(graph: StageGraph, cwd: string, args: readonly string[]): Promise<Result<AddTarget[]>> {
  const root = graph.pipeline.root;
  const errors: Diagnostic[] = [];
  const targets: AddTarget[] = [];
  const seen = new Set<string>();
  for (const arg of args) {
    const abs = path.resolve(cwd, arg);
    const rel = toPosix(path.relative(root, abs));
    if (rel === "" || rel === ".." || rel.startsWith("../") || path.isAbsolute(rel)) {
      errors.push(error("usage", `cannot add '${arg}': ${rel === "" ? "it is the project root" : `it is outside the project root ${root}`}`, undefined, { hint: "'pipe add' tracks files and directories inside the project" }));
      continue;
    }
    const segs = rel.split("/");
    const bad = segs.find((s) => FORBIDDEN.has(s));
    if (bad !== undefined) {
      errors.push(error("usage", `cannot add '${arg}': it lies in '${bad}', which is never data`));
      continue;
    }
    if (rel.endsWith(".dvc")) {
      errors.push(error("usage", `cannot add '${arg}': it is a .dvc file (add the data it tracks: '${arg.slice(0, -4)}')`));
      continue;
    }
    try {
      await lstat(abs);
    } catch {
      errors.push(error("usage", `cannot add '${arg}': it does not exist`));
      continue;
    }
    if (seen.has(rel)) continue;
    seen.add(rel);
    const dvcFile = `${rel}.dvc`;
    let existing: Stage | undefined;
    let conflict = false;
    for (const s of graph.pipeline.stages) {
      for (const o of s.outs) {
        if (o.external || !overlaps(o.rootPath, rel)) continue;
        if (s.dataSource && s.file === dvcFile && o.rootPath === rel) {
          existing = s;
          continue;
        }
        conflict = true;
        const what = o.rootPath === rel ? "is" : o.rootPath.startsWith(rel + "/") ? "holds" : "lies inside";
        const of = o.rootPath === rel ? "" : ` '${o.rootPath}'`;
        errors.push(
          s.dataSource
            ? error("overlapping-outs", `cannot add '${arg}': ${s.file} tracks ${o.rootPath === rel ? "it" : `'${o.rootPath}'`} already`, o.loc ?? s.loc, { hint: `'pipe remove ${s.file}' first to track it differently` })
            : error("overlapping-outs", `cannot add '${arg}': it ${what} an output${of} of stage '${s.address}'`, o.loc ?? s.loc, {
                hint: "a stage's outputs are tracked by its lock entry; 'pipe add' is for data no stage produces",
              }),
        );
      }
    }
    if (!conflict) targets.push({ rootPath: rel, dvcFile, stage: existing ?? newStage(rel) });
  }
  errors.push(...(await gitIgnoredRecords(root, targets)));
  return errors.length > 0 ? fail(errors) : ok(targets);
}

/**
 * A `.dvc` file git ignores could not be committed, and one in an ignored directory would not even be found by
 * discovery (it prunes such directories): refused, as DVC refuses it, naming the rule. Outside git: nothing to check.
 */
async function gitIgnoredRecords(root: string, targets: readonly AddTarget[]): Promise<Diagnostic[]> {
  if (targets.length === 0) return [];
  const r = await runGit(root, ["check-ignore", "-v", "--", ...targets.map((t) => t.dvcFile)]);
  if (r instanceof Error || r.code !== 0) return [];
  const out: Diagnostic[] = [];
  for (const line of r.stdout.toString("utf8").split("\n")) {
    // `<source>:<line>:<pattern>\t<path>`
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const [source, lineNo, ...pattern] = line.slice(0, tab).split(":");
    const file = line.slice(tab + 1);
    out.push(
      error("usage", `cannot add '${file.slice(0, -4)}': its record ${file} would be ignored by git ('${pattern.join(":")}' in ${source}:${lineNo})`, undefined, {
        hint: "a .dvc file is committed with the project: remove that rule (a directory rule can be replaced by one for the data itself)",
      }),
    );
  }
  return out;
}

export interface Added {
  rootPath: string;
  dvcFile: string;
  /** The `.dvc` file was written (new, or the data changed, or rewritten from DVC's form). */
  written: boolean;
  /** It held DVC's md5 hashes and is now in pipe's form. */
  convertedFromDvc: boolean;
  /** `.gitignore` files changed, root-relative. */
  gitignores: string[];
}

export interface AddInput {
  recorder: Recorder;
  locks: LockStore;
  gitignore: boolean;
  signal?: AbortSignal;
}

/** Records each planned target: cache, link back, `.dvc` file, `.gitignore`. Stops at the first failure. */
export async function addPaths(input: AddInput, targets: readonly AddTarget[], onAdded: (a: Added) => void): Promise<Result<void>> {
  const root = input.recorder.ws.root;
  for (const t of targets) {
    if (input.signal?.aborted) break;
    const lf = await input.locks.forStage(t.stage);
    // A damaged `.dvc` file is replaced by the new record (its data is what is being added).
    const prev = lf.ok ? lf.value?.stages.get(t.stage.name) : undefined;
    const fromDvc = prev !== undefined && hasDvcHashes(prev);
    const rec = await recordAndStore(input.recorder, t.stage, {
      store: true,
      runCache: false,
      previous: fromDvc ? undefined : prev,
      write: (entry) => writeDvcFile(root, t.stage, entry),
    });
    if (!rec.ok) return fail(rec.failure.errors);
    let gitignores: string[] = [];
    if (input.gitignore) {
      const g = await addToGitignore(root, t.stage.dir, t.stage.outs.filter((o) => o.cache && !o.external).map((o) => o.rootPath));
      if (!g.ok) return g;
      gitignores = g.value;
    }
    onAdded({ rootPath: t.rootPath, dvcFile: t.dvcFile, written: rec.value.written, convertedFromDvc: fromDvc, gitignores });
  }
  return ok(undefined);
}

export interface Removed {
  dvcFile: string;
  /** `.gitignore` files changed, root-relative. */
  gitignores: string[];
}

/**
 * `pipe remove X.dvc`: stops tracking what the `.dvc` file (a loaded data source) tracks. The data and its cache
 * objects stay; the `.dvc` file and the `.gitignore` lines `pipe add` wrote go.
 */
export async function removeDvcFile(root: string, stage: Stage): Promise<Result<Removed>> {
  const paths = stage.outs.filter((o) => !o.external).map((o) => o.rootPath);
  const g = await removeFromGitignore(root, stage.dir, paths);
  if (!g.ok) return g;
  try {
    await unlink(path.join(root, stage.file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  return ok({ dvcFile: stage.file, gitignores: g.value });
}
