/**
 * Moving outputs between the workspace and the cache: `storeOutput` (commit: workspace -> cache) and
 * `checkoutOutput` (cache -> workspace, by the configured link types).
 *
 * Checkout is all-or-nothing per output: every object it needs is verified before the first workspace file is
 * touched, so a missing or corrupt object leaves the output as it was and is reported instead. It never loses data
 * either: a workspace file that is about to be overwritten or removed and whose content is not in the cache is stored
 * in the cache first (`saved`), so `pipe gc` is the only thing that can make it unrecoverable.
 *
 * Inside a directory output, checkout makes the directory exactly the manifest: files not in it are removed (temp
 * files a killed `pipe` left there too, never saved: `staging.ts`), and directories left empty by that are pruned. What hashing leaves out of the directory (what `.dvcignore` or
 * `.pipeignore` rules ignore, `.git`, a project of its own: `hash/ignore.ts`) is not part of the output and is left
 * alone, as DVC leaves it, unless the manifest needs its place.
 */
import type { Stats } from "node:fs";
import { lstat, readdir, readlink, rmdir, stat } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { IgnoreTest } from "../hash/ignore.js";
import { algorithmOf, algorithmsOf, type Algorithm } from "./digest.js";
import { isPipeTempName } from "../hash/ignore.js";
import { ensureDirInside, errnoOf, resolveInside, safeRemove } from "./fs.js";
import { isSharedLink, placeObject, type LinkType, type ParentMemo } from "./link.js";
import { parseManifest, serialiseManifest, type ManifestEntry } from "./manifest.js";
import { FILE_CONCURRENCY, forEachLimit } from "./pool.js";
import { announce } from "./staging.js";
import { keyOfId, type LocalCache, type PutOutcome } from "./store.js";

export interface CacheContext {
  /** Absolute project root. */
  root: string;
  store: LocalCache;
  linkTypes: readonly LinkType[];
  /**
   * Hash of a workspace file with the given algorithm. Pass the project's hasher (stat cache) where there is one;
   * the default reads the file.
   */
  fileHash?: (absPath: string, algo: Algorithm) => Promise<string>;
  /** Digest of bytes (the default uses the store's digester). */
  bytesHash?: (data: Uint8Array | string, algo: Algorithm) => Promise<string>;
  /**
   * What hashing leaves out of the directory output at `absDir` (pass the project hasher's `ignoreTest`): checkout
   * neither saves nor removes it, nor counts it. Without it nothing is left out.
   */
  ignoreTest?: (absDir: string) => IgnoreTest;
}

/** What a workspace output is, as the hashing layer describes it. */
export type OutputHash =
  | { kind: "file"; hash: string; size: number }
  | { kind: "dir"; hash: string; entries: readonly ManifestEntry[]; manifestBytes?: Uint8Array | string };

export interface CheckoutReport {
  /** Files placed from the cache. */
  placed: number;
  /** Files removed because the manifest does not have them. */
  removed: number;
  /** Workspace files whose content was not cached and that were stored before being replaced or removed. */
  saved: { path: string; id: string }[];
}

export type CheckoutResult =
  | ({ status: "unchanged" } & CheckoutReport)
  | ({ status: "restored" } & CheckoutReport)
  /** Objects not in the cache: nothing was touched. */
  | { status: "missing"; ids: string[] }
  /** Objects whose bytes no longer matched their names; they were removed from the cache, nothing was touched. */
  | { status: "corrupt"; ids: { id: string; actual: string; source?: string }[] };

async function fileHashOf(cc: CacheContext, abs: string, algo: Algorithm): Promise<string> {
  if (cc.fileHash) return cc.fileHash(abs, algo);
  const { defaultDigester } = await import("./digest.js");
  return defaultDigester.file(abs, algo);
}

async function bytesHashOf(cc: CacheContext, data: Uint8Array | string, algo: Algorithm): Promise<string> {
  if (cc.bytesHash) return cc.bytesHash(data, algo);
  const { defaultDigester } = await import("./digest.js");
  return defaultDigester.bytes(data, algo);
}

