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
import { nodeHashFs, type FsStat, type HashFs } from "../hash/fs.js";
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
  /** Stats taken ahead of the checks that use them (`repro`'s preflight), handed to the next stat of each path. */
  statMemo: StatMemo;
}

/**
 * One stat per path per run: `repro`'s preflight stats every dependency no stage produces (does it exist?), and the
 * check of its stage stats it again to look it up in the stat cache; on a 1,000-stage chain that was ~11,000 of
 * ~23,000 stats. Stats taken between `remember()` and `stopRemembering()` are kept and each is given to the next
 * stat of the same path, once. `forget()` drops them all: call it before anything runs or writes (a stage's command
 * could change a file it does not declare), so a kept stat is only ever used while nothing has changed the
 * workspace since it was taken.
 */
export class StatMemo {
  private readonly kept = new Map<string, FsStat | undefined>();
  private remembering = false;
  constructor(private readonly base: HashFs) {}

  readonly fs: HashFs = {
    stat: (abs) => {
      if (this.kept.size > 0) {
        const st = this.kept.get(abs);
        if (st !== undefined || this.kept.has(abs)) {
          this.kept.delete(abs);
          return st;
        }
      }
      const st = this.base.stat(abs);
      if (this.remembering) this.kept.set(abs, st);
      return st;
    },
    readdir: (abs) => this.base.readdir(abs),
    readChunks: (abs, chunkSize) => this.base.readChunks(abs, chunkSize),
  };

  remember(): void {
    this.remembering = true;
  }

  stopRemembering(): void {
    this.remembering = false;
  }

  forget(): void {
    this.remembering = false;
    this.kept.clear();
  }
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
  const statMemo = new StatMemo(opts.fs ?? nodeHashFs);
  const hasher = new Hasher({
    root,
    ...(stateFile !== undefined ? { stateFile } : {}),
    fs: statMemo.fs,
    // The real file system's worker pool stays on: the memo only wraps its metadata calls.
    ...(opts.fs ? {} : { workers: true }),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { root, hasher, params: new ParamsReader(root), statMemo };
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
