/**
 * Watching real processes from a test: whether a pid is still running, and waiting for a condition with a generous
 * deadline (a wait, never a timing assertion). Shared by the executor contract suite and the interrupt faults.
 */
import { readFileSync } from "node:fs";

/** Alive and not a zombie (a killed orphan may wait for a reaper that containers do not always have). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true;
  }
}

/** Polls `cond` until it holds, or fails after `ms` (30 s by default: the machine may be loaded). */
export async function until(cond: () => boolean, what = "condition", ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
