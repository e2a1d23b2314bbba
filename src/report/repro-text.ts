/**
 * The human reporter of `repro` (and `checkout`/`commit`): renders execution events as text.
 *
 * Where things go (spec 5: human output on stdout, diagnostics and progress on stderr):
 * - stdout: one line per stage as it starts, finishes, is restored or is up to date; the command line; the stage's
 *   own stdout (prefixed `[stage] ` when several stages may run at once); the summary;
 * - stderr: the stage's own stderr (same prefix), failure blocks (name, exit code, last lines of output), warnings,
 *   and, only when stderr is a terminal, a live status line `[3/7] running: train, evaluate  00:42` that is cleared
 *   before any other line is written and redrawn after it.
 *
 * A stage's unfinished line (a progress bar redrawn with `\r`) is not held back until its newline. When one stage
 * runs at a time (no prefix), its bytes are written through as they come, and the status line stays away while such
 * a line is open (redrawing it would erase the bar). When several run at once, each stage's latest `\r`-segment is
 * shown on the status line on a TTY, and elsewhere (CI logs) as a plain prefixed line at most every 10 s per stage.
 *
 * `-q` keeps only failures, warnings and the interrupt notice.
 */
import { AT_ROOT, type Where } from "../project/where.js";
import type { Colors } from "./colors.js";
import { unreachable } from "../core/unreachable.js";
import type { ReproEvent, StageFailureFacts } from "../exec/events.js";
import { reasonsText } from "./repro-reasons.js";
import { diagnosticsText, warningText } from "./repro-warnings.js";

export interface ReproTextOptions {
  out(text: string): void;
  err(text: string): void;
  /** Draw the live status line on stderr (stderr is a TTY and not quiet). */
  statusLine: boolean;
  /** Prefix stage output with `[stage] ` (jobs > 1). */
  prefix: boolean;
  quiet: boolean;
  verbose: boolean;
  colors: Colors;
  /** Terminal width for the status line. */
  columns?: number;
  /** Clock, injectable for tests (ms). */
  now?: () => number;
  /** Redraw period of the status line; 0 disables the timer (tests). */
  tickMs?: number;
  /** How stage addresses are shown (default: from the root; see `project/where.ts`). */
  where?: Where;
}

export interface Reporter {
  handle(e: ReproEvent): void;
  /** Stops the timer and clears the status line. */
  close(): void;
}

/** `0.4s`, `12.3s`, `2m03s`, `1h02m`. */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  return `${m}m${String(sec).padStart(2, "0")}s`;
}

