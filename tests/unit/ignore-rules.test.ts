/**
 * Discovery's ignore rules (`hash/ignore-rules.ts`) answer exactly as the `ignore` package does: literal rules are
 * looked up in sets, the rest go to `ignore`, and the split must never change an answer. Every case compares the two
 * on the same text and path: a hand-picked table (anchoring, directory-only rules, case folding, negation after a
 * literal, escapes, odd line endings) and a seeded random sweep over a small alphabet.
 */
import ignore from "ignore";
import { describe, expect, it } from "vitest";
import { compileIgnore, fold } from "../../src/hash/ignore-rules.js";

function expected(text: string, p: string): { ignored: boolean; unignored: boolean } {
  const r = ignore().add(text).test(p);
  return { ignored: r.ignored, unignored: r.unignored };
}

function actual(text: string, p: string): { ignored: boolean; unignored: boolean } {
  const r = compileIgnore(text).test(p);
  return { ignored: r.ignored, unignored: r.unignored };
}

/** Every mismatch as `text | path`, so a failure names them all at once. */
function mismatches(texts: readonly string[], paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of texts) {
    for (const p of paths) {
      const e = expected(t, p);
      const a = actual(t, p);
      if (e.ignored !== a.ignored || e.unignored !== a.unignored) {
        out.push(`${JSON.stringify(t)} | ${JSON.stringify(p)}: ignore ${JSON.stringify(e)}, fast ${JSON.stringify(a)}`);
      }
    }
  }
  return out;
}

const TEXTS = [
  // what `pipe repro` writes: anchored literal file paths
  "/out/s1.txt\n/out/s2.txt\n",
  "/out/s1.txt\n/out/sub/model.pkl\n/metrics.json\n",
  // anchored by an inner slash, not by a leading one
  "out/s1.txt\n",
  "a/b/c\n",
  // no slash: any depth
  "s1.txt\n",
  "data\n",
  "out\n",
  // trailing slash: directories only
  "data/\n",
  "/data/\n",
  "a/b/\n",
  "/a/b/\n",
  // case folding (`ignore` is case-insensitive by default)
  "/OUT/S1.TXT\n",
  "Data/\n",
  "/STRASSE\n",
  "straße\n",
  "\u212A\n", // Kelvin sign: lower-cases to `k`, but `/k/i` does not match it
  "k\n",
  "\u017F\n", // long s: upper-cases to `S`, which `/i` does not allow
  "s\n",
  "/\u00C9t\u00E9/\n",
  "\u01C5\n", // a title-case letter
  "\u212A\u00E9\n", // non-ASCII on both sides: folding must still keep the Kelvin sign apart from `k`
  "/\u017F\u00E9/\n",
  "\u00E9\u00DF\n",
  // literal and pattern rules mixed
  "/out/s1.txt\n*.log\nbuild/**\n",
  "*.txt\n/data/\n",
  "data\nd?ta\n[ab]/\n",
  "**/s1.txt\nx/**/y\n/out/s1.txt\n",
  // negation after a literal (the whole file goes to `ignore`)
  "data\n!data/keep\n",
  "data/\n!data/keep/\n",
  "/out/s1.txt\n!/out/s1.txt\n",
  "*.txt\n!/out/s1.txt\n/out/s2.txt\n",
  "/out/\n!/out/s1.txt\n",
  "!/out/s1.txt\n/out/s1.txt\n",
  "a\n!a/b\na/b/c\n",
  // comments, blank lines, escapes, spaces
  "# a comment\n\n/out/s1.txt\n#data\n",
  "\\#data\n\\!data\n",
  "foo\\ \n",
  "foo  \n",
  " foo\n",
  "foo\tbar\n",
  "a\\/b\n",
  // line endings and a byte order mark
  "/out/s1.txt\r\ndata/\r\n",
  "/out/s1.txt\r",
  "data\rx\n",
  "\uFEFF/out/s1.txt\n",
  "data\n\uFEFFx\n",
  // degenerate rules
  "/\n",
  "//\n",
  "a//b\n",
  "//a\n",
  ".\n",
  "..\n",
  "\n\n",
  "",
  // characters that are special to regular expressions but literal in gitignore
  "a.b\n",
  "a+b\n",
  "(a)\n",
  "a$\n",
  "^a\n",
  "a|b\n",
  "{a}\n",
  "a]\n",
  "a}b/\n",
];

