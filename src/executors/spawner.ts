/**
 * Starting stage commands from small long-lived helper processes instead of from `pipe` itself. The local executor's
 * dominant cost per trivial stage was the `fork` of this (large) Node process on the main thread, 5-7 ms each time,
 * during which nothing else runs: it bounded a chain of small stages and kept `-j2` from overlapping anything. A
 * helper is a Perl process of a few MB (Perl is part of every mainstream Linux base system; where it is missing the
 * executor spawns directly, as before): it forks cheaply, and it forks off our main thread.
 *
 * One helper runs one command at a time; the pool keeps the idle ones, so `-j N` ends up with N helpers, each made
 * once per `pipe` (`SpawnerPool.acquire`). A request carries the working directory, the command and the whole
 * environment; the helper `chdir`s, makes two pipes, forks, and the child starts a session of its own (as Node's
 * `detached` does: the stage is one process group that a cancel kills with one `kill(-pgid)`), points stdin at
 * /dev/null and stdout/stderr at the pipes, and execs `sh -e -c`. The helper relays the output as it arrives (not per
 * line; stdout before stderr when both are ready) and reports the pid, the exit (code or signal, exactly as `waitpid`
 * says) and the end of output (both pipes closed by every process that held them): the same events `child_process`
 * gives, so `local.ts` keeps one set of rules for cancelling, killing and waiting for output. Signals are sent by
 * `pipe` to the group directly.
 *
 * Everything travels on the helper's stdin and stdout as frames, in order: a request is `<length>\n` and its fields
 * separated by NUL (no field of an `exec` can hold a NUL); a report is `<type> <number>\n`, followed by that many
 * bytes for output. A helper that dies, or cannot be started, fails the command it was running with a clear reason
 * (the caller kills the group it had started); a helper that could not be started at all turns the pool off, and
 * commands are then spawned directly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { constants as osConstants } from "node:os";
import path from "node:path";
import type { OutputStream } from "./executor.js";

/** The helper. Kept to core Perl (POSIX only). */
const HELPER = String.raw`
use strict; use warnings; use POSIX ();
binmode STDIN; binmode STDOUT;
sub frame { my $s = "$_[0] $_[1]\n" . (defined $_[2] ? $_[2] : "");
  while (length $s) { my $w = syswrite(STDOUT, $s); POSIX::_exit(0) unless defined $w; substr($s, 0, $w) = ""; } }
while (defined(my $len = <STDIN>)) {
  chomp $len; my $buf = "";
  while (length($buf) < $len) { my $n = read(STDIN, $buf, $len - length($buf), length($buf)); POSIX::_exit(0) unless $n; }
  my ($cwd, $cmd, @env) = split /\0/, $buf, -1;
  my ($or, $ow, $er, $ew);
  unless (chdir($cwd) && pipe($or, $ow) && pipe($er, $ew)) { frame("F", $! + 0); next; }
  my $pid = fork();
  unless (defined $pid) { frame("F", $! + 0); next; }
  if ($pid == 0) {
    POSIX::setsid();
    open(STDIN, "<", "/dev/null"); POSIX::dup2(fileno($ow), 1); POSIX::dup2(fileno($ew), 2);
    %ENV = (); for (@env) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v; }
    { no warnings "exec"; exec { "sh" } "sh", "-e", "-c", $cmd; }
    POSIX::_exit(127);
  }
  close($ow); close($ew);
  frame("P", $pid);
  my %open = (fileno($or) => [$or, "O"], fileno($er) => [$er, "E"]);
  my $status;
  while (%open || !defined $status) {
    if (%open) {
      my $rin = ""; vec($rin, $_, 1) = 1 for keys %open;
      my $n = select(my $rout = $rin, undef, undef, defined $status ? undef : 0.05);
      if (defined $n && $n > 0) {
        for my $fd (sort { $a <=> $b } keys %open) {
          next unless vec($rout, $fd, 1);
          my ($fh, $t) = @{$open{$fd}};
          my $r = sysread($fh, my $data, 65536);
          if ($r) { frame($t, $r, $data); } else { close($fh); delete $open{$fd}; }
        }
      }
    }
    if (!defined $status) {
      my $w = waitpid($pid, %open ? POSIX::WNOHANG() : 0);
      if ($w == $pid) { $status = $?; if ($status & 127) { frame("S", $status & 127); } else { frame("X", $status >> 8); } }
    }
  }
  frame("C", 0);
}
`;

/** What one command run reports, in order: started, data*, exited, closed; or failed at any point. */
export interface SpawnHandlers {
  started(pid: number): void;
  data(stream: OutputStream, chunk: Buffer): void;
  exited(code: number | null, signal: NodeJS.Signals | null): void;
  /** Every process holding the output has closed it: the run is over. */
  closed(): void;
  /** Could not start (`error.code` from errno), or the helper died: nothing more will be reported. */
  failed(error: NodeJS.ErrnoException, helperDied: boolean): void;
}

export interface SpawnRequest {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(osConstants.signals).map(([k, v]) => [v, k as NodeJS.Signals]));
const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

function errnoError(errno: number, syscall: string): NodeJS.ErrnoException {
  const code = errnoNames.get(errno) ?? "EIO";
  const e: NodeJS.ErrnoException = new Error(`${syscall} failed: ${code}`);
  e.code = code;
  e.errno = errno;
  e.syscall = syscall;
  return e;
}

/** The request's bytes, or undefined when a field cannot travel (a NUL, which `exec` could not pass either). */
export function encodeRequest(req: SpawnRequest): Buffer | undefined {
  const fields = [req.cwd, req.command];
  for (const [k, v] of Object.entries(req.env)) if (v !== undefined) fields.push(`${k}=${v}`);
  if (fields.some((f) => f.includes("\0"))) return undefined;
  const body = Buffer.from(fields.join("\0"));
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}

