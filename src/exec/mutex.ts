/**
 * The project write lock (spec 5, 6): only one writer (`repro`, `checkout`, `commit`, `gc`) at a time per project;
 * readers never take it.
 *
 * The lock is the file `.pipe/tmp/write.lock` holding `{pid, startTime, host, command}`. It is created complete and
 * atomically: the content goes to a temp file, which is then hard-linked to the lock name (`link` fails if the name
 * exists, so exactly one process wins and no one ever reads a half-written lock). A lock whose holder is a dead
 * process on this host is stale and taken over: it is renamed away to a unique name, re-read to make sure it is still
 * the stale one we judged (another process may have taken it over in between), and the acquisition is retried.
 * A lock from another host (shared file system) cannot be judged and is respected.
 *
 * A second writer fails at once by default, naming the holder; `waitMs` makes it poll instead.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { link, mkdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { errnoOf } from "../storage/fs.js";
import { envFailure } from "../core/env-error.js";

export const WRITE_LOCK = ".pipe/tmp/write.lock";

export interface LockHolder {
  pid: number;
  /** ISO 8601. */
  startTime: string;
  host: string;
  command: string;
}

export interface WriteLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): Promise<void>;
  /** Synchronous release, for `process.on("exit")`. */
  releaseSync(): void;
}

export interface AcquireOptions {
  command?: string;
  /** Poll for up to this long while another live process holds the lock (default 0: fail at once). */
  waitMs?: number;
  pollMs?: number;
  /** Is `pid` alive on this host? (injected by tests) */
  isAlive?: (pid: number) => boolean;
  hostname?: string;
  pid?: number;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return errnoOf(e) === "EPERM";
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockHolder>;
    if (typeof o.pid === "number" && typeof o.startTime === "string" && typeof o.host === "string") {
      return { pid: o.pid, startTime: o.startTime, host: o.host, command: typeof o.command === "string" ? o.command : "pipe" };
    }
  } catch {
    // fall through
  }
  return undefined;
}

async function readHolder(p: string): Promise<{ text: string; holder: LockHolder | undefined } | undefined> {
  try {
    const text = await readFile(p, "utf8");
    return { text, holder: parseHolder(text) };
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return undefined;
    throw e;
  }
}

export function describeHolder(h: LockHolder): string {
  return `${h.command} (pid ${h.pid} on ${h.host}, started ${h.startTime})`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function acquireWriteLock(root: string, opts: AcquireOptions = {}): Promise<Result<WriteLock>> {
  const lockPath = path.join(root, WRITE_LOCK);
  const host = opts.hostname ?? os.hostname();
  const isAlive = opts.isAlive ?? processAlive;
  const holder: LockHolder = {
    pid: opts.pid ?? process.pid,
    startTime: new Date().toISOString(),
    host,
    command: opts.command ?? "pipe",
  };
  const text = JSON.stringify(holder) + "\n";
  const token = randomBytes(6).toString("hex");
  const tmp = `${lockPath}.${token}.tmp`;
  try {
    await mkdir(path.dirname(lockPath), { recursive: true });
    await writeFile(tmp, text, { mode: 0o644 });
  } catch (e) {
    // A full disk (or a read-only project) stops a writer before it starts: said as such, no temp file left.
    await unlink(tmp).catch(() => undefined);
    const f = envFailure<WriteLock>(e, { doing: `taking the project write lock`, root, path: tmp });
    if (f) return f;
    throw e;
  }
  const deadline = Date.now() + (opts.waitMs ?? 0);
  try {
    for (;;) {
      try {
        await link(tmp, lockPath);
        return ok(makeLock(lockPath, holder, text));
      } catch (e) {
        if (errnoOf(e) !== "EEXIST") throw e;
      }
      const cur = await readHolder(lockPath);
      if (cur === undefined) continue; // released in between: try again
      const h = cur.holder;
      const stale = h === undefined ? await unreadableIsStale(lockPath) : h.host === host && !isAlive(h.pid);
      if (stale) {
        await takeOver(lockPath, cur.text);
        continue;
      }
      if (Date.now() >= deadline) {
        const who = h ? describeHolder(h) : "another pipe process";
        return fail([
          error("project", `another pipe process is writing this project: ${who}`, undefined, {
            hint: `wait for it to finish; if it is gone, remove ${WRITE_LOCK}`,
          }),
        ]);
      }
      await sleep(opts.pollMs ?? 200);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** A lock file we cannot parse was written by something else or truncated; after a minute it counts as stale. */
async function unreadableIsStale(p: string): Promise<boolean> {
  try {
    const { mtimeMs } = await stat(p);
    return Date.now() - mtimeMs > 60_000;
  } catch {
    return false;
  }
}

async function takeOver(lockPath: string, staleText: string): Promise<void> {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await rename(lockPath, aside);
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return;
    throw e;
  }
  const moved = await readFile(aside, "utf8").catch(() => undefined);
  if (moved !== undefined && moved !== staleText) {
    // Someone took it over between our read and our rename: put their live lock back.
    await link(aside, lockPath).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

function makeLock(lockPath: string, holder: LockHolder, text: string): WriteLock {
  let released = false;
  const onExit = (): void => lock.releaseSync();
  const lock: WriteLock = {
    path: lockPath,
    holder,
    async release() {
      if (released) return;
      released = true;
      process.removeListener("exit", onExit);
      const cur = await readFile(lockPath, "utf8").catch(() => undefined);
      if (cur === text) await unlink(lockPath).catch(() => undefined);
    },
    releaseSync() {
      if (released) return;
      released = true;
      process.removeListener("exit", onExit);
      try {
        if (readFileSync(lockPath, "utf8") === text) unlinkSync(lockPath);
      } catch {
        // Gone already.
      }
    },
  };
  process.on("exit", onExit);
  return lock;
}

