/**
 * The executor seam: how a stage's command is started, watched, cancelled and its outcome collected. The engine
 * (`exec/`) knows only this interface, never a child process: it hands over a `StageJob` (the command or commands,
 * the working directory, the environment, where output goes), gets a `StageRun` back at once, cancels through it
 * on an interrupt, and receives an `Outcome`, a value whose `reason` says how the run ended. Expected failures (a
 * non-zero exit, a signal, a command that could not be started, the machine refusing) are outcomes, never thrown.
 *
 * `local.ts` (process groups on this machine) and `slurm.ts` (one SLURM job per stage) implement it;
 * `tests/unit/executor-contract.ts` is the suite every implementation passes. A cluster executor's start submits a
 * job and returns at once, its outcome can say a limit stopped the job (`limit`, with the scheduler's word for it,
 * `TIMEOUT` or `OUT_OF_MEMORY`) or that the scheduler dropped it after a failure it depended on, its `cancelAll` is a
 * `scancel` of the jobs it submitted, it `queues` (the engine may start a stage below one in flight, naming it in
 * `after`), and it re-`attach`es to the jobs a dead coordinator recorded under `.pipe/tmp` (the local executor stops
 * what a dead `pipe` left running instead, in `settleLeftovers`).
 *
 * Which executor runs is configuration (`executor:` in `.pipe/config.yaml`, `pipe repro --executor NAME`); the
 * names are `project/config.ts`'s `EXECUTOR_NAMES`, and `index.ts` makes one from its name.
 */
import type { Resources } from "../core/resources.js";
import type { ExecutorName } from "../project/config.js";

export type OutputStream = "stdout" | "stderr";

/** Where a run's output goes, as it happens. */
export interface OutputSink {
  /** Each complete line (without its newline), both streams in arrival order. */
  line?(stream: OutputStream, line: string): void;
  /**
   * The incomplete line so far (everything after the last newline, `\r`s included), each time it grows: a progress
   * bar that redraws itself with `\r` (tqdm, Keras) is seen as it is written, not when its line ends. The complete
   * line still arrives through `line` once its newline does.
   */
  partial?(stream: OutputStream, text: string): void;
  /**
   * Just before each command starts: once for a string `cmd`, once per item of a list, so an item never started
   * after a failure is never announced.
   */
  command?(command: string, index: number): void;
  /** A cluster executor's job changed state: submitted (`queued`) or started (`running`); `id` is the job's. */
  job?(state: "queued" | "running", id: string): void;
}

/** What a stage run needs. */
export interface StageJob {
  /** Stage address, exported to the command as PIPE_STAGE. */
  stage: string;
  /** One script run by `sh -e -c`, or a list run item by item, stopping at the first failure. */
  cmd: string | readonly string[];
  /** Absolute working directory (the stage's `wdir`). */
  wdir: string;
  /** Absolute project root, exported as PIPE_ROOT. */
  root: string;
  /** Base environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  output?: OutputSink;
  /**
   * Stages whose runs, started by this executor and not finished, must succeed before this one starts (only for an
   * executor that `queues`): a cluster executor makes them job dependencies. A run that cannot start because one of
   * them failed ends `dependency-failed`.
   */
  after?: readonly string[];
  /**
   * What the run was started from beyond its command (the engine's stamp of the stage's source inputs): `attach`
   * follows a recorded run only when it is the same.
   */
  identity?: string;
  /** What the stage asks of a scheduler (its `resources:` in `pipe.yaml`); a local run ignores it. */
  resources?: Resources;
}

/** How a run ended. */
export type OutcomeReason =
  | { reason: "succeeded" }
  /** A command exited non-zero. */
  | { reason: "exit-code"; exitCode: number }
  /** A command was killed by a signal nobody here sent. */
  | { reason: "signal"; signal: string }
  /** Stopped by `cancel` or `cancelAll`; `signal` is what finally ended it, where the executor knows. */
  | { reason: "interrupted"; signal: string | null }
  /** The command could not be started at all (a missing working directory, no shell); `message` says why. */
  | { reason: "failed-to-start"; message: string }
  /** The machine refused (the open-file limit, a permission): `message` says what and what to do about it. */
  | { reason: "environment"; message: string }
  /** A scheduler stopped the run at a resource limit (never from `local`); `detail` is its word (`TIMEOUT`). */
  | { reason: "limit"; limit: "time" | "memory"; detail: string }
  /** Never ran: the scheduler dropped it because a run in its `after` failed (never from `local`). */
  | { reason: "dependency-failed"; detail: string };

export type Outcome = OutcomeReason & {
  /** The last lines of output (both streams, in arrival order), for the failure report. */
  tail: readonly string[];
  durationMs: number;
  /** For a list `cmd` that did not succeed: the item that ended it. */
  failedCommand?: string;
};

/** One started run. */
export interface StageRun {
  /** Settles once the run has ended and its output was delivered; never rejects for an expected failure. */
  readonly outcome: Promise<Outcome>;
  /**
   * Stops the run: asked to end, then ended by force after the executor's grace period; nothing more of it starts
   * (the rest of a list). Its outcome is then `interrupted`. Idempotent.
   */
  cancel(): void;
  /** Waiting in a scheduler's queue, nothing of it started yet (only from an executor that `queues`). */
  queued?(): boolean;
}

/** A run that a coordinator which died left in flight, as an executor recorded it. */
export interface Leftover {
  stage: string;
  /** What the executor knows it by (a cluster executor adds its job ids here). */
  run: { kind: "process-group"; pgid: number };
  /** The pid of the `pipe` that started it. */
  pipePid: number;
}

export interface SettleOptions {
  /** Wait for the leftovers to end instead of stopping them (`repro --wait`). */
  wait: boolean;
  /** Told once per leftover, before it is stopped or waited for. */
  onLeftover(l: Leftover): void;
}

export interface Executor {
  readonly name: ExecutorName;
  /**
   * Runs are queued with the scheduler rather than started here: the engine may start a stage as soon as the runs
   * it needs are started (naming them in `StageJob.after`) instead of waiting for them to finish.
   */
  readonly queues?: boolean;
  /**
   * Its runs wait in a scheduler's queue before they start (a cluster's jobs): the job's `queued` and `running`
   * states are told through `OutputSink.job`, and a reporter says a stage runs only when its job does.
   */
  readonly scheduled?: boolean;
  /** Concurrent runs when neither `-j` nor the config says (default 1). */
  readonly defaultJobs?: number;
  /**
   * A run of this stage that a coordinator which died left in flight (queued, running, or finished but never
   * recorded), with the same command and working directory: the engine follows it instead of starting another.
   */
  attach?(job: StageJob): Promise<StageRun | undefined>;
  /** Its runs go on without this process (a cluster's jobs): a hang-up leaves them to the next `repro` to re-attach. */
  readonly outlives?: boolean;
  /** Starts `job` and returns at once; a start that fails is an outcome, not an exception. */
  start(job: StageJob): StageRun;
  /**
   * Cancels every run this executor started that is still going: `graceful` as `StageRun.cancel`, `now` without
   * the grace period (a second Ctrl-C).
   */
  cancelAll(how: "graceful" | "now"): void;
  /**
   * For a writer that has just taken the project write lock, before anything starts: deals with what a `pipe` that
   * died (kill -9, a lost login session) left in flight, as recorded under `.pipe/tmp`. Returns what it found.
   */
  settleLeftovers(opts: SettleOptions): Promise<Leftover[]>;
}

export function succeeded(o: Outcome): boolean {
  return o.reason === "succeeded";
}
