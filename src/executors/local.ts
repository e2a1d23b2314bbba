/**
 * The local executor: runs a stage's command as child processes of this `pipe`, each in its own process group
 * (spec 2.1, 5). It owns everything about local processes: spawning, the records of running groups
 * (`local-groups.ts`), their termination on an interrupt and on the way out, and what a dead `pipe` left running.
 *
 * - A string `cmd` is one script run by `sh -e -c`: a multi-line string stops at its first failing line, and a `cd`
 *   carries over to the next line. A list runs item by item, each in its own `sh -e -c`, stopping at the first
 *   failure.
 * - The environment is the given one (default: this process's) plus `PIPE_STAGE` (the stage address) and `PIPE_ROOT`
 *   (the project root).
 * - Every command runs in its own process group (`detached`), so a cancel can terminate everything a stage started
 *   (its children included) with one `kill(-pgid)`, and a Ctrl-C typed at the terminal reaches `pipe` only, which
 *   then decides. Groups still alive when `pipe` exits are killed on the way out. An optional recorder is told when
 *   each group starts and ends (`local-groups.ts`), so the groups of a `pipe` that died without any of this running
 *   (kill -9) can be found and stopped by the next writer (`settleLeftovers`).
 * - A cancel sends SIGTERM to the group, then SIGKILL after a grace period (at once for `cancelAll("now")`). After
 *   it, the command's output pipes are waited for only until the grace period ends: a process that left the group
 *   (`setsid`) may hold them open for as long as it lives.
 * - Output is streamed line by line to the job's sink (never buffered whole: a training log can be large), and the
 *   last lines are kept for the failure report. The unfinished line is passed on too, each time it grows, so a
 *   progress bar that redraws with `\r` shows as it is drawn rather than when its line ends. Each command is announced to the sink just before it starts.
 *
 * - Commands are started by the small helper processes of `spawner.ts` (one per concurrent run, made once per `pipe`),
 *   not forked from this large process on its main thread: that fork was 5-7 ms of blocked main thread per stage,
 *   which bounded a chain of small stages and serialised `-j`. The helper reports the pid, output, exit and end of
 *   output as `child_process` would, so the rules above are the same either way; with `tty`, where Perl is missing,
 *   or if a helper cannot be started, the command is spawned from here as before. A helper that dies mid-run fails
 *   its stage (`environment`, saying so) after killing the stage's group.
 *
 * Where it spawns itself, it uses `node:child_process` directly rather than execa: per stage, execa's option handling and stream plumbing
 * cost about 2.5 ms on top of a 2 ms spawn, which is most of `repro`'s overhead on a pipeline of many small stages,
 * and none of its features (it would not kill a process group either) is needed for one `sh -e -c`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { envErrorOf, envText } from "../core/env-error.js";
import type { Executor, Leftover, Outcome, OutcomeReason, OutputStream, SettleOptions, StageJob, StageRun } from "./executor.js";
import { settleOrphans, type GroupRecorder, type Orphan } from "./local-groups.js";
import { sharedPool, type SpawnerPool } from "./spawner.js";

export const TAIL_LINES = 20;
/** A partial line longer than this is passed on without waiting for its newline (progress bars use `\r`). */
const MAX_PARTIAL = 64 * 1024;
export const KILL_GRACE_MS = 3000;

/**
 * Process groups of running commands, of every local executor (with the recorder told of them): killed when this
 * process exits, whatever the reason, and their records removed.
 */
const liveGroups = new Map<number, GroupRecorder | undefined>();
let exitHookInstalled = false;

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // Already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const [pid, recorder] of liveGroups) {
      killGroup(pid, "SIGKILL");
      recorder?.ended(pid);
    }
  });
}