function hexOf(id: string): string {
  return id.endsWith(".dir") ? id.slice(0, -4) : id;
}

/**
 * State of one workspace file against the object it should be: "current" (leave it), "absent", or "other" with the
 * content hash when it is a regular file (so it can be saved before being replaced).
 */
type FileState = { state: "current" } | { state: "absent" } | { state: "other"; hash?: string; isFile: boolean };

async function fileState(cc: CacheContext, abs: string, id: string, size: number): Promise<FileState> {
  let st;
  try {
    st = await lstat(abs);
  } catch (e) {
    if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return { state: "absent" };
    throw e;
  }
  if (st.isSymbolicLink()) {
    const target = await readlink(abs);
    if (path.resolve(path.dirname(abs), target) === cc.store.localFile(keyOfId(id))) return { state: "current" };
    return { state: "other", isFile: false };
  }
  if (!st.isFile()) return { state: "other", isFile: false };
  if (size >= 0 && st.size !== size) return { state: "other", isFile: true, hash: await fileHashOf(cc, abs, "xxh64") };
  let xxh: string | undefined;
  for (const algo of algorithmsOf(id)) {
    const h = await fileHashOf(cc, abs, algo);
    if (h === hexOf(id)) return { state: "current" };
    if (algo === "xxh64") xxh = h;
  }
  return { state: "other", isFile: true, hash: xxh ?? (await fileHashOf(cc, abs, "xxh64")) };
}

/**
 * Stores a workspace file that is about to be replaced, unless its content is already cached (intact: an object
 * damaged through a link does not count as a copy).
 */
async function saveBeforeReplace(cc: CacheContext, abs: string, hash: string | undefined, report: CheckoutReport): Promise<Result<void>> {
  const h = hash ?? (await fileHashOf(cc, abs, "xxh64"));
  if (h === "") return fail([error("io", `cannot save '${path.relative(cc.root, abs)}' before replacing it: it cannot be read`)]);
  const r = await cc.store.storeFile(abs, h, { verify: true });
  if (!r.ok) return r;
  if (r.value !== "present") report.saved.push({ path: path.relative(cc.root, abs).split(path.sep).join("/"), id: h });
  return ok(undefined);
}

/** Restores the output `rel` (relative to root) to the object `id` (a file hash or a `.dir` manifest hash). */
export async function checkoutOutput(cc: CacheContext, rel: string, id: string): Promise<Result<CheckoutResult>> {
  return id.endsWith(".dir") ? checkoutDir(cc, rel, id) : checkoutFile(cc, rel, id, -1);
}

async function checkoutFile(cc: CacheContext, rel: string, id: string, size: number): Promise<Result<CheckoutResult>> {
  const r = resolveInside(cc.root, rel);
  if (!r.ok) return r;
  const abs = r.value;
  const report: CheckoutReport = { placed: 0, removed: 0, saved: [] };
  const st = await fileState(cc, abs, id, size);
  if (st.state === "current") return ok({ status: "unchanged", ...report });
  const v = await cc.store.verifyId(id);
  if (v.status === "missing") return ok({ status: "missing", ids: [id] });
  if (v.status === "corrupt") return ok({ status: "corrupt", ids: [{ id, actual: v.actual, ...(v.source !== undefined ? { source: v.source } : {}) }] });
  if (st.state === "other") {
    if (st.isFile) {
      const s = await saveBeforeReplace(cc, abs, st.hash, report);
      if (!s.ok) return s;
    } else {
      // A directory (or foreign symlink) where the file goes: save its files, then remove it.
      const s = await saveTree(cc, abs, report);
      if (!s.ok) return s;
      const rm = await safeRemove(cc.root, rel);
      if (!rm.ok) return rm;
    }
  }
  const parent = await ensureDirInside(cc.root, path.posix.dirname(rel));
  if (!parent.ok) return parent;
  const p = await placeObject(cc.root, { store: cc.store, key: keyOfId(id) }, rel, cc.linkTypes);
  if (!p.ok) return p;
  report.placed++;
  return ok({ status: "restored", ...report });
}

