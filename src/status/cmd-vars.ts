/**
 * Explaining a `changed command` by the `${...}` variables whose values changed (`${train.lr} 0.1 -> 0.2`).
 *
 * The lock stores only the interpolated command (as DVC's does), not the variables' old values, so they are
 * recovered from the old command by position, using the current template: the pieces the expander built the new
 * command from (`CmdPiece`: literal text, and the text each `${...}` produced).
 *
 * 1. Exact alignment. The old command is matched against the template's literal pieces, `L0 ${a} L1 ${b} L2`, as if
 *    each `${...}` were a wildcard (the same variable twice must match the same text twice): every way of cutting
 *    the old command so is an alignment, and each gives every variable an old value. When there is exactly one
 *    answer per variable, a variable is named when its old text differs from its new text; putting the old values
 *    into the template gives the old command exactly, so the variables account for the whole change (`explained`).
 *    Several alignments that disagree on a variable (`${a}${b}` against `123`) are ambiguous: that variable is not
 *    named, and the change is not `explained`, so the old and new commands are shown instead of a guess.
 * 2. No alignment at all means the literal text of `cmd` was edited too (`python` -> `python3`). The change is not
 *    `explained` (the old and new commands are shown), and the variables are recovered as well as can be: both
 *    commands are split into whitespace-separated tokens and aligned (longest common subsequence); each variable's
 *    place in the new command is known from the template, and one lying inside a differing run of tokens is mapped
 *    back onto the old command through the unchanged text around it. A variable in unchanged text did not change;
 *    one whose old text cannot be pinned down is not named.
 *
 * Either way a variable is named only when all its places agree on one old text that differs from the new one.
 */
import type { CmdPiece } from "../core/model.js";

export interface CmdVarChange {
  /** As written inside `${...}`: `train.lr`. */
  name: string;
  /** The text the variable produced in the old command. */
  old: string;
  /** The text it produces now. */
  new: string;
}

export interface CmdExplanation {
  /** The variables whose text changed, in order of first use in `cmd`. */
  vars: CmdVarChange[];
  /**
   * True when the variables account for the whole change: their old texts put into the current template give the
   * locked command exactly. False when the literal text changed too, or when the change could not be attributed
   * with certainty; the old and new commands are then worth showing.
   */
  explained: boolean;
}

/** `L0 ${v1} L1 ... ${vk} Lk`: `lits` has one more element than `slots`. */
interface Shape {
  lits: string[];
  slots: { v: string; text: string }[];
}

function shapeOf(pieces: readonly CmdPiece[]): Shape {
  const lits: string[] = [""];
  const slots: { v: string; text: string }[] = [];
  for (const p of pieces) {
    if (typeof p === "string") lits[lits.length - 1] += p;
    else {
      slots.push(p);
      lits.push("");
    }
  }
  return { lits, slots };
}

function textOf(s: Shape): string {
  let out = s.lits[0]!;
  for (let i = 0; i < s.slots.length; i++) out += s.slots[i]!.text + s.lits[i + 1]!;
  return out;
}

/** Old texts per variable of one command; `null` for a variable whose old text could not be pinned down. */
type Candidates = Map<string, string | null>;

/** Bounds on the search for alignments: a pathological template gives up (unexplained) rather than stalling. */
const MAX_ALIGNMENTS = 64;
const MAX_STEPS = 100_000;

/**
 * Every alignment of `old` against the literal pieces of `s` (see the module comment), as the old text of each
 * variable. `undefined` when the search exceeded its bounds; an empty list when no alignment exists.
 */
