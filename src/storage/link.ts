/**
 * Link strategies: how a cache object becomes a workspace file (spec 3).
 *
 * - `reflink`: a copy-on-write clone (`copyFile` with `COPYFILE_FICLONE_FORCE`); fails where the file system cannot.
 * - `copy`: a plain copy.
 * - `hardlink`: the workspace file *is* the object (same inode).
 * - `symlink`: the workspace file is an absolute symlink to the object.
 *
 * A configuration is a list tried in order (`reflink,copy` by default): the first that works wins for that file.
 * With `hardlink`/`symlink` the workspace file is the read-only cache object itself, so before its stage re-runs
 * it is *unprotected* (replaced by a writable copy) or removed; otherwise a stage writing in place would corrupt the
 * cache.
 *
 * Every placement is atomic: the link or copy is made under a temp name beside the destination, in a directory
 * written to the writer's restore journal first (`staging.ts`: what a killed process leaves is swept by the next
 * writer, and never hashed meanwhile), and renamed over the destination, so a workspace file is either the old one or
 * the new one, never half written.
 */
import { chmodSync, closeSync, constants as fsc, copyFileSync, existsSync, fchmodSync, linkSync, openSync, readFileSync, renameSync, symlinkSync, writeSync } from "node:fs";
import { chmod, copyFile, link, lstat, readdir, realpath, rename, symlink, unlink } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { envErrorOf, envFailure } from "../core/env-error.js";
import { unreachable } from "../core/unreachable.js";
import { errnoOf, isInsideOrSame, realRoot, resolveInside, safeRemove, tempBeside } from "./fs.js";
import { describeStoreFailure, type ObjectKey, type ObjectStore } from "./object-store.js";
import { announce, announced, tempMade, tempSettled } from "./staging.js";

export type LinkType = "reflink" | "copy" | "hardlink" | "symlink";

export const LINK_TYPES: readonly LinkType[] = ["reflink", "copy", "hardlink", "symlink"];
export const DEFAULT_LINK_TYPES: readonly LinkType[] = ["reflink", "copy"];

/** Parses `reflink,copy` (or a YAML list) from the config; undefined means the default. */
export function parseLinkTypes(value: unknown): Result<LinkType[]> {
  if (value === undefined || value === null) return { ok: true, value: [...DEFAULT_LINK_TYPES], warnings: [] };
  const parts: unknown[] = typeof value === "string" ? value.split(",").map((s) => s.trim()) : Array.isArray(value) ? value : [value];
  const out: LinkType[] = [];
  for (const p of parts) {
    if (typeof p !== "string" || !(LINK_TYPES as readonly string[]).includes(p)) {
      return fail([error("usage", `unknown cache link type ${JSON.stringify(p)} (expected a list of ${LINK_TYPES.join(", ")})`)]);
    }
    if (!out.includes(p as LinkType)) out.push(p as LinkType);
  }
  if (out.length === 0) return fail([error("usage", "empty cache link type list")]);
  return ok(out);
}

/** Link types whose workspace files are the cache object itself (read-only, must be unprotected before a run). */
export function isSharedLink(t: LinkType): boolean {
  return t === "hardlink" || t === "symlink";
}

/**
 * Devices (of the cache) on which a reflink failed as unsupported: it is not tried again there in this process. A
 * failed attempt costs two system calls and two exceptions per file, which was a fifth of a 20,000-file checkout.
 */
const noReflink = new Set<string>();
const REFLINK_UNSUPPORTED = new Set(["EOPNOTSUPP", "ENOTSUP", "EXDEV", "EINVAL", "ENOSYS", "ENOTTY"]);
/** The cache an object belongs to (`<cache>/<shard>/<rest>`): a reflink works for all of its objects or none. */
function reflinkKey(objAbs: string): string {
  return path.dirname(path.dirname(objAbs));
}

