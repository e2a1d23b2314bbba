/**
 * The event vocabulary of execution (`repro`, `checkout`, `commit`): everything that can happen, as one union.
 * The core emits these and never prints; reporters (text, TTY status line, JSON) render them. A `switch` over
 * `type` ends in `unreachable(e)`, so a new event cannot be forgotten by a reporter.
 */

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
  /** The machine refused a file-system step: a full disk, a read-only mount, a permission (`core/env-error.ts`). */
  | "environment";

export type RestoreSource = "run-cache" | "cache";

export type ReproEvent =
  /** What is about to happen: the selected stages in execution order. */
  | { type: "plan"; stages: readonly string[]; jobs: number; dry: boolean }
  | { type: "stage-start"; stage: string; cmd: string | readonly string[]; reasons: readonly string[] }
  /** One command of the stage is about to start (a list `cmd` has one per item, announced only if it runs). */
  | { type: "stage-command"; stage: string; cmd: string }
  | { type: "stage-output"; stage: string; stream: "stdout" | "stderr"; line: string }
  | { type: "stage-finished"; stage: string; durationMs: number }
  /** Outputs restored without running: from the run-cache (stale inputs seen before) or the cache (outputs missing). */
  | { type: "stage-restored"; stage: string; from: RestoreSource }
  /** Nothing to do. */
  | { type: "stage-skipped"; stage: string; reason: "up-to-date" | "frozen" }
  | {
      type: "stage-failed";
      stage: string;
      reason: StageFailure;
      message: string;
      /**
       * The failure as located diagnostics (a params file or key a stage needs is missing): printed one per line as
       * `file:line:col: error: message` instead of `message`.
       */
      located?: readonly { message: string; location?: { file: string; line: number; col: number } }[];
      exitCode?: number | null;
      signal?: string | null;
      /** Last lines of the command's output. */
      tail?: readonly string[];
    }
  /** Not run because an upstream stage failed (keep-going) or the run stopped. */
  | { type: "stage-not-run"; stage: string; because: "upstream-failed" | "stopped"; upstream?: string }
  /** `--dry`: what would happen. */
  | { type: "stage-would-run"; stage: string; reasons: readonly string[] }
  | { type: "stage-would-restore"; stage: string; from: RestoreSource }
  /** Live status: which stages are running now. */
  | { type: "progress"; running: readonly string[]; finished: number; total: number }
  | { type: "warning"; message: string }
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

export { unreachable } from "../core/unreachable.js";
