/**
 * The event vocabulary of execution (`repro`, `checkout`, `commit`): everything that can happen, as one union.
 * The core emits these and never prints; reporters (text, TTY status line, JSON) render them. Events are data: why
 * a stage runs and what a warning is about are typed values with their facts (paths, keys, old and new values), and
 * every word of English is made by a reporter (`repro-text.ts`, with `repro-reasons.ts` and `repro-warnings.ts`);
 * `pipe repro --json` prints the events themselves
 * (`repro-json.ts`, `schemas/repro-events.schema.json`). A `switch` over `type` or `kind` ends in
 * `default: return unreachable(x)`, so a new event, reason or warning cannot be forgotten by a reporter.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import type { StaleReason } from "../status/types.js";

export type StageFailure =
  /** The command exited non-zero or was killed by a signal. */
  | "command"
  /** The command succeeded but a declared output does not exist. */
  | "missing-output"
  /** A dep (or params file/key) that no stage produces does not exist. */
  | "missing-dep"
  /** The command could not be started. */
  | "spawn"
  /** Storing outputs, writing the lock, or another file-system step failed. */
  | "io"
  /** The machine refused a file-system step: a full disk, a read-only mount, a permission (`config/env-error.ts`). */
  | "environment";

export type RestoreSource = "run-cache" | "cache";

/** Failures pipe finds itself (not the command's), told by diagnostics. */
export type DiagnosedFailure = Exclude<StageFailure, "command" | "spawn">;

/** What a failure is known by: the command's outcome, or pipe's own diagnostics. */
export type StageFailureFacts =
  /** Exited non-zero (`exitCode`), killed (`signal`) or stopped at a `limit`; `command`: the item of a list `cmd` that failed. */
  | {
      reason: "command";
      exitCode: number | null;
      signal: string | null;
      command?: string;
      /** A scheduler stopped the run at a resource limit; `detail` is its word (`TIMEOUT`). */
      limit?: { limit: "time" | "memory"; detail: string };
      tail: readonly string[];
    }
  /** The command could not be started; `error` says why (the system's words). */
  | { reason: "spawn"; error: string }
  /** The machine refused to start the command (the open-file limit, a permission); `error` says what. */
  | { reason: "environment"; start: true; error: string }
  | {
      reason: DiagnosedFailure;
      diagnostics: readonly Diagnostic[];
      /** The reporter says which stage they are about (`stage 'x': ...`), unless a message names it already. */
      aboutStage: boolean;
      /** Shown one per line at their positions, `file:line:col: error: message` (a params file or key is missing). */
      located: boolean;
    };

/** Why a stage runs (or would): its stale reasons (`status`'s), `-f`, or, under `--dry`, an upstream stage that would run. */
export type RunReason = StaleReason | { kind: "forced" } | { kind: "upstream-will-run"; upstream: string };

/**
 * Something the user should know that does not fail the stage. Paths are root-relative unless said to be as written
 * in the stage; `stage` is an address. The words for each kind are in `repro-warnings.ts`.
 */
export type ReproWarning =
  /** File-system problems (`stage` when they are about one stage; the messages may name it already). */
  | { kind: "diagnostics"; stage?: string; diagnostics: readonly Diagnostic[] }
  /** URL deps and outs of the selected stages (unique, in stage order): never checked or cached. */
  | { kind: "external-not-checked"; paths: readonly string[] }
  /** Outputs of a frozen stage that are missing and not in the cache (`paths` as written in the stage). */
  | { kind: "frozen-outputs-lost"; stage: string; paths: readonly string[] }
  /**
   * Cache objects of an output that did not match their names and were removed (`out` as written in the stage);
   * `instead`: the stage is run because of it (after a restore from the lock or the run-cache failed).
   */
  | {
      kind: "corrupt-object-removed";
      out: string;
      ids: readonly string[];
      instead?: { stage: string; from: RestoreSource };
      /** The objects were found corrupt in this read-only source (DVC's cache): not used, and left there. */
      keptIn?: string;
    }
  /** `--dry`: a corrupt cache object is only named (a real run removes it). */
  | { kind: "corrupt-object-kept"; out: string; id: string }
  /** A workspace file about to be replaced by a checkout held content not in the cache: it was saved there first. */
  | { kind: "unsaved-content-saved"; path: string; id: string }
  /** An output a failed run of the stage left behind: deleted before the run, not saved. */
  | { kind: "leftover-deleted"; path: string; stage: string }
  /**
   * An output about to be deleted before a run was not what the lock records (`recorded`) or was there before the
   * stage produced it: saved in the cache as `id` first.
   */
  | { kind: "output-saved-before-run"; path: string; stage: string; id: string; recorded: boolean }
  /** Cache objects of a stored output no longer matched their names (edited through a link) and were replaced. */
  | { kind: "cache-objects-repaired"; out: string; stage: string; ids: readonly string[] }
  /** The stage is recorded, but its run-cache entry could not be written. */
  | { kind: "run-cache-not-updated"; diagnostics: readonly Diagnostic[] }
  /**
   * Deps (as written in the stage) or params files changed while the stage's command ran: the lock records them as
   * they were when it started, so the stage is stale.
   */
  | { kind: "inputs-changed-during-run"; stage: string; deps: readonly string[]; params: readonly string[] };