/**
 * Copies are made with `COPYFILE_EXCL` (temp names are fresh): without it libuv truncates the new file to size 0
 * first, and on ext4 a file truncated to 0 is flushed to disk when it is closed (the `auto_da_alloc` heuristic for
 * files replaced by truncation), which made every copy of a checkout wait for the disk: 1-3 ms per small file, 30x
 * the copy itself.
 */
async function place(objAbs: string, tmp: string, type: LinkType): Promise<void> {
  switch (type) {
    case "reflink": {
      try {
        await copyFile(objAbs, tmp, fsc.COPYFILE_FICLONE_FORCE | fsc.COPYFILE_EXCL);
      } catch (e) {
        if (REFLINK_UNSUPPORTED.has(errnoOf(e) ?? "")) noReflink.add(reflinkKey(objAbs));
        throw e;
      }
      await chmod(tmp, 0o644);
      return;
    }
    case "copy":
      await copyFile(objAbs, tmp, fsc.COPYFILE_EXCL);
      await chmod(tmp, 0o644);
      return;
    case "hardlink":
      await link(objAbs, tmp);
      return;
    case "symlink":
      await symlink(objAbs, tmp);
      return;
    default:
      return unreachable(type);
  }
}

/** Whether files created with mode 0644 get it as it is (the umask clears none of its bits). */
let umaskKeeps644: boolean | undefined;

/**
 * Copies a small object to the fresh name `tmp` (mode 0644): read whole, then written to a file created with its
 * final mode. `copyFile` creates the copy with the object's mode (read-only) and changes it, then a `chmod` by path
 * makes it writable: two more calls per file, and each of them a change of the new inode.
 */
function copySmall(objAbs: string, tmp: string): void {
  const data = readFileSync(objAbs);
  const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
  try {
    umaskKeeps644 ??= (0o644 & ~process.umask()) === 0o644;
    if (!umaskKeeps644) fchmodSync(fd, 0o644);
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
  } finally {
    closeSync(fd);
  }
}

/** `place`, with synchronous calls (see `placeObject` for when). */
function placeSync(objAbs: string, tmp: string, type: LinkType): void {
  switch (type) {
    case "reflink":
      try {
        copyFileSync(objAbs, tmp, fsc.COPYFILE_FICLONE_FORCE | fsc.COPYFILE_EXCL);
      } catch (e) {
        if (REFLINK_UNSUPPORTED.has(errnoOf(e) ?? "")) noReflink.add(reflinkKey(objAbs));
        throw e;
      }
      chmodSync(tmp, 0o644);
      return;
    case "copy":
      copySmall(objAbs, tmp);
      return;
    case "hardlink":
      linkSync(objAbs, tmp);
      return;
    case "symlink":
      symlinkSync(objAbs, tmp);
      return;
    default:
      return unreachable(type);
  }
}

/**
 * Copies up to this size are made with synchronous calls, one file after the other, as `cp -r` makes them. Measured
 * on a 20,000-file restore (2 cores, ext4): the copy, chmod and rename of each file through the thread pool, 16 at
 * a time, took 3-6x as long as doing them in turn on the main thread, because concurrent renames between two
 * directories serialise in the kernel (the file system's rename lock, both directories' locks) and the thread pool
 * adds a round trip per call. A bigger copy goes through the thread pool, so it does not block the event loop.
 */
const SYNC_COPY_MAX = 1024 * 1024;

/**
 * Real paths of destination directories already checked during one batch of placements (one output): directories
 * are not replaced in the middle of a batch, so each is resolved once. Never keep one across batches.
 */
export type ParentMemo = Map<string, Promise<string | undefined>>;

/**
 * The object to place: a store and a key. Where the store holds it as a file on this machine (`localFile`: the
 * project's cache, DVC's cache) it is linked or copied per the link types; any other store's object is copied with
 * `getToFile`, which verifies it. The caller has verified a local object first (checkout verifies every object of an
 * output before it touches the workspace).
 */
export interface ObjectSource {
  store: ObjectStore;
  key: ObjectKey;
}

