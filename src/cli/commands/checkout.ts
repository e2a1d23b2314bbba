/**
 * `pipe checkout [TARGET...]`: makes the cached outputs of the targets (default: every stage) what their lock entries
 * say, from the cache (spec 5). The words and exit codes are `cli/checkout-run.ts`'s, which `pull` and `exp apply`
 * end with too; the work is `exec/checkout.ts`'s.
 */
import type { CommandContext } from "../context.js";

export async function run(ctx: CommandContext, targets: string[]): Promise<number> {
  const { checkoutWorkspace } = await import("../checkout-run.js");
  return checkoutWorkspace(ctx, targets);
}
