/**
 * `pipe push [TARGET...] [-r NAME] [-j N] [--run-cache] [-a] [-T] [-A] [--rev R] [--json]`: sends the cached outputs
 * of the targets (default: every stage) that the remote lacks, as DVC 3's `dvc push`. The work is
 * `remotes/transfer-session.ts`'s; `cli/transfer-run.ts` holds what push, fetch and pull share.
 */
import type { CommandContext } from "../context.js";
import { transferCommand, type TransferFlags } from "../transfer-run.js";

export function run(ctx: CommandContext, targets: string[], opts: TransferFlags): Promise<number> {
  return transferCommand(ctx, "push", targets, opts);
}
