/**
 * The SLURM executor: each stage run is one batch job (`sbatch --parsable`), on a cluster whose file system the
 * coordinator (this `pipe`, on a login node) shares with the compute nodes. It owns submission, following the jobs,
 * their output, cancelling them, and the records that let a later coordinator re-attach (`slurm-records.ts`).
 *
 * - Submission: the job script and flags are `slurm-job.ts`'s (the local executor's shell semantics, the stage's
 *   resources from the config and its `resources:`). A run whose `after` names stages this executor has in flight is
 *   submitted once their jobs have ids, with `--dependency=afterok:` on them and `--kill-on-invalid-dep=yes`, so
 *   SLURM starts it the moment they succeed and drops it when one fails (`dependency-failed`). The engine does that
 *   when `queues` is true (`slurm.submit: plan`, the default); with `submit: ready` it starts a stage only after the
 *   stages it needs were recorded, as locally.
 * - Following: one timer for all runs. Every tick (`pollMs`) each job's marker file and logs are read from where
 *   the last tick stopped: output is streamed line by line, each command announced between the lines around it, and
 *   the `end` line of the last command settles a run at once (no need to wait for SLURM's bookkeeping). Every few
 *   ticks one `squeue` (text, `%i|%T|%r`) gives the state of every job: `RUNNING` is reported, and a job that ended
 *   without an `end` line (time or memory limit, cancelled, node failure) settles with SLURM's state and reason.
 * - Cancelling: `scancel` of the job ids, batched (one `scancel` for a Ctrl-C of a hundred queued jobs). SLURM sends
 *   SIGTERM and, after its `KillWait`, SIGKILL; the run settles `interrupted` once `squeue` says the job ended.
 * - Crash: jobs outlive their coordinator. Each submitted job is recorded under `.pipe/tmp/slurm`; `attach` gives the
 *   engine a run that follows such a job (its logs are read again from the start) when the stage's command, working
 *   directory and source inputs (`StageJob.identity`) are unchanged and SLURM still knows the job as queued, running or completed.
 */