/**
 * Places the object `src` at `destRel` (relative to root; the parent directory must exist), trying each link
 * type in order. Whatever was at the destination (file, link, directory) is replaced. Refuses when the parent
 * directory really lies outside the root (a symlinked directory on the way): nothing is ever written through a link
 * that leaves the project. Returns the link type that worked. `size` (the object's, when the caller knows it) lets a
 * small copy be made without the thread pool.
 */
export async function placeObject(
  root: string,
  src: ObjectSource,
  destRel: string,
  types: readonly LinkType[],
  memo: ParentMemo = new Map(),
  size?: number,
): Promise<Result<LinkType>> {
  const r = resolveInside(root, destRel);
  if (!r.ok) return r;
  const dest = r.value;
  const parent = path.dirname(dest);
  let real = memo.get(parent);
  if (!real) {
    // A missing parent is left to the placement below, which then fails with ENOENT.
    real = realpath(parent).catch(() => undefined);
    memo.set(parent, real);
  }
  const realParent = await real;
  if (realParent !== undefined && !isInsideOrSame(realParent, await realRoot(path.resolve(root)))) {
    return fail([error("io", `refusing to write '${destRel}': its directory resolves to ${realParent}, outside the project`)]);
  }
  const failures: string[] = [];
  let envError: unknown;
  const objAbs = src.store.localFile?.(src.key);
  for (const type of types) {
    if (objAbs === undefined) {
      // Only a copy can come from a store that is not a local file: the first type that copies makes it.
      if (type === "hardlink" || type === "symlink") {
        failures.push(`${type}: not a local object (${src.store.label})`);
        continue;
      }
      return placeByGet(root, src, dest, destRel, parent);
    }
    if (type === "reflink" && noReflink.has(reflinkKey(objAbs))) {
      failures.push(`${type}: EOPNOTSUPP`);
      continue;
    }
    // Made beside the destination, in a directory the journal lists (see `staging.ts`).
    const sync = type === "hardlink" || type === "symlink" || (size !== undefined && size >= 0 && size <= SYNC_COPY_MAX);
    if (!announced(root, parent)) await announce(root, [parent]);
    const tmp = tempBeside(dest);
    tempMade(root);
    try {
      if (sync) placeSync(objAbs, tmp, type);
      else await place(objAbs, tmp, type);
    } catch (e) {
      await unlinkTemp(root, tmp);
      failures.push(`${type}: ${errnoOf(e) ?? String(e)}`);
      // The temp name is pipe's business: the message names the output it was becoming.
      if (envErrorOf(e)) envError = { ...(e as object), path: dest, dest: undefined };
      continue;
    }
    let moved: Result<void>;
    try {
      moved = await renameInto(root, tmp, dest, destRel, sync);
    } catch (e) {
      await unlinkTemp(root, tmp);
      throw e;
    }
    if (!moved.ok) {
      await unlinkTemp(root, tmp);
      return moved;
    }
    // rename() of a hard link onto another link of the same inode succeeds and does nothing (POSIX): the temp name
    // would stay behind. `existsSync` asks without an exception (an unlink that fails costs one per file).
    if (type === "hardlink" && existsSync(tmp)) await unlinkTemp(root, tmp);
    else tempSettled(root);
    return ok(type);
  }
  // A full disk, a read-only workspace: said as such, with what to do (`core/env-error.ts`).
  const env = envFailure<LinkType>(envError, { doing: `restoring '${destRel}' from the cache`, root, path: dest });
  return env ?? fail([error("io", `cannot materialise '${destRel}' from the cache (${failures.join("; ")})`)]);
}

/** `placeObject` from a store that is not a local file: a verified copy under a temp name, then renamed. */
async function placeByGet(root: string, src: ObjectSource, dest: string, destRel: string, parent: string): Promise<Result<LinkType>> {
  if (!announced(root, parent)) await announce(root, [parent]);
  const tmp = tempBeside(dest);
  tempMade(root);
  const got = await src.store.getToFile(src.key, tmp);
  if (!got.ok) {
    await unlinkTemp(root, tmp);
    return fail([error("io", `cannot restore '${destRel}' from ${src.store.label}: ${describeStoreFailure(got.failure)}`)]);
  }
  let moved: Result<void>;
  try {
    moved = await renameInto(root, tmp, dest, destRel, false);
  } catch (e) {
    await unlinkTemp(root, tmp);
    throw e;
  }
  if (!moved.ok) {
    await unlinkTemp(root, tmp);
    return moved;
  }
  tempSettled(root);
  return ok("copy");
}

