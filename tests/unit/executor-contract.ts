/**
 * The contract every executor passes (`src/executors/executor.ts`): a test file runs `executorContract` with a way to
 * make its executor (`executor-local.test.ts` for the local one). Real shell commands throughout, observed through
 * their output and through files they write in the project, so a cluster executor on a shared file system can run the
 * same suite. Waits are polls with generous deadlines, never timing assertions; a cancel that did not stop a command
 * would hang on its `sleep 30` past the test's timeout.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Executor, Outcome, OutputStream, StageJob } from "../../src/executors/executor.js";
import { makeProject } from "../helpers/project.js";
import { alive, until } from "../helpers/processes.js";

export { alive, until };

export interface ContractSetup {
  /** The project root the executor works in. */
  root: string;
  /** Grace period between asking a cancelled command to end and ending it by force. */
  graceMs: number;
}

/** A job whose output is collected: `lines` as [stream, line], `seen` with the command announcements in order. */
export function collecting(job: Omit<StageJob, "output">) {
  const lines: [OutputStream, string][] = [];
  const seen: string[] = [];
  const full: StageJob = {
    ...job,
    output: {
      line: (s, l) => {
        lines.push([s, l]);
        seen.push(`${s}: ${l}`);
      },
      command: (c, i) => seen.push(`cmd ${i}: ${c}`),
    },
  };
  return { job: full, lines, seen, has: (line: string) => lines.some(([, l]) => l === line) };
}

