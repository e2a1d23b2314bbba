/**
 * `pipe params diff [A_REV [B_REV]]`: params that differ between two revisions (default `HEAD` and the workspace).
 * The set-up it shares with `metrics show/diff` is `params/comparison.ts` (through `cli/compare.ts`).
 */
import { WORKSPACE } from "../../git/revision.js";
import { rootTargets } from "../../compare/comparison.js";
import { diffParams } from "../../compare/params.js";
import type { CommandContext } from "../context.js";
import { prepareComparison, printDiff, usageError } from "../compare.js";

export interface ParamsDiffOptions {
  all?: boolean;
  deps?: boolean;
  targets?: string[];
  json?: boolean;
  md?: boolean;
  /** false with `--no-path`. */
  path?: boolean;
}

export async function run(ctx: CommandContext, aRev: string | undefined, bRev: string | undefined, opts: ParamsDiffOptions): Promise<number> {
  const aName = aRev ?? "HEAD";
  const bName = bRev ?? WORKSPACE;
  const prepared = await prepareComparison(ctx, "params diff compares git revisions", [aName, bName], opts.json === true);
  if (typeof prepared === "number") return prepared;
  const { cmp, sides } = prepared;
  const targets = rootTargets(cmp.root, ctx.global.cwd, opts.targets);
  if (!targets.ok) return usageError(ctx, targets.errors);
  const r = await diffParams(sides[0]!, sides[1]!, cmp.tracked, {
    all: opts.all === true,
    deps: opts.deps === true,
    ...(targets.value ? { targets: targets.value } : {}),
    display: cmp.display,
  });
  if (!r.ok) return usageError(ctx, r.errors);
  return printDiff(ctx, r.value, opts, { title: "Param", aName, bName, path: opts.path !== false, change: false });
}