/** Every regular file under `abs` (recursively, not following symlinks), saved to the cache when not there yet. */
async function saveTree(cc: CacheContext, abs: string, report: CheckoutReport): Promise<Result<void>> {
  const files: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.isDirectory()) for (const n of await readdir(p)) await walk(path.join(p, n));
    else if (st.isFile()) files.push(p);
  };
  try {
    await walk(abs);
  } catch (e) {
    if (errnoOf(e) !== "ENOENT") throw e;
  }
  const errors: Diagnostic[] = [];
  await forEachLimit(files, FILE_CONCURRENCY, async (f) => {
    const s = await saveBeforeReplace(cc, f, undefined, report);
    if (!s.ok) errors.push(...s.errors);
  });
  return errors.length ? fail(errors) : ok(undefined);
}

/** Reads and verifies a manifest object (a corrupt one is removed, unless the store is read-only). */
export async function readManifest(
  store: LocalCache,
  id: string,
): Promise<{ status: "ok"; entries: ManifestEntry[] } | { status: "missing" } | { status: "corrupt"; actual: string; source?: string }> {
  const r = await store.readVerified(id);
  if (r.status !== "ok") return r;
  const entries = parseManifest(r.data);
  if (!entries) {
    if (!store.readOnly) await store.delete(id);
    return { status: "corrupt", actual: "not a manifest" };
  }
  return { status: "ok", entries };
}

