/**
 * `pipe pull [TARGET...]` (the flags of `fetch`): `fetch`, then `checkout` of the same targets, as DVC 3's
 * `dvc pull`. The checkout runs even when some objects did not arrive, so every output that can be restored is,
 * and the exit code is 1 when either part failed.
 */
import type { CommandContext } from "../context.js";
import { EXIT_OK } from "../context.js";
import { transferCommand, type DeferredJson, type TransferFlags } from "../transfer-run.js";

export async function run(ctx: CommandContext, targets: string[], opts: TransferFlags): Promise<number> {
  const deferred: DeferredJson = {};
  const fetched = await transferCommand(ctx, "pull", targets, opts, deferred);
  // A usage error or an interrupt: nothing to check out from.
  if (fetched !== EXIT_OK && fetched !== 1) return fetched;
  const { checkoutWorkspace } = await import("../checkout-run.js");
  // With --json stdout holds one document: the checkout's lines are left out of it, and what it restored goes in.
  const quiet = opts.json ? { ...ctx, io: { ...ctx.io, out: () => undefined } } : ctx;
  const restored: string[] = [];
  const code = await checkoutWorkspace(quiet, targets, { onRestored: (p) => restored.push(p) });
  if (deferred.json) ctx.io.out(deferred.json(restored));
  return fetched !== EXIT_OK ? fetched : code;
}
