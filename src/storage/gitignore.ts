/**
 * Keeps cached outputs out of git, as DVC does (spec 3): each cached output gets a line `/path` in the `.gitignore`
 * beside its stages file (path relative to that directory). An output that does not lie under the stages file's
 * directory (a `wdir: ..`) goes, as in DVC, to the `.gitignore` of the output's own parent directory.
 *
 * Idempotent and deterministic: lines already present are left where they are, missing ones are appended in sorted
 * order, and nothing is rewritten when nothing is missing. The file is replaced atomically.
 */
import { readFile, unlink } from "node:fs/promises";
import path from "node:path";
import { ok, type Result } from "../core/diagnostic.js";
import { atomicWrite, ensureDirInside, errnoOf } from "./fs.js";

/** A gitignore pattern matching exactly `rel` (relative to the .gitignore's directory), anchored. */
export function gitignoreEntry(rel: string): string {
  // Escape what gitignore would read as pattern syntax; a trailing space would be stripped.
  const escaped = rel.replace(/[\\*?[\]!#]/g, (c) => `\\${c}`).replace(/ $/, "\\ ");
  return `/${escaped}`;
}

/** Which `.gitignore` (directory relative to root) gets which entry, for outputs given by root path. */
export function planGitignore(stageDir: string, outRootPaths: readonly string[]): Map<string, string[]> {
  const byDir = new Map<string, string[]>();
  for (const p of outRootPaths) {
    let dir = stageDir;
    let rel = dir === "" ? p : p.startsWith(dir + "/") ? p.slice(dir.length + 1) : undefined;
    if (rel === undefined) {
      dir = path.posix.dirname(p) === "." ? "" : path.posix.dirname(p);
      rel = path.posix.basename(p);
    }
    const list = byDir.get(dir) ?? [];
    list.push(gitignoreEntry(rel));
    byDir.set(dir, list);
  }
  return byDir;
}

/**
 * Adds entries for the given outputs. Returns the `.gitignore` files changed (relative to root, sorted).
 */
export async function addToGitignore(root: string, stageDir: string, outRootPaths: readonly string[]): Promise<Result<string[]>> {
  const changed: string[] = [];
  for (const [dir, entries] of [...planGitignore(stageDir, outRootPaths)].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const rel = dir === "" ? ".gitignore" : `${dir}/.gitignore`;
    const abs = path.join(root, rel);
    let text = "";
    try {
      text = await readFile(abs, "utf8");
    } catch (e) {
      if (errnoOf(e) !== "ENOENT") throw e;
    }
    const present = new Set(text.split(/\r?\n/).map((l) => l.trim()));
    const missing = [...new Set(entries)].filter((e) => !present.has(e)).sort();
    if (missing.length === 0) continue;
    const d = await ensureDirInside(root, dir);
    if (!d.ok) return d;
    const sep = text === "" || text.endsWith("\n") ? "" : "\n";
    await atomicWrite(abs, text + sep + missing.join("\n") + "\n");
    changed.push(rel);
  }
  return ok(changed);
}

/**
 * Removes the entries of the given outputs (as `addToGitignore` wrote them), for `pipe remove`. A `.gitignore` left
 * with nothing in it is deleted, as DVC does. Returns the files changed (relative to root, sorted).
 */
export async function removeFromGitignore(root: string, stageDir: string, outRootPaths: readonly string[]): Promise<Result<string[]>> {
  const changed: string[] = [];
  for (const [dir, entries] of [...planGitignore(stageDir, outRootPaths)].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const rel = dir === "" ? ".gitignore" : `${dir}/.gitignore`;
    const abs = path.join(root, rel);
    let text: string;
    try {
      text = await readFile(abs, "utf8");
    } catch (e) {
      if (errnoOf(e) === "ENOENT") continue;
      throw e;
    }
    const gone = new Set(entries);
    const lines = text.split(/\r?\n/);
    const kept = lines.filter((l) => !gone.has(l.trim()));
    if (kept.length === lines.length) continue;
    const rest = kept.join("\n");
    if (rest.trim() === "") await unlink(abs);
    else await atomicWrite(abs, rest.endsWith("\n") || rest === "" ? rest : rest + "\n");
    changed.push(rel);
  }
  return ok(changed);
}