class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";
  constructor(
    private readonly emit: (line: string) => void,
    private readonly emitPartial?: (text: string) => void,
  ) {}
  push(chunk: Buffer | string): void {
    const text = this.partial + (typeof chunk === "string" ? chunk : this.decoder.write(chunk));
    const parts = text.split("\n");
    const before = parts.length > 1 ? "" : this.partial;
    this.partial = parts.pop() ?? "";
    for (const p of parts) this.emit(p.endsWith("\r") ? p.slice(0, -1) : p);
    if (this.partial.length > MAX_PARTIAL) {
      this.emit(this.partial);
      this.partial = "";
    } else if (this.partial !== "" && this.partial !== before) {
      this.emitPartial?.(this.partial);
    }
  }
  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = "";
    if (rest !== "") this.emit(rest);
  }
}

export interface LocalExecutorOptions {
  /** The project root: where the records of running groups live (`.pipe/tmp/running`). */
  root: string;
  killGraceMs?: number;
  tailLines?: number;
  /** Told when each command's process group starts and ends (`local-groups.ts`: what a dead pipe left running). */
  recorder?: GroupRecorder;
  /**
   * Run each command on a pseudo-terminal (`repro --tty`), so a command that checks `isatty` (colours, progress
   * bars) behaves as it does at the terminal. The terminal comes from util-linux's `script`, which every Linux has,
   * rather than a native pty addon (the project installs nothing that needs a compiler). On a terminal the two
   * streams are one: everything the command writes arrives as its stdout.
   */
  tty?: boolean;
  /**
   * Start commands from the small helper processes of `spawner.ts` (default), or from this process (false: the
   * fork of a large Node process on the main thread, 5-7 ms a stage). With `tty`, commands are always started here.
   */
  spawner?: boolean | SpawnerPool;
}

/** `'...'` for sh, with each `'` as `'\''`. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

export class LocalExecutor implements Executor {
  readonly name = "local";
  private readonly runs = new Set<LocalRun>();

  constructor(private readonly opts: LocalExecutorOptions) {}

  start(job: StageJob): StageRun {
    const run = new LocalRun(job, this.opts, pool(this.opts));
    this.runs.add(run);
    void run.outcome.then(() => this.runs.delete(run));
    return run;
  }

  cancelAll(how: "graceful" | "now"): void {
    for (const run of this.runs) run.stop(how === "now");
  }

  async settleLeftovers(opts: SettleOptions): Promise<Leftover[]> {
    const leftover = (o: Orphan): Leftover => ({ stage: o.stage, run: { kind: "process-group", pgid: o.pgid }, pipePid: o.pipePid });
    const orphans = await settleOrphans(this.opts.root, {
      wait: opts.wait,
      graceMs: this.opts.killGraceMs ?? KILL_GRACE_MS,
      onOrphan: (o) => opts.onLeftover(leftover(o)),
    });
    return orphans.map(leftover);
  }
}

function pool(opts: LocalExecutorOptions): SpawnerPool | undefined {
  if (opts.spawner === false || opts.tty === true) return undefined;
  return opts.spawner === undefined || opts.spawner === true ? sharedPool() : opts.spawner;
}

/** One stage run: its commands one after another, each in a process group of its own. */
class LocalRun implements StageRun {
  readonly outcome: Promise<Outcome>;
  private cancelled = false;
  /** Stops the command running now (force: SIGKILL without the grace period). */
  private stopCurrent: ((force: boolean) => void) | undefined;

  constructor(
    job: StageJob,
    private readonly opts: LocalExecutorOptions,
    private readonly pool: SpawnerPool | undefined,
  ) {
    this.outcome = this.run(job);
  }

  cancel(): void {
    this.stop(false);
  }

  stop(force: boolean): void {
    this.cancelled = true;
    this.stopCurrent?.(force);
  }

