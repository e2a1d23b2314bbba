/**
 * What every writing command (`repro`, `checkout`, `commit`, `gc`) does around its work: make sure `.pipe/` exists
 * (with its `.gitignore`, as `pipe init` writes it, so a DVC project that never ran `pipe init` does not get a cache
 * committed by accident), take the project write lock, deal with stages a dead `pipe` left running (`running.ts`),
 * and turn SIGINT/SIGTERM/SIGHUP into an abort instead of an immediate exit, so running stages are terminated and the
 * lock is released. A second signal exits at once.
 */
import { mkdir, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Result } from "../config/diagnostic.js";
import { GITIGNORE_LINES } from "../project/init.js";
import { KILL_GRACE_MS, killAllGroups } from "./runner.js";
import { acquireWriteLock, type WriteLock } from "./mutex.js";
import { settleOrphans, type Orphan } from "./running.js";

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
  onOrphan?: (o: Orphan, waiting: boolean) => void;
  /** Wait for such stages to end instead of stopping them (`repro --wait`). */
  waitForOrphans?: boolean;
}

/**
 * Makes sure `.pipe/` exists, then takes the project write lock. Writers create `.pipe/` implicitly (DVC requires
 * `dvc init`; `pipe` does not), so `onInitialised` is told when that happened, for a one-line note: the directory
 * decides where the project root is from then on. With the lock held, no other `pipe` writes here, so the process
 * groups still recorded as running belong to a `pipe` that died without stopping them: they are stopped (SIGTERM,
 * then SIGKILL after the grace period), or waited for, before anything else runs beside them.
 */
export async function lockProject(root: string, command: string, opts: LockProjectOptions = {}): Promise<Result<WriteLock>> {
  if (await ensurePipeDir(root)) opts.onInitialised?.(root);
  const lock = await acquireWriteLock(root, { command });
  if (!lock.ok) return lock;
  const wait = opts.waitForOrphans === true;
  await settleOrphans(root, { wait, graceMs: KILL_GRACE_MS, onOrphan: (o) => opts.onOrphan?.(o, wait) });
  return lock;
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

/**
 * Installs SIGINT/SIGTERM/SIGHUP handlers for the duration of a command. The first signal aborts (the scheduler stops
 * starting stages, the runner terminates running ones); the second kills every stage's process group and exits 130.
 * A hang-up (terminal closed, SSH connection dropped) is an interrupt like the others: the stages run in their own
 * process groups, so the terminal's SIGHUP never reaches them, and without this they would run on unsupervised.
 */
export function handleInterrupts(onFirst?: () => void): Interrupts {
  const ac = new AbortController();
  const saved = new Map<NodeJS.Signals, NodeJS.SignalsListener[]>();
  const handler = (sig: NodeJS.Signals): void => {
    // After a hang-up the terminal is gone and writing to it fails (EIO): the report of the interrupt is lost, the
    // clean-up must not be.
    if (sig === "SIGHUP") for (const s of [process.stdout, process.stderr]) s.on("error", () => undefined);
    if (!ac.signal.aborted) {
      onFirst?.();
      ac.abort();
      return;
    }
    killAllGroups("SIGKILL");
    process.exit(130);
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
