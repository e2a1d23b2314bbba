/**
 * Runs a stage's command as child processes (spec 2.1, 5).
 *
 * - A string `cmd` is one script run by `sh -e -c`: a multi-line string stops at its first failing line, and a `cd`
 *   carries over to the next line. A list runs item by item, each in its own `sh -e -c`, stopping at the first
 *   failure.
 * - The environment is the inherited one plus `PIPE_STAGE` (the stage address) and `PIPE_ROOT` (the project root).
 * - Every command runs in its own process group (`detached`), so an interrupt can terminate everything a stage
 *   started (its children included) with one `kill(-pgid)`, and a Ctrl-C typed at the terminal reaches `pipe`
 *   only, which then decides. Groups still alive when `pipe` exits are killed on the way out. An optional recorder
 *   is told when each group starts and ends (`running.ts`), so the groups of a `pipe` that died without any of this
 *   running (kill -9) can be found and stopped by the next writer.
 * - After an interrupt, the command's output pipes are waited for only until the kill grace period ends: a process
 *   that left the group (`setsid`) may hold them open for as long as it lives.
 * - Output is streamed line by line to a callback (never buffered whole: a training log can be large), and the last
 *   lines are kept for the failure report. Each command is announced to another callback just before it starts.
 *
 * `Runner` is the seam the scheduler and `repro` are tested through; `ProcessRunner` is the real one. It uses
 * `node:child_process` directly rather than execa: per stage, execa's option handling and stream plumbing cost about
 * 2.5 ms on top of a 2 ms spawn, which is most of `repro`'s overhead on a pipeline of many small stages, and none of
 * its features (it would not kill a process group either) is needed for one `sh -e -c`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import type { GroupRecorder } from "./running.js";

export type OutputStream = "stdout" | "stderr";

export interface RunRequest {
  /** Stage address, exported as PIPE_STAGE. */
  stage: string;
  cmd: string | readonly string[];
  /** Absolute working directory. */
  cwd: string;
  /** Absolute project root, exported as PIPE_ROOT. */
  root: string;
  /** Base environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Aborting terminates the command's process group (SIGTERM, then SIGKILL after a grace period). */
  signal?: AbortSignal;
  /** Called with each complete line (without its newline) as it arrives. */
  onLine?: (stream: OutputStream, line: string) => void;
  /**
   * Called just before each command starts: once for a string `cmd`, once per item of a list, so an item never
   * started after a failure is never announced.
   */
  onCommand?: (command: string, index: number) => void;
}

export interface RunResult {
  /** Exit code of the command that ended the run (0 when every command succeeded); null when killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  /** The run was stopped through `signal`. */
  interrupted: boolean;
  /** The last lines of output (both streams, in arrival order). */
  tail: string[];
  durationMs: number;
  /** For a list `cmd`: the item that failed. */
  failedCommand?: string;
  /** The command could not be started at all (missing working directory, no shell). */
  spawnError?: string;
}

export interface Runner {
  run(req: RunRequest): Promise<RunResult>;
}

export const TAIL_LINES = 20;
/** A partial line longer than this is passed on without waiting for its newline (progress bars use `\r`). */
const MAX_PARTIAL = 64 * 1024;
export const KILL_GRACE_MS = 3000;

export function succeeded(r: RunResult): boolean {
  return r.exitCode === 0 && r.signal === null && !r.interrupted && r.spawnError === undefined;
}

/**
 * Process groups of running commands (with the recorder told of them); killed when this process exits, whatever the
 * reason, and their records removed.
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

/** Terminates every running command's process group now (used by the interrupt handler). */
export function killAllGroups(sig: NodeJS.Signals = "SIGTERM"): void {
  for (const pid of liveGroups.keys()) killGroup(pid, sig);
}

class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";
  constructor(private readonly emit: (line: string) => void) {}
  push(chunk: Buffer | string): void {
    const text = this.partial + (typeof chunk === "string" ? chunk : this.decoder.write(chunk));
    const parts = text.split("\n");
    this.partial = parts.pop() ?? "";
    for (const p of parts) this.emit(p.endsWith("\r") ? p.slice(0, -1) : p);
    if (this.partial.length > MAX_PARTIAL) {
      this.emit(this.partial);
      this.partial = "";
    }
  }
  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = "";
    if (rest !== "") this.emit(rest);
  }
}

