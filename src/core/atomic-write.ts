/**
 * The one atomic writer: a file is replaced whole or not at all. The bytes go to a temp file in the same directory
 * (`.name.pipe-tmp-<pid>-<rand>`, a name the cache listing and error messages recognise), which is then renamed over
 * the file, so a reader sees the old file or the new one.
 *
 * For the user's data (`pipe.lock`, `.dvc` files later) `durable` also survives a machine crash: the temp file is
 * fsynced before the rename (otherwise the new name can point at an empty file after a crash) and the directory after
 * it (otherwise the rename itself can be lost). Rebuildable files (run-cache entries, logs) skip both flushes.
 */
import { randomBytes } from "node:crypto";
import { closeSync, constants as fsc, fsyncSync, openSync, renameSync, unlinkSync, writevSync } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";

/** What every temp name of pipe contains. */
export const TEMP_MARK = ".pipe-tmp-";

/**
 * A unique temp name beside `absPath` (same directory, so the final rename is atomic). Hidden, easy to recognise.
 * A name near the file systems' limit of 255 bytes would not fit with the suffix (a legal output name could then
 * never be restored: ENAMETOOLONG), so a long one keeps only its first 50 characters.
 */
export function tempBeside(absPath: string): string {
  const base = path.basename(absPath);
  const kept = base.length > 50 && Buffer.byteLength(base) > 200 ? Array.from(base).slice(0, 50).join("") : base;
  // A random start per process (pids are reused), then a counter: `randomBytes` per name was 2% of a 20,000-file
  // checkout. Every temp file is created with O_EXCL, so a clash fails instead of sharing a file.
  const suffix = ((tempBase + tempCount++) >>> 0).toString(16).padStart(8, "0");
  return path.join(path.dirname(absPath), `.${kept}${TEMP_MARK}${process.pid}-${suffix}`);
}
const tempBase = randomBytes(4).readUInt32BE(0);
let tempCount = 0;

export interface AtomicWriteOptions {
  /** Mode of the new file, less the umask; it is set at creation, so the final file never has another. */
  mode?: number;
  /** Flush the file before the rename and its directory after it: for data a crash must not lose. */
  durable?: boolean;
}

/**
 * Writes `data` (text, bytes, or parts written with one `writev`) to `absPath` atomically. The directory must exist.
 * On failure the temp file is removed and the error is thrown (callers turn environment errors into diagnostics).
 */
export async function writeAtomic(absPath: string, data: string | Uint8Array | readonly Uint8Array[], opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempBeside(absPath);
  // Created with its final mode (read-only included: the open descriptor stays writable).
  const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, opts.mode ?? 0o644);
  try {
    if (typeof data === "string" || data instanceof Uint8Array) await fh.writeFile(data);
    else await writeParts(fh, data, tmp);
    if (opts.durable) await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, absPath);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (opts.durable) await syncDirectory(path.dirname(absPath));
}

/**
 * `writeAtomic` of parts, durably, on the calling thread: for small files written often on a critical path
 * (`pipe.lock` after every stage), where each step of the asynchronous version is a round trip through the thread
 * pool, and on a loaded machine each round trip waits for a turn on a CPU. The temp file is flushed before the
 * rename (after a machine crash the name holds the old bytes or the new, whole); the directory's flush (which only
 * decides whether the rename itself survives a machine crash) is left to the caller, `syncDirectorySync`.
 */
export function writePartsAtomicSync(absPath: string, parts: readonly Uint8Array[], mode = 0o644): void {
  const tmp = tempBeside(absPath);
  const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  try {
    const total = parts.reduce((n, p) => n + p.byteLength, 0);
    let written = writevSync(fd, parts as Uint8Array[]);
    if (written < total) {
      // A short write (see writeParts): the rest until it lands or the error shows.
      const rest = Buffer.concat(parts as Uint8Array[]).subarray(written);
      for (let off = 0; off < rest.length; off += written) {
        written = writevSync(fd, [rest.subarray(off)]);
        if (written === 0) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${tmp}'`), { code: "ENOSPC", syscall: "write", path: tmp });
      }
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone.
    }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, absPath);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone.
    }
    throw e;
  }
}

/** `syncDirectory` on the calling thread (also usable in an exit hook). */
export function syncDirectorySync(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, fsc.O_RDONLY);
  } catch (e) {
    if (NO_DIR_SYNC.has((e as NodeJS.ErrnoException).code ?? "")) return;
    throw e;
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    if (!NO_DIR_SYNC.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
  } finally {
    closeSync(fd);
  }
}

/**
 * Parts with one `writev` (libuv writes every part, however many): no string to join, no buffer to concatenate. A
 * `writev` that the disk cuts short returns without an error, so the rest is written until it lands or the error
 * shows: a truncated file is never renamed over the good one.
 */
async function writeParts(fh: FileHandle, parts: readonly Uint8Array[], tmp: string): Promise<void> {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const { bytesWritten } = await fh.writev(parts as Uint8Array[]);
  if (bytesWritten >= total) return;
  const rest = Buffer.concat(parts as Uint8Array[]).subarray(bytesWritten);
  for (let off = 0; off < rest.length; ) {
    const { bytesWritten: n } = await fh.write(rest, off);
    if (n === 0) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${tmp}'`), { code: "ENOSPC", syscall: "write", path: tmp });
    off += n;
  }
}

/** Errors of platforms and file systems that cannot open or fsync a directory: the rename is as durable as it gets. */
const NO_DIR_SYNC = new Set(["EISDIR", "EPERM", "EACCES", "EINVAL", "ENOTSUP", "EOPNOTSUPP"]);

/** Flushes a directory's entries (a rename in it) to disk. */
async function syncDirectory(dir: string): Promise<void> {
  let dh: FileHandle;
  try {
    dh = await open(dir, fsc.O_RDONLY);
  } catch (e) {
    if (NO_DIR_SYNC.has((e as NodeJS.ErrnoException).code ?? "")) return;
    throw e;
  }
  try {
    await dh.sync();
  } catch (e) {
    if (!NO_DIR_SYNC.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
  } finally {
    await dh.close();
  }
}
