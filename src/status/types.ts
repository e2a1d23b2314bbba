/**
 * The vocabulary of staleness (spec 4): why a stage is stale, as values that `status` renders as text or JSON and
 * `repro` uses to decide between running, restoring outputs, and skipping.
 */
import type { HashOutcome } from "../hash/hasher.js";
import type { HashAlgo } from "../hash/algorithms.js";
import type { LockAlgo } from "../lock/types.js";
import type { CmdVarChange } from "./cmd-vars.js";

export type { CmdVarChange } from "./cmd-vars.js";

/**
 * - `modified`: hash (or value) differs from the lock;
 * - `deleted`: tracked by the stage and the lock, gone from the workspace;
 * - `new`: tracked by the stage, absent from the lock;
 * - `removed`: in the lock, no longer tracked by the stage;
 * - `error`: could not be checked (unreadable, a special file): treated as changed.
 */
export type ChangeKind = "modified" | "deleted" | "new" | "removed" | "error";

export interface HashRef {
  algo: LockAlgo;
  hash: string;
}

export interface PathChange {
  /** As written in the stage (or in the lock, for `removed`). */
  path: string;
  /** Relative to the project root: what is shown (relative to the working directory) and what `--json` gives. */
  rootPath: string;
  change: ChangeKind;
  /** The lock's hash (absent for `new`). */
  old?: HashRef;
  /** The workspace's hash (absent for `deleted`, `removed`, `error`). */
  new?: HashRef;
  /** For `error`: what went wrong. */
  message?: string;
}

export interface ParamChange {
  key: string;
  change: Exclude<ChangeKind, "error">;
  /** Lock value (absent for `new`). */
  old?: unknown;
  /** Workspace value (absent for `deleted`, `removed`). */
  new?: unknown;
}

export interface ParamsFileChange {
  /** The params file as written in the stage (relative to its wdir). */
  file: string;
  /** Relative to the project root (see `PathChange.rootPath`). */
  rootPath: string;
  changes: ParamChange[];
  /** The file exists but cannot be parsed: every key is unknown. */
  error?: string;
}

export type StaleReason =
  | { kind: "no-lock-entry" }
  /**
   * A stage that has not run yet cannot run as it stands: a params file it names does not exist (`keys` empty), or
   * these keys are not in it (or a glob key matches several). `file` is as written in the stage (relative to its wdir).
   */
  | { kind: "missing-params"; file: string; rootPath: string; keys: string[] }
  /** `explained`: `vars` account for the whole change (see `cmd-vars.ts`); otherwise the literal text changed too, or the change could not be attributed with certainty. */
  | { kind: "changed-command"; old: string | string[]; new: string | string[]; vars: CmdVarChange[]; explained: boolean }
  | { kind: "changed-params"; files: ParamsFileChange[] }
  | { kind: "changed-deps"; changes: PathChange[] }
  | { kind: "changed-outs"; changes: PathChange[] }
  | { kind: "always-changed" }
  /** `chain`: addresses from the stage that is stale for its own reasons down to the direct upstream. */
  | { kind: "upstream-stale"; chain: string[] };

export type StaleReasonKind = StaleReason["kind"];

export interface StageStatus {
  address: string;
  stale: boolean;
  /** `frozen: true`: never stale; only its outputs are compared with the lock (`reasons` holds their changes, or `no-lock-entry`). */
  frozen: boolean;
  reasons: StaleReason[];
  /** URL deps and outs: listed, never checked (`external (not checked)`). */
  external: string[];
  /**
   * Another `pipe` (this pid) is running the stage now, or its cluster job is queued or running: its outputs are being
   * rewritten, not deleted or edited.
   */
  running?: RunningNow;
}

/** The parsed content of a params file, or why there is none. */
export type ParamsFileFacts = { kind: "ok"; value: unknown } | { kind: "missing" } | { kind: "invalid"; message: string };

/**
 * What `stageStatus` needs from the workspace, gathered beforehand (`gatherStageFacts`) so the judgement itself is a
 * pure function. Paths are root-relative (`rootPath`).
 */
export interface StageFacts {
  /** Hash outcome by `factKey(algo, rootPath)`. */
  paths: ReadonlyMap<string, HashOutcome>;
  /** Parsed params files by root path. */
  params: ReadonlyMap<string, ParamsFileFacts>;
}

export function factKey(algo: HashAlgo, rootPath: string): string {
  return `${algo}\0${rootPath}`;
}

/** Who is running a stage now: another `pipe` on this machine, or a cluster job (`executors/slurm-records.ts`). */
export type RunningNow = { pid: number } | { job: string; state: "queued" | "running" };
