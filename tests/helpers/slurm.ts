/**
 * The SLURM test cluster (`tests/servers/slurm.sh`): whether one answers, for `requires()`. `SLURM_CONF` from the
 * environment, else the script's default place (`${TMPDIR:-/tmp}/pipe-slurm`), which is then exported so `sbatch` and
 * the `pipe` processes the tests start find it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { requires } from "./require.js";

let answer: boolean | undefined;

function clusterUp(): boolean {
  if (answer !== undefined) return answer;
  if (process.env.SLURM_CONF === undefined) {
    const conf = path.join(process.env.TMPDIR ?? os.tmpdir(), "pipe-slurm/etc/slurm.conf");
    if (existsSync(conf)) process.env.SLURM_CONF = conf;
  }
  const r = spawnSync("sinfo", ["-h", "-o", "%t"], { encoding: "utf8", timeout: 10_000 });
  answer = r.status === 0 && /^(idle|mix|alloc)/m.test(r.stdout);
  return answer;
}

export function hasSlurm(): boolean {
  return requires("a SLURM cluster", clusterUp(), "start one as root with `bash tests/servers/slurm.sh start` (it prints the SLURM_CONF to export); .ci/run does");
}

/** Jobs SLURM still lists as pending, running or completing (`squeue` without `-t all`), by id. */
export function liveJobs(): string[] {
  const r = spawnSync("squeue", ["-h", "-o", "%i"], { encoding: "utf8" });
  return r.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/** A field of `scontrol -o show job ID`. */
export function jobField(id: string, field: string): string | undefined {
  const r = spawnSync("scontrol", ["-o", "show", "job", id], { encoding: "utf8" });
  return new RegExp(`(?:^| )${field}=(\\S*)`).exec(r.stdout)?.[1];
}

/**
 * Whether the cluster kills a job over its `--mem` as OUT_OF_MEMORY (task/cgroup with ConstrainRAMSpace, which
 * `slurm.sh` sets up where cgroup v1 has a memory hierarchy). Without a cluster at all, `hasSlurm` says so once.
 */
export function enforcesMemory(): boolean {
  if (!clusterUp()) return false;
  const r = spawnSync("scontrol", ["show", "config"], { encoding: "utf8" });
  const on = /^TaskPlugin\s*=.*task\/cgroup/m.test(r.stdout) && /^ConstrainRAMSpace\s*=\s*yes/m.test(r.stdout);
  return requires("a SLURM cluster that enforces memory", on, "slurm.sh starts one where cgroup v1 has memory and freezer hierarchies (SLURM_SETUP_MEMORY=cgroup)");
}
