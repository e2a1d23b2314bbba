/**
 * `pipe repro --executor slurm` on the real test cluster (`tests/servers/slurm.sh`; skipped with one line when none
 * answers, failed under PIPE_TEST_REQUIRE_ALL=1). Each scenario of the cluster section of the README: a diamond in
 * DAG order with SLURM's own dependencies, the same lock as a local run, a failure and its cancelled dependent, `-k`,
 * Ctrl-C, a coordinator killed with -9 and re-attached to, a run-cache hit that submits nothing, a time limit.
 * SLURM polls time limits about every 30 s: such waits are polls with long deadlines, never timing assertions.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { exists, makeProject, PIPE_BIN, read, runPipe } from "../helpers/project.js";
import { until } from "../helpers/processes.js";
import { enforcesMemory, hasSlurm, jobField, liveJobs } from "../helpers/slurm.js";

interface JobEvent {
  type: string;
  stage?: string;
  job?: string;
  state?: string;
}

/** The `stage-job` events of `repro --json` output: stage -> job id, by state. */
function jobsOf(stdout: string, state: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line) as JobEvent;
    if (e.type === "stage-job" && e.state === state && e.stage && e.job) out[e.stage] = e.job;
  }
  return out;
}

/** `pipe` in the background, its output collected. */
function startPipe(dir: string, args: string[]) {
  const child = spawn(process.execPath, [PIPE_BIN, ...args], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
  const r = { child, stdout: "", stderr: "", code: undefined as number | null | undefined };
  child.stdout.setEncoding("utf8").on("data", (t: string) => (r.stdout += t));
  child.stderr.setEncoding("utf8").on("data", (t: string) => (r.stderr += t));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, sig) => resolve((r.code = code ?? (sig ? -1 : null)))));
  return { r, exited };
}

const DIAMOND = `stages:
  a:
    cmd: sleep 3; echo a > a.txt
    outs: [a.txt]
  b:
    cmd: cat a.txt > b.txt; echo b >> b.txt
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: cat a.txt > c.txt; echo c >> c.txt
    deps: [a.txt]
    outs: [c.txt]
  d:
    cmd: cat b.txt c.txt > d.txt
    deps: [b.txt, c.txt]
    outs: [d.txt]
`;

