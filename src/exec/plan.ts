/**
 * Which stages a `repro` touches and which it forces (spec 5), as DVC's `plan_repro` chooses them:
 *
 * - no flag: the targets and everything upstream of them (no target: every stage);
 * - `-s`: the targets only;
 * - `-d`: the targets and everything downstream of them;
 * - `-p`: every stage of the connected components holding the targets;
 *
 * always in the graph's execution order. `-f` forces the targets (with `-d`, their downstream too; without
 * targets, every selected stage); their upstream still runs only when stale.
 */
import type { StageGraph } from "../model.js";

export interface SelectFlags {
  singleItem?: boolean;
  downstream?: boolean;
  pipeline?: boolean;
  force?: boolean;
}

function closure(start: readonly string[], next: (a: string) => readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const a = stack.pop()!;
    if (seen.has(a)) continue;
    seen.add(a);
    for (const b of next(a)) if (!seen.has(b)) stack.push(b);
  }
  return seen;
}

/**
 * `targets`: resolved addresses, or undefined for "every stage". Returns the selected stages in execution order and
 * the forced set.
 */
export function planRepro(graph: StageGraph, targets: readonly string[] | undefined, flags: SelectFlags): { selected: string[]; forced: Set<string> } {
  const up = (a: string): readonly string[] => graph.upstream.get(a) ?? [];
  const down = (a: string): readonly string[] => graph.downstream.get(a) ?? [];
  let want: Set<string>;
  if (targets === undefined) want = new Set(graph.order);
  else if (flags.singleItem) want = new Set(targets);
  else if (flags.downstream) want = closure(targets, down);
  else if (flags.pipeline) want = closure(targets, (a) => [...up(a), ...down(a)]);
  else want = closure(targets, up);
  const selected = graph.order.filter((a) => want.has(a));
  let forced = new Set<string>();
  if (flags.force) {
    if (targets === undefined || flags.downstream) forced = new Set(selected);
    else forced = new Set(targets);
  }
  return { selected, forced };
}