function alignments(old: string, s: Shape): Map<string, string>[] | undefined {
  const { lits, slots } = s;
  const k = slots.length;
  const first = lits[0]!;
  const last = lits[k]!;
  if (!old.startsWith(first)) return [];
  if (k === 0) return old === first ? [new Map()] : [];
  if (old.length < first.length + last.length || !old.endsWith(last)) return [];
  const out: Map<string, string>[] = [];
  let steps = 0;
  let exceeded = false;
  const bound = new Map<string, string>();
  // Slot `i` starts at `pos`, just after literal `i`.
  const visit = (i: number, pos: number): void => {
    if (exceeded) return;
    if (++steps > MAX_STEPS || out.length > MAX_ALIGNMENTS) {
      exceeded = true;
      return;
    }
    const name = slots[i]!.v;
    const lit = lits[i + 1]!;
    const lastSlot = i === k - 1;
    const tryEnd = (end: number): void => {
      const text = old.slice(pos, end);
      const prev = bound.get(name);
      if (prev !== undefined && prev !== text) return;
      if (prev === undefined) bound.set(name, text);
      if (lastSlot) out.push(new Map(bound));
      else visit(i + 1, end + lit.length);
      if (prev === undefined) bound.delete(name);
    };
    const limit = old.length - last.length;
    if (lastSlot) {
      if (pos <= limit) tryEnd(limit);
      return;
    }
    // The literal after this slot must end before the last literal starts.
    const prev = bound.get(name);
    if (prev !== undefined) {
      // The variable's text is already fixed by an earlier place: one candidate end.
      const end = pos + prev.length;
      if (end + lit.length <= limit && old.startsWith(lit, end)) tryEnd(end);
      return;
    }
    if (lit === "") {
      for (let end = pos; end <= limit && !exceeded; end++) tryEnd(end);
      return;
    }
    for (let end = old.indexOf(lit, pos); end >= 0 && end + lit.length <= limit && !exceeded; end = old.indexOf(lit, end + 1)) tryEnd(end);
  };
  visit(0, first.length);
  return exceeded ? undefined : out;
}

interface Token {
  start: number;
  end: number;
  text: string;
}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  const re = /\S+/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out.push({ start: m.index, end: m.index + m[0].length, text: m[0] });
  return out;
}

interface Hunk {
  /** Character ranges in the old and new command ([start, end)). */
  os: number;
  oe: number;
  ns: number;
  ne: number;
}

/** Differing runs of tokens between `a` (old) and `b` (new). Commands are short; O(n*m) is fine, and capped. */
function hunks(oldCmd: string, newCmd: string): Hunk[] | undefined {
  const a = tokenize(oldCmd);
  const b = tokenize(newCmd);
  if (a.length * b.length > 4_000_000) return undefined;
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i]!.text === b[j]!.text ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: Hunk[] = [];
  let i = 0;
  let j = 0;
  let hi = -1;
  let hj = -1;
  const pos = (toks: Token[], k: number, text: string): number => (k < toks.length ? toks[k]!.start : text.length);
  const close = (): void => {
    if (hi < 0) return;
    const os = pos(a, hi, oldCmd);
    const ns = pos(b, hj, newCmd);
    const oe = i > hi ? a[i - 1]!.end : os;
    const ne = j > hj ? b[j - 1]!.end : ns;
    out.push({ os, oe, ns, ne });
    hi = hj = -1;
  };
  while (i < n || j < m) {
    if (i < n && j < m && a[i]!.text === b[j]!.text) {
      close();
      i++;
      j++;
    } else {
      if (hi < 0) {
        hi = i;
        hj = j;
      }
      if (j < m && (i >= n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) j++;
      else i++;
    }
  }
  close();
  return out;
}

/**
 * The old text of the place [a, b) of the new command, through the token alignment `hs`: the new text itself when
 * no differing run touches it; undefined when it cannot be pinned down.
 */
function oldTextFor(oldCmd: string, newCmd: string, hs: readonly Hunk[], a: number, b: number): string | undefined {
  const touching = hs.filter((h) => (h.ne > h.ns ? h.ns < b && h.ne > a : h.ns >= a && h.ns <= b));
  if (touching.length === 0) return newCmd.slice(a, b);
  const inside = touching.filter((h) => h.ns >= a && h.ne <= b && h.ne > h.ns);
  if (inside.length > 0) {
    if (inside.length !== touching.length) return undefined;
    const first = inside[0]!;
    const last = inside[inside.length - 1]!;
    const os = first.os - (first.ns - a);
    const oe = last.oe + (b - last.ne);
    if (os < 0 || oe > oldCmd.length || os > oe) return undefined;
    // The unchanged text around the runs must really be unchanged.
    if (oldCmd.slice(os, first.os) !== newCmd.slice(a, first.ns) || oldCmd.slice(last.oe, oe) !== newCmd.slice(last.ne, b)) return undefined;
    return oldCmd.slice(os, oe);
  }
  // The place lies inside one differing run: `--lr=0.2` vs `--lr=0.1`.
  const h = touching.length === 1 ? touching[0]! : undefined;
  if (!h || h.ns > a || h.ne < b) return undefined;
  const prefix = newCmd.slice(h.ns, a);
  const suffix = newCmd.slice(b, h.ne);
  const oldRun = oldCmd.slice(h.os, h.oe);
  if (oldRun.length < prefix.length + suffix.length || !oldRun.startsWith(prefix) || !oldRun.endsWith(suffix)) return undefined;
  return oldRun.slice(prefix.length, oldRun.length - suffix.length);
}