/** `00:42`, `12:03`, `1:02:03`. */
export function formatClock(ms: number): string {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** `> first line`, then the further lines of a multi-line command indented. */
function cmdLines(cmd: string): string[] {
  return cmd
    .replace(/\n+$/, "")
    .split("\n")
    .map((l, i) => (i === 0 ? `> ${l}` : `  ${l}`));
}

/** What follows `error:` for a failed stage (when it has no located diagnostics). */
export function failureText(f: StageFailureFacts & { stage: string }, where: Where = AT_ROOT): string {
  switch (f.reason) {
    case "command": {
      const what =
        f.limit !== undefined
          ? `was stopped at its ${f.limit.limit} limit (${f.limit.detail})`
          : f.signal !== null
            ? `was killed by ${f.signal}`
            : `failed with exit code ${f.exitCode}`;
      return `'${where.address(f.stage)}' ${what}${f.command !== undefined ? ` (command: ${f.command})` : ""}`;
    }
    case "spawn":
      return `'${where.address(f.stage)}' could not start: ${f.error}`;
    case "environment":
      if ("start" in f) return `'${where.address(f.stage)}' could not start: ${f.error}`;
      return diagnosticsText(f.diagnostics, f.aboutStage ? f.stage : undefined);
    case "missing-output":
    case "missing-dep":
    case "io":
      return diagnosticsText(f.diagnostics, f.aboutStage ? f.stage : undefined);
    default:
      return unreachable(f);
  }
}

/** `950 B`, `12.3 MB`, `1.2 GB` (powers of 1000, as disks and networks count). */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** `hashing 1.2 GB of 3.4 GB, 250 MB/s, 9s left`. */
export function hashingText(e: { bytesDone: number; bytesTotal: number; bytesPerSecond: number; secondsLeft?: number }): string {
  const left = e.secondsLeft === undefined ? "" : `, ${formatDuration(e.secondsLeft * 1000).replace(/\.0s$/, "s")} left`;
  return `hashing ${formatBytes(e.bytesDone)} of ${formatBytes(e.bytesTotal)}, ${formatBytes(e.bytesPerSecond)}/s${left}`;
}

/** Without a terminal, a stage's progress bar (several stages at once) is printed as a line at most this often. */
const PROGRESS_LINE_MS = 10_000;

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function createReproTextReporter(o: ReproTextOptions): Reporter {
  const c = o.colors;
  const where = o.where ?? AT_ROOT;
  const shownAs = (a: string): string => where.address(a);
  const now = o.now ?? (() => performance.now());
  const startedAt = now();
  /** Stages submitted as cluster jobs and not started yet: the `-v` reasons their `Running` line will carry. */
  const jobWhy = new Map<string, string>();
  let status: { running: readonly string[]; finished: number; total: number } | undefined;
  let shown = false;
  let timer: NodeJS.Timeout | undefined;
  /** Passed-through unfinished lines (no prefix): `stage\0stream` -> what of the line is on the terminal already. */
  const open = new Map<string, string>();
  /** With prefixes: each stage's latest progress segment, and when it was last printed as a line (not on a TTY). */
  const latest = new Map<string, string>();
  const printedAt = new Map<string, number>();
  /** A large hashing batch in progress: its words for the status line; when its last line was printed (no TTY). */
  let hashing: string | undefined;
  let hashingPrintedAt = -Infinity;

  const clearStatus = (): void => {
    if (shown) {
      o.err("\r\x1b[K");
      shown = false;
    }
  };
  const drawStatus = (): void => {
    if (!o.statusLine || !status || status.running.length === 0 || open.size > 0) return;
    // Cluster jobs submitted and not started yet are counted apart: they wait in the scheduler's queue.
    const running = status.running.filter((r) => !jobWhy.has(r));
    const waiting = status.running.length - running.length;
    const head = `[${status.finished}/${status.total}]${waiting > 0 ? ` ${waiting} queued,` : ""} running: `;
    const tail = `  ${hashing !== undefined ? `${hashing}  ` : ""}${formatClock(now() - startedAt)}`;
    let names = running.map((r) => (latest.has(r) ? `${shownAs(r)} (${latest.get(r)})` : shownAs(r))).join(", ");
    const width = (o.columns ?? 80) - 1;
    if (head.length + names.length + tail.length > width) {
      names = names.slice(0, Math.max(0, width - head.length - tail.length - 1)) + "…";
    }
    o.err(`\r\x1b[K${head}${names}${tail}`);
    shown = true;
  };
  /** Every write goes through here so the status line never gets mixed into other output. */
  const write = (to: "out" | "err", text: string): void => {
    clearStatus();
    o[to](text);
    drawStatus();
  };
  const line = (to: "out" | "err", text: string): void => write(to, text + "\n");
  const say = (text: string): void => {
    if (!o.quiet) line("out", text);
  };
  const name = (s: string): string => `'${c.bold(shownAs(s))}'`;
  const pfx = (stage: string): string => (o.prefix ? `[${shownAs(stage)}] ` : "");

  if (o.statusLine && (o.tickMs ?? 1000) > 0) {
    timer = setInterval(() => {
      if (shown || (status && status.running.length > 0)) drawStatus();
    }, o.tickMs ?? 1000);
    timer.unref();
  }

  /**
   * A stage's last event comes before the scheduler's next progress report: take the stage off the status line now,
   * or the line redrawn after `'s' finished` would still say `running: s`.
   */
  /** `--dry` (from the plan): what is said is what would be done. */
  let dry = false;
  const settle = (stage: string): void => {
    if (!status || !status.running.includes(stage)) return;
    status = { running: status.running.filter((r) => r !== stage), finished: Math.min(status.total, status.finished + 1), total: status.total };
  };

  return {
    handle(e: ReproEvent): void {
      if (e.type === "stage-finished" || e.type === "stage-restored" || e.type === "stage-skipped" || e.type === "stage-failed") {
        settle(e.stage);
        latest.delete(e.stage);
        // A stage stopped in the middle of a line (killed, or its output cut): end the line it left open.
        for (const stream of ["stdout", "stderr"] as const) {
          if (open.delete(`${e.stage}\0${stream}`)) write(stream === "stdout" ? "out" : "err", "\n");
        }
      }
      switch (e.type) {
        case "plan":
          dry = e.dry;
          status = { running: [], finished: 0, total: e.stages.length };
          return;
        case "stage-start": {
          const why = o.verbose && e.reasons.length ? c.dim(` (${reasonsText(e.reasons, where).join("; ")})`) : "";
          // A cluster job runs when the scheduler starts it, not when it is submitted: `Running` waits for that.
          if (e.job === true) jobWhy.set(e.stage, why);
          else say(`Running ${name(e.stage)}` + why);
          return;
        }
        case "stage-command":
          // Printed as each command starts (as DVC does), not all at once: the lines of a list `cmd` after a
          // failing item never ran and never show.
          for (const l of cmdLines(e.cmd)) say(pfx(e.stage) + c.dim(l));
          return;
        case "stage-job":
          switch (e.state) {
            case "queued":
              return say(`Submitted ${name(e.stage)} as job ${e.job}`);
            case "running": {
              const why = jobWhy.get(e.stage) ?? "";
              jobWhy.delete(e.stage);
              return say(`Running ${name(e.stage)} (job ${e.job})` + why);
            }
            case "attached":
              return say(`Following ${name(e.stage)}: job ${e.job}, left in flight by an earlier run`);
            default:
              return unreachable(e.state);
          }
        case "stage-output": {
          if (o.quiet) return;
          const to = e.stream === "stdout" ? "out" : "err";
          latest.delete(e.stage);
          const key = `${e.stage}\0${e.stream}`;
          const shownPart = open.get(key);
          if (shownPart === undefined) return line(to, pfx(e.stage) + e.line);
          open.delete(key);
          // The start of the line is on the terminal already: write the rest. (A line that ended in `\r\n` comes
          // without its `\r`, which was written.)
          if (e.line.startsWith(shownPart)) return write(to, e.line.slice(shownPart.length) + "\n");
          if (shownPart === e.line + "\r") return write(to, "\n");
          return write(to, "\n" + e.line + "\n");
        }
        case "stage-output-partial": {
          if (o.quiet) return;
          const to = e.stream === "stdout" ? "out" : "err";
          if (!o.prefix) {
            const key = `${e.stage}\0${e.stream}`;
            const shownPart = open.get(key) ?? "";
            const text = e.text.startsWith(shownPart) ? e.text.slice(shownPart.length) : e.text;
            clearStatus();
            open.set(key, e.text);
            o[to](text);
            return;
          }
          const segment = e.text.split("\r").filter((p) => p.trim() !== "").pop()?.trim();
          if (segment === undefined) return;
          latest.set(e.stage, segment);
          if (o.statusLine) return drawStatus();
          const t = now();
          if (t - (printedAt.get(e.stage) ?? -Infinity) < PROGRESS_LINE_MS) return;
          printedAt.set(e.stage, t);
          return line(to, pfx(e.stage) + segment);
        }
        case "stage-finished":
          say(`${name(e.stage)} finished in ${formatDuration(e.durationMs)}`);
          return;
        case "stage-restored":
          say(`Restored ${name(e.stage)} from ${e.from}`);
          return;
        case "stage-skipped":
          switch (e.reason) {
            case "frozen":
              return say(`${name(e.stage)} is frozen, not run`);
            case "up-to-date":
              return say(`${name(e.stage)} is up to date`);
            case "data-recorded":
              return say(dry ? `Would record the changed data of ${name(e.stage)}` : `Recorded the changed data of ${name(e.stage)}`);
            default:
              return unreachable(e);
          }
        case "stage-failed": {
          const err = c.red(c.bold("error:"));
          const located = "diagnostics" in e && e.located ? e.diagnostics : undefined;
          const block = located
            ? located.map((d) => (d.location ? `${d.location.file}:${d.location.line}:${d.location.col}: ${err} ${d.message}` : `${err} ${d.message}`))
            : [`${err} ${failureText(e, where)}`];
          if (e.reason === "command" && e.tail.length > 0) {
            block.push(`  last ${plural(e.tail.length, "line", "lines")} of output:`);
            for (const l of e.tail) block.push(`  | ${l}`);
          }
          line("err", block.join("\n"));
          return;
        }
        case "stage-not-run":
          switch (e.because) {
            case "upstream-failed":
              return say(`${name(e.stage)} not run: upstream ${e.upstream !== undefined ? `'${shownAs(e.upstream)}' ` : ""}failed`);
            case "stopped":
              // The failure or the interrupt that stopped the run says so; the summary counts these.
              return;
            default:
              return unreachable(e.because);
          }
        case "stage-would-run":
          say(`Would run ${name(e.stage)}` + (e.reasons.length ? `: ${reasonsText(e.reasons, where).join("; ")}` : ""));
          return;
        case "stage-would-restore":
          say(`Would restore ${name(e.stage)} from ${e.from}`);
          return;
        case "progress":
          status = { running: e.running, finished: e.finished, total: e.total };
          if (e.running.length === 0) clearStatus();
          else drawStatus();
          return;
        case "hash-progress": {
          if (o.quiet) return;
          if (o.statusLine) {
            hashing = e.done ? undefined : hashingText(e);
            return drawStatus();
          }
          const t = now();
          if (e.done || t - hashingPrintedAt < PROGRESS_LINE_MS) return;
          hashingPrintedAt = t;
          return line("err", hashingText(e));
        }
        case "warning":
          line("err", `${c.yellow("warning:")} ${warningText(e.warning)}`);
          return;
        case "interrupted":
          line("err", "Interrupted: running stages were terminated; nothing was recorded for them.");
          return;
        case "run-summary": {
          if (o.quiet) return;
          clearStatus();
          if (e.dry) {
            const parts = [`${e.ran} would run`, `${e.restored} would be restored`, `${e.upToDate} up to date`];
            if (e.notRun > 0) parts.push(`${e.notRun} not run`);
            line("out", `Dry run: ${parts.join(", ")}; nothing was changed.`);
            return;
          }
          if (e.ran === 0 && e.restored === 0 && e.failed === 0 && e.notRun === 0) {
            line("out", e.upToDate === 0 ? "No stages to run." : "Pipeline is up to date.");
            return;
          }
          const parts = [`${e.ran} ran`, `${e.restored} restored`, `${e.upToDate} up to date`, `${e.failed} failed`];
          if (e.notRun > 0) parts.push(`${e.notRun} not run`);
          line("out", `Summary: ${parts.join(", ")} (${formatDuration(e.durationMs)})`);
          return;
        }
        default:
          return unreachable(e);
      }
    },
    close(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
      clearStatus();
    },
  };
}
