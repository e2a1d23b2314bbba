/**
 * `repro`'s writer of `pipe.lock`: one entry after every stage that succeeds (spec 3), without re-reading and
 * re-serialising the whole lock each time.
 *
 * `lock/write.ts`'s `writeLockEntry` reads the lock file, parses it, merges the entry and serialises everything, which
 * is right for one write but makes a run of n stages O(n^2) (on a 1,000-stage chain it was a third of `repro`'s
 * time). Here each stages-file directory's lock is read once, kept in memory with every entry's text already
 * serialised (`serializeLockEntry`) and encoded, and the file is rebuilt by concatenation: the bytes are exactly
 * `serializeLock`'s (same entry order: the pipeline's definition order, then entries of stages that no longer exist,
 * in their previous order). The caller holds the project write lock, so nobody else writes the file meanwhile.
 * Writes of one file are serialised (stages finish concurrently with `-j`), each atomic (temp file + rename).
 *
 * Writes are coalesced: a stage that finishes while a write of its file is in flight does not queue a write of its
 * own if one is already queued behind that write: it joins the queued one, which builds its text when it starts and
 * so carries every entry recorded until then. Each caller's promise still settles only once a write holding its
 * entry has been renamed into place, so an entry is on disk before the stage counts as done (before any dependent
 * stage starts, and before `repro` returns, failures and interrupts included: the scheduler waits for running
 * stages). Only the number of intermediate versions of the file changes; the final bytes do not.
 *
 * Each write runs on the main thread (`writePartsAtomicSync`): temp file, flush, rename. The asynchronous writer made
 * about ten thread-pool round trips of every stage's lock write, and on a loaded machine each one waits for a CPU (a
 * 200-stage chain traced at load average 20: ~40 round trips a stage in all, 10 of them the lock's). A kill -9 after
 * the rename finds the entry (the kernel has the file); a machine crash finds the old lock or the new one, whole,
 * because the temp file is flushed before the rename. Only the flush of the directory, which decides whether the
 * rename itself survives a machine crash, is coalesced: at most once a second (a timer catches the last rename of a
 * burst) and when the process exits, so a machine crash loses at most the entries of the last second, which the next
 * `repro` runs again.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { syncDirectorySync, writePartsAtomicSync } from "../core/atomic-write.js";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { envFailure } from "../core/env-error.js";
import { readLockIn } from "./read.js";
import type { LockEntry } from "./types.js";
import { serializeLockEntry, yamlString } from "./write.js";
import type { Pipeline, Stage } from "../core/model.js";

interface DirState {
  /** Entry text (with its name line), UTF-8 encoded once, by stage name, in the order of the existing file. */
  texts: Map<string, Buffer>;
  /** Names of the pipeline's stages in this directory, in definition order. */
  order: string[];
  /** Settles when the last write started or queued so far has finished. */
  queue: Promise<unknown>;
  /** A write queued behind the one in flight and not started yet: later entries join it. */
  pending: Promise<Result<void>> | undefined;
  /** The lock's directory is known to exist. */
  madeDir: boolean;
}

function entryText(name: string, e: LockEntry): Buffer {
  return Buffer.from(`  ${yamlString(name)}:\n${serializeLockEntry(e)}`, "utf8");
}

const HEADER = Buffer.from("schema: '2.0'\nstages:\n", "utf8");

/** How long a renamed lock may wait for its directory's flush. */
const DIR_SYNC_MS = 1000;
/** Directories with a rename not flushed yet, and when each was last flushed. */
const unsynced = new Set<string>();
const lastSynced = new Map<string, number>();
let flushTimer: NodeJS.Timeout | undefined;
let exitHook = false;

/** Flushes every directory with a lock renamed in it since its last flush (on exit too: it is synchronous). */
export function flushLockDirectories(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  for (const dir of unsynced) {
    try {
      syncDirectorySync(dir);
    } catch {
      // Only a machine crash's loss of the last rename depends on it; the lock file itself is whole either way.
    }
    lastSynced.set(dir, performance.now());
  }
  unsynced.clear();
}