/** Old texts of the variables of a command whose literal text changed (step 2 of the module comment). */
function approximate(oldCmd: string, s: Shape): Candidates | undefined {
  const newCmd = textOf(s);
  const hs = hunks(oldCmd, newCmd);
  if (!hs) return undefined;
  const out: Candidates = new Map();
  let at = s.lits[0]!.length;
  for (let i = 0; i < s.slots.length; i++) {
    const slot = s.slots[i]!;
    const old = oldTextFor(oldCmd, newCmd, hs, at, at + slot.text.length) ?? null;
    at += slot.text.length + s.lits[i + 1]!.length;
    // Two places of one variable that disagree pin nothing down either.
    const prev = out.get(slot.v);
    out.set(slot.v, prev === undefined || prev === old ? old : null);
  }
  return out;
}

/** The variables of `cmd` whose values changed between the lock's command and the current one, and whether they explain it all. */
export function explainCommandChange(oldCmd: string | string[], newCmd: string | string[], template: readonly (readonly CmdPiece[])[] | undefined): CmdExplanation {
  const none: CmdExplanation = { vars: [], explained: false };
  if (!template || template.length === 0) return none;
  const shapes = template.map(shapeOf);
  const news = Array.isArray(newCmd) ? newCmd : [newCmd];
  // The template must be the one the current command was built from.
  if (shapes.length !== news.length || shapes.some((s, i) => textOf(s) !== news[i])) return none;
  let pairs: [string, Shape][];
  let explained = true;
  if (Array.isArray(oldCmd) === Array.isArray(newCmd) && (!Array.isArray(oldCmd) || oldCmd.length === shapes.length)) {
    const olds = Array.isArray(oldCmd) ? oldCmd : [oldCmd];
    pairs = shapes.map((s, i) => [olds[i]!, s]);
  } else {
    // A string became a list, or items were added or removed: the text changed; compare the commands as one text.
    explained = false;
    const joined: Shape = { lits: [""], slots: [] };
    shapes.forEach((s, i) => {
      joined.lits[joined.lits.length - 1] += (i > 0 ? "\n" : "") + s.lits[0]!;
      for (let j = 0; j < s.slots.length; j++) {
        joined.slots.push(s.slots[j]!);
        joined.lits.push(s.lits[j + 1]!);
      }
    });
    pairs = [[Array.isArray(oldCmd) ? oldCmd.join("\n") : oldCmd, joined]];
  }

  // Per variable: its new text, and the old texts the commands allow (`null` among them: not pinned down).
  const newText = new Map<string, string>();
  const olds = new Map<string, Set<string | null>>();
  const add = (name: string, texts: Iterable<string | null>): void => {
    const set = olds.get(name) ?? new Set<string | null>();
    for (const t of texts) set.add(t);
    olds.set(name, set);
  };
  for (const [old, s] of pairs) {
    for (const slot of s.slots) if (!newText.has(slot.v)) newText.set(slot.v, slot.text);
    const found = alignments(old, s);
    if (found && found.length > 0) {
      for (const slot of s.slots) add(slot.v, found.map((m) => m.get(slot.v)!));
      continue;
    }
    // No alignment: the literal text changed. Too many to search: nothing is certain.
    explained = false;
    const approx = found === undefined ? undefined : approximate(old, s);
    for (const slot of s.slots) add(slot.v, [approx?.get(slot.v) ?? null]);
  }
  const vars: CmdVarChange[] = [];
  for (const [name, now] of newText) {
    const set = olds.get(name)!;
    const only = set.size === 1 ? set.values().next().value : null;
    if (only === null || only === undefined) {
      // Ambiguous: rather than guess, say nothing about this variable and show the commands.
      explained = false;
      continue;
    }
    if (only !== now) vars.push({ name, old: only, new: now });
  }
  // A change that no variable accounts for is not explained (the literal text changed).
  return { vars, explained: explained && vars.length > 0 };
}
