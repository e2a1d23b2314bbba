/**
 * The SLURM executor's records of the jobs a coordinator has in flight: one file per stage,
 * `.pipe/tmp/slurm/<stage>.json`, written when its job is submitted and removed when the coordinator has collected
 * its outcome. A coordinator that died (kill -9, a lost login session) leaves them behind; the next `repro` re-attaches
 * to a recorded job that is still queued, running or finished-but-unrecorded instead of submitting the stage again,
 * and `status` shows such stages as queued or running. Scratch state, as `local-groups.ts`'s records: renamed into
 * place, never fsynced (after a machine crash SLURM's own state is what counts).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileNameOf, jobNameOf } from "./slurm-job.js";

export const SLURM_DIR = ".pipe/tmp/slurm";

export interface JobRecord {
  stage: string;
  jobId: string;
  /** The command and working directory it was submitted with: a changed stage is never re-attached to. */
  cmd: string | readonly string[];
  wdir: string;
  /** `StageJob.identity` (the stage's source inputs when it was submitted). */
  identity: string;
  /**
   * The job's `--comment` (`pipe:` and random hex): with its name and working directory, how a later coordinator
   * tells this job from another that got the same id (a controller whose state was reset numbers jobs afresh).
   */
  token: string;
  pipePid: number;
  submittedAt: string;
}

const recordFile = (root: string, stage: string): string => path.join(root, SLURM_DIR, fileNameOf(stage) + ".json");

export function writeJobRecord(root: string, rec: JobRecord): void {
  try {
    mkdirSync(path.join(root, SLURM_DIR), { recursive: true });
    const f = recordFile(root, rec.stage);
    writeFileSync(f + ".tmp", JSON.stringify(rec) + "\n");
    renameSync(f + ".tmp", f);
  } catch {
    // Without it a coordinator crash costs a second submission of this stage; the job itself is unaffected.
  }
}

export function removeJobRecord(root: string, stage: string, jobId: string): void {
  const f = recordFile(root, stage);
  // Only our own job's record: a later coordinator may have recorded another job for the stage meanwhile.
  if (readJobRecord(root, stage)?.jobId === jobId) {
    try {
      unlinkSync(f);
    } catch {
      // Gone already.
    }
  }
}

function parse(text: string): JobRecord | undefined {
  try {
    const o = JSON.parse(text) as Partial<JobRecord>;
    if (typeof o.stage === "string" && typeof o.jobId === "string" && typeof o.wdir === "string" && (typeof o.cmd === "string" || Array.isArray(o.cmd))) {
      return { stage: o.stage, jobId: o.jobId, cmd: o.cmd, wdir: o.wdir, identity: o.identity ?? "", token: o.token ?? "", pipePid: o.pipePid ?? 0, submittedAt: o.submittedAt ?? "" };
    }
  } catch {
    // fall through
  }
  return undefined;
}

export function readJobRecord(root: string, stage: string): JobRecord | undefined {
  try {
    return parse(readFileSync(recordFile(root, stage), "utf8"));
  } catch {
    return undefined;
  }
}

export function readJobRecords(root: string): JobRecord[] {
  let names: string[];
  try {
    names = readdirSync(path.join(root, SLURM_DIR));
  } catch {
    return [];
  }
  const out: JobRecord[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith(".json")) continue;
    try {
      const r = parse(readFileSync(path.join(root, SLURM_DIR, n), "utf8"));
      if (r) out.push(r);
    } catch {
      // Removed meanwhile.
    }
  }
  return out;
}

export interface JobState {
  /** SLURM's state word: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY... */
  state: string;
  /** SLURM's reason (`None`, `Dependency`, `DependencyNeverSatisfied`, `NonZeroExitCode`...). */
  reason: string;
}

/** States of a job that has not ended. */
export const LIVE_STATES = new Set(["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT"]);

/** Runs a SLURM command; `code` null when it could not be started (no SLURM client on this machine). */
export function slurmCommand(cmd: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    let out = "";
    let err = "";
    let child;
    try {
      child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    } catch (e) {
      resolve({ code: null, stdout: "", stderr: (e as Error).message });
      return;
    }
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    child.on("error", (e) => resolve({ code: null, stdout: out, stderr: (e as Error).message }));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout: out, stderr: err }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** States of jobs by id, from `squeue` text (jobs SLURM has forgotten are absent). */
export async function jobStates(ids: readonly string[]): Promise<Map<string, JobState> | undefined> {
  const out = new Map<string, JobState>();
  if (ids.length === 0) return out;
  const r = await slurmCommand("squeue", ["-h", "-t", "all", "-o", "%i|%T|%r", "-j", ids.join(",")]);
  // An id SLURM no longer knows makes squeue fail for the whole list: then one by one.
  if (r.code !== 0 && ids.length > 1 && /invalid job id/i.test(r.stderr)) {
    for (const id of ids) {
      const one = await jobStates([id]);
      const st = one?.get(id);
      if (st) out.set(id, st);
    }
    return out;
  }
  if (r.code !== 0 && !/invalid job id/i.test(r.stderr)) return undefined;
  for (const line of r.stdout.split("\n")) {
    const [id, state, reason] = line.trim().split("|");
    if (id && state) out.set(id, { state: state.replace(/\+$/, ""), reason: reason ?? "" });
  }
  return out;
}

/** A field of `scontrol -o show job ID` (one line of `Key=Value` words). */
export async function jobField(id: string, field: string): Promise<string | undefined> {
  const r = await slurmCommand("scontrol", ["-o", "show", "job", id]);
  if (r.code !== 0) return undefined;
  const m = new RegExp(`(?:^| )${field}=(\\S*)`).exec(r.stdout);
  return m?.[1];
}

/**
 * Whether SLURM's job `rec.jobId` is the job that record was written for: its comment (the record's token), name and
 * working directory. False when SLURM does not know the id or it names another job; undefined when SLURM cannot
 * be asked. Values are unquoted in `scontrol -o`: a name or directory runs up to the next ` Key=`.
 */
export async function isRecordedJob(rec: JobRecord): Promise<boolean | undefined> {
  const r = await slurmCommand("scontrol", ["-o", "show", "job", rec.jobId]);
  if (r.code === null) return undefined;
  if (r.code !== 0) return /invalid job id/i.test(r.stderr) ? false : undefined;
  const line = r.stdout.trim();
  const comment = /(?:^| )Comment=(\S*)/.exec(line)?.[1];
  const name = /(?:^| )JobName=(.*?) (?=[A-Za-z]+=)/.exec(line)?.[1];
  const workDir = / WorkDir=(.*?)(?= [A-Za-z]+=|$)/.exec(line)?.[1];
  return comment === `pipe:${rec.token}` && name === jobNameOf(rec.stage) && workDir === rec.wdir;
}

/** Stage address -> state of its recorded job, for the stages whose jobs are queued or running now (`status`). */
export async function stagesInFlight(root: string): Promise<Map<string, { jobId: string; state: "queued" | "running" }>> {
  const out = new Map<string, { jobId: string; state: "queued" | "running" }>();
  // Only the jobs SLURM still shows as the ones recorded (a reused id is somebody else's job, not this stage's).
  const recs: JobRecord[] = [];
  for (const r of readJobRecords(root)) if ((await isRecordedJob(r)) !== false) recs.push(r);
  if (recs.length === 0) return out;
  const states = await jobStates(recs.map((r) => r.jobId));
  for (const r of recs) {
    const st = states?.get(r.jobId);
    if (st && LIVE_STATES.has(st.state)) out.set(r.stage, { jobId: r.jobId, state: st.state === "PENDING" ? "queued" : "running" });
  }
  return out;
}
