/**
 * How template values print (Python's float repr, DVC's booleans, flags of an unpacked mapping, shell quoting),
 * how `${...}` is found and parsed, and how params text is read with int/float kept apart.
 */
import { describe, expect, it } from "vitest";
import { findReferences, isWholeReference, parseReference, unescape } from "../../src/template/expr.js";
import { formatFloat, PyFloat, pyStr, shellQuote, toStr, unpackFlags, type Value, type VMap } from "../../src/template/value.js";
import { readVarsText } from "../../src/template/vars-file.js";

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

/** The value of a vars file's text that must read. */
function typedParams(file: string, text: string): { value: Value; locs: Map<string, unknown> } {
  const r = readVarsText(file, text);
  if (!r.ok) throw new Error(`${file} did not read: ${r.errors.map((d) => d.message).join("; ")}`);
  return r.value;
}

/** The diagnostics of a vars file's text that must not read. */
function broken(file: string, text: string): { message: string; line?: number; col?: number }[] {
  const r = readVarsText(file, text);
  if (r.ok) throw new Error(`${file} read`);
  return r.errors.map((d) => ({ message: d.message, line: d.location?.line, col: d.location?.col }));
}

describe("typed params", () => {
  it("YAML keeps floats apart from integers, and keys in written order", () => {
    const r = typedParams("params.yaml", "b: 1.0\na: 1\nc: 1e-5\n2022: x\n2021: y\nd: True\ne: None\n");
    const v = r.value as VMap;
    expect([...v.keys()]).toEqual(["b", "a", "c", "2022", "2021", "d", "e"]);
    expect(v.get("b")).toEqual(new PyFloat(1));
    expect(v.get("a")).toBe(1);
    expect(toStr(v.get("c")!)).toBe("1e-05");
    expect(v.get("d")).toBe(true);
    expect(v.get("e")).toBe("None");
    expect(r.locs.get("c")).toEqual({ file: "params.yaml", line: 3, col: 1, length: 1 });
  });
  it("JSON and TOML too", () => {
    expect((typedParams("p.json", '{"lr": 1.0, "n": 2}').value as VMap).get("lr")).toEqual(new PyFloat(1));
    const t = typedParams("p.toml", "lr = 1.0\nn = 2\n[train]\nepochs = 3\n").value as VMap;
    expect(t.get("lr")).toEqual(new PyFloat(1));
    expect(t.get("n")).toBe(2);
    expect((t.get("train") as VMap).get("epochs")).toBe(3);
  });
  it("Python floats stay floats, as DVC prints them (2.0, 100000.0, -2.0)", () => {
    const v = typedParams("p2.py", "X = 2.0\nY = 1e5\nW = -2.0\nN = 3\nM = -4\nD = {1.0: 'a'}\n").value as VMap;
    expect(["X", "Y", "W", "N", "M"].map((k) => toStr(v.get(k)!))).toEqual(["2.0", "100000.0", "-2.0", "3", "-4"]);
    expect([...(v.get("D") as VMap).keys()]).toEqual(["1.0"]);
  });
  it("integers past 2^53 print exactly, in every format", () => {
    const big = "12345678901234567890";
    expect(toStr((typedParams("params.yaml", `big: ${big}\nneg: -${big}\nhex: 0x1FFFFFFFFFFFFFFFF\n`).value as VMap).get("big")!)).toBe(big);
    const y = typedParams("params.yaml", `neg: -${big}\nhex: 0x1FFFFFFFFFFFFFFFF\nsmall: 9007199254740991\n`).value as VMap;
    expect(toStr(y.get("neg")!)).toBe(`-${big}`);
    expect(toStr(y.get("hex")!)).toBe("36893488147419103231");
    expect(y.get("small")).toBe(9007199254740991);
    expect(toStr((typedParams("p.json", `{"big": ${big}}`).value as VMap).get("big")!)).toBe(big);
    expect(toStr((typedParams("p.toml", `big = 1234567890123456789\n`).value as VMap).get("big")!)).toBe("1234567890123456789");
    expect(toStr((typedParams("p.py", `BIG = ${big}\nNEG = -${big}\n`).value as VMap).get("NEG")!)).toBe(`-${big}`);
  });
  it("YAML merge keys are expanded, the mapping's own keys winning, in DVC's key order", () => {
    const v = typedParams("params.yaml", "base: &b {lr: 1, ep: 2}\nother: &o {ep: 5, z: 9}\ntrain:\n  x: 0\n  <<: *b\n  y: 3\nt2:\n  <<: [*o, *b]\n  lr: 7\n").value as VMap;
    // What ruamel (DVC's loader) gives: merged keys first, an earlier source of a list winning over a later one.
    expect([...(v.get("train") as VMap)]).toEqual([["lr", 1], ["ep", 2], ["x", 0], ["y", 3]]);
    expect([...(v.get("t2") as VMap)]).toEqual([["lr", 7], ["ep", 5], ["z", 9]]);
  });
  it("an alias bomb is a located error, not a hang", () => {
    const rows = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (const [prev, cur] of [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"], ["e", "f"], ["f", "g"], ["g", "h"], ["h", "i"]] as const) {
      rows.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    const errs = broken("params.yaml", rows.join("\n") + "\n");
    expect(errs).toHaveLength(1);
    expect(errs[0]!.message).toMatch(/^aliases expand this document of 100 values into \d+ values \(an alias bomb\?\)/);
    expect(errs[0]!.line).toBeGreaterThan(1);
  });
  it("JSON is read as JSON, not as YAML: what json.loads refuses is a located error", () => {
    expect(broken("v.json", '{"a": 1,}')).toEqual([{ message: "invalid JSON: a trailing comma before '}' is not allowed in JSON", line: 1, col: 8 }]);
    expect(broken("v.json", '{"a": }')).toEqual([{ message: "invalid JSON: expected a value, found '}'", line: 1, col: 7 }]);
    expect(broken("v.json", "{\n  'a': 1\n}")[0]).toMatchObject({ line: 2, col: 3 });
    expect(broken("v.json", '{"a": 1} x')[0]).toMatchObject({ message: "invalid JSON: unexpected text after the JSON value", col: 10 });
    expect(broken("v.json", "")[0]).toMatchObject({ message: "invalid JSON: the file ends where a value is expected" });
    // What Python's json accepts: NaN and Infinity; a repeated key takes its last value at its first position.
    const v = typedParams("v.json", '{"a": NaN, "b": -Infinity, "a": 2}').value as VMap;
    expect([...v.keys()]).toEqual(["a", "b"]);
    expect(v.get("a")).toBe(2);
    expect(toStr(v.get("b")!)).toBe("-inf");
  });
  it("a broken TOML file is located, without smol-toml's own excerpt", () => {
    expect(broken("v.toml", "a = 1\nb = = 2\n")).toEqual([{ message: "invalid TOML: invalid value", line: 2, col: 5 }]);
  });
  it("broken YAML and Python are located", () => {
    expect(broken("p.yaml", "a: [1, 2\n")[0]!.line).toBe(1);
    expect(broken("p.py", "A = [1,\n")[0]).toMatchObject({ message: expect.stringMatching(/never closed/), line: 1, col: 5 });
  });
});