  private async run(job: StageJob): Promise<Outcome> {
    const started = performance.now();
    const tailMax = this.opts.tailLines ?? TAIL_LINES;
    const tail: string[] = [];
    const onLine = (stream: OutputStream, line: string): void => {
      tail.push(line);
      if (tail.length > tailMax) tail.shift();
      job.output?.line?.(stream, line);
    };
    const onPartial = job.output?.partial ? (stream: OutputStream, text: string): void => job.output?.partial?.(stream, text) : undefined;
    const env = { ...(job.env ?? process.env), PIPE_STAGE: job.stage, PIPE_ROOT: job.root };
    const commands = typeof job.cmd === "string" ? [job.cmd] : [...job.cmd];
    const done = (r: OutcomeReason, failedCommand?: string): Outcome => ({
      ...r,
      tail,
      durationMs: performance.now() - started,
      ...(failedCommand !== undefined && commands.length > 1 ? { failedCommand } : {}),
    });
    for (const [index, command] of commands.entries()) {
      if (this.cancelled) return done({ reason: "interrupted", signal: null });
      job.output?.command?.(command, index);
      const r = await this.runOne(command, job, env, onLine, onPartial);
      if (r.reason !== "succeeded") return done(r, command);
    }
    return done({ reason: "succeeded" });
  }

  private runOne(
    command: string,
    job: StageJob,
    env: NodeJS.ProcessEnv,
    onLine: (stream: OutputStream, line: string) => void,
    onPartial: ((stream: OutputStream, text: string) => void) | undefined,
  ): Promise<OutcomeReason> {
    installExitHook();
    return new Promise((resolve) => {
      const recorder = this.opts.recorder;
      const out = new LineSplitter((l) => onLine("stdout", l), onPartial && ((t) => onPartial("stdout", t)));
      const err = new LineSplitter((l) => onLine("stderr", l), onPartial && ((t) => onPartial("stderr", t)));
      let pid: number | undefined;
      let interrupted = false;
      let exited = false;
      let graceOver = false;
      let finished = false;
      let killTimer: NodeJS.Timeout | undefined;
      let exit: { code: number | null; sig: NodeJS.Signals | null } = { code: null, sig: null };
      // After a cancel, the output is waited for only until the grace period ends: a process that left the stage's
      // group (`setsid`) and still holds it would otherwise keep pipe from exiting until it ends.
      let stopWaitingForOutput = (): void => undefined;
      const kill = (): void => {
        if (pid !== undefined) killGroup(pid, "SIGKILL");
        graceOver = true;
        if (exited) stopWaitingForOutput();
      };
      this.stopCurrent = (force) => {
        if (!interrupted) {
          interrupted = true;
          if (pid !== undefined) killGroup(pid, "SIGTERM");
          killTimer = setTimeout(kill, this.opts.killGraceMs ?? KILL_GRACE_MS);
          killTimer.unref();
        }
        if (force) kill();
      };
      const started = (p: number): void => {
        pid = p;
        liveGroups.set(p, recorder);
        recorder?.started(job.stage, p);
        // Cancelled while a helper was starting it: the group exists only now.
        if (interrupted) killGroup(p, graceOver ? "SIGKILL" : "SIGTERM");
      };
      const exitedNow = (code: number | null, sig: NodeJS.Signals | null): void => {
        exited = true;
        exit = { code, sig };
        if (graceOver) stopWaitingForOutput();
      };
      // Called once the process exited and its output ended (a background child holding the output open delays it,
      // as it delays a shell pipeline; after a cancel, only until the grace period ends), or when it never started.
      const finish = (failure?: OutcomeReason): void => {
        if (finished) return;
        finished = true;
        out.end();
        err.end();
        this.stopCurrent = undefined;
        if (killTimer) clearTimeout(killTimer);
        if (pid !== undefined) {
          liveGroups.delete(pid);
          recorder?.ended(pid);
        }
        if (failure !== undefined) resolve(failure);
        else if (interrupted) resolve({ reason: "interrupted", signal: exit.sig });
        else if (exit.sig !== null) resolve({ reason: "signal", signal: exit.sig });
        else if (exit.code !== 0) resolve({ reason: "exit-code", exitCode: exit.code ?? 1 });
        else resolve({ reason: "succeeded" });
      };
      const spawner = this.opts.tty ? undefined : this.pool?.acquire();
      const viaHelper =
        spawner !== undefined &&
        spawner.run(
          { command, cwd: job.wdir, env },
          {
            started,
            data: (stream, chunk) => (stream === "stdout" ? out : err).push(chunk),
            exited: exitedNow,
            closed: () => {
              this.pool?.release(spawner);
              finish();
            },
            failed: (e, helperDied) => {
              if (!helperDied) {
                this.pool?.release(spawner);
                finish(startFailure(e, job));
              } else if (pid === undefined && spawner.unavailable) {
                // No helper could be started (no Perl after all): nothing ran, so start the command directly.
                this.direct(command, job, env, out, err, { started, exitedNow, finish, setStop: (f) => (stopWaitingForOutput = f) });
              } else {
                if (pid !== undefined) killGroup(pid, "SIGKILL");
                finish({ reason: "environment", message: `the helper process that starts stage commands ended unexpectedly (${e.message}); the stage's processes were stopped` });
              }
            },
          },
        );
      if (viaHelper) {
        stopWaitingForOutput = () => {
          // The helper waits for the output to end; it is given up on, with the output, and a new one made next time.
          spawner.kill();
          finish();
        };
      } else {
        if (spawner !== undefined) this.pool?.release(spawner);
        this.direct(command, job, env, out, err, { started, exitedNow, finish, setStop: (f) => (stopWaitingForOutput = f) });
      }
      if (this.cancelled) this.stopCurrent(false);
    });
  }

