/**
 * The cheap first try of `pipe status` on the whole pipeline: the status memo (`memo.ts`). When the last full check
 * found everything up to date and nothing it depended on has changed, its report is given again after checking only
 * stats, as `ninja -n` answers a no-op. Light on purpose: the full check (`check.ts`) is not imported from here.
 */
import { statSync } from "node:fs";
import path from "node:path";
import type { HashAlgo } from "../hash/algorithms.js";
import type { Hasher } from "../hash/hasher.js";
import { findProjectRoot } from "../project/root.js";
import { readStatusMemo, type MemoForm, type MemoHit } from "./memo.js";

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The memo's answer for a report from `cwd` in `form`, or undefined when it does not answer. `runningNow` gives the
 * stages other pipes are running (their records belong to `exec/`): while there are any, the full report says which.
 */
export async function statusFromMemo(
  cwd: string,
  form: MemoForm,
  runningNow: (root: string) => Promise<ReadonlyMap<string, unknown>>,
): Promise<MemoHit | undefined> {
  // A root that cannot be found is reported by the full path, with its message.
  const found = await findProjectRoot(cwd);
  if (!found.ok || !isDir(path.join(found.value.root, ".pipe"))) return undefined;
  const root = found.value.root;
  if ((await runningNow(root)).size > 0) return undefined;
  // A directory dep or out is checked by the fingerprint of its listing, which the stat cache keeps with its hash:
  // nothing is read here, so a changed directory costs the full report (which hashes it) no second read.
  let hasher: Hasher | undefined;
  const dirHash = async (abs: string, algo: HashAlgo): Promise<string | undefined> => {
    hasher ??= (await import("./workspace.js")).openWorkspace(root).hasher;
    return hasher.peekDir(abs, algo);
  };
  const here = path.relative(root, cwd).split(path.sep).join("/");
  return readStatusMemo(root, form, here, dirHash);
}
