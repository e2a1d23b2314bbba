import { describe, expect, it } from "vitest";
import { diffFiles, diffFlat, diffTable, diffToJson } from "../../src/params/diff.js";
import { formatNumber, formatNumberPrecision, MISSING, numericDiff, renderValue, stringifyJson, toJsonValue } from "../../src/params/format.js";
import { renderTable } from "../../src/report/table.js";

describe("number format", () => {
  it("prints the shortest round-trip decimal, positional in [1e-6, 1e21)", () => {
    expect(formatNumber(0.1)).toBe("0.1");
    expect(formatNumber(1e-5)).toBe("0.00001");
    expect(formatNumber(0.000001)).toBe("0.000001");
    expect(formatNumber(1.5e-7)).toBe("1.5e-7");
    expect(formatNumber(123456789012)).toBe("123456789012");
    expect(formatNumber(1e21)).toBe("1e+21");
    expect(formatNumber(-0)).toBe("0");
    expect(formatNumber(1.0)).toBe("1");
    expect([NaN, Infinity, -Infinity].map(formatNumber)).toEqual(["nan", "inf", "-inf"]);
  });

  it("rounds non-integers to N significant digits, never coarser than units; integers in full", () => {
    expect(formatNumberPrecision(1.098765366365355, 5)).toBe("1.0988");
    expect(formatNumberPrecision(1234.5678, 5)).toBe("1234.6");
    expect(formatNumberPrecision(123456.78, 5)).toBe("123457");
    expect(formatNumberPrecision(0.000123456, 5)).toBe("0.00012346");
    expect(formatNumberPrecision(0.5, 5)).toBe("0.5");
    expect(formatNumberPrecision(1.23456e-8, 3)).toBe("1.23e-8");
    expect(formatNumberPrecision(123456789, 2)).toBe("123456789");
    expect(formatNumberPrecision(-2.71828, 3)).toBe("-2.72");
  });

  it("computes changes rounded to the operands' decimals", () => {
    expect(numericDiff(0.1, 0.3)).toBe(0.2);
    expect(numericDiff(0.3, 0.1)).toBe(-0.2);
    expect(numericDiff(1, 3)).toBe(2);
    expect(numericDiff(0.85, 0.9)).toBe(0.05);
    expect(numericDiff(1e-7, 3e-7)).toBe(2e-7);
    expect(numericDiff(0.5, 0.5)).toBe(0);
    expect(numericDiff("1", 2)).toBeUndefined();
    expect(numericDiff(true, 2)).toBeUndefined();
  });

  it("renders cells: strings raw, JSON for the rest, - when missing", () => {
    expect(renderValue("adam")).toBe("adam");
    expect(renderValue(true)).toBe("true");
    expect(renderValue(null)).toBe("null");
    expect(renderValue(MISSING)).toBe("-");
    expect(renderValue([1, 2])).toBe("[1, 2]");
    expect(renderValue(["a", [0.00001, null]])).toBe('["a", [0.00001, null]]');
    expect(renderValue({ a: 1, "b c": [true] })).toBe('{"a": 1, "b c": [true]}');
    expect(renderValue({})).toBe("{}");
    expect(renderValue(new Date("2020-01-01T00:00:00Z"))).toBe("2020-01-01T00:00:00.000Z");
    expect(renderValue(0.123456789, 3)).toBe("0.123");
  });

  it("turns values into JSON-safe ones", () => {
    expect(toJsonValue(MISSING)).toBeNull();
    expect(toJsonValue({ a: [NaN, Infinity, 1], d: new Date("2020-01-01T00:00:00Z") })).toEqual({ a: ["nan", "inf", 1], d: "2020-01-01T00:00:00.000Z" });
  });
});

