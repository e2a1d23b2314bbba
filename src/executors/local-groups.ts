/**
 * The local executor's records of the stage process groups a `pipe` is running, so that what a `pipe` left running when it died (kill -9,
 * a crash, a machine-level OOM kill: nothing of it ran on the way out) can be found by the next writer, and so that
 * `status` can tell a stage being rebuilt from one whose outputs were deleted.
 *
 * One file per process group, `.pipe/tmp/running/<pipe pid>-<pgid>.json`, written whole (temp file, rename) just
 * after the group's leader is spawned and removed when the group's command ends. It holds the pipe's pid and start
 * time, the stage address, the group id and its leader's start time. Pids are reused, so "alive" always means "a
 * live process with that pid whose start time (from /proc on Linux) is the recorded one"; where there is no /proc,
 * the pid alone is trusted. A group counts as running while one of its members is alive and not a zombie (a stage
 * orphaned by a dead `pipe` is reparented to a process that may never reap it); a group whose leader pid now belongs
 * to a process with another start time is someone else's and is never signalled.
 *
 * These files are scratch state, not user data: they are renamed into place (never read half-written) but not
 * fsynced; after a machine crash the processes they name are gone anyway.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { readdir, readFile, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export const RUNNING_DIR = ".pipe/tmp/running";

export interface RunningRecord {
  pipePid: number;
  /** The pipe's start time (/proc clock ticks since boot); null where it cannot be read. */
  pipeStart: string | null;
  host: string;
  stage: string;
  pgid: number;
  /** Start time of the group leader (the stage's `sh`), as `pipeStart`. */
  leaderStart: string | null;
  /** ISO 8601, for messages. */
  startedAt: string;
}

/** Told when a stage's process group starts and ends (the local executor's side of the records). */
export interface GroupRecorder {
  started(stage: string, pgid: number): void;
  ended(pgid: number): void;
}

interface ProcStat {
  state: string;
  pgrp: number;
  startTime: string;
}

/** Fields of /proc/<pid>/stat, or undefined (no such process, or no /proc). */
function procStat(pid: number | "self"): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields are counted after the last ')'.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state), f[2] field 5 (pgrp), f[19] field 22 (starttime).
  if (f.length < 20) return undefined;
  return { state: f[0]!, pgrp: Number(f[2]), startTime: f[19]! };
}

const hasProc = (): boolean => procStat("self") !== undefined;

/** Where there is no /proc: does a process (or, for a negative pid, a process group) exist? EPERM: someone else's. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The start time of `pid`, as recorded in a running record (null where /proc cannot tell). */
export function startTimeOf(pid: number): string | null {
  return procStat(pid)?.startTime ?? null;
}

/** Is the process that was `pid`, started at `start`, still alive (and not a zombie)? */
export function sameProcessAlive(pid: number, start: string | null): boolean {
  const st = procStat(pid);
  if (st === undefined) return hasProc() ? false : exists(pid);
  if (st.state === "Z") return false;
  return start === null || st.startTime === start;
}

/**
 * Is the recorded group still running? Its leader may have exited while its children run on (a background `&`), so
 * every process is looked at; the group id cannot have been reused while a member still carries it, but the leader's
 * pid can have been reused once the whole group was gone, which the leader's start time tells.
 */
export function groupRunning(r: Pick<RunningRecord, "pgid" | "leaderStart">): boolean {
  if (!hasProc()) return exists(-r.pgid);
  const leader = procStat(r.pgid);
  if (leader !== undefined && r.leaderStart !== null && leader.startTime !== r.leaderStart) return false;
  if (leader !== undefined && leader.pgrp === r.pgid && leader.state !== "Z") return true;
  let pids: string[];
  try {
    pids = readdirSync("/proc");
  } catch {
    return false;
  }
  for (const name of pids) {
    if (!/^[0-9]+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st !== undefined && st.pgrp === r.pgid && st.state !== "Z") return true;
  }
  return false;
}

/** Writes and removes this process's records under `root`. Synchronous: `ended` also runs in an exit hook. */
export class RunningRecords implements GroupRecorder {
  private readonly dir: string;
  private readonly pipeStart = startTimeOf(process.pid);
  private readonly host = os.hostname();
  private madeDir = false;

  constructor(root: string) {
    this.dir = path.join(root, RUNNING_DIR);
  }

  private file(pgid: number): string {
    return path.join(this.dir, `${process.pid}-${pgid}.json`);
  }