  /** Spawns the command from this process (a pseudo-terminal, or no helper to be had). */
  private direct(
    command: string,
    job: StageJob,
    env: NodeJS.ProcessEnv,
    out: LineSplitter,
    err: LineSplitter,
    hooks: {
      started(pid: number): void;
      exitedNow(code: number | null, sig: NodeJS.Signals | null): void;
      finish(failure?: OutcomeReason): void;
      setStop(stop: () => void): void;
    },
  ): void {
    let child: ChildProcess;
    try {
      // `script -e` exits with the command's status; `-f` flushes at once (a progress bar stays live). `script
      // -c` starts its command with $SHELL, so SHELL is sh for the wrapper, and the stage gets its own back.
      const shell = env.SHELL === undefined ? "unset SHELL; " : `SHELL=${shellQuote(env.SHELL)} `;
      child = this.opts.tty
        ? spawn("script", ["-q", "-e", "-f", "-c", `${shell}exec sh -e -c ${shellQuote(command)}`, "/dev/null"], {
            cwd: job.wdir,
            env: { ...env, SHELL: "/bin/sh" },
            detached: true,
            stdio: ["ignore", "pipe", "pipe"],
          })
        : spawn("sh", ["-e", "-c", command], { cwd: job.wdir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      hooks.finish(startFailure(e, job));
      return;
    }
    let spawnError: unknown;
    if (child.pid !== undefined) hooks.started(child.pid);
    hooks.setStop(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    });
    child.stdout?.on("data", (c: Buffer) => out.push(c));
    child.stderr?.on("data", (c: Buffer) => err.push(c));
    child.on("error", (e: NodeJS.ErrnoException) => {
      spawnError = e;
    });
    child.on("exit", (code: number | null, sig: NodeJS.Signals | null) => hooks.exitedNow(code, sig));
    // 'close' comes after the process exited and its output streams ended.
    child.on("close", (code: number | null, sig: NodeJS.Signals | null) => {
      if (spawnError !== undefined || child.pid === undefined) {
        hooks.finish(startFailure(spawnError, job));
        return;
      }
      hooks.exitedNow(code, sig);
      hooks.finish();
    });
  }
}

/** A command that could not be started: the machine refusing (an environment error), or anything else. */
function startFailure(e: unknown, job: StageJob): OutcomeReason {
  const env = envErrorOf(e);
  if (env) return { reason: "environment", message: envText(env, { root: job.root }) };
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return { reason: "failed-to-start", message: `cannot start 'sh' in ${job.wdir} (does the working directory exist?)` };
  return { reason: "failed-to-start", message: e instanceof Error ? e.message : "cannot start the command" };
}
