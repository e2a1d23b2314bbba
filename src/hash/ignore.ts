/**
 * What hashing leaves out of a directory dep or out, as DVC 3 does (`dvc/ignore.py`, `DvcIgnoreFilter`), so that a
 * directory hashes to what DVC recorded in `dvc.lock`:
 *
 * - DVC's default rules: anything named `.git`, and directories named `.hg` or `.dvc`; `pipe` adds directories named
 *   `.pipe` (its own, as `.dvc` is DVC's);
 * - a subdirectory that is a project of its own (it holds a `.dvc/` or `.pipe/` directory: DVC's subrepos);
 * - what `.pipeignore` and `.dvcignore` files list (gitignore syntax), those in the project root and in every
 *   directory down to the one hashed, and those inside it, each applying below its own directory, the deepest file
 *   with a rule about a path deciding (`ignoredBy`, the engine discovery uses). Rules match case-sensitively, as
 *   DVC's do (discovery matches case-insensitively; there only stages files are at stake).
 *
 * A path outside the project root is hashed whole: DVC applies no rules there either.
 */
import path from "node:path";
import { compileIgnore, IGNORE_FILES, type IgnoreMatcher } from "./ignore-rules.js";
import { readSmallFileSync } from "./fs.js";

/**
 * The version of the rules above. Part of every directory fingerprint (with the text of every ignore file that
 * applied), so that a directory recorded under other rules is never answered from that record.
 */
export const RULES_VERSION = "ignore-rules 1";

/** DVC's defaults (`.git`, `.hg/`, `.dvc/`) and `.pipe/`. */
export function ignoredByDefault(name: string, isDir: boolean): boolean {
  if (name === ".git") return true;
  return isDir && (name === ".hg" || name === ".dvc" || name === ".pipe");
}

/**
 * A temporary file `pipe` names beside its destination (`.<name>.pipe-tmp-<pid>-<8 hex>`: an atomic write, or a
 * placement into an output on another file system than `.pipe/`) that a killed process left behind. It is never part
 * of a directory's hash: it is not the user's data, and hashing it made a restored output record and pass on junk.
 */
export function isPipeTempName(name: string): boolean {
  return name.charCodeAt(0) === 0x2e && name.includes(".pipe-tmp-") && TEMP_NAME.test(name);
}
const TEMP_NAME = /^\..+\.pipe-tmp-[0-9]+-[0-9a-f]{8}$/s;

/** Project markers: a subdirectory holding one of these directories is a project of its own. */
export const PROJECT_DIRS: readonly string[] = [".dvc", ".pipe"];

/**
 * Is a path (absolute; `isDir`: it is, or leads to, a directory) left out of a directory's hash? `{ error }` when the
 * rules that decide cannot be read. Made by `Hasher.ignoreTest`, for code that walks a directory output itself.
 */
export type IgnoreTest = (absPath: string, isDir: boolean) => boolean | { error: string };

/** An ignore file's rules, and what identifies them in a fingerprint. */
export interface IgnoreSource {
  matcher: IgnoreMatcher;
  /** Its path (root-relative) and text. */
  id: string;
}

/**
 * The ignore files of directory `dirAbs` (root-relative `base`, with a trailing slash or ``), in the order their
 * rules apply; `present` says which names exist, when the caller listed the directory already. Throws when one
 * exists but cannot be read.
 */
export function readIgnoreFiles(dirAbs: string, base: string, present?: (name: string) => boolean): IgnoreSource[] {
  const out: IgnoreSource[] = [];
  for (const name of IGNORE_FILES) {
    if (present && !present(name)) continue;
    let buf: Buffer | undefined;
    try {
      buf = readSmallFileSync(path.join(dirAbs, name));
    } catch (e) {
      // A directory of that name holds no rules (gitignore reads only files).
      if (typeof e === "object" && e !== null && (e as { code?: unknown }).code === "EISDIR") continue;
      throw e;
    }
    if (buf === undefined) continue;
    const text = buf.toString("utf8");
    out.push({ matcher: { base, ig: compileIgnore(text, { ignoreCase: false }) }, id: `${base}${name}\u0000${text}` });
  }
  return out;
}
