/**
 * The status memo, `.pipe/tmp/status-memo`: the answer of the last `pipe status` that found the whole pipeline up to
 * date, with everything that answer was a function of, so that the next one can give it again after checking only
 * stats, as `ninja -n` answers a no-op from its log: no lock file parsed, no graph built, no stage judged, no stat-cache
 * lookup per file.
 *
 * The verdict of `status` over every stage is a function of
 * - pipe's build and the project root;
 * - the pipeline: the discovery result and every file loading read (stages, vars and params files), which is exactly
 *   the load cache's key (`project/load-cache.ts`);
 * - the lock files beside every stages file (`pipe.lock`, and `dvc.lock` that is read when `pipe.lock` is absent),
 *   and the params files stages depend on: by stamp (inode, size, mtime_ns, ctime_ns), or "absent";
 * - the content of every dep and out the verdict hashed: a file by (inode, size, mtime_ns), the key `.pipe/state`
 *   trusts for its hashes; a directory by its hash, which the hasher answers from the fingerprint of its listing;
 * so the memo records all of them, and is used only when every one is unchanged. The recorded stats are those the
 * verdict itself used (`recordingFs`), never a second look taken afterwards, which could see a file that changed
 * after it was judged. Stamps of locks and params files are taken before the verdict reads them, so a change made
 * while it ran shows as a different stamp next time.
 *
 * It is written only when everything was up to date (a stale pipeline is not worth memoising: the next command is
 * a `repro`), when loading printed no warning, when `.pipe/` exists, and when no recorded file was modified within
 * the racy window before the run began (as for `.pipe/state`: such a file could change again within the same
 * timestamp tick without its stat changing). It holds the exact output of the report in each form (text, coloured
 * text, each with and without `-v`, JSON), so an answer from it is byte for byte the one the full check gives. It is a cache: missing, damaged
 * or from another build, it is a miss, never an error; any difference sends `status` down the full path.
 *
 * Layout: a JSON header line (format, build, root, discovery, load inputs, stamps, the outputs), then one line per
 * dep or out, `f\t<path>\t<ino>\t<size>\t<mtime_ns>` or `d\t<path>\t<algo>\t<hash>`.
 */
import { statSync, unlinkSync, type BigIntStats } from "node:fs";
import path from "node:path";
import type { HashAlgo } from "../hash/algorithms.js";
import { nodeHashFs, type FsStat, type HashFs } from "../hash/fs.js";
import { discoverStagesFiles } from "../project/discover.js";
import { currentBuild, dirStampNow, stampNow, type LoadHeader } from "../project/load-cache.js";
import { isStringPairs, readScratchFile, writeScratchFile } from "../project/scratch.js";
import { absOf } from "../project/paths.js";

/** Where the memo lives, relative to the project root. */
export const STATUS_MEMO_FILE = ".pipe/tmp/status-memo";

const FORMAT = "pipe-status-memo 3";

/** The forms of the report the memo holds: plain or coloured text, each also with `-v`, and JSON. */
export type MemoForm = "text" | "color" | "text-v" | "color-v" | "json";

/** The load cache's header fields (the load the memo's answer rests on), then the memo's own. */
interface Header extends LoadHeader {
  /** Lock and params files: [root-relative path, stamp]. */
  stamps: [string, string][];
  /**
   * What discovery walked: every directory it listed and every ignore file it read, [root-relative path, stamp],
   * optional. All unchanged, discovery would give `discovered` again, so it is not run.
   */
  tree?: [string, string][];
  outputs: Record<MemoForm, string>;
  /** The working directory (root-relative) the text forms show paths and addresses from; JSON is the same anywhere. */
  here: string;
  /** Number of stages the answer covers (for `-v`). */
  stages: number;
}

/** One dep or out as the verdict saw it (a fresh verdict saw every one of them exist). */
export type MemoEntry = { kind: "file"; rootPath: string; st: FsStat } | { kind: "dir"; rootPath: string; algo: HashAlgo; hash: string };

