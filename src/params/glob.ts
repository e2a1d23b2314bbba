/**
 * Params keys holding glob characters (`dataset_kwargs.moons*`), resolved as DVC 3 resolves every params key, with
 * `dpath` and `.` as the separator: the key is split at dots and each segment is an `fnmatch` pattern (`*`, `?`,
 * `[seq]`, `[!seq]`, case-sensitive) matched against the key of one level of the params file (a list's index as its
 * decimal string); a `**` segment stands for any number of levels. A key without glob characters is left to the
 * plain lookup (`status/params.ts`), which also finds keys that hold a dot themselves.
 *
 * What a glob key means differs by use, as in DVC: a stage's params dependency takes the one value it matches
 * (`dpath.get`: several matches are an error there, none is a missing key) and the lock records it under the glob key
 * as written; `params diff` compares every key under every match (`dpath.search`).
 */

const GLOB_CHARS = /[*?[]/;

/** Whether `key` holds a glob character, so that it is matched as a glob. */
export function isGlobKey(key: string): boolean {
  return GLOB_CHARS.test(key);
}

const patterns = new Map<string, RegExp>();

/** `pattern` as Python's `fnmatch.translate` reads it, anchored at both ends. */
export function fnmatchRegExp(pattern: string): RegExp {
  const hit = patterns.get(pattern);
  if (hit) return hit;
  let src = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") src += "[\\s\\S]*";
    else if (c === "?") src += "[\\s\\S]";
    else if (c === "[") {
      // A `]` first in the set (after a `!`) is a member, not the end; an unclosed `[` is a literal `[`.
      let j = i + 1;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j++;
      if (j >= pattern.length) {
        src += "\\[";
        continue;
      }
      // JavaScript ends a set at any `]` and reads a backslash, `^` and `[` specially: escaped, they are plain members.
      let set = pattern.slice(i + 1, j);
      const negated = set.startsWith("!");
      if (negated) set = set.slice(1);
      src += `[${negated ? "^" : ""}${set.replace(/[\\\]^[]/g, "\\$&")}]`;
      i = j;
    } else src += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  const re = new RegExp(`^(?:${src})$`);
  patterns.set(pattern, re);
  return re;
}

function segmentMatches(seg: string, glob: string): boolean {
  return fnmatchRegExp(glob).test(seg);
}

/** Whether the path `segs` matches the glob segments `globs` exactly (same depth, `**` taking any number). */
function pathMatches(segs: readonly string[], globs: readonly string[], i = 0, j = 0): boolean {
  if (j === globs.length) return i === segs.length;
  const g = globs[j]!;
  if (g === "**") {
    for (let k = i; k <= segs.length; k++) if (pathMatches(segs, globs, k, j + 1)) return true;
    return false;
  }
  return i < segs.length && segmentMatches(segs[i]!, g) && pathMatches(segs, globs, i + 1, j + 1);
}

function children(v: unknown): [string, unknown][] {
  if (Array.isArray(v)) return v.map((x, i) => [String(i), x]);
  if (v !== null && typeof v === "object" && !(v instanceof Date)) return Object.entries(v as Record<string, unknown>);
  return [];
}

export interface GlobMatch {
  /** The matched key's segments (`["dataset_kwargs", "moons"]`). */
  path: string[];
  value: unknown;
}

/** The nodes of `root` the glob key matches, shallow first, stopping after `limit`. */
export function globMatches(root: unknown, key: string, limit = Infinity): GlobMatch[] {
  const globs = key.split(".");
  const out: GlobMatch[] = [];
  // Breadth-first as dpath walks, so the matches come shallow first; `**` is why the depth is not fixed.
  let level: GlobMatch[] = [{ path: [], value: root }];
  while (level.length > 0 && out.length < limit) {
    const next: GlobMatch[] = [];
    for (const node of level) {
      for (const [k, v] of children(node.value)) {
        const p = [...node.path, k];
        if (pathMatches(p, globs)) {
          out.push({ path: p, value: v });
          if (out.length >= limit) return out;
        }
        if (couldExtend(p, globs)) next.push({ path: p, value: v });
      }
    }
    level = next;
  }
  return out;
}

/** Whether some deeper path under `segs` could still match (its segments so far match a prefix of the glob). */
function couldExtend(segs: readonly string[], globs: readonly string[]): boolean {
  const prefix = (i: number, j: number): boolean => {
    if (i === segs.length) return j < globs.length;
    if (j === globs.length) return false;
    const g = globs[j]!;
    if (g === "**") return true;
    return segmentMatches(segs[i]!, g) && prefix(i + 1, j + 1);
  };
  return prefix(0, 0);
}

/** Whether the flat key (`dataset_kwargs.moons.noise`) lies in what the glob key selects: it, or a key below it. */
export function globCovers(flatKey: string, key: string): boolean {
  const segs = flatKey.split(".");
  const globs = key.split(".");
  for (let k = 1; k <= segs.length; k++) if (pathMatches(segs.slice(0, k), globs)) return true;
  return false;
}