  started(stage: string, pgid: number): void {
    const rec: RunningRecord = {
      pipePid: process.pid,
      pipeStart: this.pipeStart,
      host: this.host,
      stage,
      pgid,
      leaderStart: startTimeOf(pgid),
      startedAt: new Date().toISOString(),
    };
    try {
      if (!this.madeDir) mkdirSync(this.dir, { recursive: true });
      this.madeDir = true;
      const tmp = this.file(pgid) + ".tmp";
      writeFileSync(tmp, JSON.stringify(rec) + "\n");
      renameSync(tmp, this.file(pgid));
    } catch {
      // A record that cannot be written costs only the clean-up after a kill -9; the stage still runs.
    }
  }

  ended(pgid: number): void {
    try {
      unlinkSync(this.file(pgid));
    } catch {
      // Never written, or removed already.
    }
  }
}

function parseRecord(text: string): RunningRecord | undefined {
  try {
    const o = JSON.parse(text) as Partial<RunningRecord>;
    if (typeof o.pipePid === "number" && typeof o.pgid === "number" && typeof o.stage === "string" && typeof o.host === "string") {
      return {
        pipePid: o.pipePid,
        pipeStart: typeof o.pipeStart === "string" ? o.pipeStart : null,
        host: o.host,
        stage: o.stage,
        pgid: o.pgid,
        leaderStart: typeof o.leaderStart === "string" ? o.leaderStart : null,
        startedAt: typeof o.startedAt === "string" ? o.startedAt : "",
      };
    }
  } catch {
    // fall through
  }
  return undefined;
}

export interface FoundRecord {
  file: string;
  record: RunningRecord;
}

/** Every readable record under `root` (none when the directory is absent). */
export async function readRunning(root: string): Promise<FoundRecord[]> {
  const dir = path.join(root, RUNNING_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: FoundRecord[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith(".json")) continue;
    const file = path.join(dir, name);
    const text = await readFile(file, "utf8").catch(() => undefined);
    const record = text === undefined ? undefined : parseRecord(text);
    if (record) out.push({ file, record });
  }
  return out;
}

/** Stage address -> pid of the live `pipe` (on this host) running it now. */
export async function stagesRunningNow(root: string): Promise<Map<string, number>> {
  const host = os.hostname();
  const out = new Map<string, number>();
  for (const { record: r } of await readRunning(root)) {
    if (r.host === host && r.pipePid !== process.pid && sameProcessAlive(r.pipePid, r.pipeStart) && groupRunning(r)) out.set(r.stage, r.pipePid);
  }
  return out;
}

export interface Orphan {
  stage: string;
  pgid: number;
  pipePid: number;
}

export interface SettleOptions {
  /** Wait for the orphans to end instead of stopping them. */
  wait: boolean;
  graceMs: number;
  /** Told once per orphan group before it is stopped or waited for. */
  onOrphan(o: Orphan): void;
  pollMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * For a writer that has just taken the project write lock: stops (or waits for) the process groups that a dead
 * `pipe` left running, then removes the records of dead pipes. Records of a live `pipe` (one that lost its lock by
 * hand) and of another host are left alone: their groups are not ours to judge.
 */
export async function settleOrphans(root: string, opts: SettleOptions): Promise<Orphan[]> {
  const host = os.hostname();
  const poll = opts.pollMs ?? 50;
  const orphans: { o: Orphan; r: RunningRecord }[] = [];
  const dead: string[] = [];
  for (const { file, record: r } of await readRunning(root)) {
    if (r.host !== host || r.pipePid === process.pid || sameProcessAlive(r.pipePid, r.pipeStart)) continue;
    dead.push(file);
    if (groupRunning(r)) orphans.push({ o: { stage: r.stage, pgid: r.pgid, pipePid: r.pipePid }, r });
  }
  for (const { o } of orphans) opts.onOrphan(o);
  const running = (): RunningRecord[] => orphans.map((x) => x.r).filter(groupRunning);
  if (opts.wait) {
    while (running().length > 0) await sleep(poll);
  } else if (orphans.length > 0) {
    for (const { r } of orphans) signalGroup(r.pgid, "SIGTERM");
    const deadline = Date.now() + opts.graceMs;
    while (running().length > 0 && Date.now() < deadline) await sleep(poll);
    for (const r of running()) signalGroup(r.pgid, "SIGKILL");
    // SIGKILL cannot be ignored: this ends as soon as the kernel has torn the processes down (bounded all the same: a
    // process stuck in the kernel, on a dead NFS mount say, must not hang every later writer).
    const killed = Date.now() + opts.graceMs;
    while (running().length > 0 && Date.now() < killed) await sleep(poll);
  }
  for (const f of dead) await unlink(f).catch(() => undefined);
  return orphans.map((x) => x.o);
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // Gone already.
  }
}