export interface MemoHit {
  output: string;
  stages: number;
  /** Files stat'ed to validate the memo. */
  checked: number;
}

/**
 * A `HashFs` that remembers the stat it returned for each of `wanted` (absolute paths): the stats the verdict used.
 * Anything else (files inside a directory being walked) passes through unrecorded.
 */
export function recordingFs(wanted: ReadonlySet<string>, base: HashFs = nodeHashFs): { fs: HashFs; seen: Map<string, FsStat | undefined> } {
  const seen = new Map<string, FsStat | undefined>();
  const fs: HashFs = {
    stat(abs) {
      const st = base.stat(abs);
      if (wanted.has(abs)) seen.set(abs, st);
      return st;
    },
    readdir: (abs) => base.readdir(abs),
    readChunks: (abs, size) => base.readChunks(abs, size),
    // Content passes through untouched: the hasher may still hand a directory's files to its worker threads.
    readsDisk: base.readsDisk === true,
  };
  return { fs, seen };
}

/**
 * The memoised report in `form`, when the memo at `root` is still the answer (see the module comment); undefined
 * otherwise. `dirHash` gives a directory's hash when it can do so without reading (the stat cache's record for the
 * fingerprint of its listing), and is called only for directories the memo holds: anything else is a miss.
 */
export async function readStatusMemo(root: string, form: MemoForm, here: string, dirHash: (abs: string, algo: HashAlgo) => Promise<string | undefined>): Promise<MemoHit | undefined> {
  const file = readScratchFile(path.join(root, STATUS_MEMO_FILE));
  if (!file || !file.text.endsWith("\n")) return undefined;
  const { text } = file;
  const head = file.head as Partial<Header>;
  if (head.format !== FORMAT || head.build !== currentBuild() || head.root !== root) return undefined;
  if (!isStringPairs(head.inputs) || !isStringPairs(head.stamps) || typeof head.discovered !== "string" || typeof head.stages !== "number") return undefined;
  const output = head.outputs?.[form];
  if (typeof output !== "string") return undefined;
  if (form !== "json" && head.here !== here) return undefined;
  for (const [rel, stamp] of head.stamps) if (stampNow(absOf(root, rel)) !== stamp) return undefined;
  for (const [rel, stamp] of head.inputs) if (stampNow(absOf(root, rel)) !== stamp) return undefined;
  if (!treeUnchanged(root, head.tree)) {
    // Something in the walked tree changed (a data file added to a directory, say): walk, and compare the result.
    const found = await discoverStagesFiles(root);
    if (!found.ok || found.warnings.length > 0 || JSON.stringify(found.value) !== head.discovered) return undefined;
  }

  let checked = 0;
  const dirs: [string, HashAlgo, string][] = [];
  let pos = file.bodyStart;
  // One line per path, compared field by field against a fresh stat: tens of thousands of lines, so no per-line
  // array or intermediate object.
  while (pos < text.length) {
    const end = text.indexOf("\n", pos);
    const kind = text.charCodeAt(pos);
    const t1 = text.indexOf("\t", pos + 2);
    const pathEnd = t1 < 0 || t1 > end ? end : t1;
    const abs = absOf(root, text.slice(pos + 2, pathEnd));
    if (kind === F && t1 > 0 && t1 < end) {
      checked++;
      let st: BigIntStats | undefined;
      try {
        st = statSync(abs, { bigint: true, throwIfNoEntry: false });
      } catch {
        return undefined;
      }
      if (st === undefined || !st.isFile()) return undefined;
      const t2 = text.indexOf("\t", t1 + 1);
      const t3 = text.indexOf("\t", t2 + 1);
      if (t2 < 0 || t3 < 0 || t3 > end) return undefined;
      if (!sameField(text, t1 + 1, t2, st.ino) || !sameField(text, t2 + 1, t3, st.size) || !sameField(text, t3 + 1, end, st.mtimeNs)) return undefined;
    } else if (kind === D && t1 > 0 && t1 < end) {
      const f = text.slice(t1 + 1, end).split("\t");
      if (f.length !== 2) return undefined;
      dirs.push([abs, f[0] as HashAlgo, f[1]!]);
    } else {
      return undefined;
    }
    pos = end + 1;
  }
  for (const [abs, algo, hash] of dirs) {
    if ((await dirHash(abs, algo)) !== hash) return undefined;
    checked++;
  }
  return { output, stages: head.stages, checked };
}

