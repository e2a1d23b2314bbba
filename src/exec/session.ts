/**
 * What every writing command (`repro`, `checkout`, `commit`, `gc`) does around its work: make sure `.pipe/` exists
 * (with its `.gitignore`, as `pipe init` writes it, so a DVC project that never ran `pipe init` does not get a cache
 * committed by accident), take the project write lock (and clear `.pipe/tmp/staging/` of what a killed writer left),
 * and turn SIGINT/SIGTERM into an abort instead of an
 * immediate exit, so running stages are terminated and the lock is released. A second Ctrl-C exits at once.
 */
import { mkdir, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ok, type Result } from "../config/diagnostic.js";
import { GITIGNORE_LINES } from "../cli/commands/init.js";
import { killAllGroups } from "./runner.js";
import { acquireWriteLock, type WriteLock } from "./mutex.js";
import { dropStaging, sweepStaging } from "../cache/staging.js";

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

/**
 * Makes sure `.pipe/` exists, then takes the project write lock. Writers create `.pipe/` implicitly (DVC requires
 * `dvc init`; `pipe` does not), so `onInitialised` is told when that happened, for a one-line note: the directory
 * decides where the project root is from then on.
 */
export async function lockProject(root: string, command: string, onInitialised?: (root: string) => void): Promise<Result<WriteLock>> {
  if (await ensurePipeDir(root)) onInitialised?.(root);
  const lock = await acquireWriteLock(root, { command });
  if (!lock.ok) return lock;
  // Temp files of a writer that was killed before renaming them: nobody else stages while we hold the lock.
  await sweepStaging(root);
  const held = lock.value;
  return ok({
    path: held.path,
    holder: held.holder,
    async release() {
      dropStaging(root);
      await held.release();
    },
    releaseSync() {
      dropStaging(root);
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

/**
 * Installs SIGINT/SIGTERM handlers for the duration of a command. The first signal aborts (the scheduler stops
 * starting stages, the runner terminates running ones); the second kills every stage's process group and exits 130.
 */
export function handleInterrupts(onFirst?: () => void): Interrupts {
  const ac = new AbortController();
  const saved = new Map<NodeJS.Signals, NodeJS.SignalsListener[]>();
  const handler = (): void => {
    if (!ac.signal.aborted) {
      onFirst?.();
      ac.abort();
      return;
    }
    killAllGroups("SIGKILL");
    process.exit(130);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
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
