/**
 * The parsed-lock cache, `.pipe/tmp/lock-cache-<id>` (one per lock file): the checked entries of a lock file, keyed
 * by the text of each stage's entry, so that reading an unchanged (or slightly changed) 1,000-stage lock costs what
 * `JSON.parse` of its entries costs instead of parsing and checking the YAML again (~4x more on a 1.3 MB lock).
 *
 * Keyed by content, not by stat: an edit, a `touch`, a `git checkout`, a same-size edit within the same timestamp
 * tick, all either change an entry's text (a miss for that entry) or leave it alone (the same entry, whatever the
 * stat says). There is no racy window to handle.
 *
 * It applies only to the layout `pipe` writes (and DVC nearly always does), the one `fastParseLockLayout` reads:
 * `schema: '2.0'`, `stages:`, then one block per stage starting at a line indented by exactly two spaces. That
 * reader is block-local (each stage line resets its state), so the entries of the whole text are the entries of
 * each block read alone, provided no two blocks name the same stage. The file keeps the lock text it was made from
 * and where each entry's block is in it; a block of the current text equal to a stored block (a `Map` keyed by the
 * block's text: V8 hashes and compares the strings natively, ~1 ms for 1.3 MB) takes the stored entry; a block not
 * found is read alone with `fastParseLockLayout` and checked with `validateLock`. Anything else (another layout, a
 * block that reader declines, a problem in a block, a repeated name) gives up on the cache: the caller then reads
 * the whole text as before, which also locates the diagnostics.
 *
 * The file is three parts: a key line, a line of JSON with the entries, and the lock text. The key line holds a
 * format tag, the lock's path and pipe's build (`currentBuild`: a changed reader must not be answered from an older
 * build's entries). The file is rewritten (atomically, only when `.pipe/` exists) after a read that missed
 * some block, holding exactly the current blocks, so it never grows with history. Entries JSON cannot carry exactly
 * (a `.nan` param) are left out and read from the text each time.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import type { Result } from "../core/diagnostic.js";
import { ok } from "../core/diagnostic.js";
import { currentBuild, jsonFaithful } from "../project/load-cache.js";
import { readScratchFile, writeScratchFile } from "../project/scratch.js";
import { fastParseLockLayout } from "./fast-yaml.js";
import type { Problem } from "./read.js";
import type { LockEntry, LockFile } from "./types.js";

const FORMAT = "pipe-lock-cache 1";
const HEAD = "schema: '2.0'\nstages:\n";

/** An entry as stored: where its block is in the stored text, the stage's name, the checked entry. */
type Stored = [start: number, end: number, name: string, entry: LockEntry];

/** Where the cache of lock file `file` (root-relative) lives. */
export function lockCacheFile(root: string, file: string): string {
  return path.join(root, ".pipe", "tmp", `lock-cache-${createHash("sha1").update(file).digest("hex").slice(0, 16)}`);
}

/** The start offsets of the stage blocks: lines indented by exactly two spaces. Undefined: not that layout. */
function blockStarts(text: string): number[] | undefined {
  if (!text.startsWith(HEAD) || text.includes("\t") || text.includes("\r") || text.includes("#")) return undefined;
  const starts: number[] = [];
  const n = text.length;
  let at = HEAD.length;
  if (at < n && !(text.startsWith("  ", at) && text.charCodeAt(at + 2) !== 0x20)) return undefined;
  while (at < n) {
    starts.push(at);
    // The next line that starts with exactly two spaces. Lines at indent 0 or 1 inside a block make that block one
    // `fastParseLockLayout` declines when read alone, so they never reach the cache.
    let i = text.indexOf("\n  ", at);
    while (i >= 0 && text.charCodeAt(i + 3) === 0x20) i = text.indexOf("\n  ", i + 3);
    if (i < 0) break;
    at = i + 1;
  }
  return starts;
}

/** The stored entries by the text of their blocks (a sliced string of the stored text: no copy), or undefined. */
function readStored(file: string, build: string, lockFile: string): Map<string, Stored> | undefined {
  const scratch = readScratchFile(file);
  if (!scratch) return undefined;
  const { head: h, text } = scratch;
  if (h["format"] !== FORMAT || h["build"] !== build || h["file"] !== lockFile) return undefined;
  const nl = text.indexOf("\n", scratch.bodyStart);
  if (nl < 0) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text.slice(scratch.bodyStart, nl));
  } catch {
    return undefined;
  }
  if (!Array.isArray(body)) return undefined;
  const base = nl + 1;
  const out = new Map<string, Stored>();
  for (const s of body as unknown[]) {
    if (!Array.isArray(s) || typeof s[0] !== "number" || typeof s[1] !== "number" || typeof s[2] !== "string") return undefined;
    const e = s[3] as LockEntry | null;
    if (typeof e !== "object" || e === null || !Array.isArray(e.deps) || !Array.isArray(e.outs) || typeof e.params !== "object") return undefined;
    if (!(s[0] >= 0 && s[0] < s[1] && base + s[1] <= text.length)) return undefined;
    out.set(text.slice(base + s[0], base + s[1]), s as Stored);
  }
  return out;
}

/**
 * The lock file read through the cache, or undefined when the cache does not apply (see the module comment): the
 * caller then parses the whole text. `validate` is `validateLock` (passed in: `read.ts` imports this module).
 */
export function parseLockCached(
  root: string,
  file: string,
  text: string,
  flavor: "pipe" | "dvc",
  validate: (value: unknown, problems: Problem[]) => Map<string, LockEntry>,
  /** Whether a read that missed may rewrite the cache file (not under `repro --dry`, which writes nothing). */
  write = true,
): Result<LockFile> | undefined {
  const starts = blockStarts(text);
  if (starts === undefined) return undefined;
  const cacheFile = lockCacheFile(root, file);
  const build = currentBuild();
  const stored = readStored(cacheFile, build, file);
  const stages = new Map<string, LockEntry>();
  const keep: Stored[] = [];
  let missed = stored === undefined;
  for (let b = 0; b < starts.length; b++) {
    const start = starts[b]!;
    const end = starts[b + 1] ?? text.length;
    const block = text.slice(start, end);
    let name: string;
    let entry: LockEntry;
    const s = stored?.get(block);
    if (s === undefined) {
      missed = true;
      const value = fastParseLockLayout(HEAD + block);
      if (value === undefined) return undefined;
      const problems: Problem[] = [];
      const one = validate(value, problems);
      const first = [...one][0];
      if (problems.length > 0 || one.size !== 1 || first === undefined) return undefined;
      [name, entry] = first;
      // Left out of the file (and read from the text each time) when JSON would not give it back as it is.
      if (!jsonFaithful(entry)) {
        if (stages.has(name)) return undefined;
        stages.set(name, entry);
        continue;
      }
    } else [, , name, entry] = s;
    if (stages.has(name)) return undefined;
    stages.set(name, entry);
    keep.push([start, end, name, entry]);
  }
  if (missed && write) writeScratchFile(cacheFile, `${JSON.stringify({ format: FORMAT, build, file })}\n${JSON.stringify(keep)}\n${text}`);
  return ok({ file, flavor, stages });
}
