/**
 * Queued experiments on the real SLURM test cluster (`tests/servers/slurm.sh`; skipped with one line when none
 * answers, failed under PIPE_TEST_REQUIRE_ALL=1): each experiment's `pipe` submits its stages as jobs from its own
 * worktree, all experiments at once; `queue status` shows their jobs, `queue kill` cancels them, and a runner killed
 * with -9 (with its experiment's `pipe`) leaves jobs that the next `--run-all` cancels before running it again.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { gitCommitAll, gitInit, makeProject, PIPE_BIN, runPipe } from "../helpers/project.js";
import { until } from "../helpers/processes.js";
import { hasSlurm, jobField, liveJobs } from "../helpers/slurm.js";

/** One stage reading `x` from params.yaml, committed; `executor` goes into the project's config when given. */
function project(sleep: number, executor?: string): string {
  const dir = makeProject({
    "params.yaml": "x: 0\n",
    "train.sh": `sleep ${sleep}\necho "{\\"score\\": $(sed -n 's/^x: //p' params.yaml)}" > metrics.json\n`,
    "pipe.yaml": "stages:\n  train:\n    cmd: sh train.sh\n    deps: [train.sh]\n    params: [x]\n    metrics:\n      - metrics.json:\n          cache: false\n",
    ...(executor !== undefined ? { ".pipe/config.yaml": `executor: ${executor}\n` } : {}),
  });
  gitInit(dir);
  gitCommitAll(dir, "baseline");
  return dir;
}

interface Entry {
  id: string;
  name: string;
  state: string;
  pgid?: number;
  runnerPid?: number;
  log: string;
}

function entries(dir: string): Entry[] {
  const q = path.join(dir, ".pipe", "exps", "queue");
  if (!existsSync(q)) return [];
  return readdirSync(q)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(path.join(q, f), "utf8")) as Entry);
}

/** The job ids an experiment's log reports its stages were submitted as. */
function submitted(log: string): string[] {
  return [...log.matchAll(/Submitted 'train' as job (\d+)/g)].map((m) => m[1]!);
}

describe.runIf(hasSlurm())("queued experiments on SLURM (real cluster)", () => {
  it("--run-all with executor: slurm submits each experiment's stages as jobs from its own worktree, all experiments at once", async () => {
    const dir = project(5, "slurm");
    expect(runPipe(dir, ["exp", "run", "--queue", "-S", "x=1,2"]).code).toBe(0);
    const r = runPipe(dir, ["exp", "run", "--run-all"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("2 experiment(s) recorded, 0 failed");
    const [a, b] = entries(dir);
    const ids = [a!, b!].map((e) => {
      const logs = runPipe(dir, ["queue", "logs", e.name]);
      const jobs = submitted(logs.stdout);
      expect(jobs, logs.stdout).toHaveLength(1);
      return jobs[0]!;
    });
    for (const [k, e] of [a!, b!].entries()) {
      expect(jobField(ids[k]!, "JobState")).toBe("COMPLETED");
      // Submitted from the experiment's worktree, inside the project (the file system the nodes share).
      expect(jobField(ids[k]!, "WorkDir")).toBe(path.join(dir, ".pipe", "tmp", "exps", e.id));
    }
    // Both experiments were in flight together: each job started before the other ended.
    expect(jobField(ids[1]!, "StartTime")! < jobField(ids[0]!, "EndTime")!).toBe(true);
    expect(jobField(ids[0]!, "StartTime")! < jobField(ids[1]!, "EndTime")!).toBe(true);
    const show = JSON.parse(runPipe(dir, ["exp", "show", "--json"]).stdout) as { rows: { kind: string; metrics: Record<string, Record<string, number>> }[] };
    const scores = show.rows.filter((row) => row.kind === "experiment").map((row) => row.metrics["metrics.json"]?.score).sort();
    expect(scores).toEqual([1, 2]);
  }, 180_000);

  it("queue start --executor slurm: queue status shows the running experiment's job, queue kill cancels it", async () => {
    const dir = project(120);
    expect(runPipe(dir, ["exp", "run", "--queue", "-n", "long", "-S", "x=7"]).code).toBe(0);
    expect(runPipe(dir, ["queue", "start", "--executor", "slurm"]).code).toBe(0);
    let id = "";
    await until(() => {
      const st = runPipe(dir, ["queue", "status"]).stdout;
      id = /train running \(job (\d+)\)/.exec(st)?.[1] ?? "";
      return id !== "";
    }, "the experiment's job to run", 60_000);
    expect(runPipe(dir, ["queue", "status"]).stdout).toMatch(/long .*Running .*train running \(job \d+\)/);
    const killed = runPipe(dir, ["queue", "kill", "long"]);
    expect(killed.code, killed.stderr).toBe(0);
    await until(() => !liveJobs().includes(id), "the job to leave the queue", 60_000);
    expect(jobField(id, "JobState")).toBe("CANCELLED");
    await until(() => entries(dir)[0]?.state === "failed", "the runner to mark it failed", 60_000);
    await until(() => !existsSync(path.join(dir, ".pipe", "exps", "runner.pid")), "the runner to exit", 60_000);
    expect(submitted(runPipe(dir, ["queue", "logs", "long"]).stdout)).toEqual([id]);
  }, 180_000);

  it("a runner killed with -9 (and its experiment's pipe) leaves its job; the next --run-all cancels it and runs the experiment again", async () => {
    const dir = project(60, "slurm");
    expect(runPipe(dir, ["exp", "run", "--queue", "-n", "crash", "-S", "x=3"]).code).toBe(0);
    const runner = spawn(process.execPath, [PIPE_BIN, "exp", "run", "--run-all"], { cwd: dir, stdio: "ignore" });
    const exited = new Promise((resolve) => runner.on("exit", resolve));
    let id = "";
    await until(() => {
      const e = entries(dir)[0];
      id = e && existsSync(e.log) ? (submitted(readFileSync(e.log, "utf8")).at(0) ?? "") : "";
      return id !== "" && jobField(id, "JobState") === "RUNNING";
    }, "the experiment's job to run", 60_000);
    const pgid = entries(dir)[0]!.pgid!;
    runner.kill("SIGKILL");
    process.kill(-pgid, "SIGKILL");
    await exited;
    expect(liveJobs()).toContain(id);
    const again = runPipe(dir, ["exp", "run", "--run-all"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("crash");
    expect(jobField(id, "JobState")).toBe("CANCELLED");
    expect(entries(dir)[0]?.state).toBe("success");
    // The log has both runs: the job of the first, then a new one.
    const rerun = submitted(runPipe(dir, ["queue", "logs", "crash"]).stdout);
    expect(rerun).toHaveLength(2);
    expect(rerun[0]).toBe(id);
    expect(rerun[1]).not.toBe(id);
  }, 240_000);
});