export type ReproWarningKind = ReproWarning["kind"];

export type ReproEvent =
  /** What is about to happen: the selected stages in execution order. */
  | { type: "plan"; stages: readonly string[]; jobs: number; dry: boolean }
  /**
   * `job`: the stage goes to a scheduler's queue (a cluster executor): it is submitted now, and its `stage-job`
   * events tell when it is queued and when it actually starts running.
   */
  | { type: "stage-start"; stage: string; cmd: string | readonly string[]; reasons: readonly RunReason[]; job?: true }
  /** One command of the stage is about to start (a list `cmd` has one per item, announced only if it runs). */
  | { type: "stage-command"; stage: string; cmd: string }
  | { type: "stage-output"; stage: string; stream: "stdout" | "stderr"; line: string }
  /**
   * The stage's unfinished line so far (after its last newline, `\r`s included), each time it grows: a progress bar
   * is seen as it is drawn. The whole line follows as `stage-output` when its newline comes.
   */
  | { type: "stage-output-partial"; stage: string; stream: "stdout" | "stderr"; text: string }
  /**
   * A cluster executor's job of the stage: submitted and waiting (`queued`), started (`running`), or one a coordinator
   * that died left in flight, followed again instead of submitting the stage twice (`attached`).
   */
  | { type: "stage-job"; stage: string; job: string; state: "queued" | "running" | "attached" }
  | { type: "stage-finished"; stage: string; durationMs: number }
  /** Outputs restored without running: from the run-cache (stale inputs seen before) or the cache (outputs missing). */
  | { type: "stage-restored"; stage: string; from: RestoreSource }
  /**
   * Nothing to run. `data-recorded`: a data source (a `.dvc` file) whose data changed, recorded anew (under `--dry`:
   * would be), as DVC's repro "verifies data sources".
   */
  | { type: "stage-skipped"; stage: string; reason: "up-to-date" | "frozen" | "data-recorded" }
  | ({ type: "stage-failed"; stage: string } & StageFailureFacts)
  /** Not run because an upstream stage failed (keep-going) or the run stopped. */
  | { type: "stage-not-run"; stage: string; because: "upstream-failed" | "stopped"; upstream?: string }
  /** `--dry`: what would happen. */
  | { type: "stage-would-run"; stage: string; reasons: readonly RunReason[] }
  | { type: "stage-would-restore"; stage: string; from: RestoreSource }
  /** Live status: which stages are running now. */
  | { type: "progress"; running: readonly string[]; finished: number; total: number }
  /**
   * A large hashing batch (1 GB or more, `hash-progress.ts`), about once a second while it lasts, and once with
   * `done` when it ends. `secondsLeft` when a rate is known.
   */
  | { type: "hash-progress"; bytesDone: number; bytesTotal: number; bytesPerSecond: number; secondsLeft?: number; done: boolean }
  | { type: "warning"; warning: ReproWarning }
  | { type: "interrupted" }
  | {
      type: "run-summary";
      ran: number;
      restored: number;
      upToDate: number;
      failed: number;
      notRun: number;
      durationMs: number;
      dry: boolean;
    };

export type ReproEventType = ReproEvent["type"];

export type EventSink = (e: ReproEvent) => void;