async function checkoutDir(cc: CacheContext, rel: string, id: string): Promise<Result<CheckoutResult>> {
  const r = resolveInside(cc.root, rel);
  if (!r.ok) return r;
  const absDir = r.value;
  const m = await readManifest(cc.store, id);
  if (m.status === "missing") return ok({ status: "missing", ids: [id] });
  if (m.status === "corrupt") return ok({ status: "corrupt", ids: [{ id, actual: m.actual, ...(m.source !== undefined ? { source: m.source } : {}) }] });
  const entries = m.entries;
  const report: CheckoutReport = { placed: 0, removed: 0, saved: [] };
  const wanted = new Set(entries.map((e) => e.relpath));
  const wantedDirs = new Set<string>();
  for (const e of entries) {
    let d = path.posix.dirname(e.relpath);
    while (d !== "." && !wantedDirs.has(d)) {
      wantedDirs.add(d);
      d = path.posix.dirname(d);
    }
  }

  // 1. What is on disk: is the top a directory, which files are there (lstat walk, symlinks not followed). What
  //    hashing leaves out is not recorded (nor walked into), so nothing below saves, removes, prunes or counts it;
  //    unless the manifest has its path (the rules changed since the output was recorded): then the manifest wins.
  let top: Stats | undefined;
  try {
    top = await lstat(absDir);
  } catch (e) {
    if (errnoOf(e) !== "ENOENT") throw e;
  }
  const existing = new Map<string, "file" | "link" | "dir">();
  // Temp files a killed `pipe` left beside their destination (`staging.ts`; the next writer sweeps them, this finds
  // them first when it is that writer): not the output's content, never saved, always removed.
  const leftovers: string[] = [];
  if (top?.isDirectory()) {
    const ignored = cc.ignoreTest?.(absDir);
    let unreadable: string | undefined;
    const walk = async (p: string, relp: string): Promise<void> => {
      for (const name of await readdir(p)) {
        const child = path.join(p, name);
        const childRel = relp === "" ? name : `${relp}/${name}`;
        if (isPipeTempName(name) && !wanted.has(childRel) && !wantedDirs.has(childRel)) {
          leftovers.push(childRel);
          continue;
        }
        const st = await lstat(child);
        if (ignored && !wanted.has(childRel) && !wantedDirs.has(childRel)) {
          // A symlink is judged by what it leads to, as the hashing walk follows it.
          const isDir = st.isDirectory() || (st.isSymbolicLink() && (await stat(child).then((t) => t.isDirectory(), () => false)));
          const v = ignored(child, isDir);
          if (typeof v === "object") unreadable ??= v.error;
          if (v !== false) continue;
        }
        if (st.isDirectory()) {
          existing.set(childRel, "dir");
          await walk(child, childRel);
        } else existing.set(childRel, st.isSymbolicLink() ? "link" : "file");
      }
    };
    await walk(absDir, "");
    // Without the rules, what is part of the output is unknown: nothing is touched.
    if (unreadable !== undefined) return fail([error("io", `cannot check out '${rel}': ${unreadable}`)]);
  }

  // 2. Which entries need placing (current files are left alone), and verify their objects first. A materialised
  //    directory holds real directories only: an entry below a symlink (or a file) on disk is not in place, even when
  //    the link leads to the right bytes. Following it would judge a file that step 3 is about to unlink with the link.
  const belowNonDir = (relpath: string): boolean => {
    for (let d = path.posix.dirname(relpath); d !== "."; d = path.posix.dirname(d)) {
      const k = existing.get(d);
      if (k !== undefined && k !== "dir") return true;
    }
    return false;
  };
  const states = new Array<FileState>(entries.length);
  await forEachLimit(entries, FILE_CONCURRENCY, async (e, i) => {
    states[i] =
      top?.isDirectory() && !belowNonDir(e.relpath) ? await fileState(cc, path.join(absDir, e.relpath), e.hash, e.size) : { state: "absent" };
  });
  const todo: number[] = [];
  for (let i = 0; i < entries.length; i++) if (states[i]?.state !== "current") todo.push(i);
  const missing: string[] = [];
  const corrupt: { id: string; actual: string }[] = [];
  const uniqueIds = [...new Set(todo.map((i) => entries[i]!.hash))];
  await forEachLimit(uniqueIds, FILE_CONCURRENCY, async (oid) => {
    const v = await cc.store.verifyId(oid);
    if (v.status === "missing") missing.push(oid);
    else if (v.status === "corrupt") corrupt.push({ id: oid, actual: v.actual, ...(v.source !== undefined ? { source: v.source } : {}) });
  });
  if (corrupt.length) return ok({ status: "corrupt", ids: corrupt.sort((a, b) => (a.id < b.id ? -1 : 1)) });
  if (missing.length) return ok({ status: "missing", ids: missing.sort() });

  // 3. Files on disk that the manifest does not have: save, then remove. A path that must become a directory
  //    (`a` is a file or a symlink on disk, the manifest has `a/b`) is removed too: a symlink is unlinked, never
  //    followed, so what it points to (outside the project, perhaps) is not touched.
  const strayList: string[] = [];
  const removedDirs = new Set<string>();
  for (const [p, kind] of [...existing].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const stray = kind === "dir" ? wanted.has(p) : !wanted.has(p);
    if (!stray) continue;
    // A directory that goes takes its children with it.
    let covered = false;
    for (let d = path.posix.dirname(p); d !== "." && !covered; d = path.posix.dirname(d)) covered = removedDirs.has(d);
    if (covered) continue;
    strayList.push(p);
    if (kind === "dir") removedDirs.add(p);
  }
  const strays = new Set(strayList);
  const errors: Diagnostic[] = [];
  if (top && !top.isDirectory()) {
    // The output was a file (or a symlink); it becomes a directory.
    if (top.isFile()) {
      const s = await saveBeforeReplace(cc, absDir, undefined, report);
      if (!s.ok) return s;
    }
    const rm = await safeRemove(cc.root, rel);
    if (!rm.ok) return rm;
  }
  for (const p of leftovers) {
    const rm = await safeRemove(cc.root, `${rel}/${p}`);
    if (!rm.ok) return rm;
    report.removed++;
  }
  for (const p of strayList) {
    const childRel = `${rel}/${p}`;
    const abs = path.join(absDir, p);
    if (existing.get(p) === "dir") {
      const s = await saveTree(cc, abs, report);
      if (!s.ok) return s;
    } else if (existing.get(p) === "file") {
      const s = await saveBeforeReplace(cc, abs, undefined, report);
      if (!s.ok) return s;
    }
    const rm = await safeRemove(cc.root, childRel);
    if (!rm.ok) return rm;
    report.removed++;
  }

  // 4. Place what is not current. Directories first (sequentially, they are few), then files concurrently.
  const dirs = new Set<string>();
  for (const i of todo) dirs.add(path.posix.dirname(entries[i]!.relpath));
  const mk = await ensureDirInside(cc.root, rel);
  if (!mk.ok) return mk;
  for (const d of [...dirs].sort()) {
    if (d === ".") continue;
    const r2 = await ensureDirInside(cc.root, `${rel}/${d}`);
    if (!r2.ok) return r2;
  }
  // Every directory that gets temp files, in the restore journal at once: one flush for the output.
  if (todo.length > 0) await announce(cc.root, [...dirs].map((d) => (d === "." ? absDir : path.join(absDir, d))));
  const memo: ParentMemo = new Map();
  await forEachLimit(todo, FILE_CONCURRENCY, async (i) => {
    const e = entries[i]!;
    const st = states[i]!;
    const abs = path.join(absDir, e.relpath);
    if (st.state === "other" && st.isFile && !strays.has(e.relpath)) {
      const s = await saveBeforeReplace(cc, abs, st.hash, report);
      if (!s.ok) {
        errors.push(...s.errors);
        return;
      }
    }
    const p = await placeObject(cc.root, { store: cc.store, key: keyOfId(e.hash) }, `${rel}/${e.relpath}`, cc.linkTypes, memo, e.size);
    if (!p.ok) errors.push(...p.errors);
    else report.placed++;
  });
  if (errors.length) return fail(errors);

  // 5. Prune directories emptied by step 3 (never the output directory itself).
  const dirsOnDisk = [...existing].filter(([, k]) => k === "dir").map(([p]) => p);
  for (const d of dirsOnDisk.sort().reverse()) {
    if (wantedDirs.has(d)) continue;
    try {
      await rmdir(path.join(absDir, d));
    } catch (e) {
      const code = errnoOf(e);
      if (code !== "ENOTEMPTY" && code !== "ENOENT" && code !== "EEXIST") throw e;
    }
  }
  const changed = report.placed + report.removed > 0 || (top !== undefined && !top.isDirectory()) || top === undefined;
  report.saved.sort((a, b) => (a.path < b.path ? -1 : 1));
  return ok({ status: changed ? "restored" : "unchanged", ...report });
}

