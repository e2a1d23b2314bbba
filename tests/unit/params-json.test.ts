import { describe, expect, it } from "vitest";
import { parseParamsText } from "../../src/formats/params-file.js";
import { parseMetricsText } from "../../src/formats/metrics.js";

/** The params reader's JSON, in the shape these cases were written for. */
function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string; line: number; col: number } {
  const r = parseParamsText("p.json", text);
  if (r.ok) return { ok: true, value: r.value };
  const e = r.errors[0]!;
  return { ok: false, message: e.message.replace(/^invalid JSON: /, ""), line: e.location?.line ?? 0, col: e.location?.col ?? 0 };
}

describe("JSON as Python's json module reads it", () => {
  it("reads what JSON.parse reads, to the same values", () => {
    const texts = ['{"a": 1, "b": [true, false, null], "c": {"d": "e"}}', "0.1", "-0", "1e-7", "[]", "{}", '"\\u00e9\\n\\"/\\\\"', " [1 , 2 ]\n", "123456789.125e3"];
    for (const t of texts) expect(parseJson(t)).toEqual({ ok: true, value: JSON.parse(t) as unknown });
  });

  it("NaN, Infinity and -Infinity outside strings are numbers; inside strings they stay text", () => {
    const r = parseJson('{"loss": NaN, "hi": Infinity, "lo": -Infinity, "s": "NaN", "l": [NaN, "Infinity"]}');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const v = r.value as Record<string, unknown>;
    expect(v["loss"]).toBeNaN();
    expect(v["hi"]).toBe(Infinity);
    expect(v["lo"]).toBe(-Infinity);
    expect(v["s"]).toBe("NaN");
    expect((v["l"] as unknown[])[1]).toBe("Infinity");
  });

  it("keeps integers beyond 2^53 exact, as bigints; floats stay the double of their text", () => {
    const r = parseJson('{"big": 12345678901234567890, "neg": -9007199254740993, "safe": 9007199254740991, "f": 1.0, "e": 1e400}');
    expect(r).toEqual({ ok: true, value: { big: 12345678901234567890n, neg: -9007199254740993n, safe: 9007199254740991, f: 1, e: Infinity } });
  });

  it("a key given twice keeps its last value; __proto__ is an ordinary key", () => {
    const r = parseJson('{"a": 1, "a": 2, "__proto__": {"x": 1}}');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const v = r.value as Record<string, unknown>;
    expect(v["a"]).toBe(2);
    expect(Object.keys(v)).toEqual(["a", "__proto__"]);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });

  it("syntax errors say what and where (line:col), never quote the document", () => {
    const long = `{\n  "a": 1,\n  "b": [1, 2,, 3],\n  "pad": "${"x".repeat(500)}"\n}`;
    expect(parseJson(long)).toEqual({ ok: false, message: "expected a value, found ','", line: 3, col: 14 });
    expect(parseJson('{"a": 1 "b": 2}')).toEqual({ ok: false, message: "expected ',' or '}' after a value, found '\"'", line: 1, col: 9 });
    expect(parseJson('{"a": nan}')).toEqual({ ok: false, message: "expected a value, found 'nan'", line: 1, col: 7 });
    expect(parseJson('{"a": "x')).toEqual({ ok: false, message: "a string is not closed", line: 1, col: 7 });
    expect(parseJson("[1] 2")).toEqual({ ok: false, message: "unexpected text after the JSON value", line: 1, col: 5 });
    expect(parseJson("")).toEqual({ ok: false, message: "the file ends where a value is expected", line: 1, col: 1 });
    expect(parseJson("{a: 1}")).toEqual({ ok: false, message: "expected a key in double quotes", line: 1, col: 2 });
    expect(parseJson('"a\tb"').ok).toBe(false);
    expect(parseJson("01").ok).toBe(false);
  });

  it("params and metrics files use it: located warnings without V8's excerpt", () => {
    const text = `{"acc": 0.9,\n "pad": "${"y".repeat(300)}",\n "loss": }`;
    const r = parseParamsText("m.json", text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toBe("invalid JSON: expected a value, found '}'");
    expect(r.errors[0]!.location).toEqual({ file: "m.json", line: 3, col: 10 });
    expect(parseMetricsText("m.json", '{"loss": NaN, "acc": 0.5}')).toEqual({ ok: true, value: { loss: NaN, acc: 0.5 }, warnings: [] });
  });

  it("TOML integers beyond 2^53 are bigints, not an unreadable file", () => {
    expect(parseParamsText("p.toml", "seed = 12345678901234567890\nsmall = 3\n")).toEqual({ ok: true, value: { seed: 12345678901234567890n, small: 3 }, warnings: [] });
  });
});