import { existsSync, mkdirSync, openSync, readSync, closeSync, statSync, unlinkSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import type { SlurmSettings } from "../project/config.js";
import type { Executor, Leftover, Outcome, OutcomeReason, OutputStream, SettleOptions, StageJob, StageRun } from "./executor.js";
import { LocalExecutor } from "./local.js";
import { batchScript, jobFiles, LOG_DIR, resourcesFor, sbatchArgs, type JobFiles } from "./slurm-job.js";
import { isRecordedJob, jobField, jobStates, LIVE_STATES, readJobRecord, removeJobRecord, slurmCommand, writeJobRecord, type JobState } from "./slurm-records.js";

const TAIL_LINES = 20;
/** How often logs and marker files are read. */
const POLL_MS = 50;
/** `squeue` every this many ticks. */
const SQUEUE_EVERY = 5;
/** sbatch processes at once: a plan of a thousand independent stages does not fork a thousand at once. */
const SUBMIT_CONCURRENCY = 8;

export interface SlurmExecutorOptions {
  root: string;
  settings: SlurmSettings;
  /** Record submitted jobs under `.pipe/tmp/slurm` (false for `--dry`). */
  record: boolean;
  pollMs?: number;
}

/** Reads a growing file from where the last read stopped, as lines. */
class Tail {
  private offset = 0;
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";
  constructor(private readonly file: string) {}

  size(): number {
    try {
      return statSync(this.file).size;
    } catch {
      return 0;
    }
  }

  /** Complete lines up to byte `upTo` (default: the end); `flush` also gives a last line without its newline. */
  read(upTo?: number, flush = false): string[] {
    const end = upTo ?? this.size();
    const lines: string[] = [];
    if (end > this.offset) {
      let fd: number;
      try {
        fd = openSync(this.file, "r");
      } catch {
        return lines;
      }
      try {
        const buf = Buffer.alloc(Math.min(end - this.offset, 1 << 20));
        while (this.offset < end) {
          const n = readSync(fd, buf, 0, Math.min(buf.length, end - this.offset), this.offset);
          if (n <= 0) break;
          this.offset += n;
          const parts = (this.partial + this.decoder.write(buf.subarray(0, n))).split("\n");
          this.partial = parts.pop() ?? "";
          for (const p of parts) lines.push(p.endsWith("\r") ? p.slice(0, -1) : p);
        }
      } finally {
        closeSync(fd);
      }
    }
    if (flush) {
      const rest = this.partial + this.decoder.end();
      this.partial = "";
      if (rest !== "") lines.push(rest);
    }
    return lines;
  }
}

function signalName(n: number): string {
  const hit = Object.entries(os.constants.signals).find(([, v]) => v === n);
  return hit ? hit[0] : `signal ${n}`;
}

export class SlurmExecutor implements Executor {
  readonly name = "slurm";
  readonly queues: boolean;
  readonly scheduled = true;
  /** `-j` counts jobs in the queue at once; unset, the cluster's scheduler is the limit. */
  readonly defaultJobs = 10_000;
  /** Jobs go on without this process: a hang-up leaves them to a later `repro`, which re-attaches. */
  readonly outlives = true;
  /** The current run of each stage (for `after`). */
  private readonly byStage = new Map<string, SlurmRun>();
  private readonly active = new Set<SlurmRun>();
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;
  private submitting = 0;
  private readonly submitQueue: (() => void)[] = [];
  private cancelBatch: string[] = [];

  constructor(readonly opts: SlurmExecutorOptions) {
    this.queues = opts.settings.submit === "plan";
  }

  start(job: StageJob): StageRun {
    const run = new SlurmRun(this, job);
    this.byStage.set(job.stage, run);
    run.begin(this.submit(run));
    return run;
  }

  async attach(job: StageJob): Promise<StageRun | undefined> {
    const rec = readJobRecord(this.opts.root, job.stage);
    if (!rec) return undefined;
    const same = rec.wdir === job.wdir && JSON.stringify(rec.cmd) === JSON.stringify(job.cmd) && rec.identity === (job.identity ?? "");
    // The id must still name the job we submitted (comment, name, working directory), or it is somebody else's.
    const ours = rec.token !== "" && (await isRecordedJob(rec)) === true;
    const st = same && ours ? (await jobStates([rec.jobId]))?.get(rec.jobId) : undefined;
    if (!st || !(LIVE_STATES.has(st.state) || st.state === "COMPLETED")) {
      // Changed, failed, or forgotten by SLURM: the stage is decided afresh. A changed stage's old job is cancelled,
      // so that it does not write the outputs the new one is about to write; a job that is not ours is left alone.
      if (!same && ours) await slurmCommand("scancel", [rec.jobId]);
      removeJobRecord(this.opts.root, job.stage, rec.jobId);
      return undefined;
    }
    const run = new SlurmRun(this, job);
    this.byStage.set(job.stage, run);
    run.begin(Promise.resolve(rec.jobId));
    return run;
  }

  cancelAll(how: "graceful" | "now"): void {
    for (const run of this.active) run.cancel();
    if (how === "now") {
      // The process exits right after: a synchronous scancel of everything, queued or not yet flushed.
      const ids = [...new Set([...this.cancelBatch, ...[...this.active].flatMap((r) => (r.jobId ? [r.jobId] : []))])];
      this.cancelBatch = [];
      if (ids.length > 0) spawnSync("scancel", ids, { stdio: "ignore" });
    }
  }

  async settleLeftovers(opts: SettleOptions): Promise<Leftover[]> {
    // What a dead pipe left running on this machine (`--executor local` runs) is still stopped; SLURM jobs it left
    // are re-attached to, stage by stage (`attach`).
    return new LocalExecutor({ root: this.opts.root }).settleLeftovers(opts);
  }

  /** Job id of the current run of `stage`, once submitted; undefined when it will not get one or failed. */
  dependencyOf(stage: string): SlurmRun | undefined {
    return this.byStage.get(stage);
  }

  cancelJob(id: string): void {
    this.cancelBatch.push(id);
    if (this.cancelBatch.length === 1) {
      setImmediate(() => {
        const ids = this.cancelBatch;
        this.cancelBatch = [];
        if (ids.length > 0) void slurmCommand("scancel", ids);
      });
    }
  }

  private async slot(): Promise<void> {
    if (this.submitting < SUBMIT_CONCURRENCY) {
      this.submitting++;
      return;
    }
    await new Promise<void>((r) => this.submitQueue.push(r));
  }

  private release(): void {
    const next = this.submitQueue.shift();
    if (next) next();
    else this.submitting--;
  }

  /** Submits the run's job: its id, or an outcome when it cannot be submitted. */
  private async submit(run: SlurmRun): Promise<string | OutcomeReason> {
    const job = run.job;
    if (!existsSync(job.wdir) || !statSync(job.wdir).isDirectory()) {
      return { reason: "failed-to-start", message: `cannot submit stage '${job.stage}': its working directory ${job.wdir} does not exist` };
    }
    const afterIds: string[] = [];
    for (const stage of job.after ?? []) {
      const up = this.byStage.get(stage);
      if (!up) continue;
      const id = await up.submitted;
      if (id === undefined || up.failed()) return { reason: "dependency-failed", detail: `'${stage}' did not succeed` };
      if (!up.ended) afterIds.push(id);
    }
    if (run.cancelled) return { reason: "interrupted", signal: null };
    const files = jobFiles(this.opts.root, job.stage);
    mkdirSync(path.join(this.opts.root, LOG_DIR), { recursive: true });
    for (const f of [files.log, files.err, files.meta]) {
      try {
        unlinkSync(f);
      } catch {
        // Not there.
      }
    }
    const resources = resourcesFor(this.opts.settings, job.stage, job.resources);
    const env: NodeJS.ProcessEnv = { ...(job.env ?? process.env), PIPE_STAGE: job.stage, PIPE_ROOT: job.root };
    // The scheduler's own settings come from this process, whatever environment the stage is given.
    if (process.env.SLURM_CONF !== undefined) env.SLURM_CONF = process.env.SLURM_CONF;
    const token = randomBytes(8).toString("hex");
    await this.slot();
    let r;
    try {
      r = await slurmCommand("sbatch", sbatchArgs(job, files, resources, afterIds, token), { input: batchScript(job, files), env });
    } finally {
      this.release();
    }
    if (r.code === null) return { reason: "failed-to-start", message: `cannot run sbatch (${r.stderr.trim()}): is this a SLURM login node?` };
    const id = /^([0-9_]+)/.exec(r.stdout.trim())?.[1];
    if (r.code !== 0 || id === undefined) {
      return { reason: "failed-to-start", message: `sbatch refused stage '${job.stage}': ${(r.stderr.trim() || r.stdout.trim()).split("\n").slice(-3).join(" ")}` };
    }
    if (this.opts.record) {
      writeJobRecord(this.opts.root, { stage: job.stage, jobId: id, cmd: job.cmd, wdir: job.wdir, identity: job.identity ?? "", token, pipePid: process.pid, submittedAt: new Date().toISOString() });
    }
    return id;
  }

  follow(run: SlurmRun): void {
    this.active.add(run);
    if (this.timer === undefined) this.timer = setTimeout(() => void this.poll(), this.opts.pollMs ?? POLL_MS);
  }

  unfollow(run: SlurmRun): void {
    this.active.delete(run);
    if (run.jobId !== undefined) removeJobRecord(this.opts.root, run.job.stage, run.jobId);
  }

  private async poll(): Promise<void> {
    this.tick++;
    const runs = [...this.active];
    for (const r of runs) r.readFiles();
    const wantStates = runs.some((r) => r.needsState()) || this.tick % SQUEUE_EVERY === 0;
    if (wantStates && runs.length > 0) {
      const states = await jobStates(runs.flatMap((r) => (r.jobId ? [r.jobId] : [])));
      if (states) for (const r of runs) if (r.jobId) await r.sawState(states.get(r.jobId));
    }
    if (this.active.size > 0) this.timer = setTimeout(() => void this.poll(), this.opts.pollMs ?? POLL_MS);
    else this.timer = undefined;
  }
}

class SlurmRun implements StageRun {
  readonly outcome: Promise<Outcome>;
  /** The job id once submitted; undefined when it never was. */
  readonly submitted: Promise<string | undefined>;
  jobId: string | undefined;
  cancelled = false;
  ended = false;
  private result: Outcome | undefined;
  private resolveOutcome!: (o: Outcome) => void;
  private resolveSubmitted!: (id: string | undefined) => void;
  private readonly startedAt = performance.now();
  private files: JobFiles;
  private tails: { log: Tail; err: Tail; meta: Tail };
  private readonly tail: string[] = [];
  private readonly ends = new Map<number, number>();
  private noWdir = false;
  /** A command died of SIGKILL: SLURM's state says whether that was its memory limit (the cgroup's OOM killer). */
  private killed = false;
  private running = false;
  private missing = 0;
  private readonly commands: readonly string[];

  constructor(
    private readonly exec: SlurmExecutor,
    readonly job: StageJob,
  ) {
    this.commands = typeof job.cmd === "string" ? [job.cmd] : job.cmd;
    this.files = jobFiles(exec.opts.root, job.stage);
    this.tails = { log: new Tail(this.files.log), err: new Tail(this.files.err), meta: new Tail(this.files.meta) };
    this.outcome = new Promise((r) => (this.resolveOutcome = r));
    this.submitted = new Promise((r) => (this.resolveSubmitted = r));
  }

  begin(submission: Promise<string | OutcomeReason>): void {
    submission.then(
      (r) => {
        if (typeof r !== "string") {
          this.resolveSubmitted(undefined);
          this.finish(r);
          return;
        }
        this.jobId = r;
        this.resolveSubmitted(r);
        this.job.output?.job?.("queued", r);
        if (this.cancelled) this.exec.cancelJob(r);
        this.exec.follow(this);
      },
      (e: unknown) => {
        this.resolveSubmitted(undefined);
        this.finish({ reason: "failed-to-start", message: e instanceof Error ? e.message : String(e) });
      },
    );
  }

  queued(): boolean {
    return this.jobId !== undefined && !this.running && !this.ended;
  }

  failed(): boolean {
    return this.result !== undefined && this.result.reason !== "succeeded";
  }

  cancel(): void {
    if (this.cancelled || this.ended) return;
    this.cancelled = true;
    if (this.jobId !== undefined) this.exec.cancelJob(this.jobId);
  }

  /** A cancelled run waits for SLURM to say its job ended; so does one whose log says it is over. */
  needsState(): boolean {
    return this.cancelled || this.noWdir || this.killed;
  }

  private emit(stream: OutputStream, line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.job.output?.line?.(stream, line);
  }

  /** New lines of the marker file, then of the logs, in the order the job wrote them; settles on the last `end`. */
  readFiles(flush = false): void {
    if (this.ended) return;
    // Sizes first: a command announced in a marker line read below started after every byte before its offsets.
    const logSize = this.tails.log.size();
    const errSize = this.tails.err.size();
    for (const m of this.tails.meta.read()) {
      const w = m.split(" ");
      if (w[0] === "start" && !this.running) this.markRunning();
      else if (w[0] === "nowdir") this.noWdir = true;
      else if (w[0] === "cmd") {
        const i = Number(w[1]);
        for (const l of this.tails.log.read(Number(w[2]))) this.emit("stdout", l);
        for (const l of this.tails.err.read(Number(w[3]))) this.emit("stderr", l);
        const c = this.commands[i];
        if (c !== undefined) this.job.output?.command?.(c, i);
      } else if (w[0] === "end") this.ends.set(Number(w[1]), Number(w[2]));
    }
    for (const l of this.tails.log.read(flush ? undefined : logSize, flush)) this.emit("stdout", l);
    for (const l of this.tails.err.read(flush ? undefined : errSize, flush)) this.emit("stderr", l);
    if (flush) return;
    const done = this.fromMarkers();
    if (done?.reason === "signal" && done.signal === "SIGKILL") {
      // The kernel's OOM killer ends the biggest process of a job over its memory and the batch script goes on to
      // write its `end` line: only SLURM's state (OUT_OF_MEMORY, once the job ends) tells that from a plain kill.
      this.killed = true;
      return;
    }
    if (done) {
      this.readFiles(true);
      this.finish(done);
    }
  }

  private markRunning(): void {
    this.running = true;
    if (this.jobId !== undefined) this.job.output?.job?.("running", this.jobId);
  }

  /** The outcome the marker file tells (a failed command, or the last one succeeding), if it tells one yet. */
  private fromMarkers(): OutcomeReason | undefined {
    for (const [i, rc] of [...this.ends].sort((a, b) => a[0] - b[0])) {
      if (rc !== 0) {
        // The shell reports death by signal N as 128 + N.
        if (rc > 128 && rc < 128 + 65) return { reason: "signal", signal: signalName(rc - 128) };
        return { reason: "exit-code", exitCode: rc };
      }
      if (i === this.commands.length - 1) return { reason: "succeeded" };
    }
    return undefined;
  }

  /** What `squeue` says of the job (undefined: SLURM does not know it). */
  async sawState(st: JobState | undefined): Promise<void> {
    if (this.ended) return;
    if (st === undefined) {
      // Forgotten (purged, or a restarted controller): after a few looks, what the logs say is all there is.
      if (++this.missing < 3) return;
      this.readFiles(true);
      this.finish(this.fromMarkers() ?? { reason: "signal", signal: "LOST" });
      return;
    }
    this.missing = 0;
    if (st.state === "RUNNING" && !this.running) this.markRunning();
    if (LIVE_STATES.has(st.state)) return;
    // Ended: whatever it wrote is read first.
    this.readFiles(true);
    if (this.ended) return;
    const told = this.fromMarkers();
    if (this.cancelled && st.state === "CANCELLED") return this.finish({ reason: "interrupted", signal: null });
    // A limit is SLURM's reason even when the script wrote the killed command's status (128 + 9) before ending.
    if (st.state === "OUT_OF_MEMORY") return this.finish({ reason: "limit", limit: "memory", detail: st.state });
    if (st.state === "TIMEOUT" || st.state === "DEADLINE") return this.finish({ reason: "limit", limit: "time", detail: st.state });
    if (told) return this.finish(told);
    if (this.noWdir) return this.finish({ reason: "failed-to-start", message: `cannot start stage '${this.job.stage}' in ${this.job.wdir} (does the working directory exist on the compute node?)` });
    switch (st.state) {
      case "COMPLETED":
        return this.finish({ reason: "succeeded" });
      case "CANCELLED":
        if (/Dependency/.test(st.reason)) return this.finish({ reason: "dependency-failed", detail: st.reason });
        return this.finish({ reason: "signal", signal: "CANCELLED" });
      case "FAILED": {
        const code = this.jobId ? await jobField(this.jobId, "ExitCode") : undefined;
        const [ex, sig] = (code ?? "1:0").split(":").map(Number);
        if (sig) return this.finish({ reason: "signal", signal: signalName(sig) });
        return this.finish({ reason: "exit-code", exitCode: ex || 1 });
      }
      default:
        // NODE_FAIL, PREEMPTED, BOOT_FAIL: SLURM's word is the reason.
        return this.finish({ reason: "signal", signal: st.state });
    }
  }

  private finish(r: OutcomeReason): void {
    if (this.ended) return;
    this.ended = true;
    const o: Outcome = { ...r, tail: [...this.tail], durationMs: performance.now() - this.startedAt };
    if (r.reason === "exit-code" || r.reason === "signal") {
      const last = [...this.ends.keys()].sort((a, b) => b - a)[0];
      const c = last === undefined ? undefined : this.commands[last];
      if (typeof this.job.cmd !== "string" && c !== undefined) o.failedCommand = c;
    }
    this.result = o;
    this.exec.unfollow(this);
    this.resolveOutcome(o);
  }
}
