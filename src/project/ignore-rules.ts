/**
 * gitignore-syntax rule sets for discovery (`.gitignore`, `.pipeignore`, `.dvcignore`), answering exactly as the
 * `ignore` package's `ignore().add(text).test(path)` does, but cheaply for the rules `pipe` itself writes.
 *
 * Why: `pipe repro` adds one anchored literal line per cached output to `.gitignore` (`/out/s1.txt`), and discovery
 * tests every directory of the project against every rule. `ignore` tests one regular expression per rule, so 1,000
 * directories x 1,000 rules cost ~100+ ms of a no-op `pipe status`. A rule without glob syntax can only match a path
 * whose segment (or leading segments) equal it, which a `Set` answers in O(depth).
 *
 * Which rules take the fast path ("literal"): no `*`, `?`, `[` or `\` (wildcards, classes, escapes), no trailing
 * space (trimmed or escaped by gitignore), no `//`, not `/` alone, not a comment. Everything else goes to `ignore`,
 * in its original order. A file with any negation (`!`) goes to `ignore` whole: with a negation the last matching
 * rule decides, so literal and pattern rules could not be answered separately. So can a file whose text `ignore`
 * splits in ways this module does not reproduce (a byte order mark, a `\r` other than before `\n` or at the end).
 *
 * Without negations, `ignore`'s answer for a path is "ignored" exactly when some rule matches the path or one of its
 * parent directories (`a/`, `a/b/`, ... as `ignore` tests them), and never "unignored"; that is a union, so it splits
 * into literal rules OR pattern rules. Literal rule semantics, as `ignore` compiles them (gitignore(5)):
 * - `name` (no slash but a trailing one) matches a path segment equal to `name`, at any depth;
 * - `/a/b`, `a/b` (a slash at the start or inside) match the path whose leading segments are `a/b`, relative to the
 *   ignore file's directory;
 * - a trailing `/` restricts either form to directories: the segment must be followed by `/` in the tested path.
 * Matching is case-insensitive (`ignore`'s default, which discovery uses), with the case folding of a JavaScript
 * `/i` regular expression (see `fold`).
 */
import ignore, { type Ignore } from "ignore";

export interface IgnoreTest {
  ignored: boolean;
  unignored: boolean;
}

export interface IgnoreRules {
  /** As `Ignore.test`: `rel` is relative to the ignore file's directory, POSIX, a trailing `/` for a directory. */
  test(rel: string): IgnoreTest;
}

const IGNORED: IgnoreTest = Object.freeze({ ignored: true, unignored: false });
const NOT_IGNORED: IgnoreTest = Object.freeze({ ignored: false, unignored: false });

// Glob syntax and escapes, plus the characters `ignore` uses as internal markers (NUL, U+E000, U+E001): any of these
// makes a rule a pattern.
// eslint-disable-next-line no-control-regex
const NOT_LITERAL = /[*?[\\\u0000\uE000\uE001]/;
const ASCII = /^[\x00-\x7f]*$/; // eslint-disable-line no-control-regex

/**
 * The canonical form under which a non-unicode `/i` regular expression compares characters (ECMA-262
 * Canonicalize): each UTF-16 code unit upper-cased when that gives one code unit, except that a non-ASCII unit never
 * becomes ASCII. Two strings match case-insensitively in `ignore` exactly when their folds are equal. (Lower-casing
 * would differ: the Kelvin sign lower-cases to `k`, which `/k/i` does not match.)
 */
export function fold(s: string): string {
  if (ASCII.test(s)) return s.toUpperCase();
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s.charAt(i);
    const up = ch.toUpperCase();
    out += up.length === 1 && !(ch.charCodeAt(0) >= 128 && up.charCodeAt(0) < 128) ? up : ch;
  }
  return out;
}

function wrap(ig: Ignore): IgnoreRules {
  return { test: (rel) => ig.test(rel) };
}

/** Compiles the text of one ignore file. */
export function compileIgnore(text: string): IgnoreRules {
  const whole = (): IgnoreRules => wrap(ignore().add(text));
  if (text.includes("\uFEFF")) return whole();
  // Split as `ignore` splits a string: a final `\r` dropped, lines at `\n` or `\r\n`, empty lines dropped.
  const lines = (text.endsWith("\r") ? text.slice(0, -1) : text).split(/\r?\n/).filter((l) => l !== "");
  /** Literal rules, folded, by kind: matching a segment at any depth, or the leading segments; `Dir`: dirs only. */
  const anyDepth = new Set<string>();
  const anyDepthDir = new Set<string>();
  const anchored = new Set<string>();
  const anchoredDir = new Set<string>();
  const rest: string[] = [];
  for (const line of lines) {
    if (line.startsWith("!") || line.includes("\r")) return whole();
    if (line.startsWith("#")) continue;
    if (NOT_LITERAL.test(line) || line.endsWith(" ") || line.includes("//") || line === "/") {
      rest.push(line);
      continue;
    }
    const dirOnly = line.endsWith("/");
    const body = dirOnly ? line.slice(0, -1) : line;
    const rooted = body.startsWith("/");
    const core = fold(rooted ? body.slice(1) : body);
    if (rooted || core.includes("/")) (dirOnly ? anchoredDir : anchored).add(core);
    else (dirOnly ? anyDepthDir : anyDepth).add(core);
  }
  const literals = anyDepth.size + anyDepthDir.size + anchored.size + anchoredDir.size;
  if (literals === 0) return whole();
  // No line of `rest` holds `\r` or `\n` and none is empty, so joining with `\n` gives `ignore` the same rules in the
  // same order.
  const patterns = rest.length > 0 ? ignore().add(rest.join("\n")) : undefined;

  function literalMatch(rel: string): boolean {
    const p = fold(rel);
    const isDir = p.endsWith("/");
    const end = isDir ? p.length - 1 : p.length;
    // Each segment in turn: the path up to and including it (`prefix`) is what an anchored rule must equal, the
    // segment itself what a rule without a slash must equal; followed by `/` means it names a directory.
    let start = 0;
    while (start <= end) {
      let slash = p.indexOf("/", start);
      if (slash < 0 || slash > end) slash = end;
      const seg = p.slice(start, slash);
      const prefix = p.slice(0, slash);
      if (anyDepth.has(seg) || anchored.has(prefix)) return true;
      if ((slash < end || isDir) && (anyDepthDir.has(seg) || anchoredDir.has(prefix))) return true;
      start = slash + 1;
    }
    return false;
  }

  return {
    test(rel: string): IgnoreTest {
      // An invalid path (absolute, `./x`, empty) throws as `ignore` throws, with its message.
      if (!ignore.isPathValid(rel)) return ignore().test(rel);
      if (patterns?.test(rel).ignored) return IGNORED;
      return literalMatch(rel) ? IGNORED : NOT_IGNORED;
    },
  };
}
