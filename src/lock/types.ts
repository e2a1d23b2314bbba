/**
 * What a lock file says about a stage: the command it ran, and the hashes of its deps, params and outs when it last
 * succeeded. One shape for both `pipe.lock` (xxh64 entries) and `dvc.lock` (md5 entries, and legacy DVC 2 entries
 * written without `hash:`).
 */

/**
 * - `xxh64`: pipe's own (`hash: xxh64`, `xxh64: <16 hex>`).
 * - `md5`: DVC 3 (`hash: md5`, `md5: <32 hex>`).
 * - `legacy-md5`: DVC 2 (`md5:` without `hash:`), verified with DVC 2's md5-dos2unix, as DVC 3 does.
 * - `none`: no content hash recorded (URL deps and outs: `checksum:`/`etag:` kept in `extra`).
 */
export type LockAlgo = "xxh64" | "md5" | "legacy-md5" | "none";

export interface LockFileEntry {
  /** As written in the stage (relative to its wdir). */
  path: string;
  algo: LockAlgo;
  /** Hex digest (with `.dir` for a directory); empty when `algo` is `none`. */
  hash: string;
  size?: number;
  nfiles?: number;
  /** Other fields as read (`checksum`, `etag`, `isexec`, `version_id`, `remote`...), kept when the lock is rewritten. */
  extra?: Record<string, unknown>;
}

export interface LockEntry {
  /** The interpolated command the stage last ran with. */
  cmd: string | string[];
  deps: LockFileEntry[];
  /** params file (as written, relative to wdir) -> key -> value. Whole-file params hold the file's top-level keys. */
  params: Record<string, Record<string, unknown>>;
  outs: LockFileEntry[];
}

export interface LockFile {
  /** The lock file read, relative to the project root (`pipe.lock`, `sub/dvc.lock`). */
  file: string;
  /** `pipe.lock` or a `dvc.lock` read because no `pipe.lock` exists beside it. */
  flavor: "pipe" | "dvc";
  /** Entries by stage name (`train`, `build@foo`), in file order. */
  stages: Map<string, LockEntry>;
}

/** Key used to match a lock entry's path with a stage's path: POSIX-normalised, no `./`, no trailing `/`. */
const NEEDS_NORMALISING = /\\|\/\/|\/$|(^|\/)\.\.?(\/|$)|^\//;

export function pathKey(p: string): string {
  // Most paths are already normal: a no-op `status` calls this tens of thousands of times.
  if (p !== "" && !NEEDS_NORMALISING.test(p)) return p;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(p)) return p;
  let s = p.replace(/\\/g, "/");
  const parts: string[] = [];
  for (const seg of s.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." && parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else parts.push(seg);
  }
  s = parts.join("/");
  return p.startsWith("/") ? "/" + s : s === "" ? "." : s;
}
