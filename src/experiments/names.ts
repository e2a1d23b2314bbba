/**
 * Experiment names and refs. A name is one git ref component (DVC checks it with git's ref rules); without `-n` it is
 * two words, an adjective and a noun joined by a dash (`dashing-lynx`), as DVC generates them, chosen so that it is
 * not taken under the same baseline. The ref is DVC's layout: `refs/exps/<first 2 hex of the baseline>/<the rest>/
 * <name>`, so a repository shared with DVC users shows the same experiments to both tools.
 */
import { randomInt } from "node:crypto";
import { error, fail, ok, type Result } from "../core/diagnostic.js";

export const EXPS_NAMESPACE = "refs/exps";

const ADJECTIVES = [
  "agile", "amber", "ample", "azure", "balmy", "bold", "brave", "brisk", "calm", "civic", "clear", "cosy", "crisp",
  "curly", "dandy", "deft", "dewy", "eager", "early", "epic", "fair", "fancy", "fleet", "fluid", "frank", "fresh",
  "gusty", "handy", "hardy", "hazel", "jolly", "keen", "kind", "lucid", "lusty", "mellow", "merry", "misty", "noble",
  "olive", "plush", "proud", "quick", "quiet", "rapid", "regal", "rosy", "ruddy", "rusty", "sandy", "shiny", "silky",
  "sleek", "snowy", "solar", "spicy", "stony", "sunny", "swift", "tidal", "vivid", "warm", "witty", "zesty",
];

const NOUNS = [
  "acorn", "adder", "alder", "anvil", "aspen", "badge", "basil", "beech", "bison", "bloom", "brook", "cairn", "cedar",
  "cider", "cliff", "comet", "coral", "crane", "creek", "delta", "dingo", "drake", "dune", "eagle", "elm", "ember",
  "fern", "finch", "fjord", "flint", "gecko", "glade", "grove", "heron", "holly", "ibex", "iris", "kayak", "koala",
  "larch", "lemur", "lilac", "lynx", "maple", "marsh", "moose", "moth", "oasis", "otter", "panda", "pecan", "perch",
  "plume", "quail", "raven", "reef", "ridge", "robin", "sable", "shoal", "skiff", "sloth", "spruce", "stoat", "swan",
  "tapir", "thorn", "trout", "tulip", "viper", "walnut", "wren", "yak", "zebra",
];

/** A fresh two-word name not in `taken`. */
export function generateName(taken: ReadonlySet<string>): string {
  for (let i = 0; i < 1000; i++) {
    const n = `${ADJECTIVES[randomInt(ADJECTIVES.length)]!}-${NOUNS[randomInt(NOUNS.length)]!}`;
    if (!taken.has(n)) return n;
  }
  // 4,600 pairs taken under one baseline: a number keeps names unique.
  let k = 2;
  const base = `${ADJECTIVES[0]!}-${NOUNS[0]!}`;
  while (taken.has(`${base}-${k}`)) k++;
  return `${base}-${k}`;
}

/** A name given with `-n` (or to `exp branch`): one git ref component, as DVC requires. */
export function checkName(name: string): Result<string> {
  const bad =
    name === "" ||
    name.length > 200 ||
    !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name) ||
    name.includes("..") ||
    name.endsWith(".") ||
    name.endsWith(".lock") ||
    name === "HEAD" ||
    name === "workspace";
  if (bad) {
    return fail([
      error("usage", `invalid experiment name '${name}': use letters, digits, '.', '_', '-' and '+' (one git ref component, not HEAD or workspace)`),
    ]);
  }
  return ok(name);
}

/** `refs/exps/ab/cdef.../name`. */
export function expRef(baseline: string, name: string): string {
  return `${EXPS_NAMESPACE}/${baseline.slice(0, 2)}/${baseline.slice(2)}/${name}`;
}

/** The baseline and name of an experiment ref, or undefined for refs of other kinds (`refs/exps/celery/...`). */
export function parseExpRef(ref: string): { baseline: string; name: string } | undefined {
  const parts = ref.split("/");
  if (parts.length !== 5 || parts[0] !== "refs" || parts[1] !== "exps") return undefined;
  const baseline = parts[2]! + parts[3]!;
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(baseline)) return undefined;
  return { baseline, name: parts[4]! };
}
