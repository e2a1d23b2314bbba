import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  groupRunning,
  readRunning,
  RUNNING_DIR,
  RunningRecords,
  sameProcessAlive,
  settleOrphans,
  stagesRunningNow,
  startTimeOf,
  type Orphan,
  type RunningRecord,
} from "../../src/executors/local-groups.js";
import { makeProject } from "../helpers/project.js";

const groups: number[] = [];
afterEach(() => {
  while (groups.length) {
    try {
      process.kill(-groups.pop()!, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
});

/** A process group of its own running `cmd` (its leader's pid is the group id). */
function group(cmd = "sleep 30"): number {
  const child = spawn("sh", ["-c", cmd], { detached: true, stdio: "ignore" });
  child.unref();
  groups.push(child.pid!);
  return child.pid!;
}

/** A pid that was alive and is now gone (a finished child, reaped). */
function deadPid(): number {
  return Number(spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout.trim());
}

function writeRecord(root: string, r: RunningRecord): void {
  const dir = path.join(root, RUNNING_DIR);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${r.pipePid}-${r.pgid}.json`), JSON.stringify(r));
}

function record(over: Partial<RunningRecord> & { pgid: number }): RunningRecord {
  return {
    pipePid: deadPid(),
    pipeStart: null,
    host: os.hostname(),
    stage: "train",
    leaderStart: startTimeOf(over.pgid),
    startedAt: new Date().toISOString(),
    ...over,
  };
}

const onLinux = existsSync("/proc/self/stat");

describe("running records", () => {
  it("a pid is the same process only while its start time is the recorded one", () => {
    const start = startTimeOf(process.pid);
    expect(sameProcessAlive(process.pid, start)).toBe(true);
    expect(sameProcessAlive(deadPid(), null)).toBe(false);
    if (onLinux) expect(sameProcessAlive(process.pid, "1")).toBe(false);
  });

  it("a group runs while a member does; a leader pid with another start time is someone else's group", async () => {
    const g = group();
    expect(groupRunning({ pgid: g, leaderStart: startTimeOf(g) })).toBe(true);
    if (onLinux) expect(groupRunning({ pgid: g, leaderStart: "1" })).toBe(false);
    process.kill(-g, "SIGKILL");
    const deadline = Date.now() + 20_000;
    while (groupRunning({ pgid: g, leaderStart: null }) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(groupRunning({ pgid: g, leaderStart: null })).toBe(false);
  });

  it("RunningRecords writes one record per group and removes it when the group ends", async () => {
    const root = makeProject();
    const recs = new RunningRecords(root);
    recs.started("a/dvc.yaml:train", 4242);
    const found = await readRunning(root);
    expect(found.map((f) => [f.record.stage, f.record.pgid, f.record.pipePid])).toEqual([["a/dvc.yaml:train", 4242, process.pid]]);
    recs.ended(4242);
    expect(readdirSync(path.join(root, RUNNING_DIR))).toEqual([]);
  });

  it("settleOrphans stops the groups of a dead pipe, removes its records, and leaves a live pipe's alone", async () => {
    const root = makeProject();
    // The orphan ignores SIGTERM: only the escalation to SIGKILL ends it.
    const orphan = group("trap '' TERM; while :; do sleep 0.05; done");
    const other = group();
    writeRecord(root, record({ pgid: orphan, stage: "orphan" }));
    // A live pipe (this test's parent stands for it) running `other`: not an orphan, not ours to stop.
    writeRecord(root, record({ pgid: other, stage: "live", pipePid: process.ppid, pipeStart: startTimeOf(process.ppid) }));
    const told: Orphan[] = [];
    const stopped = await settleOrphans(root, { wait: false, graceMs: 300, onOrphan: (o) => told.push(o) });
    expect(stopped.map((o) => [o.stage, o.pgid])).toEqual([["orphan", orphan]]);
    expect(told).toEqual(stopped);
    expect(groupRunning({ pgid: orphan, leaderStart: null })).toBe(false);
    expect(groupRunning({ pgid: other, leaderStart: null })).toBe(true);
    const left = await readRunning(root);
    expect(left.map((f) => f.record.stage)).toEqual(["live"]);
  });

  it("settleOrphans with wait lets the group finish on its own", async () => {
    const root = makeProject();
    const mark = path.join(root, "finished");
    const orphan = group(`sleep 0.5; echo yes > '${mark}'`);
    writeRecord(root, record({ pgid: orphan }));
    await settleOrphans(root, { wait: true, graceMs: 300, onOrphan: () => undefined });
    expect(readFileSync(mark, "utf8")).toBe("yes\n");
    expect(await readRunning(root)).toEqual([]);
  });

  it("stagesRunningNow lists the stages of live pipes only", async () => {
    const root = makeProject();
    const live = group();
    const orphan = group();
    // The test's parent stands for the running pipe (a record of the asking process's own pid is never reported).
    writeRecord(root, record({ pgid: live, stage: "live", pipePid: process.ppid, pipeStart: startTimeOf(process.ppid) }));
    writeRecord(root, record({ pgid: orphan, stage: "orphan" }));
    expect([...(await stagesRunningNow(root))]).toEqual([["live", process.ppid]]);
  });
});
