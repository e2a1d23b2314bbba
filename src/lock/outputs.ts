/**
 * Every output a pipeline records, with the hash its record holds: lock entries of stages and `.dvc` files alike,
 * each mapped from the entry's path (relative to the stage's wdir) to the stage's output (relative to the root).
 * This is the one list of "what the project tracks" for the commands that move or compare tracked data as a whole
 * (`diff`; `push`/`pull`/`fetch`, `status --cloud`): they take it rather than walking stages and locks themselves.
 *
 * `entryOf` says where an entry comes from: the workspace's `LockStore.forStage`, or a git revision's files.
 */
import path from "node:path";
import { ok, fail, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { OutEntry, Pipeline, Stage } from "../core/model.js";
import type { LockStore } from "./read.js";
import { pathKey, type LockAlgo, type LockEntry, type LockFile } from "./types.js";

export interface RecordedOutput {
  /** The stage's address (`train`, `data/raw.dvc`). */
  stage: string;
  out: OutEntry;
  /** Root-relative (the output's `rootPath`). */
  rootPath: string;
  algo: Exclude<LockAlgo, "none">;
  /** Hex digest, `.dir` suffixed for a directory. */
  hash: string;
  size?: number;
  nfiles?: number;
}

/** `p` (relative to `wdir`) as a root-relative key. */
function rootKey(wdir: string, p: string): string {
  return pathKey(wdir === "" ? p : path.posix.join(wdir, p));
}

/**
 * The outputs of `stages` that have a recorded hash (URL outputs, outputs never recorded and entries of stages no
 * longer defined are left out), in stage order then output order. A lock that cannot be read is a diagnostic.
 */
export async function recordedOutputs(
  stages: readonly Stage[],
  entryOf: (s: Stage) => Promise<Result<LockFile | undefined>>,
): Promise<Result<RecordedOutput[]>> {
  const out: RecordedOutput[] = [];
  const errors: Diagnostic[] = [];
  const failed = new Set<string>();
  for (const s of stages) {
    const lf = await entryOf(s);
    if (!lf.ok) {
      const key = s.dataSource ? s.file : s.dir;
      if (!failed.has(key)) errors.push(...lf.errors);
      failed.add(key);
      continue;
    }
    const entry: LockEntry | undefined = lf.value?.stages.get(s.name);
    if (!entry) continue;
    const byPath = new Map(entry.outs.map((e) => [rootKey(s.wdir, e.path), e]));
    for (const o of s.outs) {
      if (o.external) continue;
      const e = byPath.get(pathKey(o.rootPath));
      if (!e || e.algo === "none") continue;
      out.push({
        stage: s.address,
        out: o,
        rootPath: o.rootPath,
        algo: e.algo,
        hash: e.hash,
        ...(e.size !== undefined ? { size: e.size } : {}),
        ...(e.nfiles !== undefined ? { nfiles: e.nfiles } : {}),
      });
    }
  }
  return errors.length > 0 ? fail(errors) : ok(out);
}

/** The same list for a whole pipeline (every stage, `.dvc` files included). */
export function pipelineOutputs(pipeline: Pipeline, entryOf: (s: Stage) => Promise<Result<LockFile | undefined>>): Promise<Result<RecordedOutput[]>> {
  return recordedOutputs(pipeline.stages, entryOf);
}

/** The workspace's list: every output its locks and `.dvc` files record (`locks` reads each file once). */
export function workspaceOutputs(pipeline: Pipeline, locks: LockStore): Promise<Result<RecordedOutput[]>> {
  return recordedOutputs(pipeline.stages, (s) => locks.forStage(s));
}