/** What storing an output did to the cache. */
export interface StoreReport {
  /** Objects written because the cache did not have them (the manifest included). */
  stored: number;
  /**
   * Objects that were in the cache under the right name with the wrong bytes (edited through a hardlink or
   * symlink, most likely) and have been replaced by the output's content.
   */
  repaired: string[];
}

/**
 * Stores a workspace output in the cache (commit). For a directory, every file and then the manifest. With a shared
 * link type first in the list (`hardlink`, `symlink`), the workspace files are then replaced by links to the objects,
 * as DVC does, so the data is on disk once; a symlink inside a directory output is first replaced by a real directory
 * (the link is unlinked, its target never written: it may lie outside the project).
 */
export async function storeOutput(cc: CacheContext, rel: string, out: OutputHash, opts: { verify?: boolean } = {}): Promise<Result<StoreReport>> {
  const r = resolveInside(cc.root, rel);
  if (!r.ok) return r;
  const abs = r.value;
  const relink = cc.linkTypes[0] !== undefined && isSharedLink(cc.linkTypes[0]);
  const report: StoreReport = { stored: 0, repaired: [] };
  const count = (id: string, o: PutOutcome): void => {
    if (o === "present") return;
    report.stored++;
    if (o === "repaired") report.repaired.push(id);
  };
  if (out.kind === "file") {
    const p = await cc.store.storeFile(abs, out.hash, opts);
    if (!p.ok) return p;
    count(out.hash, p.value);
    if (relink) {
      const l = await placeObject(cc.root, { store: cc.store, key: keyOfId(out.hash) }, rel, cc.linkTypes);
      if (!l.ok) return l;
    }
    return ok(report);
  }
  const bytes = out.manifestBytes ?? serialiseManifest(out.entries);
  const algo = algorithmOf(out.hash);
  if (algo !== undefined && (await bytesHashOf(cc, bytes, algo)) !== hexOf(out.hash)) {
    // The manifest we would store does not hash to the directory's name: storing it would create a corrupt object.
    return fail([error("io", `cannot store directory '${rel}': its manifest does not match the hash ${out.hash}`)]);
  }
  const errors: Diagnostic[] = [];
  await forEachLimit(out.entries, FILE_CONCURRENCY, async (e) => {
    const p = await cc.store.storeFile(path.join(abs, e.relpath), e.hash, opts);
    if (!p.ok) errors.push(...p.errors);
    else count(e.hash, p.value);
  });
  if (errors.length) return fail(errors);
  if (relink) {
    // Every file is stored: now the directories on the way may be made real, then the files become links.
    const d = await realDirectories(cc.root, rel, out.entries);
    if (!d.ok) return d;
    const memo: ParentMemo = new Map();
    await forEachLimit(out.entries, FILE_CONCURRENCY, async (e) => {
      const l = await placeObject(cc.root, { store: cc.store, key: keyOfId(e.hash) }, `${rel}/${e.relpath}`, cc.linkTypes, memo, e.size);
      if (!l.ok) errors.push(...l.errors);
    });
    if (errors.length) return fail(errors);
  }
  // The manifest last: a `.dir` object present means every file of it was stored.
  const m = await cc.store.putBytes(out.hash, bytes);
  if (!m.ok) return m;
  count(out.hash, m.value);
  report.repaired.sort();
  return ok(report);
}

