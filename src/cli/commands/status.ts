/**
 * `pipe status [TARGET...]`: which stages are stale and why (spec 5). A reader: it never blocks on a running
 * `repro` and writes nothing but the stat cache (`.pipe/state`), the load cache (`.pipe/tmp/load-cache`) and the
 * status memo (`.pipe/tmp/status-memo`), only when `.pipe/` exists.
 *
 * This module is the front: a report on the whole pipeline is first asked of the status memo (`status/memo.ts`).
 * When the last full check found everything up to date and nothing it depended on has changed, its answer is given
 * again after checking only stats, as `ninja -n` answers a no-op. Only when the memo does not answer is the full
 * report (`status-report.ts`: load, lock files, graph, judging each stage) imported and run, so a no-op does not
 * even load that code.
 */
import { statSync } from "node:fs";
import path from "node:path";
import type { HashAlgo } from "../../hash/algorithms.js";
import { findProjectRoot } from "../../project/root.js";
import { readStatusMemo, STATUS_MEMO_FILE, type MemoForm } from "../../status/memo.js";
import { EXIT_OK, type CommandContext } from "../context.js";

export interface StatusOptions {
  json?: boolean;
  check?: boolean;
}

function memoForm(ctx: CommandContext, opts: StatusOptions): MemoForm {
  if (opts.json) return "json";
  return `${ctx.global.color ? "color" : "text"}${ctx.global.verbose ? "-v" : ""}` as MemoForm;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The exit code of a report answered by the memo, or undefined when the memo does not answer. */
async function answerFromMemo(ctx: CommandContext, opts: StatusOptions): Promise<number | undefined> {
  // A root that cannot be found is reported by the full path, with its message.
  const found = await findProjectRoot(ctx.global.cwd);
  if (!found.ok || !isDir(path.join(found.value.root, ".pipe"))) return undefined;
  const root = found.value.root;
  // While another pipe runs stages, the full report says which (the memo knows nothing of them).
  const { stagesRunningNow } = await import("../../executors/local-groups.js");
  if ((await stagesRunningNow(root)).size > 0) return undefined;
  // A directory dep or out is checked by the fingerprint of its listing, which the stat cache keeps with its hash:
  // nothing is read here, so a changed directory costs the full report (which hashes it) no second read.
  let hasher: import("../../hash/hasher.js").Hasher | undefined;
  const dirHash = async (abs: string, algo: HashAlgo): Promise<string | undefined> => {
    hasher ??= (await import("../../status/workspace.js")).openWorkspace(root).hasher;
    return hasher.peekDir(abs, algo);
  };
  const here = path.relative(root, ctx.global.cwd).split(path.sep).join("/");
  const hit = await readStatusMemo(root, memoForm(ctx, opts), here, dirHash);
  if (!hit) return undefined;
  if (!ctx.global.quiet) {
    ctx.io.out(hit.output);
    if (ctx.global.verbose) {
      ctx.io.err(`Checked ${hit.stages} stage${hit.stages === 1 ? "" : "s"} from ${STATUS_MEMO_FILE}: ${hit.checked} path${hit.checked === 1 ? "" : "s"} unchanged since the last full check\n`);
    }
  }
  return EXIT_OK;
}

export async function run(ctx: CommandContext, targets: string[], opts: StatusOptions): Promise<number> {
  const startedNs = BigInt(Date.now()) * 1_000_000n;
  if (targets.length === 0) {
    const code = await answerFromMemo(ctx, opts);
    if (code !== undefined) return code;
  }
  const full = await import("./status-report.js");
  return full.run(ctx, targets, opts, startedNs);
}
