/**
 * Explaining a `changed command` by the `${...}` variables whose values changed (`${train.lr} 0.1 -> 0.2`).
 *
 * The lock stores only the interpolated command (as DVC's does), not the variables' old values, so they are
 * recovered by aligning the old command with the new one:
 *
 * 1. both commands are split into whitespace-separated tokens and aligned (longest common subsequence); the
 *    differing runs of tokens are the hunks;
 * 2. each variable the stage's `cmd` used is rendered the ways the templating can render it (a scalar as text, a
 *    mapping as `--flag value` pairs), and its occurrences in the new command are found;
 * 3. a hunk inside an occurrence (`--lr 0.1 --epochs 2` where only `0.1` changed) maps the occurrence back onto the
 *    old command through the unchanged text around the hunk; an occurrence inside a hunk (`--lr=0.2`) is cut out of
 *    the old hunk by the unchanged prefix and suffix around it.
 *
 * A hunk no variable explains (the literal text of `cmd` was edited) simply yields no variable; the caller still
 * reports `changed command`, with the old and new commands.
 */
import type { CmdVar } from "../model.js";

export interface CmdVarChange {
  /** As written inside `${...}`: `train.lr`. */
  name: string;
  /** The text the variable produced in the old command. */
  old: string;
  /** The text it produces now. */
  new: string;
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

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

function shellQuote(s: string): string {
  if (s !== "" && SHELL_SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

function scalarTexts(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (typeof v === "number") return [String(v)];
  if (typeof v === "boolean") return [String(v), v ? "True" : "False"];
  if (v === null) return ["None", "null", ""];
  return [];
}

/** `{lr: 0.1, fast: true, opt: {beta: 0.9}}` -> `--lr 0.1 --fast --opt.beta 0.9` (spec 2.3). */
function flags(v: Record<string, unknown>, prefix: string, out: string[]): void {
  for (const [k, x] of Object.entries(v)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (x === false || x === null || x === undefined) continue;
    if (x === true) out.push(`--${name}`);
    else if (Array.isArray(x)) out.push(`--${name} ${x.map((i) => shellQuote(String(i))).join(" ")}`);
    else if (typeof x === "object") flags(x as Record<string, unknown>, name, out);
    else out.push(`--${name} ${typeof x === "string" ? shellQuote(x) : String(x)}`);
  }
}

/** The texts a variable's value can have produced in a command, longest first. */
export function renderings(v: unknown): string[] {
  const out = new Set<string>(scalarTexts(v));
  if (Array.isArray(v)) {
    out.add(v.map((x) => String(x)).join(" "));
    out.add(JSON.stringify(v));
  } else if (v !== null && typeof v === "object" && !(v instanceof Date)) {
    const parts: string[] = [];
    flags(v as Record<string, unknown>, "", parts);
    out.add(parts.join(" "));
  }
  return [...out].filter((s) => s !== "").sort((x, y) => y.length - x.length);
}

function occurrences(hay: string, needle: string): number[] {
  const out: number[] = [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) out.push(i);
  return out;
}

/** Old text of an occurrence [a, b) of a rendering in the new command, or undefined when the hunks do not fit it. */
function oldTextFor(oldCmd: string, newCmd: string, hs: readonly Hunk[], a: number, b: number): string | undefined {
  const inside = hs.filter((h) => h.ns >= a && h.ne <= b && h.ne > h.ns);
  if (inside.length > 0) {
    if (hs.some((h) => !inside.includes(h) && h.ns < b && h.ne > a)) return undefined;
    const first = inside[0]!;
    const last = inside[inside.length - 1]!;
    const os = first.os - (first.ns - a);
    const oe = last.oe + (b - last.ne);
    if (os < 0 || oe > oldCmd.length || os > oe) return undefined;
    // The unchanged text around the hunks must really be unchanged.
    if (oldCmd.slice(os, first.os) !== newCmd.slice(a, first.ns) || oldCmd.slice(last.oe, oe) !== newCmd.slice(last.ne, b)) return undefined;
    return oldCmd.slice(os, oe);
  }
  // The occurrence lies inside one hunk: `--lr=0.2` vs `--lr=0.1`.
  const h = hs.find((x) => x.ns <= a && x.ne >= b);
  if (!h) return undefined;
  const prefix = newCmd.slice(h.ns, a);
  const suffix = newCmd.slice(b, h.ne);
  const oldHunk = oldCmd.slice(h.os, h.oe);
  if (oldHunk.length <= prefix.length + suffix.length || !oldHunk.startsWith(prefix) || !oldHunk.endsWith(suffix)) return undefined;
  // An empty old value would mean the text merely grew around a coincidental match (`python` -> `python3`).
  return oldHunk.slice(prefix.length, oldHunk.length - suffix.length);
}

function explainOne(oldCmd: string, newCmd: string, vars: readonly CmdVar[]): CmdVarChange[] {
  if (oldCmd === newCmd) return [];
  const hs = hunks(oldCmd, newCmd);
  if (!hs || hs.length === 0) return [];
  const out: CmdVarChange[] = [];
  for (const v of vars) {
    let found: CmdVarChange | undefined;
    for (const r of renderings(v.value)) {
      for (const a of occurrences(newCmd, r)) {
        const old = oldTextFor(oldCmd, newCmd, hs, a, a + r.length);
        if (old !== undefined && old !== r) {
          found = { name: v.name, old, new: r };
          break;
        }
      }
      if (found) break;
    }
    if (found) out.push(found);
  }
  return out;
}

/** The variables of `cmd` whose values changed between the lock's command and the current one. */
export function explainCommandChange(oldCmd: string | string[], newCmd: string | string[], vars: readonly CmdVar[]): CmdVarChange[] {
  if (vars.length === 0) return [];
  let pairs: [string, string][];
  if (Array.isArray(oldCmd) && Array.isArray(newCmd) && oldCmd.length === newCmd.length) pairs = oldCmd.map((o, i) => [o, newCmd[i]!]);
  else pairs = [[Array.isArray(oldCmd) ? oldCmd.join("\n") : oldCmd, Array.isArray(newCmd) ? newCmd.join("\n") : newCmd]];
  const seen = new Set<string>();
  const out: CmdVarChange[] = [];
  for (const [o, n] of pairs) {
    for (const c of explainOne(o, n, vars)) {
      if (seen.has(c.name)) continue;
      seen.add(c.name);
      out.push(c);
    }
  }
  return out;
}
