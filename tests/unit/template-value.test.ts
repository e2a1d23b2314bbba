/**
 * How template values print (Python's float repr, DVC's booleans, flags of an unpacked mapping, shell quoting),
 * how `${...}` is found and parsed, and how params text is read with int/float kept apart.
 */
import { describe, expect, it } from "vitest";
import { findReferences, isWholeReference, parseReference, unescape } from "../../src/template/expr.js";
import { formatFloat, PyFloat, pyStr, shellQuote, toStr, typedParams, unpackFlags, type Value, type VMap } from "../../src/template/value.js";

function map(o: Record<string, Value>): VMap {
  return new Map(Object.entries(o));
}

describe("formatFloat prints as Python's repr", () => {
  it.each([
    [0.1, "0.1"],
    [1e-5, "1e-05"],
    [100, "100.0"],
    [0.0001, "0.0001"],
    [0.00012, "0.00012"],
    [3e4, "30000.0"],
    [1e16, "1e+16"],
    [1.5e16, "1.5e+16"],
    [1234567890123456, "1234567890123456.0"],
    [2.5e-7, "2.5e-07"],
    [1e100, "1e+100"],
    [-0.5, "-0.5"],
    [-0, "-0.0"],
    [0, "0.0"],
    [Math.PI, "3.141592653589793"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
    [NaN, "nan"],
  ])("%s -> %s", (x, s) => {
    expect(formatFloat(x)).toBe(s);
  });
});

describe("scalars as text", () => {
  it("inside a string, booleans are lower case (DVC's to_str) and None is None", () => {
    expect(toStr(true)).toBe("true");
    expect(toStr(false)).toBe("false");
    expect(toStr(null)).toBe("None");
    expect(toStr(2021)).toBe("2021");
    expect(toStr(new PyFloat(8))).toBe("8.0");
  });
  it("Python's str() for list items of an unpacked mapping", () => {
    expect(pyStr(true)).toBe("True");
    expect(pyStr(null)).toBe("None");
  });
  it("shlex.quote", () => {
    expect(shellQuote("foo")).toBe("foo");
    expect(shellQuote("a/b-c.d_e:f,g=h+i@j%k")).toBe("a/b-c.d_e:f,g=h+i@j%k");
    expect(shellQuote("spaced string")).toBe("'spaced string'");
    expect(shellQuote("quote\"'d")).toBe(`'quote"'"'"'d'`);
    expect(shellQuote("")).toBe("''");
  });
});

describe("a mapping unpacked into cmd", () => {
  // DVC's tests/func/parsing/test_interpolated_entry.py::test_cmd_dict
  const dict = map({
    foo: "foo",
    bar: 2,
    string: "spaced string",
    mixed_quote_string: "quote\"'d",
    bool: true,
    "bool-false": false,
    list: [1, 2, "foo", "quote\"'d"],
    nested: map({ foo: "foo" }),
  });

  it("defaults: store_true booleans, nargs lists", () => {
    expect(unpackFlags(dict)).toBe(
      `--foo foo --bar 2 --string 'spaced string' --mixed_quote_string 'quote"'"'"'d' --bool --list 1 2 foo 'quote"'"'"'d' --nested.foo foo`,
    );
  });

  it("boolean_optional and append", () => {
    expect(unpackFlags(dict, { bool: "boolean_optional", list: "append" })).toBe(
      `--foo foo --bar 2 --string 'spaced string' --mixed_quote_string 'quote"'"'"'d' --bool --no-bool-false --list 1 --list 2 --list foo --list 'quote"'"'"'d' --nested.foo foo`,
    );
  });

  it("floats, None and list booleans as Python prints them; empty lists and mappings vanish", () => {
    expect(unpackFlags(map({ lr: new PyFloat(1e-5), x: null, flags: [true, false], empty: [], nothing: map({}), n: 3 }))).toBe(
      "--lr 1e-05 --x None --flags True False --n 3",
    );
  });

  it("a nested list is an error", () => {
    expect(() => unpackFlags(map({ list: [1, [2, 3]] }))).toThrow(/list/);
  });
});

describe("references", () => {
  it("finds ${...} up to the first }, skipping escaped ones", () => {
    expect(findReferences("a ${x} \\${y} ${z.w[0]}").map((r) => r.inner)).toEqual(["x", "z.w[0]"]);
    expect(findReferences("no refs")).toEqual([]);
    expect(findReferences("${unclosed")).toEqual([]);
  });
  it("knows a whole-value reference", () => {
    const s = "${flag}";
    expect(isWholeReference(s, findReferences(s))).toBe(true);
    const t = "x${flag}";
    expect(isWholeReference(t, findReferences(t))).toBe(false);
  });
  it("unescapes \\${", () => {
    expect(unescape("echo \\${HOME}")).toBe("echo ${HOME}");
  });
  it.each([
    ["a", ["a"]],
    ["a.b.c", ["a", "b", "c"]],
    ["a[0]", ["a", "0"]],
    ["a.b[1].c", ["a", "b", "1", "c"]],
    [" item ", ["item"]],
    ["नेपाली[चिया][0]", ["नेपाली", "चिया", "0"]],
  ])("parses %s", (inner, steps) => {
    expect(parseReference(inner)).toEqual({ ok: true, steps, name: steps.join(".") });
  });
  it.each([
    ["", /empty/],
    ["models.foo.", /after the last '\.'/],
    ["syntax.[error", /after '\.'/],
    ["models.foo]", /unexpected '\]'/],
    ["a[0", /not closed/],
  ])("rejects '%s'", (inner, msg) => {
    const r = parseReference(inner);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(msg);
  });
});

describe("typed params", () => {
  it("YAML keeps floats apart from integers, and keys in written order", () => {
    const r = typedParams("params.yaml", "b: 1.0\na: 1\nc: 1e-5\n2022: x\n2021: y\nd: True\ne: None\n");
    expect(r).toBeDefined();
    const v = r!.value as VMap;
    expect([...v.keys()]).toEqual(["b", "a", "c", "2022", "2021", "d", "e"]);
    expect(v.get("b")).toEqual(new PyFloat(1));
    expect(v.get("a")).toBe(1);
    expect(toStr(v.get("c")!)).toBe("1e-05");
    expect(v.get("d")).toBe(true);
    expect(v.get("e")).toBe("None");
    expect(r!.locs.get("c")).toEqual({ file: "params.yaml", line: 3, col: 1, length: 1 });
  });
  it("JSON and TOML too", () => {
    expect((typedParams("p.json", '{"lr": 1.0, "n": 2}')!.value as VMap).get("lr")).toEqual(new PyFloat(1));
    const t = typedParams("p.toml", "lr = 1.0\nn = 2\n[train]\nepochs = 3\n")!.value as VMap;
    expect(t.get("lr")).toEqual(new PyFloat(1));
    expect(t.get("n")).toBe(2);
    expect((t.get("train") as VMap).get("epochs")).toBe(3);
  });
  it("leaves broken text to the shared reader (which reports it)", () => {
    expect(typedParams("p.yaml", "a: [1, 2\n")).toBeUndefined();
    expect(typedParams("p.py", "A = 1\n")).toBeUndefined();
  });
});
