/**
 * The local executor: the executor contract, then what only process groups on this machine do (one `sh -e -c` per
 * command, the group records, the kill after the grace period, output held open by a process that left the group).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { succeeded } from "../../src/executors/executor.js";
import { LocalExecutor } from "../../src/executors/local.js";
import { makeProject } from "../helpers/project.js";
import { alive, collecting, executorContract, until } from "./executor-contract.js";

executorContract("local", ({ root, graceMs }) => new LocalExecutor({ root, killGraceMs: graceMs }));
// Without the helper processes (`spawner.ts`): what a machine without Perl, and `--tty`, use.
executorContract("local, spawned from pipe itself", ({ root, graceMs }) => new LocalExecutor({ root, killGraceMs: graceMs, spawner: false }));

describe("LocalExecutor", () => {
  const local = (root: string) => new LocalExecutor({ root, killGraceMs: 500 });

  it("a multi-line string is one script: cd carries over and the first failing line stops it", async () => {
    const root = makeProject({ "d/marker": "" });
    const c = collecting({ stage: "s", cmd: "cd d\nls\nfalse\necho never > reached.txt", wdir: root, root });
    const o = await local(root).start(c.job).outcome;
    expect(o).toMatchObject({ reason: "exit-code", exitCode: 1 });
    expect(o.failedCommand).toBeUndefined();
    expect(succeeded(o)).toBe(false);
    expect(c.lines).toEqual([["stdout", "marker"]]);
    expect(existsSync(path.join(root, "d/reached.txt"))).toBe(false);
    const single = collecting({ stage: "s", cmd: "echo a\necho b", wdir: root, root });
    await local(root).start(single.job).outcome;
    expect(single.seen.filter((l) => l.startsWith("cmd"))).toEqual(["cmd 0: echo a\necho b"]);
  });

  it("keeps the last 20 lines of output for the failure report", async () => {
    const root = makeProject();
    const o = await local(root).start({ stage: "s", cmd: "for i in $(seq 1 50); do echo line$i; done; exit 2", wdir: root, root }).outcome;
    expect(o).toMatchObject({ reason: "exit-code", exitCode: 2 });
    expect(o.tail).toHaveLength(20);
    expect(o.tail[0]).toBe("line31");
    expect(o.tail[19]).toBe("line50");
  });

  it("passes a final line without newline, and splits CRLF", async () => {
    const root = makeProject();
    const c = collecting({ stage: "s", cmd: "printf 'a\\r\\nb'", wdir: root, root });
    await local(root).start(c.job).outcome;
    expect(c.lines).toEqual([
      ["stdout", "a"],
      ["stdout", "b"],
    ]);
  });

  it("a command that ignores SIGTERM is killed with SIGKILL after the grace period", async () => {
    const root = makeProject();
    const c = collecting({ stage: "s", cmd: "trap '' TERM; echo ready; sleep 30", wdir: root, root });
    const run = local(root).start(c.job);
    await until(() => c.has("ready"), "ready");
    run.cancel();
    expect(await run.outcome).toMatchObject({ reason: "interrupted", signal: "SIGKILL" });
  });

  it("cancelAll('now') kills without waiting for the grace period", async () => {
    const root = makeProject();
    // A grace period far beyond the test's timeout: only a kill without it ends this run in time.
    const executor = new LocalExecutor({ root, killGraceMs: 10 * 60_000 });
    const c = collecting({ stage: "s", cmd: "trap '' TERM; echo ready; sleep 30", wdir: root, root });
    const run = executor.start(c.job);
    await until(() => c.has("ready"), "ready");
    executor.cancelAll("graceful");
    executor.cancelAll("now");
    expect(await run.outcome).toMatchObject({ reason: "interrupted", signal: "SIGKILL" });
  });

  it("after a cancel, output held open by a process that left the group (setsid) is not waited for", async () => {
    const root = makeProject();
    // The grandchild is its own session (the group kill misses it) and inherits the stage's stdout and stderr.
    const c = collecting({ stage: "s", cmd: "setsid sh -c 'echo gc=$$; sleep 30' & sleep 30", wdir: root, root });
    const run = local(root).start(c.job);
    await until(() => c.lines.some(([, l]) => l.startsWith("gc=")), "the grandchild");
    const grandchild = Number(c.lines.find(([, l]) => l.startsWith("gc="))?.[1].slice(3));
    try {
      run.cancel();
      const o = await run.outcome;
      expect(o.reason).toBe("interrupted");
      // The run ended while the grandchild, and so the pipes it holds, lived on.
      expect(alive(grandchild)).toBe(true);
    } finally {
      // Its own session and group (its `sleep` with it).
      process.kill(-grandchild, "SIGKILL");
    }
  });

  it("tells its recorder when each command's process group starts and ends", async () => {
    const root = makeProject();
    const events: string[] = [];
    const recorder = { started: (stage: string, pgid: number) => events.push(`start ${stage} ${pgid}`), ended: (pgid: number) => events.push(`end ${pgid}`) };
    const c = collecting({ stage: "s", cmd: ["echo $$", "echo $$"], wdir: root, root });
    const o = await new LocalExecutor({ root, recorder }).start(c.job).outcome;
    expect(succeeded(o)).toBe(true);
    const [a, b] = c.lines.map(([, l]) => l);
    expect(events).toEqual([`start s ${a}`, `end ${a}`, `start s ${b}`, `end ${b}`]);
  });
});
