import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ProcessRunner, succeeded, type OutputStream } from "../../src/exec/runner.js";
import { makeProject } from "../helpers/project.js";

function collect() {
  const lines: [OutputStream, string][] = [];
  return { lines, onLine: (s: OutputStream, l: string) => lines.push([s, l]) };
}

/** Alive and not a zombie (an orphan killed here may wait for a reaper that containers do not always have). */
function alive(pid: number): boolean {
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

/** Polls `cond` until it holds, or fails after a generous deadline (a wait, not a timing assertion). */
async function until(cond: () => boolean, what = "condition"): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("ProcessRunner", () => {
  const runner = new ProcessRunner({ killGraceMs: 500 });

  it("runs a string command in the working directory with PIPE_STAGE and PIPE_ROOT, streaming both streams", async () => {
    const root = makeProject({ "sub/.keep": "" });
    const c = collect();
    const r = await runner.run({
      stage: "train",
      cmd: 'echo "stage=$PIPE_STAGE"; echo "root=$PIPE_ROOT"; pwd; echo oops >&2',
      cwd: path.join(root, "sub"),
      root,
      onLine: c.onLine,
    });
    expect(succeeded(r)).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(c.lines).toContainEqual(["stdout", "stage=train"]);
    expect(c.lines).toContainEqual(["stdout", `root=${root}`]);
    expect(c.lines.some(([s, l]) => s === "stdout" && l.endsWith("/sub"))).toBe(true);
    expect(c.lines).toContainEqual(["stderr", "oops"]);
  });

  it("inherits the environment it is given", async () => {
    const root = makeProject();
    const c = collect();
    await runner.run({ stage: "s", cmd: "echo $MY_VAR", cwd: root, root, env: { ...process.env, MY_VAR: "hello" }, onLine: c.onLine });
    expect(c.lines).toEqual([["stdout", "hello"]]);
  });

  it("a multi-line string is one script: cd carries over and the first failing line stops it", async () => {
    const root = makeProject({ "d/marker": "" });
    const c = collect();
    const r = await runner.run({
      stage: "s",
      cmd: "cd d\nls\nfalse\necho never > reached.txt",
      cwd: root,
      root,
      onLine: c.onLine,
    });
    expect(r.exitCode).toBe(1);
    expect(succeeded(r)).toBe(false);
    expect(c.lines).toEqual([["stdout", "marker"]]);
    expect(existsSync(path.join(root, "d/reached.txt"))).toBe(false);
  });

  it("a list runs item by item in separate shells and stops at the first failure", async () => {
    const root = makeProject();
    const r = await runner.run({
      stage: "s",
      cmd: ["echo one >> log", "exit 3", "echo three >> log"],
      cwd: root,
      root,
    });
    expect(r.exitCode).toBe(3);
    expect(r.failedCommand).toBe("exit 3");
    expect(readFileSync(path.join(root, "log"), "utf8")).toBe("one\n");
  });

  it("announces each command just before it starts, and never one that does not run", async () => {
    const root = makeProject();
    const seen: string[] = [];
    const r = await runner.run({
      stage: "s",
      cmd: ["echo one", "echo two; exit 3", "echo three"],
      cwd: root,
      root,
      onCommand: (c, i) => seen.push(`cmd ${i}: ${c}`),
      onLine: (_s, l) => seen.push(`out: ${l}`),
    });
    expect(r.exitCode).toBe(3);
    expect(seen).toEqual(["cmd 0: echo one", "out: one", "cmd 1: echo two; exit 3", "out: two"]);
    const single: string[] = [];
    await runner.run({ stage: "s", cmd: "echo a\necho b", cwd: root, root, onCommand: (c) => single.push(c) });
    expect(single).toEqual(["echo a\necho b"]);
  });

  it("keeps the last 20 lines of output for the failure report", async () => {
    const root = makeProject();
    const r = await runner.run({ stage: "s", cmd: "for i in $(seq 1 50); do echo line$i; done; exit 2", cwd: root, root });
    expect(r.exitCode).toBe(2);
    expect(r.tail).toHaveLength(20);
    expect(r.tail[0]).toBe("line31");
    expect(r.tail[19]).toBe("line50");
  });

  it("passes a final line without newline, and splits CRLF", async () => {
    const root = makeProject();
    const c = collect();
    await runner.run({ stage: "s", cmd: "printf 'a\\r\\nb'", cwd: root, root, onLine: c.onLine });
    expect(c.lines).toEqual([
      ["stdout", "a"],
      ["stdout", "b"],
    ]);
  });

  it("reports a missing working directory as a spawn error, not an exception", async () => {
    const root = makeProject();
    const r = await runner.run({ stage: "s", cmd: "true", cwd: path.join(root, "nope"), root });
    expect(succeeded(r)).toBe(false);
    expect(r.spawnError).toContain("working directory");
  });

  it("reports death by signal", async () => {
    const root = makeProject();
    const r = await runner.run({ stage: "s", cmd: "kill -9 $$", cwd: root, root });
    expect(r.signal).toBe("SIGKILL");
    expect(r.exitCode).toBeNull();
    expect(succeeded(r)).toBe(false);
  });

  it("an abort kills the whole process group, background children included", async () => {
    const root = makeProject();
    const ac = new AbortController();
    const c = collect();
    const p = runner.run({
      stage: "s",
      // A child in the background and one in the foreground; both must die.
      cmd: "sleep 30 & echo bg=$!; sleep 30",
      cwd: root,
      root,
      signal: ac.signal,
      onLine: c.onLine,
    });
    // Waits for the line itself, not for a fixed time (a loaded machine may take longer to start a shell).
    await until(() => c.lines.some(([, l]) => l.startsWith("bg=")));
    const bg = Number(c.lines.find(([, l]) => l.startsWith("bg="))?.[1].slice(3));
    expect(bg).toBeGreaterThan(0);
    expect(alive(bg)).toBe(true);
    ac.abort();
    const r = await p;
    expect(r.interrupted).toBe(true);
    expect(succeeded(r)).toBe(false);
    // Killed at once, but its reaping is the system's: wait for it rather than for a fixed time.
    await until(() => !alive(bg));
    expect(alive(bg)).toBe(false);
  });

  it("a command that ignores SIGTERM is killed after the grace period", async () => {
    const root = makeProject();
    const ac = new AbortController();
    const c = collect();
    // The trap is set before "ready" is printed, so the abort below always meets a shell that ignores SIGTERM (and a
    // sleep that inherited that), which only SIGKILL ends. Without the escalation this would hang until the test's
    // timeout instead of ending with SIGKILL.
    const p = runner.run({ stage: "s", cmd: "trap '' TERM; echo ready; sleep 30", cwd: root, root, signal: ac.signal, onLine: c.onLine });
    await until(() => c.lines.some(([, l]) => l === "ready"));
    ac.abort();
    const r = await p;
    expect(r.interrupted).toBe(true);
    expect(r.signal).toBe("SIGKILL");
  });

  it("after an abort, output held open by a process that left the group (setsid) is not waited for", async () => {
    const root = makeProject();
    const ac = new AbortController();
    const c = collect();
    // The grandchild is its own session (the group kill misses it) and inherits the stage's stdout and stderr.
    const p = runner.run({ stage: "s", cmd: "setsid sh -c 'echo gc=$$; sleep 30' & sleep 30", cwd: root, root, signal: ac.signal, onLine: c.onLine });
    await until(() => c.lines.some(([, l]) => l.startsWith("gc=")));
    const grandchild = Number(c.lines.find(([, l]) => l.startsWith("gc="))?.[1].slice(3));
    try {
      ac.abort();
      const r = await p;
      expect(r.interrupted).toBe(true);
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
    const c = collect();
    const r = await new ProcessRunner({ recorder }).run({ stage: "s", cmd: ["echo $$", "echo $$"], cwd: root, root, onLine: c.onLine });
    expect(succeeded(r)).toBe(true);
    const [a, b] = c.lines.map(([, l]) => l);
    expect(events).toEqual([`start s ${a}`, `end ${a}`, `start s ${b}`, `end ${b}`]);
  });

  it("does not start the next list item after an abort", async () => {
    const root = makeProject();
    const ac = new AbortController();
    ac.abort();
    const r = await runner.run({ stage: "s", cmd: ["echo x > f"], cwd: root, root, signal: ac.signal });
    expect(r.interrupted).toBe(true);
    expect(existsSync(path.join(root, "f"))).toBe(false);
  });
});