function renamedIn(dir: string): void {
  const last = lastSynced.get(dir);
  if (last === undefined || performance.now() - last >= DIR_SYNC_MS) {
    syncDirectorySync(dir);
    lastSynced.set(dir, performance.now());
    unsynced.delete(dir);
    return;
  }
  unsynced.add(dir);
  if (!exitHook) {
    exitHook = true;
    process.on("exit", flushLockDirectories);
  }
  if (flushTimer === undefined) {
    flushTimer = setTimeout(flushLockDirectories, DIR_SYNC_MS);
    flushTimer.unref();
  }
}

/** The lock writer's default: durable but for the coalesced directory flush (see the module comment). */
async function writeLockFile(abs: string, parts: readonly Uint8Array[]): Promise<void> {
  writePartsAtomicSync(abs, parts, 0o666);
  renamedIn(path.dirname(abs));
  return Promise.resolve();
}

export class LockWriter {
  private readonly dirs = new Map<string, Promise<Result<DirState>>>();

  /** `writeAtomic` is replaceable for tests (counting writes); it must be atomic, as `writePartsAtomicSync` is. */
  constructor(
    private readonly pipeline: Pipeline,
    private readonly writeAtomic: (abs: string, parts: readonly Uint8Array[]) => Promise<void> = writeLockFile,
  ) {}

  private state(dir: string): Promise<Result<DirState>> {
    let p = this.dirs.get(dir);
    if (!p) {
      p = (async (): Promise<Result<DirState>> => {
        const lockRel = dir === "" ? "pipe.lock" : `${dir}/pipe.lock`;
        const cur = await readLockIn(this.pipeline.root, dir);
        if (!cur.ok) return fail([error("lock", `not writing ${lockRel}: the existing lock file is damaged`), ...cur.errors]);
        const texts = new Map<string, Buffer>();
        for (const [name, e] of cur.value?.stages ?? []) texts.set(name, entryText(name, e));
        const order: string[] = [];
        const seen = new Set<string>();
        for (const s of this.pipeline.stages) {
          if (s.dir === dir && !seen.has(s.name)) {
            seen.add(s.name);
            order.push(s.name);
          }
        }
        return ok({ texts, order, queue: Promise.resolve(), pending: undefined, madeDir: false });
      })();
      this.dirs.set(dir, p);
    }
    return p;
  }

  /** Records `entry` for `stage` in the `pipe.lock` beside its stages file. */
  async write(stage: Stage, entry: LockEntry): Promise<Result<void>> {
    // A `.dvc` file is its own record (one entry: no coalescing to do).
    if (stage.dataSource) return (await import("./dvc-file.js")).writeDvcFile(this.pipeline.root, stage, entry);
    const st = await this.state(stage.dir);
    if (!st.ok) return st;
    const s = st.value;
    s.texts.set(stage.name, entryText(stage.name, entry));
    if (s.pending) return s.pending;
    const lockRel = stage.dir === "" ? "pipe.lock" : `${stage.dir}/pipe.lock`;
    const abs = path.join(this.pipeline.root, lockRel);
    const job = async (): Promise<Result<void>> => {
      // From here on this write's text is fixed: a later entry needs a write of its own.
      s.pending = undefined;
      // Encoded parts written with writev, not one string: joining and encoding a 1,000-entry lock again after every
      // stage cost ~4 ms a stage (measured: 4.0 s against 0.6 s over 1,000 writes of an 800 KB lock).
      const parts: Buffer[] = [HEADER];
      const done = new Set<string>();
      for (const name of s.order) {
        const t = s.texts.get(name);
        if (t === undefined) continue;
        done.add(name);
        parts.push(t);
      }
      for (const [name, t] of s.texts) if (!done.has(name)) parts.push(t);
      try {
        if (!s.madeDir) mkdirSync(path.dirname(abs), { recursive: true });
        s.madeDir = true;
        await this.writeAtomic(abs, parts);
      } catch (e) {
        // A full disk or a read-only project: the old lock file is untouched (the write went to a temp file).
      return envFailure(e, { doing: `writing ${lockRel}`, root: this.pipeline.root, path: abs }) ?? fail([error("io", `cannot write ${lockRel}: ${e instanceof Error ? e.message : String(e)}`)]);
      }
      return ok(undefined);
    };
    const next = s.queue.then(job, job);
    s.pending = next;
    s.queue = next.catch(() => undefined);
    return next;
  }
}