const PATHS = [
  "out/s1.txt",
  "out/s1.txt/",
  "out/s1.txt/x",
  "out/s2.txt",
  "out/",
  "out",
  "out/sub/model.pkl",
  "out/sub/",
  "metrics.json",
  "x/out/s1.txt",
  "x/out/",
  "s1.txt",
  "s1.txt/",
  "sub/s1.txt",
  "data",
  "data/",
  "data/x",
  "data/x/",
  "data/keep",
  "data/keep/",
  "data/keep/pipe.yaml",
  "x/data",
  "x/data/",
  "x/data/pipe.yaml",
  "dataset/",
  "DATA/",
  "OUT/S1.TXT",
  "a/",
  "a/b",
  "a/b/",
  "a/b/c",
  "a/b/c/",
  "a/b/c/d/",
  "x/a/b/",
  "A/B/",
  "strasse/",
  "STRASSE",
  "straße/",
  "STRAßE",
  "k/",
  "K",
  "\u212A/",
  "s/",
  "\u017F/",
  "S/",
  "\u00E9t\u00E9/",
  "\u00C9T\u00C9/",
  "\u01C4/",
  "\u01C5/",
  "\u01C6/",
  "k\u00E9/",
  "K\u00E9",
  "\u212A\u00E9/",
  "s\u00E9/",
  "S\u00E9/",
  "\u017F\u00E9/",
  "\u00C9SS",
  "\u00C9\u1E9E/",
  "\u00E9\u00DF/",
  "foo",
  "foo ",
  " foo",
  "foo/",
  "foo\tbar",
  "#data/",
  "!data/",
  "a.b",
  "axb",
  "a+b/",
  "(a)/",
  "a$",
  "^a",
  "a|b",
  "{a}/",
  "a]",
  "a}b/",
  "x.log",
  "build/x/",
  "d/",
  "b/",
  "x/s1.txt/",
  "x/q/y/",
  "pipe.yaml",
  "sub/pipe.yaml",
  "sub/",
];

