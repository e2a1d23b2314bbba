// Placeholder until the command lands; replaced by its real implementation.
import type { CommandContext } from "../context.js";
import { EXIT_USAGE } from "../context.js";

export async function run(ctx: CommandContext, ..._args: unknown[]): Promise<number> {
  ctx.io.err("error: not implemented yet\n");
  return EXIT_USAGE;
}
