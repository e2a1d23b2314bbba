/**
 * The only file-system writes and deletes the cache and execution layers make go through here, so the safety rules of
 * spec 6 live in one place:
 *
 * - nothing outside the project root is ever deleted or written, and no symlink is followed out of the root when
 *   deleting (the real path of the parent directory must lie inside the real root; a symlink itself is unlinked,
 *   never followed);
 * - user data is written atomically: a temp file in the destination directory, then rename.
 *
 * A refusal is a `Result` error (a symlinked directory pointing outside the project is a user's setup, not a bug).
 */
import { lstat, mkdir, realpath, rm, unlink } from "node:fs/promises";
import path from "node:path";
import { writeAtomic } from "../core/atomic-write.js";
import { error, fail, ok, type Result } from "../core/diagnostic.js";

/** True when `child` lies strictly inside `parent` (both absolute, normalised). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== "" && rel !== ".." && !rel.startsWith(".." + path.sep) && !path.isAbsolute(rel);
}

export function isInsideOrSame(child: string, parent: string): boolean {
  return child === parent || isInside(child, parent);
}

const realRoots = new Map<string, Promise<string>>();
/** realpath of a root, memoised (roots do not move during one process). */
export function realRoot(root: string): Promise<string> {
  let r = realRoots.get(root);
  if (!r) {
    r = realpath(root);
    realRoots.set(root, r);
  }
  return r;
}

export function errnoOf(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

// Temp names are the atomic writer's (`core/atomic-write.ts`); the cache names its own temp files (copies, links) alike.
export { tempBeside, TEMP_MARK } from "../core/atomic-write.js";

/**
 * Resolves `rel` (POSIX, relative to root) to an absolute path inside the root, refusing `..` escapes and the root
 * itself.
 */
export function resolveInside(root: string, rel: string): Result<string> {
  const abs = path.resolve(root, rel);
  if (!isInside(abs, path.resolve(root))) {
    return fail([error("io", `refusing to touch '${rel}': it is not inside the project root`)]);
  }
  return ok(abs);
}

/**
 * Removes the file, symlink or directory at `rel` (relative to `root`). Missing is fine. Refuses when the path is
 * not inside the root, or when its parent directory really lies outside the root (a symlinked directory on the way).
 * A symlink at `rel` is removed itself; `rm -r` never descends through symlinks.
 */
export async function safeRemove(root: string, rel: string): Promise<Result<void>> {
  const r = resolveInside(root, rel);
  if (!r.ok) return r;
  const abs = r.value;
  const realRootPath = await realRoot(path.resolve(root));
  let realParent: string;
  try {
    realParent = await realpath(path.dirname(abs));
  } catch (e) {
    if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return ok(undefined);
    throw e;
  }
  if (!isInsideOrSame(realParent, realRootPath)) {
    return fail([error("io", `refusing to delete '${rel}': its directory resolves to ${realParent}, outside the project`)]);
  }
  const target = path.join(realParent, path.basename(abs));
  if (target === realRootPath) return fail([error("io", `refusing to delete the project root`)]);
  let st;
  try {
    st = await lstat(target);
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return ok(undefined);
    throw e;
  }
  if (st.isDirectory()) await rm(target, { recursive: true, force: true });
  else await unlink(target);
  return ok(undefined);
}

/**
 * Creates the directory `relDir` (relative to root) and its parents, checking each existing component: a component
 * that is a symlink must resolve inside the root, and nothing is created through one that does not. Returns the
 * absolute directory.
 */
export async function ensureDirInside(root: string, relDir: string): Promise<Result<string>> {
  const absRoot = path.resolve(root);
  const abs = path.resolve(absRoot, relDir);
  if (abs !== absRoot && !isInside(abs, absRoot)) {
    return fail([error("io", `refusing to write in '${relDir}': it is not inside the project root`)]);
  }
  if (knownDirs.has(abs)) return ok(abs);
  const realRootPath = await realRoot(absRoot);
  // Fast path: it exists already and really lies inside the root.
  try {
    const real = await realpath(abs);
    if (isInsideOrSame(real, realRootPath)) {
      const st = await lstat(real);
      if (st.isDirectory()) {
        rememberDir(abs);
        return ok(abs);
      }
      return fail([error("io", `cannot create directory '${relDir}': a file is in the way`)]);
    }
    return fail([error("io", `refusing to write in '${relDir}': it resolves to ${real}, outside the project`)]);
  } catch (e) {
    if (errnoOf(e) !== "ENOENT" && errnoOf(e) !== "ENOTDIR") throw e;
  }
  let cur = absRoot;
  for (const part of path.relative(absRoot, abs).split(path.sep)) {
    if (part === "") continue;
    cur = path.join(cur, part);
    let st;
    try {
      st = await lstat(cur);
    } catch (e) {
      if (errnoOf(e) !== "ENOENT") throw e;
      try {
        await mkdir(cur);
      } catch (e2) {
        if (errnoOf(e2) !== "EEXIST") throw e2;
      }
      continue;
    }
    if (st.isSymbolicLink()) {
      const real = await realpath(cur);
      if (!isInsideOrSame(real, realRootPath)) {
        return fail([error("io", `refusing to write through '${path.relative(absRoot, cur)}': it links to ${real}, outside the project`)]);
      }
      continue;
    }
    if (!st.isDirectory()) {
      return fail([error("io", `cannot create directory '${path.relative(absRoot, cur)}': a file is in the way`)]);
    }
  }
  rememberDir(abs);
  return ok(abs);
}

/**
 * Directories this process checked or created inside a root (cache shards, output parents): checked once. Only
 * `pipe` itself removes directories inside the project while it runs, and it never removes these.
 */
const knownDirs = new Set<string>();
/**
 * Forgets the directories checked so far. A long-lived process (`pipe watch`) calls it before each run: between runs
 * another `pipe` (`gc`) may have removed a shard directory this set still vouches for.
 */
export function forgetKnownDirs(): void {
  knownDirs.clear();
}
function rememberDir(abs: string): void {
  // Output directories come and go with their stages; only the cache's and run-cache's shard directories are kept.
  if (abs.includes(`${path.sep}.pipe${path.sep}`)) knownDirs.add(abs);
}

/**
 * Writes `data` to `absPath` atomically (`core/atomic-write.ts`). The directory must exist. `mode` is the final
 * file's. `fsync` makes it durable; it costs disk flushes per file, so it is off for rebuildable data (run-cache
 * entries) and for cache objects, which are copied without it too.
 */
export async function atomicWrite(absPath: string, data: string | Uint8Array, mode = 0o644, opts: { fsync?: boolean } = {}): Promise<void> {
  await writeAtomic(absPath, data, { mode, durable: opts.fsync === true });
}
