/**
 * Where the copies, clones and links that `pipe` places into the workspace are made before they get their name, and
 * how what a killed `pipe` left of them is found again.
 *
 * A placement is made under a temp name beside its destination (`tempBeside`: `.<name>.pipe-tmp-<pid>-<8 hex>`),
 * then renamed over it, so a workspace file is always complete. A process killed between the two (SIGKILL, the OOM
 * killer, a lost terminal) leaves the temp file behind, possibly inside a directory output. So, before the first temp
 * file is made in a directory, the directory is written to this writer's *restore journal*,
 * `.pipe/tmp/restoring/<pid>-<tag>` (one JSON string per line, the directory relative to the root), and the journal
 * is flushed to disk (`announce`). The next writing command, once it holds the project write lock (only a lock holder
 * places files, so a journal there belongs to a writer that is gone), removes `pipe`'s temp names from exactly the
 * directories the journals list, then the journals (`sweepJournals`). A writer that finishes removes its own journal
 * (`dropJournal`), unless a temp file of its own could not be removed.
 *
 * Until then a leftover is harmless: the hashing walk skips the name (`hash/ignore.ts`, `isPipeTempName`), and
 * `checkout` (and a restore by `repro`) removes it from a directory output, as does the deletion of outputs before a
 * stage runs.
 *
 * Chosen over making every file in `.pipe/tmp/staging/` and renaming it into the output (what this module did
 * first): a create in one directory renamed into another cost 0.5-0.9 ms per file on ext4, twice a create beside
 * the destination, and an output on another file system than `.pipe/` needed temps beside it anyway (EXDEV).
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, unlinkSync, writeSync, constants as fsc } from "node:fs";
import { lstat, readdir, readFile, realpath, rm, unlink } from "node:fs/promises";
import path from "node:path";
import { isPipeTempName } from "../hash/ignore.js";
import { errnoOf, isInside, isInsideOrSame, realRoot } from "./fs.js";

/** The journals' directory, relative to the project root. */
export const JOURNAL_DIR = ".pipe/tmp/restoring";
/** Where an earlier version of `pipe` staged its temp files: emptied by the sweep too. */
export const LEGACY_STAGING_DIR = ".pipe/tmp/staging";

/** This process's journal name: pid and a random tag (pids are reused). */
const JOURNAL_NAME = `${process.pid}-${randomBytes(4).toString("hex")}`;

interface Journal {
  /** Absolute path of the journal file. */
  file: string;
  /** Absolute directories already in it (flushed). */
  dirs: Set<string>;
  /** Appends, one after the other. */
  queue: Promise<void>;
  /** Temp files made and not yet renamed or removed. */
  open: number;
}

/** Root (absolute) -> this process's journal there. */
const journals = new Map<string, Journal>();

function journalOf(root: string): Journal {
  const absRoot = path.resolve(root);
  let j = journals.get(absRoot);
  if (!j) {
    j = { file: path.join(absRoot, JOURNAL_DIR, JOURNAL_NAME), dirs: new Set(), queue: Promise.resolve(), open: 0 };
    journals.set(absRoot, j);
  }
  return j;
}

/** True when temp files may be made in `absDir` now (it is in this process's journal, on disk). */
export function announced(root: string, absDir: string): boolean {
  return journals.get(path.resolve(root))?.dirs.has(absDir) === true;
}

/**
 * Writes the directories `absDirs` (absolute, inside `root`) to this process's journal and flushes it, so a temp file
 * made in them afterwards is found by the next writer even if this one is killed (or the machine stops). Directories
 * already announced cost nothing; a batch costs one write and one flush. Call with the project write lock held.
 */
