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
 * Matching is case-insensitive by default (`ignore`'s default, which discovery uses), with the case folding of a
 * JavaScript `/i` regular expression (see `fold`); `{ ignoreCase: false }` matches exactly, as DVC's `.dvcignore`
 * (Python's `pathspec`) does, which is what hashing a directory needs to agree with DVC's hashes.
 */
import { createRequire } from "node:module";
import type { Ignore } from "ignore";
import type IgnoreLib from "ignore";

/**
 * The `ignore` package, loaded on first use: the rules `pipe` writes itself (one literal `/path` per cached output)
 * never need it, and a no-op `status` should not pay for the import. CommonJS, so `require` is synchronous.
 */
const requireLib = createRequire(import.meta.url);
let lib: typeof IgnoreLib | undefined;
function ignore(...args: Parameters<typeof IgnoreLib>): Ignore {
  lib ??= requireLib("ignore") as typeof IgnoreLib;
  return lib(...args);
}
function isPathValid(rel: string): boolean {
  lib ??= requireLib("ignore") as typeof IgnoreLib;
  return lib.isPathValid(rel);
}

export interface IgnoreTest {
  ignored: boolean;
  unignored: boolean;
}

export interface IgnoreRules {
  /** As `Ignore.test`: `rel` is relative to the ignore file's directory, POSIX, a trailing `/` for a directory. */
  test(rel: string): IgnoreTest;
  /** True when the file holds no rule at all (only comments, like the `.dvcignore` that `dvc init` writes). */
  readonly empty?: boolean;
}

const IGNORED: IgnoreTest = Object.freeze({ ignored: true, unignored: false });
const NOT_IGNORED: IgnoreTest = Object.freeze({ ignored: false, unignored: false });

/** The rules of a file without any (comments and blank lines only). */
const EMPTY: IgnoreRules = Object.freeze({
  // An invalid path (absolute, `./x`, empty) throws as `ignore` throws, with its message.
  test: (rel: string): IgnoreTest => (isPathValid(rel) ? NOT_IGNORED : ignore().test(rel)),
  empty: true,
});

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

/** A rule without a slash (but a trailing one) whose only glob syntax is `*` and `?`: it matches one segment. */
// eslint-disable-next-line no-control-regex
const SEGMENT_GLOB = /^[^/\\[\]*?\u0000\uE000\uE001]*(?:[*?][^/\\[\]*?\u0000\uE000\uE001]*)+\/?$/;

/** The regular expression `ignore` builds for such a rule, for one segment: `*` is `[^/]*`, `?` is `[^/]`. */
function segmentGlobSource(glob: string): string {
  let out = "";
  for (const ch of glob) {
    if (ch === "*") out += "[^/]*";
    else if (ch === "?") out += "[^/]";
    else out += ch.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return out;
}

export interface CompileOptions {
  /** Default true, as `ignore`'s `ignorecase`. */
  ignoreCase?: boolean;
}

/** Compiles the text of one ignore file. */
export function compileIgnore(text: string, opts: CompileOptions = {}): IgnoreRules {
  const ignoreCase = opts.ignoreCase ?? true;
  const norm = ignoreCase ? fold : (x: string): string => x;
  const make = (): Ignore => ignore({ ignorecase: ignoreCase });
  const whole = (): IgnoreRules => wrap(make().add(text));
  if (text.includes("\uFEFF")) return whole();
  // Split as `ignore` splits a string: a final `\r` dropped, lines at `\n` or `\r\n`, empty lines dropped.
  const lines = (text.endsWith("\r") ? text.slice(0, -1) : text).split(/\r?\n/).filter((l) => l !== "");
  /** Literal rules, folded, by kind: matching a segment at any depth, or the leading segments; `Dir`: dirs only. */
  const anyDepth = new Set<string>();
  const anyDepthDir = new Set<string>();
  const anchored = new Set<string>();
  const anchoredDir = new Set<string>();
  /** Segment globs (`*.log`, `tmp?`), as regular-expression sources; `Dir`: directories only. */
  const globs: string[] = [];
  const globsDir: string[] = [];
  const rest: string[] = [];
  for (const line of lines) {
    if (line.startsWith("!") || line.includes("\r")) return whole();
    if (line.startsWith("#")) continue;
    // `**` is not a segment glob (it spans segments); a trailing space is trimmed or escaped by gitignore.
    if (SEGMENT_GLOB.test(line) && !line.includes("**") && !line.endsWith(" ") && line !== "/") {
      const dirOnly = line.endsWith("/");
      (dirOnly ? globsDir : globs).push(segmentGlobSource(dirOnly ? line.slice(0, -1) : line));
      continue;
    }
    if (NOT_LITERAL.test(line) || line.endsWith(" ") || line.includes("//") || line === "/") {
      rest.push(line);
      continue;
    }
    const dirOnly = line.endsWith("/");
    const body = dirOnly ? line.slice(0, -1) : line;
    const rooted = body.startsWith("/");
    const core = norm(rooted ? body.slice(1) : body);
    if (rooted || core.includes("/")) (dirOnly ? anchoredDir : anchored).add(core);
    else (dirOnly ? anyDepthDir : anyDepth).add(core);
  }
  const literals = anyDepth.size + anyDepthDir.size + anchored.size + anchoredDir.size + globs.length + globsDir.length;
  if (literals === 0) return rest.length === 0 ? EMPTY : whole();
  const flags = ignoreCase ? "i" : "";
  const glob = globs.length > 0 ? new RegExp(`^(?:${globs.join("|")})$`, flags) : undefined;
  const globDir = globsDir.length > 0 ? new RegExp(`^(?:${globsDir.join("|")})$`, flags) : undefined;
  // No line of `rest` holds `\r` or `\n` and none is empty, so joining with `\n` gives `ignore` the same rules in the
  // same order.
  const patterns = rest.length > 0 ? make().add(rest.join("\n")) : undefined;

  function literalMatch(rel: string): boolean {
    // Folding keeps every code unit in place (`fold`), so `rel` and `p` have their segments at the same indexes.
    const p = norm(rel);
    const isDir = p.endsWith("/");
    const end = isDir ? p.length - 1 : p.length;
    // Each segment in turn: the path up to and including it (`prefix`) is what an anchored rule must equal, the
    // segment itself what a rule without a slash must equal (or match, for a glob, which does its own case
    // folding); followed by `/` means it names a directory.
    let start = 0;
    while (start <= end) {
      let slash = p.indexOf("/", start);
      if (slash < 0 || slash > end) slash = end;
      const seg = p.slice(start, slash);
      const prefix = p.slice(0, slash);
      if (anyDepth.has(seg) || anchored.has(prefix)) return true;
      const dir = slash < end || isDir;
      if (dir && (anyDepthDir.has(seg) || anchoredDir.has(prefix))) return true;
      if (glob || globDir) {
        const raw = rel.slice(start, slash);
        if (glob?.test(raw) || (dir && globDir?.test(raw))) return true;
      }
      start = slash + 1;
    }
    return false;
  }

  return {
    test(rel: string): IgnoreTest {
      // An invalid path (absolute, `./x`, empty) throws as `ignore` throws, with its message.
      if (!isPathValid(rel)) return ignore().test(rel);
      if (patterns?.test(rel).ignored) return IGNORED;
      return literalMatch(rel) ? IGNORED : NOT_IGNORED;
    },
  };
}

/** The ignore files of a directory, in the order their rules apply (discovery and hashing read the same ones). */
export const IGNORE_FILES = [".pipeignore", ".dvcignore"] as const;

/** The rules of one ignore file, and the directory they belong to. */
export interface IgnoreMatcher {
  /** Relative to the project root, with a trailing slash (`` for the root, `a/b/`). */
  base: string;
  ig: IgnoreRules;
}

/**
 * gitignore semantics across nested files (and DVC's for nested `.dvcignore` files): the deepest file with a rule
 * about the path decides. `rel` is relative to the root, with a trailing `/` for a directory.
 */
export function ignoredBy(ms: readonly IgnoreMatcher[], rel: string): boolean {
  let ignored = false;
  for (const m of ms) {
    if (!rel.startsWith(m.base)) continue;
    const r = m.ig.test(rel.slice(m.base.length));
    if (r.ignored) ignored = true;
    else if (r.unignored) ignored = false;
  }
  return ignored;
}
