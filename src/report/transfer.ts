/**
 * The words of `push`, `fetch` and `pull`: progress while objects move, and the summary after.
 *
 * Progress goes to stderr. On a terminal it is one line rewritten in place (objects and bytes done of the total,
 * the rate, an ETA once the rate means something), at most ten times a second. Elsewhere (CI logs) it is a plain
 * line at least every 10 seconds while anything moves, so a long push never looks hung, and never one per object.
 * The summary (`12 files pushed, 1.2 GB, 3 already there`) goes to stdout; `--json` prints one document instead
 * (`schemas/transfer.schema.json`).
 */
import { formatBytes } from "../storage/gc.js";
import { keyString, type StoreFailure } from "../storage/object-store.js";
import type { TransferCounts, TransferEvent } from "../remotes/transfer.js";

export type Verb = "push" | "fetch" | "pull";

const PAST: Record<Verb, string> = { push: "pushed", fetch: "fetched", pull: "fetched" };
const ING: Record<Verb, string> = { push: "Pushing", fetch: "Fetching", pull: "Fetching" };

export interface ProgressIo {
  err(text: string): void;
  errIsTTY: boolean;
}

/** Renders transfer events as progress; `stop()` clears the live line and the timer. */
export class TransferProgress {
  private total = 0;
  private done = 0;
  private bytesTotal = 0;
  private bytes = 0;
  private readonly started: number;
  private lastDraw = 0;
  private drawn = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly verb: Verb,
    private readonly io: ProgressIo,
    private readonly quiet: boolean,
    private readonly now: () => number = Date.now,
    /** How often a plain progress line is printed off a terminal. */
    private readonly plainEveryMs = 10_000,
  ) {
    this.started = now();
    if (!quiet && !io.errIsTTY) {
      this.timer = setInterval(() => {
        if (this.total > this.done) this.io.err(this.line() + "\n");
      }, plainEveryMs);
      this.timer.unref();
    }
  }

  on(e: TransferEvent): void {
    switch (e.type) {
      case "checked":
        this.total += e.total - e.present;
        this.bytesTotal += e.bytes;
        break;
      case "transferred":
        this.done++;
        this.bytes += e.bytes;
        if (e.direction === "fetch") this.bytesTotal = Math.max(this.bytesTotal, this.bytes);
        break;
      case "missing":
      case "failed":
        this.done++;
        if (e.type === "failed") {
          this.clear();
          this.io.err(`error: ${failureText(e.failure)}\n`);
        }
        break;
    }
    this.draw();
  }

  private line(): string {
    const secs = Math.max(0.001, (this.now() - this.started) / 1000);
    const rate = this.bytes / secs;
    let s = `${ING[this.verb]}: ${this.done}/${this.total} objects`;
    if (this.bytesTotal > 0 && this.verb === "push") s += `, ${formatBytes(this.bytes)}/${formatBytes(this.bytesTotal)}`;
    else s += `, ${formatBytes(this.bytes)}`;
    s += `, ${formatBytes(Math.round(rate))}/s`;
    if (this.verb === "push" && rate > 0 && secs >= 1 && this.bytesTotal > this.bytes) {
      s += `, ETA ${formatDuration((this.bytesTotal - this.bytes) / rate)}`;
    } else if (this.verb !== "push" && this.done > 0 && secs >= 1 && this.total > this.done) {
      s += `, ETA ${formatDuration(((this.total - this.done) * secs) / this.done)}`;
    }
    return s;
  }

  private draw(): void {
    if (this.quiet || !this.io.errIsTTY) return;
    const t = this.now();
    if (t - this.lastDraw < 100 && this.done < this.total) return;
    this.lastDraw = t;
    this.io.err(`\r\x1b[2K${this.line()}`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.io.err("\r\x1b[2K");
    this.drawn = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }
}

export function formatDuration(secs: number): string {
  const s = Math.ceil(secs);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function failureText(f: StoreFailure): string {
  switch (f.reason) {
    case "missing":
      return `${keyString(f.key)} is missing`;
    case "corrupt":
      return `${keyString(f.key)} is corrupt (its bytes hash to ${f.actual}): left out`;
    case "read-only":
      return `${f.store} is read-only`;
    case "no-space":
      // The cache's label is a bare "cache": name where it is, and what to do (the rest of the transfer is kept).
      return `no space left on ${f.store === "cache" ? "the disk holding the cache (.pipe/cache)" : f.store}: free space there`;
    case "permission":
      return `permission denied by ${f.store}: ${f.detail}`;
    case "unreachable":
      return `${f.store} is unreachable: ${f.detail}`;
    case "auth":
      return `${f.store} refused the credentials: ${f.detail}`;
    case "other":
      return `${f.store}: ${f.detail}`;
  }
}

const plural = (n: number, one: string, many = one + "s"): string => `${n} ${n === 1 ? one : many}`;

/** The summary line: `12 files pushed, 1.2 GB, 3 already there`, or that nothing needed moving. */
export function summaryText(verb: Verb, c: TransferCounts): string {
  if (c.transferred === 0 && c.missing.length === 0 && c.failed.length === 0 && !c.fatal) {
    return c.present > 0 ? `Everything is up to date (${plural(c.present, "file")} already there).\n` : "Everything is up to date.\n";
  }
  // Stopped before anything moved: the error says it all.
  if (c.fatal && c.transferred === 0 && c.present === 0) return "";
  let s = `${plural(c.transferred, "file")} ${PAST[verb]}`;
  if (c.transferred > 0) s += `, ${formatBytes(c.bytes)}`;
  if (c.present > 0) s += `, ${c.present} already there`;
  if (c.failed.length > 0) s += `, ${c.failed.length} failed`;
  if (c.missing.length > 0) s += `, ${c.missing.length} missing`;
  return s + "\n";
}

/** What could not be moved, for stderr: missing objects (by output where known), failures, the fatal one. */
export function problemsText(verb: Verb, c: TransferCounts, named: ReadonlyMap<string, string>): string {
  let s = "";
  if (c.missing.length > 0) {
    const where = verb === "push" ? "in the cache (nothing to push: 'pipe repro' makes them)" : "on the remote (push them from where they were made: 'pipe push')";
    s += `${verb === "push" ? "warning" : "error"}: ${plural(c.missing.length, "object")} not found ${where}:\n`;
    for (const k of c.missing.slice(0, 20)) s += `  ${named.get(k.id) ?? keyString(k)}\n`;
    if (c.missing.length > 20) s += `  ... and ${c.missing.length - 20} more\n`;
  }
  if (c.fatal) s += `error: ${failureText(c.fatal)}; ${verb} stopped (running it again finishes it)\n`;
  return s;
}

/** `--json`: one document (schemas/transfer.schema.json). */
export function transferJson(verb: Verb, remotes: readonly string[], c: TransferCounts, checkout?: { restored: string[] }): string {
  const doc = {
    command: verb,
    remotes: [...remotes],
    transferred: c.transferred,
    bytes: c.bytes,
    present: c.present,
    missing: c.missing.map(keyString).sort(),
    failed: c.failed.map((f) => ({ object: keyString(f.key), reason: f.failure.reason, message: failureText(f.failure) })),
    ...(c.fatal ? { error: { reason: c.fatal.reason, message: failureText(c.fatal) } } : {}),
    ...(checkout ? { restored: checkout.restored } : {}),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}
