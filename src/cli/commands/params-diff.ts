/**
 * `pipe params diff [A_REV [B_REV]]`: params that differ between two revisions (default `HEAD` and the workspace).
 * The work, shared with `exp diff`, is `cli/compare.ts`'s `paramsDiff` (over `compare/comparison.ts`).
 */
import type { CommandContext } from "../context.js";
import { paramsDiff, type ParamsDiffOptions } from "../compare.js";

export type { ParamsDiffOptions } from "../compare.js";

export async function run(ctx: CommandContext, aRev: string | undefined, bRev: string | undefined, opts: ParamsDiffOptions): Promise<number> {
  return paramsDiff(ctx, aRev, bRev, opts);
}
