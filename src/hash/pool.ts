/**
 * Hashing many files on every core. The main thread reads files through the thread pool but digests them itself,
 * so a cold hash of a directory of many large files runs on one core. For such a directory the hasher hands the
 * files to this pool of worker threads, each of which reads (synchronous reads into one reused buffer: it has
 * nothing else to do) and digests whole files.
 *
 * Only for xxh64 and md5: DVC 2's `legacy-md5` (md5 of dos2unix'd text chunks) stays on the main thread, where its
 * one implementation lives. The workers are made on first use, kept for the life of the process (`unref`: they
 * never keep it alive). A directory's whole file list goes to every worker at once with a shared counter: each
 * worker claims the next file with an atomic add and posts its results back in batches, without waiting for an
 * answer (a single large file goes to one worker alone). So the main thread is never on the workers' critical path: on a loaded machine a round trip per batch
 * (wake the main thread, wait for it to be scheduled, hand out the next batch) cost more than the hashing. The
 * worker is a short CommonJS script evaluated from a string, so it runs the same from `dist/` and from the sources
 * under test; it loads `xxhash-wasm` by the path this module resolves.
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

export interface PoolJob {
  abs: string;
  algo: "xxh64" | "md5";
}

/** A file's hash; a read error; or `lost`: the worker died (the caller hashes the file itself). */
export type PoolResult = { hash: string; bytes: number } | { error: string } | { lost: true };

/** Worker -> main: results for some files (`[index, result]`), bytes read since the last report, and whether this
 * worker has claimed its last file of the run. */
