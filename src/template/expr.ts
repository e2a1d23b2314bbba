/**
 * The `${...}` syntax: finding references in a string and parsing what is inside them, as DVC does
 * (`dvc/parsing/interpolate.py`).
 *
 * A reference is `${` up to the first `}` on the same line, not preceded by a backslash (`\${` is an escape, turned
 * into `${` after interpolation). Inside, a name is followed by any number of `.name` and `[name]` steps; a name is
 * any run of characters other than `.`, `[` and `]` (so `${ item }` and non-ASCII names work), and surrounding
 * spaces of each step are ignored when looking it up. `a[0]`, `a.0` and `a[b]` are the same as in DVC.
 */

/** One `${...}` found in a string. */
export interface Reference {
  /** Offsets of `${` and just after `}` in the string. */
  start: number;
  end: number;
  /** The whole reference, `${train.lr}`. */
  text: string;
  /** What is between the braces, as written. */
  inner: string;
}

const REFERENCE = /(?<!\\)\$\{([^\n]*?)\}/g;

export function findReferences(s: string): Reference[] {
  if (!s.includes("${")) return [];
  const out: Reference[] = [];
  REFERENCE.lastIndex = 0;
  for (let m = REFERENCE.exec(s); m; m = REFERENCE.exec(s)) {
    out.push({ start: m.index, end: m.index + m[0].length, text: m[0], inner: m[1]! });
  }
  return out;
}

export function hasReferences(s: string): boolean {
  return findReferences(s).length > 0;
}

/** The string is exactly one reference: its value keeps its type (`${flag}` stays a boolean). */
export function isWholeReference(s: string, refs: readonly Reference[]): boolean {
  return refs.length === 1 && refs[0]!.start === 0 && refs[0]!.end === s.length;
}

/** `\${` escapes become `${` once interpolation is done. */
export function unescape(s: string): string {
  return s.replace(/\\\$\{/g, "${");
}

export type ParsedReference =
  | { ok: true; /** Lookup steps, trimmed. */ steps: string[]; /** Steps joined with dots: `a.b.0`. */ name: string }
  | { ok: false; message: string; /** Offset of the problem inside `inner`. */ at: number };

/** Parses the inside of a reference (`a.b[0].c`). */
export function parseReference(inner: string): ParsedReference {
  const steps: string[] = [];
  let i = 0;
  const word = (): string | undefined => {
    let j = i;
    while (j < inner.length && !".[]".includes(inner[j]!)) j++;
    if (j === i) return undefined;
    const w = inner.slice(i, j);
    i = j;
    return w;
  };
  const first = word();
  if (first === undefined) {
    if (inner.length === 0) return { ok: false, message: "empty reference: write a variable name between the braces", at: 0 };
    return { ok: false, message: `a reference must start with a name, found '${inner[0]}'`, at: 0 };
  }
  steps.push(first.trim());
  while (i < inner.length) {
    const c = inner[i]!;
    if (c === ".") {
      i++;
      const w = word();
      if (w === undefined) {
        return { ok: false, message: i >= inner.length ? "expected a name after the last '.'" : `expected a name after '.', found '${inner[i]}'`, at: i };
      }
      steps.push(w.trim());
    } else if (c === "[") {
      i++;
      const w = word();
      if (w === undefined) return { ok: false, message: i >= inner.length ? "'[' is not closed" : `expected an index or a name after '[', found '${inner[i]}'`, at: i };
      if (inner[i] !== "]") return { ok: false, message: i >= inner.length ? "'[' is not closed" : `expected ']', found '${inner[i]}'`, at: i };
      i++;
      steps.push(w.trim());
    } else {
      return { ok: false, message: `unexpected '${c}'`, at: i };
    }
  }
  return { ok: true, steps, name: steps.join(".") };
}