export function announce(root: string, absDirs: Iterable<string>): Promise<void> {
  const j = journalOf(root);
  const absRoot = path.resolve(root);
  const fresh: string[] = [];
  for (const d of absDirs) if (!j.dirs.has(d) && !fresh.includes(d)) fresh.push(d);
  if (fresh.length === 0) return j.queue;
  const p = j.queue.then(() => {
    const todo = fresh.filter((d) => !j.dirs.has(d));
    if (todo.length === 0) return;
    const text = todo.map((d) => JSON.stringify(path.relative(absRoot, d).split(path.sep).join("/")) + "\n").join("");
    // Synchronous: a handful of calls per batch of placements, and nothing may be placed before they are done.
    let created = false;
    let fd: number;
    try {
      fd = openSync(j.file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_EXCL, 0o644);
      created = true;
    } catch (e) {
      if (errnoOf(e) === "ENOENT") {
        mkdirSync(path.dirname(j.file), { recursive: true });
        fd = openSync(j.file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_EXCL, 0o644);
        created = true;
      } else if (errnoOf(e) === "EEXIST") fd = openSync(j.file, fsc.O_WRONLY | fsc.O_APPEND);
      else throw e;
    }
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (created) {
      // The journal's own name must survive a crash too.
      const dfd = openSync(path.dirname(j.file), fsc.O_RDONLY);
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    }
    for (const d of todo) j.dirs.add(d);
  });
  j.queue = p.catch(() => undefined);
  return p;
}

/** Notes that a temp file was made under `root` (`settled` when it is renamed or removed). */
export function tempMade(root: string): void {
  journalOf(root).open++;
}

/** Notes that a temp file noted by `tempMade` no longer exists under its temp name. */
export function tempSettled(root: string): void {
  journalOf(root).open--;
}

/**
 * Removes `pipe`'s temp files from every directory the journals of writers that are gone list, then the journals
 * (and what an earlier version left in `.pipe/tmp/staging/`). Call only while holding the project write lock.
 * Nothing is removed through a directory that resolves outside the root, and subdirectories are not entered (each
 * directory that got temp files is listed). Returns how many temp files went.
 */
export async function sweepJournals(root: string): Promise<number> {
  const absRoot = path.resolve(root);
  await rm(path.join(absRoot, LEGACY_STAGING_DIR), { recursive: true, force: true });
  const dir = path.join(absRoot, JOURNAL_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR") return 0;
    throw e;
  }
  const mine = journals.get(absRoot);
  let removed = 0;
  for (const n of names) {
    const file = path.join(dir, n);
    if (mine !== undefined && file === mine.file) continue;
    let text = "";
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      if (errnoOf(e) !== "EISDIR" && errnoOf(e) !== "ENOENT") throw e;
    }
    for (const line of text.split("\n")) {
      let rel: unknown;
      try {
        rel = JSON.parse(line);
      } catch {
        continue; // an empty or torn line
      }
      if (typeof rel !== "string") continue;
      removed += await sweepDir(absRoot, rel);
    }
    await rm(file, { recursive: true, force: true });
  }
  return removed;
}

/** Removes the temp names in the directory `rel` (relative to the root), when it is one inside the root. */
async function sweepDir(absRoot: string, rel: string): Promise<number> {
  const abs = path.resolve(absRoot, rel);
  if (abs !== absRoot && !isInside(abs, absRoot)) return 0;
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    return 0; // gone since
  }
  if (!isInsideOrSame(real, await realRoot(absRoot))) return 0;
  let names: string[];
  try {
    names = await readdir(real);
  } catch {
    return 0; // not a directory any more
  }
  let n = 0;
  for (const name of names) {
    if (!isPipeTempName(name)) continue;
    const p = path.join(real, name);
    const st = await lstat(p).catch(() => undefined);
    if (!st || st.isDirectory()) continue;
    await unlink(p).catch(() => undefined);
    n++;
  }
  return n;
}

/**
 * Removes this process's journal once its writing is done, unless one of its temp files is still there (a placement
 * failed between its copy and its cleanup): then it stays for the next writer's sweep. Called when the project write
 * lock is released.
 */
export function dropJournal(root: string): void {
  const absRoot = path.resolve(root);
  const j = journals.get(absRoot);
  if (j === undefined) return;
  journals.delete(absRoot);
  if (j.open > 0 || j.dirs.size === 0) return;
  try {
    unlinkSync(j.file);
  } catch {
    try {
      rmSync(j.file, { force: true });
    } catch {
      // Left for the next writer's sweep.
    }
  }
}
