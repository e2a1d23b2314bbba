/**
 * Which stages a `repro` touches and which it forces (spec 5). Selection is the graph's (`graph/select.ts`, DVC's
 * `plan_repro`: no flag = targets and their upstream, `-s` the targets, `-d` the targets and their downstream, `-p`
 * their connected components, in execution order). `-f` forces the targets (with `-d`, their downstream too;
 * without targets, every stage); their upstream still runs only when stale.
 */
import { selectStages } from "../graph/select.js";
import type { StageGraph } from "../core/model.js";

export interface SelectFlags {
  singleItem?: boolean;
  downstream?: boolean;
  pipeline?: boolean;
  force?: boolean;
}

/**
 * `targets`: resolved addresses, or undefined for "every stage". Returns the selected stages in execution order and
 * the forced set.
 */
export function planRepro(graph: StageGraph, targets: readonly string[] | undefined, flags: SelectFlags): { selected: string[]; forced: Set<string> } {
  const selected =
    targets === undefined
      ? [...graph.order]
      : selectStages(graph, targets, {
          ...(flags.singleItem ? { single: true } : {}),
          ...(flags.downstream ? { downstream: true } : {}),
          ...(flags.pipeline ? { pipeline: true } : {}),
        });
  let forced = new Set<string>();
  if (flags.force) {
    if (targets === undefined || (flags.downstream && !flags.pipeline)) forced = new Set(selected);
    else forced = new Set(targets);
  }
  return { selected, forced };
}
