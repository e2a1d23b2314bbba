/**
 * The SLURM executor against the real test cluster (`tests/servers/slurm.sh`): the executor contract every executor
 * passes, then what only a cluster does (dependencies between jobs, limits, re-attaching to a recorded job). The job
 * script and the resources of a stage are checked without a cluster.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultConfig, type SlurmSettings } from "../../src/project/config.js";
import { batchScript, fileNameOf, jobFiles, resourcesFor, sbatchArgs } from "../../src/executors/slurm-job.js";
import { SlurmExecutor } from "../../src/executors/slurm.js";
import { makeProject } from "../helpers/project.js";
import { hasSlurm, jobField } from "../helpers/slurm.js";
import { collecting, executorContract, until } from "./executor-contract.js";

const settings = (over: Partial<SlurmSettings> = {}): SlurmSettings => ({ ...defaultConfig().slurm, ...over });

describe("SLURM jobs (no cluster needed)", () => {
  it("a stage's resources: config defaults, then its own, then matching config entries, an exact name last", () => {
    const s = settings({
      resources: { partition: "cpu", time: "10", sbatch: ["--nice=5"] },
      stages: [
        { pattern: "train", resources: { mem: "8G" } },
        { pattern: "train*", resources: { mem: "4G", cpus: 4 } },
        { pattern: "eval-?", resources: { qos: "short" } },
      ],
    });
    expect(resourcesFor(s, "train", { gpus: "1", time: "60" })).toEqual({ partition: "cpu", time: "60", gpus: "1", mem: "8G", cpus: 4, sbatch: ["--nice=5"] });
    expect(resourcesFor(s, "eval-1", undefined)).toMatchObject({ qos: "short", partition: "cpu" });
    expect(resourcesFor(s, "sub/pipe.yaml:train-big", undefined)).toMatchObject({ mem: "4G", cpus: 4 });
  });

  it("sbatch gets the dependency, the log files (with % escaped) and the resources as flags", () => {
    const files = jobFiles("/p", "sub/pipe.yaml:a%b");
    expect(path.basename(files.log)).toBe(`${fileNameOf("sub/pipe.yaml:a%b")}.log`);
    const args = sbatchArgs({ stage: "a", wdir: "/p" }, files, { partition: "gpu", mem: "2G", cpus: 2, sbatch: ["--exclusive"] }, ["11", "12"]);
    expect(args).toContain("--dependency=afterok:11:12");
    expect(args).toContain("--kill-on-invalid-dep=yes");
    expect(args).toContain("--parsable");
    expect(args.find((a) => a.startsWith("--output="))).not.toMatch(/[^%]%[^%]/);
    expect(args.slice(-4)).toEqual(["--partition=gpu", "--cpus-per-task=2", "--mem=2G", "--exclusive"]);
  });

  it("the batch script runs each item of a list in its own sh -e -c, quoted, in the stage's wdir", () => {
    const script = batchScript({ stage: "s", cmd: ["echo 'a b'", "false"], wdir: "/w d", root: "/r" }, jobFiles("/r", "s"));
    expect(script).toContain(`cd '/w d' ||`);
    expect(script).toContain(`sh -e -c 'echo '\\''a b'\\'''`);
    expect(script.match(/sh -e -c/g)).toHaveLength(2);
  });
});

describe.runIf(hasSlurm())("SLURM executor on the test cluster", () => {
  executorContract("slurm", ({ root }) => new SlurmExecutor({ root, settings: settings(), record: true }));

  it("a job named in `after` waits for that job (afterok), and is dropped by SLURM when it fails", async () => {
    const root = makeProject();
    const ex = new SlurmExecutor({ root, settings: settings(), record: true });
    const ids: Record<string, string> = {};
    const job = (stage: string, cmd: string, after?: string[]) => ({
      stage,
      cmd,
      wdir: root,
      root,
      ...(after ? { after } : {}),
      output: { job: (state: string, id: string) => void (state === "queued" && (ids[stage] = id)) },
    });
    const a = ex.start(job("a", "sleep 1; echo a > a.txt"));
    const b = ex.start(job("b", "test -f a.txt && echo b > b.txt", ["a"]));
    const bad = ex.start(job("bad", "exit 4"));
    const c = ex.start(job("c", "touch c.txt", ["bad"]));
    const [oa, ob, obad, oc] = await Promise.all([a.outcome, b.outcome, bad.outcome, c.outcome]);
    expect([oa.reason, ob.reason, obad.reason, oc.reason]).toEqual(["succeeded", "succeeded", "exit-code", "dependency-failed"]);
    expect(jobField(ids.b!, "Dependency")).toBe("(null)"); // satisfied, so SLURM clears it...
    expect(jobField(ids.c!, "Reason")).toBe("DependencyNeverSatisfied");
    expect(existsSync(path.join(root, "c.txt"))).toBe(false);
  });

  it("re-attaches to a recorded job with the same command instead of submitting again; a changed stage's job is cancelled", async () => {
    const root = makeProject();
    const first = new SlurmExecutor({ root, settings: settings(), record: true });
    let id1: string | undefined;
    const job = { stage: "s", cmd: "echo hi; sleep 2; echo bye > bye.txt", wdir: root, root };
    first.start({ ...job, output: { job: (_st, id) => void (id1 ??= id) } });
    await until(() => id1 !== undefined, "the submission");
    // A second coordinator: the first one is never asked again, as if it had been killed.
    const second = new SlurmExecutor({ root, settings: settings(), record: true });
    const c = collecting(job);
    const run = await second.attach(c.job);
    expect(run).toBeDefined();
    expect((await run!.outcome).reason).toBe("succeeded");
    expect(c.has("hi")).toBe(true);
    expect(existsSync(path.join(root, "bye.txt"))).toBe(true);
    expect(existsSync(path.join(root, ".pipe/tmp/slurm/s.json"))).toBe(false);

    let id2: string | undefined;
    first.start({ ...job, cmd: "sleep 60", output: { job: (_st, id) => void (id2 ??= id) } });
    await until(() => id2 !== undefined, "the second submission");
    // The same command, but its inputs changed meanwhile (another identity): not followed, and cancelled.
    expect(await new SlurmExecutor({ root, settings: settings(), record: true }).attach({ ...job, cmd: "sleep 60", identity: "in.txt:5:1" })).toBeUndefined();
    await until(() => jobField(id2!, "JobState") === "CANCELLED", "the changed stage's job to be cancelled");
  });
});
