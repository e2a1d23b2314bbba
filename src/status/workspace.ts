/**
 * The workspace side of staleness: one `Workspace` per invocation holds the hasher (stat cache, memoised hashes) and
 * the params reader, and gathers exactly the facts `stageStatus` needs for a stage.
 *
 * The stat cache is kept in `.pipe/state` only when `.pipe/` already exists: a DVC project that never ran
 * `pipe init` gets a correct status without `pipe` creating anything in it (DVC projects are often read-only
 * checkouts in CI, too). `repro`, which creates `.pipe/` for its cache, makes later runs fast.
 */
import { statSync } from "node:fs";
import path from "node:path";
import type { HashFs } from "../hash/fs.js";
import { Hasher } from "../hash/hasher.js";
import type { LockEntry } from "../lock/types.js";
import type { Stage } from "../core/model.js";
import { ParamsReader } from "./params.js";
import { factsNeeded, stageStatus, type FactsOptions } from "./stage.js";
import { factKey, type ParamsFileFacts, type StageFacts, type StageStatus } from "./types.js";
import type { HashOutcome } from "../hash/hasher.js";
import { absOf } from "../project/paths.js";

export interface Workspace {
  root: string;
  hasher: Hasher;
  params: ParamsReader;
}

export interface WorkspaceOptions {
  /** Where the stat cache lives; default `.pipe/state` when `.pipe/` exists, else memory only. `null`: memory only. */
  stateFile?: string | null;
  fs?: HashFs;
  now?: () => bigint;
}

/** `.pipe/state` when `.pipe/` is a directory, else undefined. */
export function defaultStateFile(root: string): string | undefined {
  const dir = path.join(root, ".pipe");
  try {
    return statSync(dir).isDirectory() ? path.join(dir, "state") : undefined;
  } catch {
    return undefined;
  }
}

export function openWorkspace(root: string, opts: WorkspaceOptions = {}): Workspace {
  const stateFile = opts.stateFile === null ? undefined : (opts.stateFile ?? defaultStateFile(root));
  const hasher = new Hasher({
    root,
    ...(stateFile !== undefined ? { stateFile } : {}),
    ...(opts.fs ? { fs: opts.fs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { root, hasher, params: new ParamsReader(root) };
}

export { absOf } from "../project/paths.js";

/** Hashes and reads what `stageStatus` will look at for this stage. */
export async function gatherStageFacts(ws: Workspace, stage: Stage, entry: LockEntry | undefined, opts: FactsOptions = {}): Promise<StageFacts> {
  const need = factsNeeded(stage, entry, opts);
  const paths = new Map<string, HashOutcome>();
  const params = new Map<string, ParamsFileFacts>();
  const pending: Promise<void>[] = [];
  for (const { rootPath, algo } of need.paths) {
    const abs = absOf(ws.root, rootPath);
    // Stat-cache hits are answered synchronously: a no-op check allocates no promise per file.
    const quick = ws.hasher.peek(abs, algo);
    if (quick) paths.set(factKey(algo, rootPath), quick);
    else pending.push(ws.hasher.hashPath(abs, algo).then((o) => void paths.set(factKey(algo, rootPath), o)));
  }
  for (const rootPath of need.params) {
    pending.push(ws.params.read(rootPath, absOf(ws.root, rootPath)).then((f) => void params.set(rootPath, f)));
  }
  if (pending.length > 0) await Promise.all(pending);
  return { paths, params };
}

/** `gatherStageFacts` + `stageStatus`: one stage's own staleness (no upstream reasons). */
export async function checkStage(ws: Workspace, stage: Stage, entry: LockEntry | undefined, opts: FactsOptions = {}): Promise<StageStatus> {
  return stageStatus(stage, entry, await gatherStageFacts(ws, stage, entry, opts));
}
