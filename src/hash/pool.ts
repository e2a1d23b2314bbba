/**
 * Hashing many files on every core. The main thread reads files through the thread pool but digests them itself,
 * so a cold hash of a directory of many large files runs on one core. For such a directory the hasher hands the
 * files to this pool of worker threads, each of which reads (synchronous reads: it has nothing else to do) and
 * digests whole files, and posts back `(hash, bytes)` per file.
 *
 * Only for xxh64 and md5: DVC 2's `legacy-md5` (md5 of dos2unix'd text chunks) stays on the main thread, where its
 * one implementation lives. The workers are made on first use, kept for the life of the process (`unref`: they
 * never keep it alive), and fed batches of files, so a message round trip is paid per batch, not per file. The
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

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const crypto = require("node:crypto");
const CHUNK = 4 << 20;
const buf = Buffer.allocUnsafe(CHUNK);
let api;
const ready = require(workerData.xxhash)().then((a) => { api = a; });
function hashOne(abs, algo) {
  const h = algo === "xxh64" ? api.create64() : crypto.createHash("md5");
  const fd = fs.openSync(abs, "r");
  let bytes = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      h.update(n === CHUNK ? buf : buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { hash: algo === "xxh64" ? h.digest().toString(16).padStart(16, "0") : h.digest("hex"), bytes };
}
parentPort.on("message", async ({ id, jobs }) => {
  await ready;
  const results = jobs.map(({ abs, algo }) => {
    try {
      return hashOne(abs, algo);
    } catch (e) {
      return { error: (e && e.message) || String(e) };
    }
  });
  parentPort.postMessage({ id, results });
});
`;

/** Files per message: large enough to amortise a round trip, small enough to keep both workers busy to the end. */
const BATCH = 16;

class HashPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<number, (r: PoolResult[]) => void>();
  /** The batch each busy worker holds: answered as lost if the worker dies. */
  private readonly inFlight = new Map<Worker, { id: number; count: number }>();
  /** A worker died: the pool takes no more work (the main thread does it). */
  broken = false;
  private nextId = 0;

  constructor(size: number) {
    const xxhash = createRequire(import.meta.url).resolve("xxhash-wasm");
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { xxhash } });
      w.on("message", (m: { id: number; results: PoolResult[] }) => {
        this.inFlight.delete(w);
        this.pending.get(m.id)?.(m.results);
        this.pending.delete(m.id);
      });
      const lost = (): void => {
        this.broken = true;
        const held = this.inFlight.get(w);
        this.inFlight.delete(w);
        if (held) {
          this.pending.get(held.id)?.(Array.from({ length: held.count }, () => ({ lost: true }) as const));
          this.pending.delete(held.id);
        }
        // Whoever waits for a worker gets none: `take` sees the pool broken.
        for (const wake of this.waiting.splice(0)) wake();
      };
      w.on("error", lost);
      w.on("exit", lost);
      // Idle workers never keep the process alive (a 'message' listener refs the worker, so this comes after it);
      // one with a batch in flight does (`run`), or the process could end before its answer.
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  private async take(): Promise<Worker | undefined> {
    for (;;) {
      if (this.broken) return undefined;
      const w = this.idle.pop();
      if (w) return w;
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  private async run(jobs: PoolJob[]): Promise<PoolResult[]> {
    const w = await this.take();
    if (!w) return jobs.map(() => ({ lost: true }));
    try {
      const id = this.nextId++;
      w.ref();
      return await new Promise<PoolResult[]>((resolve) => {
        this.pending.set(id, resolve);
        this.inFlight.set(w, { id, count: jobs.length });
        w.postMessage({ id, jobs });
      });
    } finally {
      w.unref();
      this.idle.push(w);
      this.waiting.shift()?.();
    }
  }

  /** Hashes every job, `onResult` called per file as its batch comes back. */
  async hashAll(jobs: readonly PoolJob[], onResult: (index: number, r: PoolResult) => void): Promise<void> {
    const batches: Promise<void>[] = [];
    for (let start = 0; start < jobs.length; start += BATCH) {
      const slice = jobs.slice(start, start + BATCH);
      batches.push(this.run(slice).then((rs) => rs.forEach((r, k) => onResult(start + k, r))));
    }
    await Promise.all(batches);
  }
}

let pool: HashPool | undefined;

/** How many workers a pool gets: one per core, when there is more than one. */
export function poolSize(): number {
  return Math.min(availableParallelism(), 8);
}

/** The process's pool, made on first use; `undefined` on a machine with one core (the main thread does it all). */
export function hashPool(): HashPool | undefined {
  if (poolSize() < 2) return undefined;
  pool ??= new HashPool(poolSize());
  return pool.broken ? undefined : pool;
}
