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
 * Every placement is atomic: the link or copy is made under a temp name in the destination directory and renamed
 * over the destination, so a workspace file is either the old one or the new one, never half written.
 */
import { constants as fsc } from "node:fs";
import { chmod, copyFile, link, lstat, readdir, realpath, rename, symlink, unlink } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../config/diagnostic.js";
import { envErrorOf, envFailure } from "../config/env-error.js";
import { unreachable } from "../core/unreachable.js";
import { errnoOf, isInsideOrSame, realRoot, resolveInside, safeRemove, tempBeside } from "./fs.js";

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

async function place(objAbs: string, tmp: string, type: LinkType): Promise<void> {
  switch (type) {
    case "reflink":
      await copyFile(objAbs, tmp, fsc.COPYFILE_FICLONE_FORCE);
      await chmod(tmp, 0o644);
      return;
    case "copy":
      await copyFile(objAbs, tmp);
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

/**
 * Real paths of destination directories already checked during one batch of placements (one output): directories
 * are not replaced in the middle of a batch, so each is resolved once. Never keep one across batches.
 */
export type ParentMemo = Map<string, Promise<string | undefined>>;

/**
 * Places the object at `objAbs` at `destRel` (relative to root; the parent directory must exist), trying each link
 * type in order. Whatever was at the destination (file, link, directory) is replaced. Refuses when the parent
 * directory really lies outside the root (a symlinked directory on the way): nothing is ever written through a link
 * that leaves the project. Returns the link type that worked.
 */
export async function placeObject(
  root: string,
  objAbs: string,
  destRel: string,
  types: readonly LinkType[],
  memo: ParentMemo = new Map(),
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
  for (const type of types) {
    const tmp = tempBeside(dest);
    try {
      await place(objAbs, tmp, type);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      failures.push(`${type}: ${errnoOf(e) ?? String(e)}`);
      if (envErrorOf(e)) envError = e;
      continue;
    }
    try {
      await rename(tmp, dest);
    } catch (e) {
      const code = errnoOf(e);
      if (code !== "EISDIR" && code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOTDIR") {
        await unlink(tmp).catch(() => undefined);
        throw e;
      }
      // A directory is where the file goes (the output changed kind): remove it, then place.
      const rm = await safeRemove(root, destRel);
      if (!rm.ok) {
        await unlink(tmp).catch(() => undefined);
        return rm;
      }
      await rename(tmp, dest);
    }
    // rename() of a hard link onto another link of the same inode succeeds and does nothing (POSIX): the temp name
    // would stay behind, inside a directory output even, where it changes the directory's hash.
    if (type === "hardlink") await unlink(tmp).catch(() => undefined);
    return ok(type);
  }
  // A full disk, a read-only workspace: said as such, with what to do (`config/env-error.ts`).
  const env = envFailure<LinkType>(envError, { doing: `restoring '${destRel}' from the cache`, root, path: dest });
  return env ?? fail([error("io", `cannot materialise '${destRel}' from the cache (${failures.join("; ")})`)]);
}

/**
 * Replaces a shared-link file (symlink to, or hard link of, a cache object; or any read-only file) at `abs` by a
 * writable copy of its content, atomically. Returns true when it changed something.
 */
export async function unprotectFile(abs: string): Promise<boolean> {
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
  const tmp = tempBeside(abs);
  try {
    await copyFile(abs, tmp);
    await chmod(tmp, 0o644);
    await rename(tmp, abs);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
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
    if (await unprotectFile(abs)) n++;
  };
  await walk(r.value);
  return ok(n);
}
