/**
 * The file-system facts hashing needs, behind one small interface: stat (following symlinks), list a directory, and
 * stream a file's bytes in fixed-size chunks. The real implementation is `nodeHashFs`; tests wrap it to count the
 * bytes read (a no-op `status` must read none) or replace it entirely.
 *
 * Metadata calls are synchronous on purpose: a no-op status is tens of thousands of stats, and the synchronous calls
 * avoid a thread-pool round trip per file. Content is read asynchronously, one chunk at a time, so a large file never
 * sits in memory and a running `repro` keeps streaming its children's output while it hashes.
 *
 * Large files are double-buffered: the read of chunk n+1 is issued (on libuv's thread pool) before chunk n is handed
 * to the caller, which hashes it on the main thread meanwhile. Reading a warm file and hashing it with xxh64 cost
 * the same order of time, so overlapping them makes the time ~max(read, hash) instead of their sum (md5 is slower
 * than reading, so it gains little). Two buffers per file, the second allocated only once the file is known to span
 * more than one chunk.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, type BigIntStats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

export type FsKind = "file" | "dir" | "other";

/**
 * The stat fields hashing compares. Bigints as `statSync(..., { bigint: true })` returns them (an inode may not fit a
 * double, and nanoseconds since the epoch do not): kept as they are, not turned into decimal strings, since a no-op
 * `status` of a 100,000-file directory does nothing per file but stat and compare.
 */
export interface FsStat {
  kind: FsKind;
  /** Device (symlink loop detection, with `ino`). */
  dev: bigint;
  ino: bigint;
  size: number;
  /** Modification time in nanoseconds since the epoch. */
  mtimeNs: bigint;
}

export interface FsDirEntry {
  name: string;
  /** `symlink` entries are resolved by the caller with `stat`. */
  type: FsKind | "symlink";
}

export interface HashFs {
  /** Follows symlinks. `undefined` when nothing is there (ENOENT, ENOTDIR, a dangling symlink). */
  stat(absPath: string): FsStat | undefined;
  readdir(absPath: string): FsDirEntry[];
  /**
   * The file's bytes in chunks of exactly `chunkSize` bytes, the last one shorter (md5-dos2unix, DVC 2's algorithm,
   * classifies each 1 MiB chunk separately, so chunk boundaries are part of the contract). The yielded buffer may be
   * overwritten as soon as the next chunk is requested (the real implementation reads ahead into a second buffer).
   */
  readChunks(absPath: string, chunkSize: number): AsyncIterable<Uint8Array>;
  /**
   * True when `readChunks` yields exactly the bytes the operating system has at that path, so a worker thread may
   * read the file itself instead (`pool.ts`). A wrapper that only watches stats passes its base's value on; one that
   * counts, fakes or alters content leaves it unset, and the hasher then reads everything through it.
   */
  readonly readsDisk?: boolean;
}

function kindOf(st: BigIntStats): FsKind {
  return st.isFile() ? "file" : st.isDirectory() ? "dir" : "other";
}

function errno(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

export const nodeHashFs: HashFs = {
  readsDisk: true,
  stat(absPath) {
    let st: BigIntStats | undefined;
    try {
      st = statSync(absPath, { bigint: true, throwIfNoEntry: false });
    } catch (e) {
      const code = errno(e);
      // A symlink loop or a path through a file is "nothing there" for hashing purposes, as for `ls`.
      if (code === "ENOTDIR" || code === "ELOOP" || code === "ENAMETOOLONG") return undefined;
      throw e;
    }
    if (!st) return undefined;
    return { kind: kindOf(st), dev: st.dev, ino: st.ino, size: Number(st.size), mtimeNs: st.mtimeNs };
  },
  readdir(absPath) {
    return readdirSync(absPath, { withFileTypes: true }).map((d) => ({
      name: d.name,
      type: d.isSymbolicLink() ? "symlink" : d.isFile() ? "file" : d.isDirectory() ? "dir" : "other",
    }));
  },
  readChunks(absPath, chunkSize) {
    if (chunkSize <= SMALL_READ) return smallChunks(absPath, chunkSize);
    return {
      async *[Symbol.asyncIterator]() {
        const fh = await open(absPath, "r");
        // The read in flight, if any: awaited before the handle closes, whatever way the consumer leaves the loop.
        let reading: Promise<number> | undefined;
        try {
          let cur: Buffer = Buffer.allocUnsafe(chunkSize);
          let spare: Buffer | undefined;
          reading = fillChunk(fh, cur, chunkSize);
          while (reading) {
            const filled = await reading;
            reading = undefined;
            if (filled === 0) return;
            let next: Buffer | undefined;
            if (filled === chunkSize) {
              // Start the next read into the other buffer before the caller hashes this one. The caller is done with
              // the buffer yielded before `cur` (it asked for the next chunk), so two buffers are enough.
              next = spare ?? Buffer.allocUnsafe(chunkSize);
              reading = fillChunk(fh, next, chunkSize);
              // Marks the promise handled: if the caller stops early, its rejection is awaited in `finally`, not lost.
              reading.catch(() => undefined);
            }
            yield cur.subarray(0, filled);
            if (!next) return;
            spare = cur;
            cur = next;
          }
        } finally {
          if (reading) await reading.catch(() => undefined);
          await fh.close();
        }
      },
    };
  },
};

/** Reads until `buf` holds `chunkSize` bytes or the file ends: fh.read may return short reads, and chunk boundaries
 * must be deterministic. Resolves to the number of bytes in `buf`. */
async function fillChunk(fh: FileHandle, buf: Buffer, chunkSize: number): Promise<number> {
  let filled = 0;
  while (filled < chunkSize) {
    const { bytesRead } = await fh.read(buf, filled, chunkSize - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

// Below this, a file is read with synchronous calls: a thread-pool round trip per open/read/close costs more than
// the read itself, and hashing 100,000 small files is dominated by that overhead.
const SMALL_READ = 256 * 1024 + 1;

function smallChunks(absPath: string, chunkSize: number): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      yield* readChunksSync(absPath, chunkSize);
    },
  };
}

/**
 * `readChunks` with synchronous calls, same chunking (exactly `chunkSize` bytes, the last one shorter), one buffer.
 * For small files, and for the rare caller that cannot await (a directory manifest rebuilt on demand).
 */
export function* readChunksSync(absPath: string, chunkSize: number): Generator<Uint8Array> {
  const fd = openSync(absPath, "r");
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    for (;;) {
      let filled = 0;
      while (filled < chunkSize) {
        const n = readSync(fd, buf, filled, chunkSize - filled, null);
        if (n === 0) break;
        filled += n;
      }
      if (filled === 0) return;
      yield buf.subarray(0, filled);
      if (filled < chunkSize) return;
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads a whole small file synchronously (the stat cache log); `undefined` when it does not exist. */
export function readSmallFileSync(absPath: string): Buffer | undefined {
  try {
    return readFileSync(absPath);
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return undefined;
    throw e;
  }
}