const F = "f".charCodeAt(0);
const D = "d".charCodeAt(0);

/** Whether `text.slice(from, to)` is the decimal form of `v`. */
function sameField(text: string, from: number, to: number, v: bigint): boolean {
  return to > from && text.slice(from, to) === v.toString();
}

/** Whether every stamp of `tree` (see `Header.tree`) is still the same. */
function treeUnchanged(root: string, tree: unknown): boolean {
  if (!isStringPairs(tree) || tree.length === 0) return false;
  for (const [rel, stamp] of tree) {
    const abs = rel === "" ? root : absOf(root, rel);
    if ((stamp.startsWith("d") ? dirStampNow(abs) : stampNow(abs)) !== stamp) return false;
  }
  return true;
}

export interface MemoRecord {
  root: string;
  key: { discovered: string; inputs: [string, string][] };
  stamps: [string, string][];
  /** See `Header.tree`. */
  tree?: [string, string][];
  entries: readonly MemoEntry[];
  outputs: Record<MemoForm, string>;
  /** See `Header.here`. */
  here: string;
  stages: number;
  /** When the run began (ns since the epoch), and how recent a modification makes a file untrustworthy. */
  startedNs: bigint;
  racyWindowNs: bigint;
}

function newestMtimeNs(abs: string): bigint | undefined {
  try {
    const st = statSync(abs, { bigint: true, throwIfNoEntry: false });
    return st === undefined ? 0n : st.mtimeNs;
  } catch {
    return undefined;
  }
}

/**
 * Writes the memo atomically when `.pipe/` exists (creating `.pipe/tmp/` if needed). Returns whether it was
 * written: nothing is written when a recorded file or stamp is too recent to be trusted, or a path cannot be
 * recorded (a tab or a line break in it).
 */
export function writeStatusMemo(m: MemoRecord): boolean {
  const limit = m.startedNs - m.racyWindowNs;
  const lines: string[] = [];
  for (const e of m.entries) {
    if (/[\t\n\r]/.test(e.rootPath)) return false;
    if (e.kind === "file") {
      if (e.st.mtimeNs > limit) return false;
      lines.push(`f\t${e.rootPath}\t${e.st.ino}\t${e.st.size}\t${e.st.mtimeNs}`);
    } else {
      lines.push(`d\t${e.rootPath}\t${e.algo}\t${e.hash}`);
    }
  }
  // Stamps were taken before the verdict; their files must be as old as any input's. A directory discovery walked
  // counts too: an entry added within the same tick as its stamp would not change it.
  for (const [rel] of [...m.stamps, ...(m.tree ?? [])]) {
    const t = newestMtimeNs(absOf(m.root, rel));
    if (t === undefined || t > limit) return false;
  }
  const header: Header = {
    format: FORMAT,
    build: currentBuild(),
    root: m.root,
    discovered: m.key.discovered,
    inputs: m.key.inputs,
    stamps: m.stamps,
    ...(m.tree ? { tree: m.tree } : {}),
    outputs: m.outputs,
    here: m.here,
    stages: m.stages,
  };
  const body = `${JSON.stringify(header)}\n${lines.length > 0 ? lines.join("\n") + "\n" : ""}`;
  return writeScratchFile(path.join(m.root, STATUS_MEMO_FILE), body);
}

/** Removes the memo (a run that found something stale: the memo, if any, no longer describes the project). */
export function dropStatusMemo(root: string): void {
  try {
    unlinkSync(path.join(root, STATUS_MEMO_FILE));
  } catch {
    // absent, or a read-only project: either way it is not trusted without its checks
  }
}