describe.runIf(hasSlurm())("pipe repro --executor slurm (real cluster)", () => {
  it("a diamond runs as four jobs in DAG order with afterok dependencies, and writes the same pipe.lock as a local run", async () => {
    const dir = makeProject({ "pipe.yaml": DIAMOND, ".pipe/config.yaml": "executor: slurm\n" });
    const { r, exited } = startPipe(dir, ["repro", "--json"]);
    await until(() => Object.keys(jobsOf(r.stdout, "queued")).length === 4, "four submissions");
    const ids = jobsOf(r.stdout, "queued");
    // Read while `a` sleeps: the dependencies as SLURM holds them.
    expect(jobField(ids.a!, "Dependency")).toBe("(null)");
    expect(jobField(ids.b!, "Dependency")).toBe(`afterok:${ids.a}(unfulfilled)`);
    expect(jobField(ids.c!, "Dependency")).toBe(`afterok:${ids.a}(unfulfilled)`);
    expect(jobField(ids.d!, "Dependency")).toMatch(new RegExp(`^afterok:(${ids.b}|${ids.c})\\(unfulfilled\\),afterok:(${ids.b}|${ids.c})\\(unfulfilled\\)$`));
    expect(await exited, r.stderr).toBe(0);
    expect(read(dir, "d.txt")).toBe("a\nb\na\nc\n");
    for (const s of ["a", "b", "c", "d"]) expect(jobField(ids[s]!, "JobState")).toBe("COMPLETED");
    // Each job started after the ones it needs ended.
    const t = (s: string, f: string) => jobField(ids[s]!, f)!;
    expect(t("b", "StartTime") >= t("a", "EndTime")).toBe(true);
    expect(t("d", "StartTime") >= t("c", "EndTime")).toBe(true);

    const local = makeProject({ "pipe.yaml": DIAMOND });
    expect(runPipe(local, ["repro"]).code).toBe(0);
    expect(read(dir, "pipe.lock")).toBe(read(local, "pipe.lock"));
    // Nothing left in flight, and a second run submits nothing.
    const again = runPipe(dir, ["repro", "--json"]);
    expect(again.code).toBe(0);
    expect(jobsOf(again.stdout, "queued")).toEqual({});
  });

  it("a failing stage fails the run; SLURM cancels its dependent, which is reported as not run; -k keeps independent stages going", () => {
    const pipeline = `stages:
  bad:
    cmd: echo about to fail; exit 3
    outs: [bad.txt]
  after-bad:
    cmd: cp bad.txt after.txt
    deps: [bad.txt]
    outs: [after.txt]
  slow:
    cmd: sleep 2; echo ok > slow.txt
    outs: [slow.txt]
  after-slow:
    cmd: cp slow.txt after-slow.txt
    deps: [slow.txt]
    outs: [after-slow.txt]
`;
    const dir = makeProject({ "pipe.yaml": pipeline, ".pipe/config.yaml": "executor: slurm\n" });
    const r = runPipe(dir, ["repro", "-k", "--json"]);
    expect(r.code).toBe(1);
    const ids = jobsOf(r.stdout, "queued");
    expect(jobField(ids["after-bad"]!, "JobState")).toBe("CANCELLED");
    expect(jobField(ids["after-bad"]!, "Reason")).toBe("DependencyNeverSatisfied");
    const events = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toContainEqual({ type: "stage-not-run", stage: "after-bad", because: "upstream-failed", upstream: "bad" });
    expect(events.find((e) => e.type === "stage-failed")).toMatchObject({ stage: "bad", reason: "command", exitCode: 3, tail: ["about to fail"] });
    // -k: the independent branch ran and is recorded; nothing of the failed branch is.
    expect(read(dir, "after-slow.txt")).toBe("ok\n");
    const lock = read(dir, "pipe.lock");
    expect(lock).toContain("after-slow:");
    expect(lock).not.toContain("after-bad:");
    expect(exists(dir, "after.txt")).toBe(false);

    // Without -k, the text report names the stage not run.
    const plain = makeProject({ "pipe.yaml": pipeline.split("  slow:")[0]!, ".pipe/config.yaml": "executor: slurm\n" });
    const t = runPipe(plain, ["repro"]);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("'bad' failed with exit code 3");
    expect(t.stdout).toContain("'after-bad' not run: upstream 'bad' failed");
  });

  it("Ctrl-C cancels the running and the queued jobs (squeue is empty after) and records nothing for them", async () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  first:\n    cmd: echo started; sleep 60; echo x > first.txt\n    outs: [first.txt]\n  second:\n    cmd: cp first.txt second.txt\n    deps: [first.txt]\n    outs: [second.txt]\n",
      ".pipe/config.yaml": "executor: slurm\n",
    });
    const { r, exited } = startPipe(dir, ["repro", "--json"]);
    await until(() => jobsOf(r.stdout, "running").first !== undefined && jobsOf(r.stdout, "queued").second !== undefined, "first running, second queued");
    const ids = jobsOf(r.stdout, "queued");
    expect(jobField(ids.second!, "JobState")).toBe("PENDING");
    r.child.kill("SIGINT");
    expect(await exited).toBe(130);
    await until(() => !liveJobs().includes(ids.first!) && !liveJobs().includes(ids.second!), "the jobs to leave the queue", 60_000);
    expect(jobField(ids.first!, "JobState")).toBe("CANCELLED");
    expect(jobField(ids.second!, "JobState")).toBe("CANCELLED");
    expect(exists(dir, "pipe.lock")).toBe(false);
    expect(exists(dir, ".pipe/tmp/slurm/first.json")).toBe(false);
  });

  it("after kill -9 of the coordinator, `pipe status` shows the jobs and `repro` re-attaches to them without submitting again", async () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  one:\n    cmd: sleep 4; echo 1 > one.txt\n    outs: [one.txt]\n  two:\n    cmd: cat one.txt > two.txt\n    deps: [one.txt]\n    outs: [two.txt]\n",
      ".pipe/config.yaml": "executor: slurm\n",
    });
    const { r, exited } = startPipe(dir, ["repro", "--json"]);
    await until(() => jobsOf(r.stdout, "running").one !== undefined && jobsOf(r.stdout, "queued").two !== undefined, "one running, two queued");
    const ids = jobsOf(r.stdout, "queued");
    r.child.kill("SIGKILL");
    await exited;
    const st = runPipe(dir, ["status"]);
    expect(st.stdout).toContain(`running as SLURM job ${ids.one}`);
    expect(st.stdout).toContain(`queued as SLURM job ${ids.two}`);

    const again = runPipe(dir, ["repro", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(jobsOf(again.stdout, "attached")).toEqual(ids);
    expect(jobsOf(again.stdout, "queued")).toEqual({});
    expect(read(dir, "two.txt")).toBe("1\n");
    expect(read(dir, "pipe.lock")).toContain("two:");
    expect(runPipe(dir, ["status"]).stdout).toContain("up to date");
  });

  it("a hang-up (lost login session) leaves the jobs running for the next repro, which follows them", async () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  hup:\n    cmd: sleep 3; echo done > hup.txt\n    outs: [hup.txt]\n",
      ".pipe/config.yaml": "executor: slurm\n",
    });
    const { r, exited } = startPipe(dir, ["repro", "--json"]);
    await until(() => jobsOf(r.stdout, "running").hup !== undefined, "the job to run");
    const id = jobsOf(r.stdout, "queued").hup!;
    r.child.kill("SIGHUP");
    expect(await exited).toBe(130);
    expect(liveJobs()).toContain(id);
    const again = runPipe(dir, ["repro", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(jobsOf(again.stdout, "attached")).toEqual({ hup: id });
    expect(read(dir, "hup.txt")).toBe("done\n");
  });

  it("re-attaches only to the job it recorded: an id that now names another job is left alone, and an edit inside a directory it reads submits again", async () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  s:\n    cmd: sleep 3; ls data > s.txt\n    deps: [data]\n    outs: [s.txt]\n",
      "data/a.txt": "one\n",
      ".pipe/config.yaml": "executor: slurm\n",
    });
    const { r, exited } = startPipe(dir, ["repro", "--json"]);
    await until(() => jobsOf(r.stdout, "queued").s !== undefined, "the job to be submitted");
    const id = jobsOf(r.stdout, "queued").s!;
    r.child.kill("SIGKILL");
    await exited;
    // A file edited in place inside `data/`: the directory's own mtime does not change, the stage's input did.
    const before = statSync(`${dir}/data`).mtimeMs;
    writeFileSync(`${dir}/data/a.txt`, "two\n");
    expect(statSync(`${dir}/data`).mtimeMs).toBe(before);
    const again = runPipe(dir, ["repro", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(jobsOf(again.stdout, "attached")).toEqual({});
    expect(jobsOf(again.stdout, "queued").s).not.toBe(id);

    // A record whose id SLURM now gives to a job that is not ours (a controller reset numbers jobs afresh).
    const foreign = spawnSync("sbatch", ["--parsable", "--job-name=not-pipe", "-o", "/dev/null", "--wrap", "sleep 60"], { encoding: "utf8", cwd: dir }).stdout.trim();
    const rec = { stage: "s", jobId: foreign, cmd: "sleep 3; ls data > s.txt", wdir: dir, identity: "", token: "0123456789abcdef", pipePid: 1, submittedAt: "" };
    writeFileSync(`${dir}/data/b.txt`, "new\n");
    mkdirSync(`${dir}/.pipe/tmp/slurm`, { recursive: true });
    writeFileSync(`${dir}/.pipe/tmp/slurm/s.json`, JSON.stringify(rec));
    expect(runPipe(dir, ["status"]).stdout).not.toContain(`SLURM job ${foreign}`);
    const third = runPipe(dir, ["repro", "--json"]);
    expect(third.code, third.stderr).toBe(0);
    expect(jobsOf(third.stdout, "attached")).toEqual({});
    expect(Object.keys(jobsOf(third.stdout, "queued"))).toEqual(["s"]);
    expect(read(dir, "s.txt")).toBe("a.txt\nb.txt\n");
    // Not ours, so not cancelled either.
    expect(liveJobs()).toContain(foreign);
    spawnSync("scancel", [foreign]);
  }, 120_000);

  it("a run-cache hit submits nothing", () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  s:\n    cmd: cat in.txt > out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n",
      "in.txt": "one\n",
      ".pipe/config.yaml": "executor: slurm\n",
    });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFileSync(`${dir}/in.txt`, "two\n");
    const second = runPipe(dir, ["repro", "--json"]);
    expect(Object.keys(jobsOf(second.stdout, "queued"))).toEqual(["s"]);
    writeFileSync(`${dir}/in.txt`, "one\n");
    const third = runPipe(dir, ["repro", "--json"]);
    expect(third.code).toBe(0);
    expect(jobsOf(third.stdout, "queued")).toEqual({});
    expect(third.stdout).toContain('"type":"stage-restored","stage":"s","from":"run-cache"');
    expect(read(dir, "out.txt")).toBe("one\n");
  });

  it("a stage over its time limit (resources: {time: 0:01}) fails with SLURM's TIMEOUT and the tail of its log", () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  slow:\n    cmd: echo going to sleep; sleep 300; echo late > slow.txt\n    outs: [slow.txt]\n    resources:\n      time: '0:01'\n",
      ".pipe/config.yaml": "executor: slurm\n",
    });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'slow' was stopped at its time limit (TIMEOUT)");
    expect(r.stderr).toContain("| going to sleep");
    expect(r.stderr).toMatch(/DUE TO TIME LIMIT/);
    expect(exists(dir, "pipe.lock")).toBe(false);
  }, 180_000);

  it.runIf(enforcesMemory())("a stage over its memory (resources: {mem: 50M}) fails with SLURM's OUT_OF_MEMORY and the tail of its log", async () => {
    // Node itself, allocating and touching 400 MB: well over the 50 MB the job gets, whatever the machine.
    const hog = `${process.execPath} -e "const b = Buffer.alloc(400e6, 1); setTimeout(() => console.log(b.length), 5000)"`;
    const dir = makeProject({
      "pipe.yaml": `stages:\n  hog:\n    cmd: echo allocating; ${hog}; echo survived > hog.txt\n    outs: [hog.txt]\n    resources:\n      mem: 50M\n`,
      ".pipe/config.yaml": "executor: slurm\n",
    });
    const { r, exited } = startPipe(dir, ["repro", "--json"]);
    expect(await exited, r.stderr).toBe(1);
    const id = jobsOf(r.stdout, "queued").hog!;
    expect(jobField(id, "JobState")).toBe("OUT_OF_MEMORY");
    const events = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { type: string; tail?: string[] });
    const failed = events.find((e) => e.type === "stage-failed");
    expect(failed).toMatchObject({ stage: "hog", reason: "command", limit: { limit: "memory", detail: "OUT_OF_MEMORY" } });
    expect(failed?.tail).toContain("allocating");
    const text = runPipe(dir, ["repro"]);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain("'hog' was stopped at its memory limit (OUT_OF_MEMORY)");
    expect(text.stderr).toContain("| allocating");
    expect(exists(dir, "pipe.lock")).toBe(false);
  }, 120_000);
});
