/**
 * Strict JSON, as Python's `json.loads` (DVC's JSON reader) accepts it, with source positions.
 *
 * JSON files used to go through the YAML parser (YAML 1.2 contains JSON), which also accepts what JSON does not:
 * `{"a": 1,}` and `{"a": }` loaded, the latter as null, where DVC fails. This parser accepts exactly Python's
 * default grammar: RFC 8259 plus `NaN`, `Infinity` and `-Infinity`; a repeated key keeps its first position and
 * takes its last value (a `dict` built from the pairs). Errors are diagnostics at the offending character.
 *
 * Numbers and objects are built by hooks, so that the template reader can keep `1.0` a float and keys in written
 * order (`Map`), while plain readers get plain values.
 */
import { error, fail, ok, type Result, type SourceLocation } from "../core/diagnostic.js";

export interface JsonHooks {
  /** Builds a number from its source text (`1`, `1.0`, `-1e5`, `NaN`); default `Number`. */
  number?: (text: string) => unknown;
  /** Builds an object from its entries in written order (keys unique); default a plain object. */
  object?: (entries: [string, unknown][]) => unknown;
  /** When given, receives the location of every value by dotted path (the key's, for an object entry). */
  locs?: Map<string, SourceLocation>;
}

class JsonSyntaxError {
  constructor(
    readonly message: string,
    readonly at: number,
    readonly hint?: string,
  ) {}
}

