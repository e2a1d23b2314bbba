/**
 * What every writing command (`repro`, `checkout`, `commit`, `gc`) does around its work: make sure `.pipe/` exists
 * (with its `.gitignore`, as `pipe init` writes it, so a DVC project that never ran `pipe init` does not get a cache
 * committed by accident), take the project write lock (and remove the temp files a killed writer left, as its restore journal lists them: `cache/staging.ts`), deal with stages a dead `pipe` left running (through the
 * executor: `Executor.settleLeftovers`), and turn SIGINT/SIGTERM/SIGHUP into an abort instead of an immediate exit,
 * so running stages are cancelled through their executor and the lock is released. A second signal cancels them at
 * once and hands over to the caller (`cli/`), which exits: nothing here ends the process.
 */
import { mkdir, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ok, type Result } from "../core/diagnostic.js";
import { GITIGNORE_LINES } from "../project/root.js";
import type { Executor, Leftover } from "../executors/executor.js";
import { LocalExecutor } from "../executors/local.js";
import { acquireWriteLock, type WriteLock } from "./mutex.js";
import { dropJournal, sweepJournals } from "../storage/staging.js";

/** Creates `.pipe/` and its `.gitignore` when missing. True when it created them. */
export async function ensurePipeDir(root: string): Promise<boolean> {
  const dir = path.join(root, ".pipe");
  const exists = await stat(dir).then(
    (st) => st.isDirectory(),
    () => false,
  );
  if (exists) return false;
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, ".gitignore"), GITIGNORE_LINES.join("\n") + "\n", { flag: "wx" }).catch(() => undefined);
  return true;
}

export interface LockProjectOptions {
  /** Told when `.pipe/` was created here. */
  onInitialised?: (root: string) => void;
  /** Told of each stage a dead `pipe` left running, before it is stopped or waited for. */
  onOrphan?: (o: Leftover, waiting: boolean) => void;
  /** Wait for such stages to end instead of stopping them (`repro --wait`). */
  waitForOrphans?: boolean;
  /** Whose leftovers to settle (default: the local executor's process groups, which every writer stops). */
  executor?: Executor;
}

/**
 * Makes sure `.pipe/` exists, then takes the project write lock. Writers create `.pipe/` implicitly (DVC requires
 * `dvc init`; `pipe` does not), so `onInitialised` is told when that happened, for a one-line note: the directory
 * decides where the project root is from then on. With the lock held, no other `pipe` writes here, so the runs
 * still recorded as in flight belong to a `pipe` that died without stopping them: the executor stops them (locally:
 * SIGTERM, then SIGKILL after the grace period) or waits for them, before anything else runs beside them.
 */
export async function lockProject(root: string, command: string, opts: LockProjectOptions = {}): Promise<Result<WriteLock>> {
  if (await ensurePipeDir(root)) opts.onInitialised?.(root);
  const lock = await acquireWriteLock(root, { command });
  if (!lock.ok) return lock;
  // Temp files of a writer that was killed before renaming them: nobody else places files while we hold the lock.
  await sweepJournals(root);
  const wait = opts.waitForOrphans === true;
  const executor = opts.executor ?? new LocalExecutor({ root });
  await executor.settleLeftovers({ wait, onLeftover: (o) => opts.onOrphan?.(o, wait) });
  const held = lock.value;
  return ok({
    path: held.path,
    holder: held.holder,
    async release() {
      dropJournal(root);
      await held.release();
    },
    releaseSync() {
      dropJournal(root);
      held.releaseSync();
    },
  });
}

/** `-j` value: a positive integer, `auto` (CPU count), or the config default (1 when not configured). */
export function parseJobs(flag: string | undefined, config: number | "auto" | undefined): number | undefined {
  const v = flag ?? (config === undefined ? "1" : String(config));
  if (v === "auto") return Math.max(1, os.availableParallelism());
  if (!/^[0-9]+$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 1 ? n : undefined;
}

export interface Interrupts {
  signal: AbortSignal;
  /** Restores the previous signal handlers. */
  dispose(): void;
}

export interface InterruptOptions {
  /** Told of the first signal, before the abort. */
  onFirst?: () => void;
  /** Whose runs a second signal cancels at once. */
  executor?: Executor;
  /** After a second signal (and the cancel): ends the process. `cli/` exits 130 here; the core never exits. */
  onSecond: () => void;
}

/**
 * Installs SIGINT/SIGTERM/SIGHUP handlers for the duration of a command. The first signal aborts (the scheduler stops
 * starting stages, the engine cancels running ones through their executor); the second cancels every run of the
 * executor without a grace period and calls `onSecond`. A hang-up (terminal closed, SSH connection dropped) is an
 * interrupt like the others: the local executor runs stages in their own process groups, so the terminal's SIGHUP
 * never reaches them, and without this they would run on unsupervised. An executor whose runs outlive this process
 * (`outlives`: a cluster's jobs) is the exception: a hang-up exits at once and leaves them to the next `repro`, which
 * re-attaches to them.
 */
export function handleInterrupts(opts: InterruptOptions): Interrupts {
  const ac = new AbortController();
  const saved = new Map<NodeJS.Signals, NodeJS.SignalsListener[]>();
  const handler = (sig: NodeJS.Signals): void => {
    // After a hang-up the terminal is gone and writing to it fails (EIO): the report of the interrupt is lost, the
    // clean-up must not be.
    if (sig === "SIGHUP") for (const s of [process.stdout, process.stderr]) s.on("error", () => undefined);
    // Jobs that outlive this process are left to the next `repro` when the login session is lost (it re-attaches).
    if (sig === "SIGHUP" && opts.executor?.outlives === true) {
      opts.onSecond();
      return;
    }
    if (!ac.signal.aborted) {
      opts.onFirst?.();
      ac.abort();
      return;
    }
    opts.executor?.cancelAll("now");
    opts.onSecond();
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    saved.set(sig, process.listeners(sig));
    process.removeAllListeners(sig);
    process.on(sig, handler);
  }
  return {
    signal: ac.signal,
    dispose(): void {
      for (const [sig, ls] of saved) {
        process.removeListener(sig, handler);
        for (const l of ls) process.on(sig, l);
      }
    },
  };
}
