/**
 * Writing a file of `.pipe/tmp/` (the load cache, the status memo): only when `.pipe/` already exists (nothing is
 * created in a project `pipe` was not set up in; `.pipe/tmp/` itself is created as needed), atomically (temp file
 * in the same directory, then rename: a reader sees the old file or the new one, never half of one), and never as
 * an error: these files are caches, so a read-only project or a full disk only costs the next run a miss.
 */
import { mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
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