interface Report {
  id: number;
  results: [number, PoolResult][];
  read: number;
  done: boolean;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { CHUNK, REPORT_FILES, REPORT_BYTES } = workerData;
const buf = Buffer.allocUnsafe(CHUNK);
let api;
const ready = require(workerData.xxhash)().then((a) => { api = a; });
let id = 0;
let results = [];
let read = 0;
function report(done) {
  parentPort.postMessage({ id, results, read, done });
  results = [];
  read = 0;
}
function hashOne(abs, algo) {
  // node:crypto is loaded on the first md5 only: it costs a worker's start-up as much as the rest of it.
  const h = algo === "xxh64" ? api.create64() : require("node:crypto").createHash("md5");
  const fd = fs.openSync(abs, "r");
  let bytes = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      h.update(n === CHUNK ? buf : buf.subarray(0, n));
      bytes += n;
      read += n;
      if (read >= REPORT_BYTES) report(false);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { hash: algo === "xxh64" ? h.digest().toString(16).padStart(16, "0") : h.digest("hex"), bytes };
}
parentPort.on("message", async (m) => {
  await ready;
  id = m.id;
  const { jobs } = m;
  const next = new Int32Array(m.counter);
  for (;;) {
    const i = Atomics.add(next, 0, 1);
    if (i >= jobs.length) break;
    const { abs, algo } = jobs[i];
    let r;
    try {
      r = hashOne(abs, algo);
    } catch (e) {
      r = { error: (e && e.message) || String(e) };
    }
    results.push([i, r]);
    if (results.length >= REPORT_FILES) report(false);
  }
  report(true);
});
`;

/**
 * Read size in the workers. Small on purpose: the buffer (and its copy in the wasm digest's memory) stays in the
 * core's cache, so the kernel's copy out of the page cache and the digest both run at cache speed. Measured on a
 * 2-core VM, 1 GiB of 1 MiB files: 128 KiB reads cost about 0.1 s of system time, 1 MiB or 4 MiB reads about
 * 0.42 s, more than the digest itself.
 */
const CHUNK = 128 << 10;

/**
 * A worker reports after this many files or bytes: often enough for progress and for the caller to get on with its
 * share of the results, rarely enough that messages cost nothing next to the reads.
 */
const REPORT_FILES = 32;
const REPORT_BYTES = 64 << 20;

interface Run {
  jobs: number;
  onResult: (index: number, r: PoolResult) => void;
  onRead: ((bytes: number) => void) | undefined;
  answered: Uint8Array;
  /** Workers not done with this run. */
  working: Set<Worker>;
  finish: () => void;
}

class HashPool {
  private readonly workers: Worker[] = [];
  /** Runs in progress by id. Several may be (a stage's large deps hashed at once): each worker takes them in turn. */
  private readonly runs = new Map<number, Run>();
  /** Runs each worker has yet to finish: it keeps the process alive while any. */
  private readonly owed = new Map<Worker, number>();
  /** A worker died: the pool takes no more work (the main thread does it). */
  broken = false;
  /** Files hashed on the workers in this process (tests check that the pool, not the main thread, did the work). */
  filesHashed = 0;
  private nextId = 0;

  constructor(size: number) {
    const xxhash = createRequire(import.meta.url).resolve("xxhash-wasm");
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { xxhash, CHUNK, REPORT_FILES, REPORT_BYTES } });
      w.on("message", (m: Report) => {
        const run = this.runs.get(m.id);
        if (!run) return;
        if (m.read > 0) run.onRead?.(m.read);
        for (const [index, r] of m.results) {
          run.answered[index] = 1;
          if (!("error" in r)) this.filesHashed++;
          run.onResult(index, r);
        }
        if (m.done) this.release(m.id, run, w);
      });
      const lost = (): void => {
        this.broken = true;
        // What this worker had claimed and not reported is answered as lost once the others are done (`release`).
        for (const [id, run] of [...this.runs]) this.release(id, run, w);
      };
      w.on("error", lost);
      w.on("exit", lost);
      // Idle workers never keep the process alive (a 'message' listener refs the worker, so this comes after it);
      // one that owes a run an answer does, or the process could end before it.
      w.unref();
      this.workers.push(w);
      this.owed.set(w, 0);
    }
  }

  private release(id: number, run: Run, w: Worker): void {
    if (!run.working.delete(w)) return;
    const owed = (this.owed.get(w) ?? 1) - 1;
    this.owed.set(w, owed);
    if (owed === 0) w.unref();
    if (run.working.size > 0) return;
    this.runs.delete(id);
    for (let i = 0; i < run.jobs; i++) if (run.answered[i] === 0) run.onResult(i, { lost: true });
    run.finish();
  }

  /**
   * Hashes every job, `onResult` called once per file as the workers report, `onRead` with the bytes read since its
   * last call (progress, also in the middle of a large file).
   */
  hashAll(jobs: readonly PoolJob[], onResult: (index: number, r: PoolResult) => void, onRead?: (bytes: number) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.broken || jobs.length === 0) {
        for (let i = 0; i < jobs.length; i++) onResult(i, { lost: true });
        resolve();
        return;
      }
      const id = this.nextId++;
      const run: Run = { jobs: jobs.length, onResult, onRead, answered: new Uint8Array(jobs.length), working: new Set(), finish: resolve };
      this.runs.set(id, run);
      const counter = new SharedArrayBuffer(4);
      // One file needs one worker; the others would only answer "done".
      for (const w of jobs.length === 1 ? [this.workers[id % this.workers.length]!] : this.workers) {
        run.working.add(w);
        this.owed.set(w, (this.owed.get(w) ?? 0) + 1);
        w.ref();
        w.postMessage({ id, jobs, counter });
      }
    });
  }
}

let pool: HashPool | undefined;

/** How many workers a pool gets: one per core, when there is more than one. */
export function poolSize(): number {
  return Math.min(availableParallelism(), 8);
}

/** Whether the pool's workers have been started in this process (starting them costs each a Node start-up). */
export function poolStarted(): boolean {
  return pool !== undefined && !pool.broken;
}

/** The process's pool, made on first use; `undefined` on a machine with one core (the main thread does it all). */
export function hashPool(): HashPool | undefined {
  if (poolSize() < 2) return undefined;
  pool ??= new HashPool(poolSize());
  return pool.broken ? undefined : pool;
}