describe("diff", () => {
  const old = { "train.lr": 0.1, "train.epochs": 10, layers: [1, 2], name: "a", gone: 1, same: { x: 1 } };
  const neu = { "train.lr": 0.2, "train.epochs": 10, layers: [1, 2, 3], name: "a", added: true, same: { x: 1 } };

  it("lists changed, added and removed keys, sorted, with diff for numbers only", () => {
    const d = diffFlat(old, neu, false);
    expect([...d.keys()]).toEqual(["added", "gone", "layers", "train.lr"]);
    expect(d.get("train.lr")).toEqual({ old: 0.1, new: 0.2, diff: 0.1 });
    expect(d.get("added")).toEqual({ old: MISSING, new: true });
    expect(d.get("gone")).toEqual({ old: 1, new: MISSING });
    expect(d.get("layers")).toEqual({ old: [1, 2], new: [1, 2, 3] });
  });

  it("--all keeps unchanged keys (numbers with diff 0)", () => {
    const d = diffFlat(old, neu, true);
    expect([...d.keys()]).toEqual(["added", "gone", "layers", "name", "same", "train.epochs", "train.lr"]);
    expect(d.get("train.epochs")).toEqual({ old: 10, new: 10, diff: 0 });
  });

  it("a file absent on one side makes every key new or removed; absent on both makes nothing", () => {
    expect([...diffFlat(undefined, { a: 1 }, false).values()]).toEqual([{ old: MISSING, new: 1 }]);
    expect(diffFlat(undefined, undefined, true).size).toBe(0);
  });

  it("null is a value, distinct from missing", () => {
    const d = diffFlat({ a: null }, {}, false);
    expect(d.get("a")).toEqual({ old: null, new: MISSING });
    expect(diffFlat({ a: null }, { a: null }, false).size).toBe(0);
  });

  it("renders the JSON shape and the DVC table", () => {
    const files = new Map([
      ["sub/p.json", { old: { x: "a" }, new: { x: "b" } }],
      ["params.yaml", { old: old as Record<string, unknown>, new: neu as Record<string, unknown> }],
      ["same.yaml", { old: { k: 1 }, new: { k: 1 } }],
    ]);
    const res = diffFiles(files, false);
    expect([...res.keys()]).toEqual(["params.yaml", "sub/p.json"]);
    expect(diffToJson(res)).toEqual({
      "params.yaml": {
        added: { old: null, new: true },
        gone: { old: 1, new: null },
        layers: { old: [1, 2], new: [1, 2, 3] },
        "train.lr": { old: 0.1, new: 0.2, diff: 0.1 },
      },
      "sub/p.json": { x: { old: "a", new: "b" } },
    });
    const table = diffTable(res, { title: "Param", aName: "HEAD", bName: "workspace", path: true, change: false });
    expect(renderTable(table, "plain")).toBe(
      [
        "Path         Param     HEAD    workspace",
        "params.yaml  added     -       true",
        "params.yaml  gone      1       -",
        "params.yaml  layers    [1, 2]  [1, 2, 3]",
        "params.yaml  train.lr  0.1     0.2",
        "sub/p.json   x         a       b",
        "",
      ].join("\n"),
    );
    const noPath = diffTable(res, { title: "Metric", aName: "v1", bName: "v2", path: false, change: true, precision: 5 });
    expect(noPath.headers).toEqual(["Metric", "v1", "v2", "Change"]);
    expect(noPath.rows[3]).toEqual(["train.lr", "0.1", "0.2", "0.1"]);
    expect(noPath.rows[0]).toEqual(["added", "-", "true", "-"]);
  });

  it("a change of type that would print alike quotes the strings of its row; a string '-' is always quoted", () => {
    const res = diffFiles(
      new Map([
        [
          "p.yaml",
          {
            old: { n: 1, b: true, l: [1, 2], dash: "-", gone: "-", same: "1", s: "x" },
            new: { n: "1", b: "true", l: "[1, 2]", dash: "x", same: "1", s: "y", added: "-" },
          },
        ],
      ]),
      true,
    );
    const rows = diffTable(res, { title: "Param", aName: "A", bName: "B", path: false, change: false }).rows;
    expect(rows).toEqual([
      ["added", "-", '"-"'],
      ["b", "true", '"true"'],
      ["dash", '"-"', "x"],
      ["gone", '"-"', "-"],
      ["l", "[1, 2]", '"[1, 2]"'],
      ["n", "1", '"1"'],
      ["s", "x", "y"],
      ["same", "1", "1"],
    ]);
  });

  it("integers beyond 2^53: exact differences, printed in full, exact in JSON", () => {
    const big = 12345678901234567890n;
    expect(numericDiff(big, big + 5n)).toBe(5);
    expect(numericDiff(1, big)).toBe(12345678901234567889n);
    expect(numericDiff(big, 0.5)).toBe(0.5 - Number(big));
    expect(numericDiff(big, "x")).toBeUndefined();
    expect(renderValue(big)).toBe("12345678901234567890");
    expect(renderValue([big])).toBe("[12345678901234567890]");
    const doc = toJsonValue({ seed: big, list: [1, big], s: "a" });
    expect(stringifyJson(doc)).toBe('{\n  "seed": 12345678901234567890,\n  "list": [\n    1,\n    12345678901234567890\n  ],\n  "s": "a"\n}');
    // Without bigints it is JSON.stringify's layout.
    const plain = { a: { b: [1, "x", null, true], c: {} }, d: [], e: "é\n" };
    expect(stringifyJson(plain)).toBe(JSON.stringify(plain, null, 2));
  });

  it("a Map prints as an object in its own order, integer-like keys included (a plain object would hoist them)", () => {
    const m = new Map<string, unknown>([
      ["workspace", { a: 1 }],
      ["1234567", new Map([["m.json", { data: {} }]])],
      ["abcdef0", new Map()],
    ]);
    expect(stringifyJson(m)).toBe('{\n  "workspace": {\n    "a": 1\n  },\n  "1234567": {\n    "m.json": {\n      "data": {}\n    }\n  },\n  "abcdef0": {}\n}');
    expect(Object.keys({ workspace: 1, "1234567": 2 })).toEqual(["1234567", "workspace"]);
  });
});
