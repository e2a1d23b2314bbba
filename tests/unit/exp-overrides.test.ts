/**
 * `-S` overrides: parsing (`[FILE:]KEY=VALUE`, `+KEY` to add), grids, and edits of YAML (only the changed values'
 * text moves: comments, quoting and blank lines stay), JSON, TOML and Python params files; experiment names.
 */
import { describe, expect, it } from "vitest";
import { editParamsText, expandGrid, overrideValue, parseSetParam, type Override } from "../../src/experiments/overrides.js";
import { checkName, expRef, generateName, parseExpRef } from "../../src/experiments/names.js";

function o(key: string, raw: string, add = false, file = "params.yaml"): Override {
  return { file, key, raw, add };
}

function edit(file: string, text: string, ...os: Override[]): string {
  const r = editParamsText(file, text, os.map((x) => ({ ...x, file })));
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.value;
}

describe("parseSetParam", () => {
  it("reads the file, the key, a sweep and the + of a new key", () => {
    expect(parseSetParam("train.lr=0.1")).toMatchObject({ ok: true, value: { file: "params.yaml", key: "train.lr", values: ["0.1"], add: false } });
    expect(parseSetParam("conf/p.json:a.b=1,2,3")).toMatchObject({ ok: true, value: { file: "conf/p.json", key: "a.b", values: ["1", "2", "3"] } });
    expect(parseSetParam("+new=x")).toMatchObject({ ok: true, value: { key: "new", add: true } });
    expect(parseSetParam("k=[1,2],[3]")).toMatchObject({ ok: true, value: { values: ["[1,2]", "[3]"] } });
    expect(parseSetParam("k='a,b'")).toMatchObject({ ok: true, value: { values: ["'a,b'"] } });
    for (const bad of ["=1", "novalue", "a..b=1", ":k=1"]) expect(parseSetParam(bad).ok, bad).toBe(false);
  });

  it("expands a grid, the last flag varying fastest", () => {
    const a = parseSetParam("a=1,2");
    const b = parseSetParam("b=x,y,z");
    if (!a.ok || !b.ok) throw new Error("parse");
    const g = expandGrid([a.value, b.value]);
    expect(g.map((c) => c.map((x) => `${x.key}=${x.raw}`).join(" "))).toEqual(["a=1 b=x", "a=1 b=y", "a=1 b=z", "a=2 b=x", "a=2 b=y", "a=2 b=z"]);
  });

  it("reads values as YAML scalars", () => {
    expect(overrideValue("0.01")).toBe(0.01);
    expect(overrideValue("10")).toBe(10);
    expect(overrideValue("true")).toBe(true);
    expect(overrideValue("adam")).toBe("adam");
    expect(overrideValue("[1, 2]")).toEqual([1, 2]);
  });
});

describe("editing params files", () => {
  it("YAML: only the value's text changes; comments, blank lines, quoting and flow style stay", () => {
    const text = "# top\ntrain:\n  lr: 0.5   # learning rate\n\n  opt: 'adam'\n  layers: [1, 2]\n  epochs: 10\n";
    expect(edit("params.yaml", text, o("train.lr", "0.010"), o("train.epochs", "20"))).toBe(
      "# top\ntrain:\n  lr: 0.010   # learning rate\n\n  opt: 'adam'\n  layers: [1, 2]\n  epochs: 20\n",
    );
    expect(edit("params.yaml", text, o("train.opt", "sgd"))).toContain("  opt: sgd\n");
    expect(edit("params.yaml", text, o("train.opt", "a # b"))).toContain('  opt: "a # b"\n');
  });

  it("YAML: a list item by index, a new key with +, an unknown key refused", () => {
    expect(edit("p.yaml", "xs:\n  - 1\n  - 2\n", o("xs.1", "5"))).toBe("xs:\n  - 1\n  - 5\n");
    const added = edit("p.yaml", "# c\na: 1\n", o("b.c", "2", true));
    expect(added).toContain("# c\n");
    expect(added).toContain("b:\n  c: 2\n");
    const r = editParamsText("p.yaml", "a: 1\n", [o("b", "2", false, "p.yaml")]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toContain("'+b=2'");
  });

  it("JSON keeps its indent; TOML and Python get the new values", () => {
    expect(edit("p.json", '{\n    "a": {"b": 1},\n    "c": "x"\n}\n', o("a.b", "2"))).toBe('{\n    "a": {\n        "b": 2\n    },\n    "c": "x"\n}\n');
    const toml = edit("p.toml", "[train]\nlr = 0.5\nepochs = 10\n", o("train.lr", "0.1"));
    expect(toml).toMatch(/lr = 0\.1/);
    expect(toml).toMatch(/epochs = 10/);
    const py = "LR = 0.5  # rate\nNAME = 'a'\n\nclass Train:\n    epochs = 10\n    flag = False\n";
    expect(edit("p.py", py, o("LR", "0.25"), o("Train.epochs", "3"), o("Train.flag", "true"), o("NAME", "b"))).toBe(
      'LR = 0.25  # rate\nNAME = "b"\n\nclass Train:\n    epochs = 3\n    flag = True\n',
    );
    expect(editParamsText("p.py", py, [o("Nope", "1", false, "p.py")]).ok).toBe(false);
  });
});

describe("experiment names", () => {
  it("generated names are two words, not taken", () => {
    const taken = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const n = generateName(taken);
      expect(n).toMatch(/^[a-z]+-[a-z]+(-\d+)?$/);
      expect(taken.has(n)).toBe(false);
      taken.add(n);
    }
  });

  it("a name is one git ref component", () => {
    for (const good of ["exp-1", "lr_0.1", "A+B"]) expect(checkName(good).ok, good).toBe(true);
    for (const bad of ["", "a/b", "a..b", "x.lock", "-a", "a b", "HEAD", "a~1", "a:b"]) expect(checkName(bad).ok, bad).toBe(false);
  });

  it("refs follow DVC's layout", () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    expect(expRef(sha, "x")).toBe("refs/exps/01/23456789abcdef0123456789abcdef01234567/x");
    expect(parseExpRef(expRef(sha, "x"))).toEqual({ baseline: sha, name: "x" });
    expect(parseExpRef("refs/exps/celery/stash")).toBeUndefined();
  });
});
