import { describe, expect, it } from "vitest";
import { parsePythonParams } from "../../src/formats/python.js";
import { flatten, parseParamsText } from "../../src/formats/params-file.js";

function py(text: string): Record<string, unknown> {
  const r = parsePythonParams("params.py", text);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.value;
}

describe("Python params: what DVC keeps", () => {
  it("reads module-level assignments of literals in source order", () => {
    const v = py(["import math", "", "LR = 0.001", "EPOCHS = 10", "NAME = 'resnet'", "USE_GPU = True", "SEED = None", ""].join("\n"));
    expect(v).toEqual({ LR: 0.001, EPOCHS: 10, NAME: "resnet", USE_GPU: true, SEED: null });
    expect(Object.keys(v)).toEqual(["LR", "EPOCHS", "NAME", "USE_GPU", "SEED"]);
  });

  it("reads class bodies as nested mappings and self.x of __init__ into the class", () => {
    const text = [
      "class Train:",
      "    lr = 0.1",
      "    layers = [64, 32]",
      "",
      "    class Optimizer:",
      "        name = 'adam'",
      "        betas = (0.9, 0.999)",
      "",
      "    def __init__(self):",
      "        self.epochs = 3",
      "        self.name = 'x'",
      "        local = 5",
      "        other.attr = 1",
      "",
      "    def helper(self):",
      "        self.skipped = 1",
      "",
      "batch = 32",
    ].join("\n");
    const v = py(text);
    expect(v).toEqual({
      Train: { lr: 0.1, layers: [64, 32], Optimizer: { name: "adam", betas: [0.9, 0.999] }, epochs: 3, name: "x" },
      batch: 32,
    });
    expect(flatten(v)).toEqual({
      "Train.lr": 0.1,
      "Train.layers": [64, 32],
      "Train.Optimizer.name": "adam",
      "Train.Optimizer.betas": [0.9, 0.999],
      "Train.epochs": 3,
      "Train.name": "x",
      batch: 32,
    });
  });

  it("skips what DVC skips: calls, names, chained and tuple targets, augmented assignments, f-strings, nested blocks", () => {
    const text = [
      "import os",
      "A = os.getenv('A')",
      "B = A",
      "C = D = 1",
      "E, F = 1, 2",
      "G = 1",
      "G += 1",
      "H = f'{G}'",
      "if True:",
      "    I = 1",
      "for x in range(3):",
      "    J = 2",
      "def f():",
      "    K = 3",
      "x.y = 4",
      "L = 1 + 2",
      "M = 3j",
      "N = 5",
    ].join("\n");
    expect(py(text)).toEqual({ G: 1, N: 5 });
  });

  it("takes annotated assignments (dataclass fields) and module-level self.x as DVC does", () => {
    const text = ["from dataclasses import dataclass", "@dataclass", "class Cfg:", "    lr: float = 0.5", "    name: str = 'a'", "    epochs: int", "self.z = 9", "(w): bool = True", "o = {('a', \"it's\"): 1}"].join("\n");
    expect(py(text)).toEqual({ Cfg: { lr: 0.5, name: "a" }, z: 9, w: true, o: { "('a', \"it's\")": 1 } });
  });

  it("parses every literal form", () => {
    const text = [
      "a = -3",
      "b = +2.5",
      "c = 1_000_000",
      "d = 0x1F",
      "e = 0o17",
      "f = 0b101",
      "g = 1e-5",
      "h = .5",
      "i = 5.",
      "j = [1, 'two', [3.0, None], {'k': False},]",
      "k = (1,)",
      "l = ()",
      "m = {1, 2, 2, 3}",
      "n = set()",
      "o = {'x': {'y': 1}, 2: 'int key', True: 'bool key'}",
      "p = 1, 2",
      "q = (5)",
      "r = -(-4)",
      "s = {}",
    ].join("\n");
    expect(py(text)).toEqual({
      a: -3,
      b: 2.5,
      c: 1000000,
      d: 31,
      e: 15,
      f: 5,
      g: 0.00001,
      h: 0.5,
      i: 5,
      j: [1, "two", [3, null], { k: false }],
      k: [1],
      l: [],
      m: [1, 2, 3],
      n: [],
      o: { x: { y: 1 }, "2": "int key", True: "bool key" },
      p: [1, 2],
      q: 5,
      r: 4,
      s: {},
    });
  });

  it("decodes strings: prefixes, escapes, raw, triple quotes, implicit concatenation", () => {
    const text = [
      String.raw`a = 'it\'s'`,
      String.raw`b = "tab\tnew\nline \\ \x41\u00e9\U0001F600 \101 \q"`,
      String.raw`c = r'C:\path\n'`,
      String.raw`d = u"unicode"`,
      String.raw`e = b'bytes\x41'`,
      'f = """multi',
      "line 'quoted' \"\" text\"\"\"",
      "g = ('con'",
      "     'cat'  # comment inside brackets",
      "     \"enated\")",
      String.raw`h = R"raw \" quote"`,
      "i = '# not a comment'  # a comment",
      "j = 'semi'; k = 'colon'",
      "l = \\",
      "    7",
    ].join("\n");
    expect(py(text)).toEqual({
      a: "it's",
      b: "tab\tnew\nline \\ Aé😀 A \\q",
      c: String.raw`C:\path\n`,
      d: "unicode",
      e: "bytesA",
      f: "multi\nline 'quoted' \"\" text",
      g: "concatenated",
      h: String.raw`raw \" quote`,
      i: "# not a comment",
      j: "semi",
      k: "colon",
      l: 7,
    });
  });

  it("handles CRLF line ends, a BOM, tabs and one-line class bodies", () => {
    expect(py("\ufeffa = 1\r\nclass B: c = 2\r\nclass D:\r\n\tx = [1,\r\n\t  2]\r\n")).toEqual({ a: 1, B: { c: 2 }, D: { x: [1, 2] } });
  });

  it("does not mistake soft keywords for blocks", () => {
    expect(py("match = 1\ncase: int = 2\nmatch match:\n    case 1:\n        z = 3\n")).toEqual({ match: 1, case: 2 });
  });

  it("reports unbalanced brackets and unterminated strings with line and column", () => {
    const r1 = parsePythonParams("p.py", "a = 1\nb = [1, 2\nc = 3\n");
    expect(r1.ok).toBe(false);
    if (!r1.ok) {
      expect(r1.errors[0]?.message).toBe("invalid Python: '[' was never closed");
      expect(r1.errors[0]?.location).toEqual({ file: "p.py", line: 2, col: 5 });
    }
    const r2 = parsePythonParams("p.py", "a = 'open\n");
    expect(r2.ok).toBe(false);
    if (!r2.ok) expect(r2.errors[0]?.location).toEqual({ file: "p.py", line: 1, col: 5 });
    const r3 = parsePythonParams("p.py", "a = (1]\n");
    expect(r3.ok).toBe(false);
    if (!r3.ok) expect(r3.errors[0]?.message).toBe("invalid Python: ']' does not match '(' opened at line 1");
    const r4 = parsePythonParams("p.py", 'x = """never closed\n\n');
    expect(r4.ok).toBe(false);
    if (!r4.ok) expect(r4.errors[0]?.message).toBe("invalid Python: unterminated triple-quoted string literal");
  });

  it("is what parseParamsText uses for .py files", () => {
    const r = parseParamsText("conf/params.py", "class T:\n    lr = 0.2\n");
    expect(r.ok && r.value).toEqual({ T: { lr: 0.2 } });
  });
});
