/**
 * JSON for params and metrics files, as Python's `json` module reads it (which is what DVC reads them with):
 *
 * - the bare tokens `NaN`, `Infinity` and `-Infinity` are numbers. Python's `json.dump` writes them for float NaN
 *   and infinities (a training loss that diverged), and `JSON.parse` rejects the whole file for them;
 * - an integer literal stays exact: beyond 2^53 it is a `bigint` (Python keeps every int exact), every other number
 *   is the double the literal denotes (`Number()` of the same text, as `JSON.parse` gives it);
 * - a key given twice keeps its last value, as both `json.loads` and `JSON.parse` do.
 *
 * Those tokens are recognised outside strings only: `"NaN"` stays a string. A syntax error is a value with its line
 * and column (1-based; the column counts UTF-16 units, as the other readers' columns do) and a short description,
 * never a quote of the document.
 */

export type JsonResult = { ok: true; value: unknown } | { ok: false; message: string; line: number; col: number };

class JsonError {
  constructor(
    readonly message: string,
    readonly at: number,
  ) {}
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

function describe(ch: string | undefined): string {
  if (ch === undefined) return "the end of the file";
  return `'${ch}'`;
}

class Parser {
  private i = 0;

  constructor(private readonly s: string) {}

  parse(): unknown {
    this.ws();
    const v = this.value();
    this.ws();
    if (this.i < this.s.length) throw new JsonError(`unexpected ${describe(this.s[this.i])} after the JSON value`, this.i);
    return v;
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  private word(w: string): boolean {
    if (!this.s.startsWith(w, this.i)) return false;
    this.i += w.length;
    return true;
  }

  private value(): unknown {
    const c = this.s[this.i];
    switch (c) {
      case "{":
        return this.object();
      case "[":
        return this.array();
      case '"':
        return this.string();
      case "t":
        if (this.word("true")) return true;
        break;
      case "f":
        if (this.word("false")) return false;
        break;
      case "n":
        if (this.word("null")) return null;
        break;
      case "N":
        if (this.word("NaN")) return NaN;
        break;
      case "I":
        if (this.word("Infinity")) return Infinity;
        break;
      case "-":
        if (this.word("-Infinity")) return -Infinity;
        return this.number();
      default:
        if (c !== undefined && c >= "0" && c <= "9") return this.number();
    }
    throw new JsonError(`expected a value, found ${describe(c)}`, this.i);
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) throw new JsonError(`invalid number`, this.i);
    this.i += m[0].length;
    const text = m[0];
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : BigInt(text);
    }
    return Number(text);
  }

  private string(): string {
    const s = this.s;
    const start = this.i;
    let i = this.i + 1;
    let out = "";
    let from = i;
    for (;;) {
      if (i >= s.length) throw new JsonError("unterminated string", start);
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        out += s.slice(from, i);
        this.i = i + 1;
        return out;
      }
      if (c < 0x20) throw new JsonError("a control character (a raw newline or tab) inside a string; write it as \\n or \\t", i);
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += s.slice(from, i);
      const e = s[i + 1];
      if (e === "u") {
        const hex = s.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonError("invalid \\u escape: four hexadecimal digits must follow", i);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
        out += ESCAPES[e];
        i += 2;
      } else {
        throw new JsonError(`invalid escape '\\${e ?? ""}' in a string`, i);
      }
      from = i;
    }
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value());
      this.ws();
      const c = this.s[this.i];
      if (c === ",") this.i++;
      else if (c === "]") {
        this.i++;
        return out;
      } else throw new JsonError(`expected ',' or ']' after a list item, found ${describe(c)}`, this.i);
    }
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++;
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') throw new JsonError(`expected a key in double quotes, found ${describe(this.s[this.i])}`, this.i);
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ":") throw new JsonError(`expected ':' after the key "${key}", found ${describe(this.s[this.i])}`, this.i);
      this.i++;
      this.ws();
      const v = this.value();
      // `__proto__` is an ordinary key in JSON; plain assignment would set the prototype instead.
      if (key === "__proto__") Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.ws();
      const c = this.s[this.i];
      if (c === ",") this.i++;
      else if (c === "}") {
        this.i++;
        return out;
      } else throw new JsonError(`expected ',' or '}' after the value of "${key}", found ${describe(c)}`, this.i);
    }
  }
}

function lineCol(s: string, at: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = s.indexOf("\n"); i >= 0 && i < at; i = s.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: at - lineStart + 1 };
}

/** Parses JSON text (see the module comment). */
export function parseJson(text: string): JsonResult {
  try {
    return { ok: true, value: new Parser(text).parse() };
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    return { ok: false, message: e.message, ...lineCol(text, e.at) };
  }
}