/** One helper process. */
export class Spawner {
  private readonly proc: ChildProcess;
  private current: SpawnHandlers | undefined;
  private pending: Buffer = Buffer.alloc(0);
  /** Output bytes still expected for the frame being read. */
  private need: { stream: OutputStream; left: number } | undefined;
  dead = false;
  /** The helper itself could not be started (no Perl): the pool stops trying. */
  unavailable = false;

  constructor(perl: string, onDeath: (s: Spawner) => void) {
    // Detached: a Ctrl-C at the terminal reaches `pipe` (which then decides), never the helper in the middle of a run.
    this.proc = spawn(perl, ["-e", HELPER], { detached: true, stdio: ["pipe", "pipe", "inherit"] });
    this.proc.stdout?.on("data", (c: Buffer) => this.receive(c));
    this.proc.stdin?.on("error", () => undefined);
    this.proc.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT" || e.code === "EACCES") this.unavailable = true;
      this.die(e);
      onDeath(this);
    });
    this.proc.on("exit", (code, sig) => {
      this.die(Object.assign(new Error(`the helper that starts stage commands ended (${sig ?? `exit ${code}`})`), { code: "EHELPER" }));
      onDeath(this);
    });
    this.idle();
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Runs one command; false when the request cannot be sent (the caller spawns directly). */
  run(req: SpawnRequest, handlers: SpawnHandlers): boolean {
    const bytes = encodeRequest(req);
    if (bytes === undefined || this.dead || this.current !== undefined) return false;
    this.current = handlers;
    this.busy();
    this.proc.stdin?.write(bytes);
    return true;
  }

  /** Ends the helper (the caller gave up on its run: after a cancel's grace period, output still held open). */
  kill(): void {
    this.dead = true;
    this.current = undefined;
    try {
      this.proc.kill("SIGKILL");
    } catch {
      // Gone already.
    }
  }

  private die(e: NodeJS.ErrnoException): void {
    this.dead = true;
    const h = this.current;
    this.current = undefined;
    h?.failed(e, true);
    this.idle();
  }

  // A helper waiting for work must not keep `pipe` alive; one running a command must.
  private busy(): void {
    this.proc.ref();
    (this.proc.stdout as { ref?: () => void } | null)?.ref?.();
  }
  private idle(): void {
    this.proc.unref();
    (this.proc.stdout as { unref?: () => void } | null)?.unref?.();
    (this.proc.stdin as { unref?: () => void } | null)?.unref?.();
  }

  private receive(chunk: Buffer): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length > 0) {
      if (this.need !== undefined) {
        const take = Math.min(this.need.left, buf.length);
        const stream = this.need.stream;
        this.need.left -= take;
        if (this.need.left === 0) this.need = undefined;
        this.current?.data(stream, buf.subarray(0, take));
        buf = buf.subarray(take);
        continue;
      }
      const nl = buf.indexOf(10);
      if (nl < 0) break;
      const line = buf.toString("latin1", 0, nl);
      buf = buf.subarray(nl + 1);
      const n = Number(line.slice(2));
      this.frame(line[0] ?? "", n);
    }
    this.pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  }

  private frame(type: string, n: number): void {
    const h = this.current;
    switch (type) {
      case "O":
      case "E":
        if (n > 0) this.need = { stream: type === "O" ? "stdout" : "stderr", left: n };
        return;
      case "P":
        h?.started(n);
        return;
      case "X":
        h?.exited(n, null);
        return;
      case "S":
        h?.exited(null, signalNames.get(n) ?? "SIGKILL");
        return;
      case "F":
      case "C":
        this.current = undefined;
        this.idle();
        if (type === "F") h?.failed(errnoError(n, "spawn sh"), false);
        else h?.closed();
        return;
    }
  }
}

let perlPath: string | null | undefined;

/** Perl on the PATH, found once; null where there is none. */
function findPerl(): string | null {
  if (perlPath !== undefined) return perlPath;
  perlPath = null;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const p = path.join(dir, "perl");
    try {
      accessSync(p, fsConstants.X_OK);
      perlPath = p;
      break;
    } catch {
      // Not here.
    }
  }
  return perlPath;
}

/** The idle helpers of this process, shared by every local executor in it. */
export class SpawnerPool {
  private readonly idleOnes: Spawner[] = [];
  private readonly all = new Set<Spawner>();
  private off = false;

  /** `perl`: the interpreter to use (default: the one on the PATH). */
  constructor(private readonly perl?: string) {}

  /** A helper for one run, or undefined when helpers cannot be had (spawn directly). */
  acquire(): Spawner | undefined {
    if (this.off) return undefined;
    for (let s = this.idleOnes.pop(); s !== undefined; s = this.idleOnes.pop()) if (!s.dead) return s;
    const perl = this.perl ?? findPerl();
    if (perl === null) {
      this.off = true;
      return undefined;
    }
    let s: Spawner;
    try {
      s = new Spawner(perl, (dead) => {
        this.all.delete(dead);
        if (dead.unavailable) this.off = true;
      });
    } catch {
      // The machine refused a new process now (EAGAIN, EMFILE): the direct spawn reports it as the stage's outcome.
      return undefined;
    }
    this.all.add(s);
    return s;
  }

  release(s: Spawner): void {
    if (!s.dead) this.idleOnes.push(s);
  }

  /** Ends every helper (on the way out). */
  killAll(): void {
    for (const s of this.all) s.kill();
  }
}

let shared: SpawnerPool | undefined;

export function sharedPool(): SpawnerPool {
  if (shared === undefined) {
    shared = new SpawnerPool();
    const pool = shared;
    process.on("exit", () => pool.killAll());
  }
  return shared;
}