export class ProcessRunner implements Runner {
  constructor(
    private readonly opts: {
      killGraceMs?: number;
      tailLines?: number;
      /** Told when each command's process group starts and ends (`running.ts`: what a dead pipe left running). */
      recorder?: GroupRecorder;
    } = {},
  ) {}

  async run(req: RunRequest): Promise<RunResult> {
    const started = performance.now();
    const tailMax = this.opts.tailLines ?? TAIL_LINES;
    const tail: string[] = [];
    const onLine = (stream: OutputStream, line: string): void => {
      tail.push(line);
      if (tail.length > tailMax) tail.shift();
      req.onLine?.(stream, line);
    };
    const env = { ...(req.env ?? process.env), PIPE_STAGE: req.stage, PIPE_ROOT: req.root };
    const commands = typeof req.cmd === "string" ? [req.cmd] : [...req.cmd];
    const done = (r: Omit<RunResult, "tail" | "durationMs">): RunResult => ({ ...r, tail, durationMs: performance.now() - started });
    for (const [index, command] of commands.entries()) {
      if (req.signal?.aborted) return done({ exitCode: null, signal: null, interrupted: true });
      req.onCommand?.(command, index);
      const r = await this.runOne(command, req, env, onLine);
      if (r.spawnError !== undefined || r.interrupted || r.exitCode !== 0 || r.signal !== null) {
        const res = done(r);
        if (commands.length > 1) res.failedCommand = command;
        return res;
      }
    }
    return done({ exitCode: 0, signal: null, interrupted: false });
  }

  private runOne(
    command: string,
    req: RunRequest,
    env: NodeJS.ProcessEnv,
    onLine: (stream: OutputStream, line: string) => void,
  ): Promise<Omit<RunResult, "tail" | "durationMs">> {
    installExitHook();
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn("sh", ["-e", "-c", command], { cwd: req.cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      } catch (e) {
        resolve({ exitCode: null, signal: null, interrupted: false, spawnError: e instanceof Error ? e.message : String(e) });
        return;
      }
      const pid = child.pid;
      const recorder = this.opts.recorder;
      if (pid !== undefined) {
        liveGroups.set(pid, recorder);
        recorder?.started(req.stage, pid);
      }
      let interrupted = false;
      let exited = false;
      let graceOver = false;
      let killTimer: NodeJS.Timeout | undefined;
      let spawnError: string | undefined;
      // After an interrupt, the output pipes are waited for only until the grace period ends: a process that left the
      // stage's group (`setsid`) and still holds them would otherwise keep pipe from exiting until it ends.
      const stopWaitingForOutput = (): void => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      };
      const onAbort = (): void => {
        if (pid === undefined || interrupted) return;
        interrupted = true;
        killGroup(pid, "SIGTERM");
        killTimer = setTimeout(() => {
          killGroup(pid, "SIGKILL");
          graceOver = true;
          if (exited) stopWaitingForOutput();
        }, this.opts.killGraceMs ?? KILL_GRACE_MS);
        killTimer.unref();
      };
      child.on("exit", () => {
        exited = true;
        if (graceOver) stopWaitingForOutput();
      });
      if (req.signal?.aborted) onAbort();
      else req.signal?.addEventListener("abort", onAbort, { once: true });
      const out = new LineSplitter((l) => onLine("stdout", l));
      const err = new LineSplitter((l) => onLine("stderr", l));
      child.stdout?.on("data", (c: Buffer) => out.push(c));
      child.stderr?.on("data", (c: Buffer) => err.push(c));
      child.on("error", (e: NodeJS.ErrnoException) => {
        spawnError = e.code === "ENOENT" ? `cannot start 'sh' in ${req.cwd} (does the working directory exist?)` : e.message;
      });
      // 'close' comes after the process exited and its output streams ended (a background child holding them
      // open delays it, as it delays a shell pipeline; after an interrupt, only until the grace period ends).
      child.on("close", (code: number | null, sig: NodeJS.Signals | null) => {
        out.end();
        err.end();
        req.signal?.removeEventListener("abort", onAbort);
        if (killTimer) clearTimeout(killTimer);
        if (pid !== undefined) {
          liveGroups.delete(pid);
          recorder?.ended(pid);
        }
        if (spawnError !== undefined || pid === undefined) {
          resolve({ exitCode: null, signal: null, interrupted, spawnError: spawnError ?? "cannot start the command" });
          return;
        }
        resolve({ exitCode: code, signal: sig, interrupted });
      });
    });
  }
}
