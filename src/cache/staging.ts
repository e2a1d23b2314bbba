/**
 * Where the copies, clones and links that `pipe` places into the workspace are made before they get their name:
 * `.pipe/tmp/staging/<pid>-<tag>/`, never the destination's own directory.
 *
 * Why a directory of its own: a placement is made under a temp name, then renamed over the destination, so a
 * workspace file is always complete. A process killed between the two (SIGKILL, the OOM killer, a lost terminal)
 * leaves the temp file behind; made beside the destination, inside a directory output, it was hashed with the output,
 * recorded in the lock, restored and fed to the stages below. Staged here, it is outside every output, every dep
 * and every walk of the workspace (hashing skips `.pipe`), and the next writing command removes what a killed one
 * left (`sweepStaging`, called once the project write lock is held: only a lock holder stages, so whatever is there
 * belongs to a writer that is gone); a writer that finishes removes its own subdirectory (`dropStaging`). `.pipe/` lies in the project root, on the root's file system, so the rename
 * stays atomic for every output on it.
 *
 * An output on another file system (a mount inside the project) cannot be renamed into from here (EXDEV): for its
 * directories the temp name goes beside the destination after all, with the recognisable name `tempBeside` gives.
 * Such a leftover is still never hashed (the hashing walk skips that name: `hash/ignore.ts`, `isPipeTempName`), and
 * `checkout` (and a restore by `repro`) removes it from a directory output, as does the deletion of outputs before
 * a stage runs.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { errnoOf, tempBeside } from "./fs.js";

/** The staging directory, relative to the project root. */
export const STAGING_DIR = ".pipe/tmp/staging";

/** This process's staging subdirectory and temp names: pid, a random tag (pids are reused), then a counter. */
const PREFIX = `${process.pid}-${randomBytes(4).toString("hex")}-`;
let counter = 0;

/** Root -> its staging directory, once created (undefined when it cannot be: the temp goes beside). */
const dirs = new Map<string, string | undefined>();
/** Destination directories where a rename from the staging directory failed with EXDEV: another file system. */
const crossDevice = new Set<string>();

/** Created once per process, synchronously: placements ask for a temp name per file and must not wait for one. */
function stagingDir(root: string): string | undefined {
  const absRoot = path.resolve(root);
  if (dirs.has(absRoot)) return dirs.get(absRoot);
  // A directory per process, made afresh: creating files in one long-lived directory and renaming them away cost
  // 3-4x as much per file on ext4 (20,000-file checkout: 17-28 s against 5-9 s), new directories being placed
  // where the file system has room.
  const abs = path.join(absRoot, STAGING_DIR, PREFIX.slice(0, -1));
  let d: string | undefined;
  try {
    mkdirSync(abs, { recursive: true });
    d = abs;
  } catch {
    d = undefined;
  }
  dirs.set(absRoot, d);
  return d;
}

/**
 * A fresh temp path from which `dest` (absolute, inside `root`) can be reached by `rename`: in the staging directory,
 * or beside `dest` when its directory is known to lie on another file system (or staging is impossible).
 */
export function stagingTemp(root: string, dest: string): string {
  if (!crossDevice.has(path.dirname(dest))) {
    const d = stagingDir(root);
    if (d !== undefined) return path.join(d, String(counter++));
  }
  return tempBeside(dest);
}

/** True when `tmp` is a staging path (not a temp beside its destination). */
export function isStaged(root: string, tmp: string): boolean {
  return path.dirname(tmp) === dirs.get(path.resolve(root));
}

/**
 * Notes that `rename(tmp, dest)` failed with `e`; true when that was EXDEV from the staging directory, so the caller
 * should place again (the next `stagingTemp` for that directory is beside the destination).
 */
export function crossedDevice(root: string, tmp: string, dest: string, e: unknown): boolean {
  if (errnoOf(e) !== "EXDEV" || !isStaged(root, tmp)) return false;
  crossDevice.add(path.dirname(dest));
  return true;
}

/**
 * Removes what killed writers left in the staging directory. Call only while holding the project write lock (only
 * a holder stages, so nothing there is in use). Returns how many entries went.
 */
export async function sweepStaging(root: string): Promise<number> {
  const abs = path.join(path.resolve(root), STAGING_DIR);
  let names: string[];
  try {
    names = await readdir(abs);
  } catch (e) {
    if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return 0;
    throw e;
  }
  for (const n of names) await rm(path.join(abs, n), { recursive: true, force: true });
  return names.length;
}

/**
 * Removes this process's staging subdirectory once its writing is done (it is empty then, unless a placement failed
 * between its copy and its cleanup). Called when the project write lock is released.
 */
export function dropStaging(root: string): void {
  const absRoot = path.resolve(root);
  const d = dirs.get(absRoot);
  if (d === undefined) return;
  dirs.delete(absRoot);
  try {
    rmSync(d, { recursive: true, force: true });
  } catch {
    // Left for the next writer's sweep.
  }
}
