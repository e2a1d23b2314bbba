/**
 * Writing a file of `.pipe/tmp/` (the load cache, the status memo): only when `.pipe/` already exists (nothing is
 * created in a project `pipe` was not set up in; `.pipe/tmp/` itself is created as needed), atomically (temp file
 * in the same directory, then rename: a reader sees the old file or the new one, never half of one), and never as
 * an error: these files are caches, so a read-only project or a full disk only costs the next run a miss. Both
 * start with a line of JSON (their key), so a reader decides on that line before parsing anything else.
 */
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Writes `text` to `file` (a path under `<root>/.pipe/tmp/`); returns whether it was written. */
export function writeScratchFile(file: string, text: string): boolean {
  const dir = path.dirname(file);
  try {
    if (!statSync(path.dirname(dir)).isDirectory()) return false;
    mkdirSync(dir, { recursive: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return false;
  }
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
    return true;
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    return false;
  }
}

/**
 * The text of a scratch file and its first line parsed as a JSON object, or undefined: no file, no complete first
 * line, or a first line that is not a JSON object.
 */
export function readScratchFile(file: string): { text: string; head: Record<string, unknown>; bodyStart: number } | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const nl = text.indexOf("\n");
  if (nl < 0) return undefined;
  let head: unknown;
  try {
    head = JSON.parse(text.slice(0, nl));
  } catch {
    return undefined;
  }
  if (typeof head !== "object" || head === null || Array.isArray(head)) return undefined;
  return { text, head: head as Record<string, unknown>, bodyStart: nl + 1 };
}

/** Whether `v` is a list of [string, string] pairs (the stamps the scratch files' keys are made of). */
export function isStringPairs(v: unknown): v is [string, string][] {
  return Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && typeof p[1] === "string");
}