/**
 * Makes the directory output `rel` and every directory its entries live in real directories inside the root: a
 * symlink standing where one goes is removed (unlinked, not followed) and a directory created instead.
 */
async function realDirectories(root: string, rel: string, entries: readonly ManifestEntry[]): Promise<Result<void>> {
  const dirs = new Set<string>();
  for (const e of entries) {
    for (let d = path.posix.dirname(e.relpath); d !== "." && !dirs.has(d); d = path.posix.dirname(d)) dirs.add(d);
  }
  // The output directory itself first, then the others parents first.
  for (const dRel of [rel, ...[...dirs].sort().map((d) => `${rel}/${d}`)]) {
    let st: Stats | undefined;
    try {
      st = await lstat(path.join(root, dRel));
    } catch (e) {
      if (errnoOf(e) !== "ENOENT" && errnoOf(e) !== "ENOTDIR") throw e;
    }
    // The entries were just hashed through it, so its files are in the cache already.
    if (st?.isSymbolicLink()) {
      const rm = await safeRemove(root, dRel);
      if (!rm.ok) return rm;
    }
    const mk = await ensureDirInside(root, dRel);
    if (!mk.ok) return mk;
  }
  return ok(undefined);
}

/**
 * True when the object and, for a directory, its manifest and every file object are in the cache. Only the manifest
 * is verified (it has to be read); `onCorrupt` hears of one that is corrupt, which a read-only store keeps.
 */
export async function isCached(store: LocalCache, id: string, onCorrupt?: (id: string) => void): Promise<boolean> {
  if (!(await store.hasId(id))) return false;
  if (!id.endsWith(".dir")) return true;
  const m = await readManifest(store, id);
  if (m.status === "corrupt") onCorrupt?.(id);
  if (m.status !== "ok") return false;
  for (const e of m.entries) if (!(await store.hasId(e.hash))) return false;
  return true;
}
