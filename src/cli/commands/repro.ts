/**
 * `pipe repro [TARGET...]`: brings the targets (default: every stage) up to date (spec 5). Flags, words and exit codes
 * are `cli/repro-run.ts`'s (which `watch` runs too); the engine is set up by `exec/run-repro.ts`.
 */
import type { CommandContext } from "../context.js";
import type { ReproOptions } from "../repro-run.js";

export async function run(ctx: CommandContext, targets: string[], opts: ReproOptions): Promise<number> {
  const { reproCommand } = await import("../repro-run.js");
  return reproCommand(ctx, targets, opts);
}