export function executorContract(name: string, make: (setup: ContractSetup) => Executor): void {
  const graceMs = 500;
  const setup = (files: Record<string, string> = {}) => {
    const root = makeProject(files);
    return { root, executor: make({ root, graceMs }) };
  };
  const job = (root: string, cmd: StageJob["cmd"], extra: Partial<StageJob> = {}) => ({ stage: "s", cmd, wdir: root, root, ...extra });
  const pidIn = (root: string, file: string): number | undefined => {
    const p = path.join(root, file);
    if (!existsSync(p)) return undefined;
    const text = readFileSync(p, "utf8");
    return text.endsWith("\n") ? Number(text.trim()) : undefined;
  };

  describe(`executor contract: ${name}`, () => {
    it("starts the command in the stage's wdir with the given environment, PIPE_STAGE and PIPE_ROOT", async () => {
      const { root, executor } = setup({ "sub/.keep": "" });
      const c = collecting({
        stage: "train",
        cmd: 'echo "stage=$PIPE_STAGE"; echo "root=$PIPE_ROOT"; echo "var=$MY_VAR"; pwd',
        wdir: path.join(root, "sub"),
        root,
        env: { ...process.env, MY_VAR: "hello" },
      });
      const o = await executor.start(c.job).outcome;
      expect(o.reason).toBe("succeeded");
      expect(c.lines.slice(0, 3)).toEqual([
        ["stdout", "stage=train"],
        ["stdout", `root=${root}`],
        ["stdout", "var=hello"],
      ]);
      expect(c.lines[3]?.[1]).toMatch(/\/sub$/);
    });

    it("streams each stream's lines in order, and announces each list item just before it runs", async () => {
      const { root, executor } = setup();
      const c = collecting(job(root, ["for i in $(seq 1 300); do echo out$i; echo err$i >&2; done", "echo last"]));
      const o = await executor.start(c.job).outcome;
      expect(o.reason).toBe("succeeded");
      const of = (s: OutputStream) => c.lines.filter(([t]) => t === s).map(([, l]) => l);
      const numbers = Array.from({ length: 300 }, (_, i) => i + 1);
      expect(of("stdout")).toEqual([...numbers.map((i) => `out${i}`), "last"]);
      expect(of("stderr")).toEqual(numbers.map((i) => `err${i}`));
      expect(c.seen[0]).toBe("cmd 0: for i in $(seq 1 300); do echo out$i; echo err$i >&2; done");
      expect(c.seen.slice(-2)).toEqual(["cmd 1: echo last", "stdout: last"]);
    });

    it("reports a non-zero exit code with the tail of the output; a list stops at the failing item and names it", async () => {
      const { root, executor } = setup();
      const c = collecting(job(root, ["echo one", "echo two; exit 3", "echo three > three.txt"]));
      const o = await executor.start(c.job).outcome;
      expect(o).toMatchObject({ reason: "exit-code", exitCode: 3, failedCommand: "echo two; exit 3" });
      expect(o.tail).toEqual(["one", "two"]);
      expect(c.seen).toEqual(["cmd 0: echo one", "stdout: one", "cmd 1: echo two; exit 3", "stdout: two"]);
      expect(existsSync(path.join(root, "three.txt"))).toBe(false);
    });

    it("reports death by a signal it did not send", async () => {
      const { root, executor } = setup();
      const o = await executor.start(job(root, "kill -9 $$")).outcome;
      expect(o).toMatchObject({ reason: "signal", signal: "SIGKILL" });
    });

    it("a failed start is an outcome, not an exception", async () => {
      const { root, executor } = setup();
      const o = await executor.start(job(root, "true", { wdir: path.join(root, "no-such-dir") })).outcome;
      expect(o.reason).toBe("failed-to-start");
      expect(o.reason === "failed-to-start" && o.message).toContain("working directory");
    });

    it("cancel stops the whole command, background children included, and the outcome is 'interrupted'", async () => {
      const { root, executor } = setup();
      const c = collecting(job(root, "sleep 30 & echo $! > bg.pid.tmp && mv bg.pid.tmp bg.pid; echo ready; sleep 30"));
      const run = executor.start(c.job);
      await until(() => c.has("ready") && pidIn(root, "bg.pid") !== undefined, "the command to start");
      const bg = pidIn(root, "bg.pid")!;
      expect(alive(bg)).toBe(true);
      run.cancel();
      const o = await run.outcome;
      expect(o.reason).toBe("interrupted");
      // Killed at once, but its reaping is the system's: wait for it rather than for a fixed time.
      await until(() => !alive(bg), "the background child to die");
    });

    it("a command that ignores the request to stop is ended by force after the grace period", async () => {
      const { root, executor } = setup();
      // The trap is set before "ready" is printed, so the cancel always meets a shell that ignores SIGTERM (and a
      // sleep that inherited that): without the escalation this would hang until the test's timeout.
      const c = collecting(job(root, "trap '' TERM; echo ready; sleep 30"));
      const run = executor.start(c.job);
      await until(() => c.has("ready"), "ready");
      run.cancel();
      const o = await run.outcome;
      expect(o.reason).toBe("interrupted");
    });

    it("after a cancel, nothing more of a list starts", async () => {
      const { root, executor } = setup();
      const c = collecting(job(root, ["echo ready; sleep 30", "echo second > second.txt"]));
      const run = executor.start(c.job);
      await until(() => c.has("ready"), "ready");
      run.cancel();
      expect((await run.outcome).reason).toBe("interrupted");
      expect(existsSync(path.join(root, "second.txt"))).toBe(false);
      expect(c.seen.filter((l) => l.startsWith("cmd "))).toEqual(["cmd 0: echo ready; sleep 30"]);
    });

    it("cancelAll stops every run it started; a cancel after the end changes nothing", async () => {
      const { root, executor } = setup();
      const done = await executor.start(job(root, "echo done")).outcome;
      const a = collecting(job(root, "echo ready; sleep 30", { stage: "a" }));
      const b = collecting(job(root, "echo ready; sleep 30", { stage: "b" }));
      const runs = [executor.start(a.job), executor.start(b.job)];
      await until(() => a.has("ready") && b.has("ready"), "both to start");
      executor.cancelAll("now");
      const outcomes: Outcome[] = await Promise.all(runs.map((r) => r.outcome));
      expect(outcomes.map((o) => o.reason)).toEqual(["interrupted", "interrupted"]);
      expect(done.reason).toBe("succeeded");
      runs[0]!.cancel();
      expect((await runs[0]!.outcome).reason).toBe("interrupted");
    });
  });
}