/** Removes a temp file made after `tempMade`; one that cannot be removed stays counted (and journalled). */
async function unlinkTemp(root: string, tmp: string): Promise<void> {
  try {
    await unlink(tmp);
  } catch (e) {
    if (errnoOf(e) !== "ENOENT") return;
  }
  tempSettled(root);
}

/**
 * Renames the placed temp file `tmp` to `dest`. A directory where the file goes (the output changed kind) is removed
 * first, unless removing it is refused (it leads out of the project): then nothing is renamed.
 */
async function renameInto(root: string, tmp: string, dest: string, destRel: string, sync: boolean): Promise<Result<void>> {
  try {
    if (sync) renameSync(tmp, dest);
    else await rename(tmp, dest);
  } catch (e) {
    const code = errnoOf(e);
    if (code !== "EISDIR" && code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOTDIR") throw e;
    const rm = await safeRemove(root, destRel);
    if (!rm.ok) return rm;
    await rename(tmp, dest);
  }
  return ok(undefined);
}

/**
 * Replaces a shared-link file (symlink to, or hard link of, a cache object; or any read-only file) at `abs` by a
 * writable copy of its content, atomically. Returns true when it changed something.
 */
export async function unprotectFile(root: string, abs: string): Promise<boolean> {
  let st;
  try {
    st = await lstat(abs);
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return false;
    throw e;
  }
  const shared = st.isSymbolicLink() || (st.isFile() && (st.nlink > 1 || (st.mode & 0o200) === 0));
  if (!shared) return false;
  if (st.isSymbolicLink()) {
    // A dangling symlink has nothing to copy: drop it.
    let target;
    try {
      target = await lstat(await realpath(abs));
    } catch {
      await unlink(abs);
      return true;
    }
    // A link to a directory is not a cache object: left as it is (its target is not ours to copy or change).
    if (target.isDirectory()) return false;
  }
  // Made beside the file, in a directory the journal lists (`staging.ts`).
  const dir = path.dirname(abs);
  if (!announced(root, dir)) await announce(root, [dir]);
  const tmp = tempBeside(abs);
  tempMade(root);
  try {
    await copyFile(abs, tmp, fsc.COPYFILE_EXCL);
    await chmod(tmp, 0o644);
    await rename(tmp, abs);
  } catch (e) {
    await unlinkTemp(root, tmp);
    throw e;
  }
  tempSettled(root);
  return true;
}

/** Unprotects a file output or every file of a directory output (relative to root). Returns how many changed. */
export async function unprotect(root: string, rel: string): Promise<Result<number>> {
  const r = resolveInside(root, rel);
  if (!r.ok) return r;
  // Copies are written beside each file: never through a symlinked directory that leaves the project. Below the
  // output, the walk does not follow symlinks, so it stays where this check says.
  const realParent = await realpath(path.dirname(r.value)).catch(() => undefined);
  if (realParent !== undefined && !isInsideOrSame(realParent, await realRoot(path.resolve(root)))) {
    return fail([error("io", `refusing to write in '${rel}': its directory resolves to ${realParent}, outside the project`)]);
  }
  let n = 0;
  const walk = async (abs: string): Promise<void> => {
    let st;
    try {
      st = await lstat(abs);
    } catch (e) {
      if (errnoOf(e) === "ENOENT") return;
      throw e;
    }
    if (st.isDirectory()) {
      for (const name of await readdir(abs)) await walk(path.join(abs, name));
      return;
    }
    if (await unprotectFile(root, abs)) n++;
  };
  await walk(r.value);
  return ok(n);
}