/** A reproducible generator of integers in [0, n): mulberry32 (32-bit integer arithmetic, no float precision loss). */
function seeded(start: number): (n: number) => number {
  let seed = start;
  return (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

describe("compileIgnore", () => {
  it("answers as the ignore package on a table of rule files and paths", () => {
    expect(mismatches(TEXTS, PATHS)).toEqual([]);
  });

  it("matches case-sensitively when asked to (hashing, as DVC), still answering as the ignore package", () => {
    const out: string[] = [];
    for (const t of TEXTS) {
      for (const p of PATHS) {
        const e = ignore({ ignorecase: false }).add(t).test(p);
        const a = compileIgnore(t, { ignoreCase: false }).test(p);
        if (e.ignored !== a.ignored || e.unignored !== a.unignored) out.push(`${JSON.stringify(t)} | ${JSON.stringify(p)}`);
      }
    }
    expect(out).toEqual([]);
    expect(compileIgnore("/OUT/S1.TXT\n", { ignoreCase: false }).test("out/s1.txt").ignored).toBe(false);
    expect(compileIgnore("/OUT/S1.TXT\n").test("out/s1.txt").ignored).toBe(true);
  });

  it("answers as the ignore package on random rules and paths", () => {
    // A small alphabet (two names, a slash, wildcards, a negation, a space, a case variant) keeps collisions
    // between rules and paths frequent; a fixed seed keeps the test reproducible.
    const rand = seeded(12345);
    const pick = (xs: readonly string[]): string => xs[rand(xs.length)] ?? "";
    const segs = ["a", "b", "A", "ab"];
    const ruleOf = (): string => {
      const n = 1 + rand(3);
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(rand(8) === 0 ? pick(["*", "?", "**", "[ab]"]) : pick(segs));
      return `${rand(6) === 0 ? "!" : ""}${rand(2) === 0 ? "/" : ""}${parts.join("/")}${rand(3) === 0 ? "/" : ""}${rand(20) === 0 ? " " : ""}`;
    };
    const texts: string[] = [];
    for (let i = 0; i < 300; i++) {
      const lines: string[] = [];
      const n = 1 + rand(5);
      for (let j = 0; j < n; j++) lines.push(ruleOf());
      texts.push(lines.join("\n") + "\n");
    }
    const paths: string[] = [];
    for (let i = 0; i < 60; i++) {
      const n = 1 + rand(4);
      const parts: string[] = [];
      for (let j = 0; j < n; j++) parts.push(pick(segs));
      paths.push(parts.join("/") + (rand(2) === 0 ? "/" : ""));
    }
    expect(mismatches(texts, paths)).toEqual([]);
  });

  it("answers as the ignore package on random segment globs (`*.log`, `a?`), in both case modes", () => {
    // Rules of `*` and `?` without a slash are answered by one regular expression per segment: sweep them with names
    // holding dots, regular-expression characters, spaces and letters that fold (the Kelvin sign, accents).
    const rand = seeded(999);
    const pick = (xs: readonly string[]): string => xs[rand(xs.length)] ?? "";
    const segs = ["a", "b", "A", "ab", ".a", "a.b", "x.LOG", "\u00E9", "\u00C9", "k", "\u212A", "a b", "(a)", "a+"];
    const globs = ["*", "?", "*.b", "a*", "*a*", "?b", "*.log", "*.LOG", ".*", "a?", "**", "[ab]", "\u00E9*", "\u212A*", "(*)", "*+"];
    const out: string[] = [];
    for (const ignoreCase of [true, false]) {
      for (let i = 0; i < 400; i++) {
        const lines: string[] = [];
        for (let j = 0, n = 1 + rand(4); j < n; j++) {
          const parts: string[] = [];
          for (let q = 0, k = 1 + rand(2); q < k; q++) parts.push(rand(2) === 0 ? pick(globs) : pick(segs));
          lines.push(`${rand(10) === 0 ? "!" : ""}${rand(4) === 0 ? "/" : ""}${parts.join(rand(3) === 0 ? "/" : "")}${rand(3) === 0 ? "/" : ""}`);
        }
        const text = lines.join("\n") + "\n";
        const want = ignore({ ignorecase: ignoreCase }).add(text);
        const got = compileIgnore(text, { ignoreCase });
        for (let p = 0; p < 20; p++) {
          const ps: string[] = [];
          for (let q = 0, m = 1 + rand(3); q < m; q++) ps.push(pick(segs));
          const rel = ps.join("/") + (rand(2) === 0 ? "/" : "");
          const e = want.test(rel);
          const a = got.test(rel);
          if (e.ignored !== a.ignored || e.unignored !== a.unignored) out.push(`${ignoreCase} ${JSON.stringify(text)} | ${JSON.stringify(rel)}`);
        }
      }
    }
    expect(out).toEqual([]);
  });

  it("a file of comments only has no rules (the .dvcignore `dvc init` writes)", () => {
    const rules = compileIgnore("# Add patterns of files dvc should ignore, which could improve\n# the performance.\n\n");
    expect(rules.empty).toBe(true);
    expect(rules.test("a/b.log").ignored).toBe(false);
    expect(() => rules.test("/abs")).toThrow();
    expect(compileIgnore("# x\n*.log\n").empty).toBeFalsy();
  });

  it("rejects invalid paths as the ignore package does", () => {
    for (const text of ["/out/s1.txt\n", "/out/s1.txt\n*.log\n"]) {
      for (const p of ["", "/out/s1.txt", "./out", "../out", "."]) {
        expect(() => compileIgnore(text).test(p)).toThrow();
        expect(() => ignore().add(text).test(p)).toThrow();
      }
    }
  });

  it("folds case as a /i regular expression does", () => {
    for (const [a, b] of [
      ["k", "K"],
      ["\u212A", "k"],
      ["\u017F", "s"],
      ["\u00E9", "\u00C9"],
      ["\u00DF", "SS"],
      ["\u01C4", "\u01C5"],
      ["\u01C5", "\u01C6"],
      ["\u212A\u00E9", "k\u00E9"],
      ["\u017F\u00E9", "S\u00E9"],
      ["\u00E9\u00DF", "\u00C9SS"],
      ["\u00E9\u00DF", "\u00C9\u1E9E"],
    ] as const) {
      expect(fold(a) === fold(b), `${a} ${b}`).toBe(new RegExp(`^${a}$`, "i").test(b));
    }
  });
});