function plainObject(entries: [string, unknown][]): unknown {
  const o: Record<string, unknown> = {};
  // defineProperty, so that a key named `__proto__` is data, as in Python.
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

class Parser {
  private i = 0;
  private lineStarts: number[] | undefined;
  private readonly number: (text: string) => unknown;
  private readonly object: (entries: [string, unknown][]) => unknown;

  constructor(
    private readonly file: string,
    private readonly s: string,
    private readonly hooks: JsonHooks,
  ) {
    this.number = hooks.number ?? Number;
    this.object = hooks.object ?? plainObject;
  }

  loc(offset: number, length = 1): SourceLocation {
    let starts = this.lineStarts;
    if (!starts) {
      starts = [0];
      for (let k = this.s.indexOf("\n"); k >= 0; k = this.s.indexOf("\n", k + 1)) starts.push(k + 1);
      this.lineStarts = starts;
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, col: offset - starts[lo]! + 1, length };
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }

  private fail(message: string, at = this.i, hint?: string): never {
    throw new JsonSyntaxError(message, at, hint);
  }

  document(): unknown {
    this.ws();
    const v = this.value("");
    this.ws();
    if (this.i < this.s.length) this.fail("unexpected text after the JSON value", this.i, "a JSON file holds one value; remove what follows it");
    return v;
  }

  private value(path: string): unknown {
    const s = this.s;
    const c = s[this.i];
    if (c === undefined) this.fail("the file ends where a value is expected");
    if (c === "{") return this.obj(path);
    if (c === "[") return this.arr(path);
    if (c === '"') return this.str();
    if (s.startsWith("true", this.i)) return (this.i += 4), true;
    if (s.startsWith("false", this.i)) return (this.i += 5), false;
    if (s.startsWith("null", this.i)) return (this.i += 4), null;
    for (const word of ["NaN", "Infinity", "-Infinity"]) {
      if (s.startsWith(word, this.i)) {
        this.i += word.length;
        return this.number(word);
      }
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(s);
    if (m) {
      this.i += m[0].length;
      return this.number(m[0]);
    }
    if (c === "}" || c === "]" || c === ",") this.fail(`expected a value, found '${c}'`);
    if (c === "'") this.fail("JSON strings are written in double quotes", this.i, "replace the single quotes with double quotes");
    const word = /^[^\s,:{}[\]"]+/.exec(s.slice(this.i, this.i + 40))?.[0] ?? c;
    return this.fail(`expected a value, found '${word}'`, this.i, /^(True|False|None)$/.test(word) ? "JSON writes true, false and null in lower case" : "a string must be in double quotes");
  }

  private obj(path: string): unknown {
    const s = this.s;
    const open = this.i;
    this.i++;
    const entries: [string, unknown][] = [];
    const index = new Map<string, number>();
    this.ws();
    if (s[this.i] === "}") {
      this.i++;
      return this.object(entries);
    }
    for (;;) {
      this.ws();
      if (s[this.i] !== '"') {
        if (this.i >= s.length) this.fail("the file ends inside an object", open, "add the missing '}'");
        if (s[this.i] === "}" && s[this.i - 1] !== "{") this.trailingComma("}");
        this.fail("expected a key in double quotes", this.i);
      }
      const keyAt = this.i;
      const key = this.str();
      const sub = path ? `${path}.${key}` : key;
      this.hooks.locs?.set(sub, this.loc(keyAt, this.i - keyAt));
      this.ws();
      if (s[this.i] !== ":") this.fail(this.i >= s.length ? "the file ends inside an object" : `expected ':' after the key, found '${s[this.i]}'`);
      this.i++;
      this.ws();
      const v = this.value(sub);
      const prev = index.get(key);
      // Python's dict: the first position, the last value.
      if (prev === undefined) {
        index.set(key, entries.length);
        entries.push([key, v]);
      } else {
        entries[prev]![1] = v;
      }
      this.ws();
      const c = s[this.i];
      if (c === ",") {
        this.i++;
        continue;
      }
      if (c === "}") {
        this.i++;
        return this.object(entries);
      }
      if (c === undefined) this.fail("the file ends inside an object", open, "add the missing '}'");
      this.fail(`expected ',' or '}' after a value, found '${c}'`);
    }
  }

  private arr(path: string): unknown[] {
    const s = this.s;
    const open = this.i;
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (s[this.i] === "]") this.trailingComma("]");
      const sub = path ? `${path}.${out.length}` : String(out.length);
      this.hooks.locs?.set(sub, this.loc(this.i));
      out.push(this.value(sub));
      this.ws();
      const c = s[this.i];
      if (c === ",") {
        this.i++;
        continue;
      }
      if (c === "]") {
        this.i++;
        return out;
      }
      if (c === undefined) this.fail("the file ends inside a list", open, "add the missing ']'");
      this.fail(`expected ',' or ']' after a value, found '${c}'`);
    }
  }

  /** At a closing bracket right after a comma: points at the comma. */
  private trailingComma(close: string): never {
    let k = this.i - 1;
    while (k > 0 && /\s/.test(this.s[k]!)) k--;
    return this.fail(`a trailing comma before '${close}' is not allowed in JSON`, k, "remove the comma");
  }

  private str(): string {
    const s = this.s;
    const open = this.i;
    this.i++;
    let out = "";
    let from = this.i;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (Number.isNaN(c)) this.fail("a string is not closed", open, 'add the closing \'"\'');
      if (c === 0x22) {
        out += s.slice(from, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail(c === 0x0a ? "a string is not closed on its line" : "a control character must be escaped inside a JSON string", c === 0x0a ? open : this.i);
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += s.slice(from, this.i);
      const e = s[this.i + 1];
      if (e !== undefined && ESCAPES[e] !== undefined) {
        out += ESCAPES[e];
        this.i += 2;
      } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(s.slice(this.i + 2, this.i + 6))) {
        out += String.fromCharCode(parseInt(s.slice(this.i + 2, this.i + 6), 16));
        this.i += 6;
      } else {
        this.fail(`invalid escape '\\${e ?? ""}' in a string`, this.i, 'JSON escapes are \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX');
      }
      from = this.i;
    }
  }
}

/** Parses JSON text; `file` (root-relative) names it in diagnostics. A leading byte-order mark is skipped. */
export function parseJson(file: string, text: string, hooks: JsonHooks = {}): Result<unknown> {
  const bom = text.charCodeAt(0) === 0xfeff;
  const p = new Parser(file, bom ? text.slice(1) : text, hooks);
  try {
    return ok(p.document());
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const at = p.loc(e.at);
    // The location is computed on the text without its mark; the mark is not a column anyone sees.
    return fail([error("params", `invalid JSON: ${e.message}`, { file, line: at.line, col: at.col }, e.hint ? { hint: e.hint } : {})]);
  }
}
