/**
 * The experiment queue on disk, `.pipe/exps/`: one JSON file per queued experiment (`queue/<id>.json`, written whole
 * through a temp file and a rename, so a crash leaves the old entry or the new one), its log (`logs/<id>.log`), and
 * the runner's pid file (`runner.pid`). Entries outlive a crash of `pipe`: an entry left `running` by a runner that
 * is gone is taken back to `queued` by the next `--run-all` (after its stage processes are stopped), so the queue
 * finishes by running the command again.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { writeAtomic } from "../core/atomic-write.js";
import { ensurePipeDir } from "../exec/session.js";
import type { Override } from "./overrides.js";

export const EXPS_DIR = ".pipe/exps";
/** Temporary worktrees of running experiments: ignored by git (`.pipe/.gitignore` holds `/tmp`) and by pipe's walks. */
export const WORKTREES_DIR = ".pipe/tmp/exps";

export type EntryState = "queued" | "running" | "success" | "failed";

export interface QueueEntry {
  id: string;
  name: string;
  /** The commit the experiment's ref hangs under (HEAD when queued). */
  baseline: string;
  /** The commit the worktree starts from: the baseline, or a commit of the workspace's changes on top of it. */
  base: string;
  overrides: Override[];
  targets: string[];
  message?: string;
  queuedAt: string;
  state: EntryState;
  /** While running: the runner (`--run-all`) and the experiment's own process group. */
  runnerPid?: number;
  pgid?: number;
  startedAt?: string;
  endedAt?: string;
  /** Absolute path of the log. */
  log: string;
  /** Once recorded: its ref and commit. */
  ref?: string;
  sha?: string;
  /** Why it failed (the log has the rest). */
  error?: string;
  /** Milliseconds: the stages (the child process), and the experiment's own cost (worktree, overrides, commit, ref). */
  stagesMs?: number;
  overheadMs?: number;
  /** Where the overhead went (ms): worktree, overrides, load, record, remove. */
  phases?: Record<string, number>;
}

/** Creates `.pipe/exps/` with a `.gitignore` of everything: `.pipe/` is committed (its config), the queue never. */
export async function ensureExpsDir(root: string): Promise<string> {
  // `.pipe/` as every writer makes it, with the `.gitignore` that keeps the cache and the run-cache out of git.
  await ensurePipeDir(root);
  const dir = path.join(root, EXPS_DIR);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, ".gitignore"), "*\n", { flag: "wx" }).catch(() => undefined);
  return dir;
}

export class QueueStore {
  readonly dir: string;
  constructor(readonly root: string) {
    this.dir = path.join(root, EXPS_DIR);
  }

  private file(id: string): string {
    return path.join(this.dir, "queue", `${id}.json`);
  }

  logOf(id: string): string {
    return path.join(this.dir, "logs", `${id}.log`);
  }

  async save(e: QueueEntry): Promise<void> {
    await ensureExpsDir(this.root);
    await mkdir(path.join(this.dir, "queue"), { recursive: true });
    await mkdir(path.join(this.dir, "logs"), { recursive: true });
    await writeAtomic(this.file(e.id), JSON.stringify(e, null, 2) + "\n");
  }

  async remove(e: QueueEntry): Promise<void> {
    await rm(this.file(e.id), { force: true });
    await rm(e.log, { force: true });
  }

  /** Every entry, in the order they were queued. Unreadable files (a partial write cannot happen) are skipped. */
  async list(): Promise<QueueEntry[]> {
    let names: string[];
    try {
      names = await readdir(path.join(this.dir, "queue"));
    } catch {
      return [];
    }
    const out: QueueEntry[] = [];
    for (const n of names.filter((x) => x.endsWith(".json"))) {
      try {
        out.push(JSON.parse(await readFile(path.join(this.dir, "queue", n), "utf8")) as QueueEntry);
      } catch {
        // a file that is not an entry: not ours to judge
      }
    }
    return out.sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : a.id < b.id ? -1 : 1));
  }

  async get(id: string): Promise<QueueEntry | undefined> {
    try {
      return JSON.parse(await readFile(this.file(id), "utf8")) as QueueEntry;
    } catch {
      return undefined;
    }
  }
}

/** Whether a process is alive (signal 0 probes without sending anything). */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
