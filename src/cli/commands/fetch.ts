/**
 * `pipe fetch [TARGET...] [-r NAME] [-j N] [--run-cache] [-a] [-T] [-A] [--rev R] [--json]`: brings the objects of
 * the targets' outputs (default: every stage's) that the cache lacks from the remote into the cache, each verified
 * before it gets its name; the workspace is not touched (`pipe pull` also checks out).
 */
import type { CommandContext } from "../context.js";
import { transferCommand, type TransferFlags } from "../transfer-run.js";

export function run(ctx: CommandContext, targets: string[], opts: TransferFlags): Promise<number> {
  return transferCommand(ctx, "fetch", targets, opts);
}
