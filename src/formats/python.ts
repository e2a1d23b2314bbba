/**
 * Python params files, read the way DVC reads them (`dvc/utils/serialize/_py.py`), without running Python.
 *
 * DVC parses the module with `ast` and keeps, in source order:
 * - module-level assignments `NAME = <literal>` and `NAME: T = <literal>` (one target only; chained or tuple
 *   targets are skipped),
 * - `class X:` bodies, recursively, as a nested mapping `{X: {...}}`,
 * - the `self.NAME = <literal>` assignments at the top of any `def __init__` body, merged into the enclosing mapping,
 * and silently skips every other statement, and every assignment whose value is not a literal (`ast.literal_eval`
 * fails on calls, names, f-strings...). A syntax error in the file is an error.
 *
 * We do the same with a small tokenizer (strings with prefixes and escapes, numbers, names, operators, brackets,
 * comments, line continuations, indentation) that cuts the text into logical lines, a block structure by
 * indentation, and a recursive-descent parser for the literal grammar: str/bytes (with implicit concatenation),
 * int (decimal, hex, octal, binary, `_` separators), float, True/False/None, list, tuple, dict, set, `set()`, and
 * unary +/-. Tuples and sets become arrays (sets de-duplicated, in source order, so output is deterministic); dict
 * keys become strings as Python's `str()` would print them. Statements we do not understand are skipped, as DVC
 * skips them; only unbalanced brackets and unterminated strings are reported, with line and column.
 *
 * Numbers keep Python's types internally: a float literal (`2.0`, `1e5`) is a `PyFloat`, an int too large for a
 * double is a `bigint`. The template reader asks for them as they are (`typed`), since DVC interpolates `2.0` as
 * `2.0`; other readers get plain numbers.
 */
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { formatFloat, PyFloat } from "./pyfloat.js";

type TokKind = "name" | "number" | "string" | "op";

interface Token {
  kind: TokKind;
  /** Source text of a name, number or operator; the decoded value of a string. */
  text: string;
  line: number;
  col: number;
  /** Strings: `b"..."` (still read as text) and `f"..."` (never a literal). */
  bytes?: boolean;
  fstring?: boolean;
}

interface Statement {
  indent: number;
  line: number;
  tokens: Token[];
}

class PySyntaxError {
  constructor(
    readonly message: string,
    readonly line: number,
    readonly col: number,
  ) {}
}

const OPERATORS = [
  "**=", "//=", ">>=", "<<=", "...", "->", ":=", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
  "@=", "**", "//", "<<", ">>",
];
const CLOSING: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
const SIMPLE_ESCAPES: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };
const NAME_START = /[\p{L}\p{Nl}_]/u;
const NAME_CHAR = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_]/u;
const STRING_PREFIX = /^(?:[rRuUbBfF]|[rR][bBfF]|[bBfF][rR])$/;

/** Cuts the source into logical lines (statements split at top-level `;`), each with its indentation column. */
function tokenize(text: string): Statement[] {
  const out: Statement[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const depth: { ch: string; line: number; col: number }[] = [];
  let current: Token[] = [];
  let indent = 0;
  let stmtLine = 1;
  let atLineStart = true;

  const col = (at: number): number => at - lineStart + 1;
  const flush = (): void => {
    if (current.length > 0) out.push({ indent, line: stmtLine, tokens: current });
    current = [];
  };
  const push = (t: Token): void => {
    if (current.length === 0) stmtLine = t.line;
    current.push(t);
  };

  while (i < text.length) {
    if (atLineStart && depth.length === 0) {
      // Measure indentation of a new logical line; blank and comment-only lines do not count.
      let w = 0;
      let j = i;
      while (j < text.length && (text[j] === " " || text[j] === "\t" || text[j] === "\f")) {
        w = text[j] === "\t" ? (Math.floor(w / 8) + 1) * 8 : text[j] === "\f" ? 0 : w + 1;
        j++;
      }
      const c = text[j];
      if (c === undefined || c === "\n" || c === "\r" || c === "#") {
        i = j;
      } else {
        if (current.length === 0) indent = w;
        i = j;
        atLineStart = false;
      }
      if (c === undefined) break;
      if (c !== "#" && c !== "\n" && c !== "\r") continue;
    }
    const ch = text[i]!;
    if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      i++;
      line++;
      lineStart = i;
      if (depth.length === 0) {
        flush();
        atLineStart = true;
      }
      continue;
    }
    if (ch === " " || ch === "\t" || ch === "\f") {
      i++;
      continue;
    }
    if (ch === "#") {
      while (i < text.length && text[i] !== "\n" && text[i] !== "\r") i++;
      continue;
    }
    if (ch === "\\" && (text[i + 1] === "\n" || text[i + 1] === "\r")) {
      // Explicit line joining: the next physical line continues this logical line.
      i += text[i + 1] === "\r" && text[i + 2] === "\n" ? 3 : 2;
      line++;
      lineStart = i;
      continue;
    }
    const startCol = col(i);
    if (NAME_START.test(ch)) {
      let j = i + 1;
      while (j < text.length && NAME_CHAR.test(text[j]!)) j++;
      const word = text.slice(i, j);
      const q = text[j];
      if ((q === "'" || q === '"') && STRING_PREFIX.test(word)) {
        const r = readString(text, j, word.toLowerCase(), line, lineStart);
        push({ kind: "string", text: r.value, line, col: startCol, bytes: word.toLowerCase().includes("b"), fstring: word.toLowerCase().includes("f") });
        line = r.line;
        lineStart = r.lineStart;
        i = r.end;
        continue;
      }
      push({ kind: "name", text: word, line, col: startCol });
      i = j;
      continue;
    }
    if (ch === "'" || ch === '"') {
      const r = readString(text, i, "", line, lineStart);
      push({ kind: "string", text: r.value, line, col: startCol });
      line = r.line;
      lineStart = r.lineStart;
      i = r.end;
      continue;
    }
    if (/[0-9]/.test(ch) || (ch === "." && /[0-9]/.test(text[i + 1] ?? ""))) {
      const m = /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?[jJ]?)/.exec(text.slice(i, i + 400));
      const num = m?.[0] ?? ch;
      push({ kind: "number", text: num, line, col: startCol });
      i += Math.max(1, num.length);
      continue;
    }
    if (ch === ";" && depth.length === 0) {
      flush();
      i++;
      continue;
    }
    if (ch === "(" || ch === "[" || ch === "{") depth.push({ ch, line, col: startCol });
    if (ch === ")" || ch === "]" || ch === "}") {
      const open = depth.pop();
      if (!open || open.ch !== CLOSING[ch]) throw new PySyntaxError(open ? `'${ch}' does not match '${open.ch}' opened at line ${open.line}` : `unmatched '${ch}'`, line, startCol);
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i)) ?? ch;
    push({ kind: "op", text: op, line, col: startCol });
    i += op.length;
  }
  const open = depth.pop();
  if (open) throw new PySyntaxError(`'${open.ch}' was never closed`, open.line, open.col);
  flush();
  return out;
}

interface StringRead {
  value: string;
  end: number;
  line: number;
  lineStart: number;
}

function readString(text: string, at: number, prefix: string, line: number, lineStart: number): StringRead {
  const quote = text[at]!;
  const triple = text.startsWith(quote.repeat(3), at);
  const delim = triple ? quote.repeat(3) : quote;
  const raw = prefix.includes("r");
  const bytes = prefix.includes("b");
  const startLine = line;
  const startCol = at - lineStart + 1;
  let i = at + delim.length;
  let value = "";
  while (true) {
    if (i >= text.length) throw new PySyntaxError(triple ? "unterminated triple-quoted string literal" : "unterminated string literal", startLine, startCol);
    const c = text[i]!;
    if (text.startsWith(delim, i)) return { value, end: i + delim.length, line, lineStart };
    if (c === "\n" || c === "\r") {
      if (!triple) throw new PySyntaxError("unterminated string literal", startLine, startCol);
      const crlf = c === "\r" && text[i + 1] === "\n";
      value += "\n";
      i += crlf ? 2 : 1;
      line++;
      lineStart = i;
      continue;
    }
    if (c !== "\\") {
      value += c;
      i++;
      continue;
    }
    const n = text[i + 1];
    if (n === undefined) {
      i++;
      continue;
    }
    if (n === "\n" || n === "\r") {
      // A backslash-newline inside a string joins lines; a raw string keeps both characters.
      const len = n === "\r" && text[i + 2] === "\n" ? 3 : 2;
      if (raw) value += "\\\n";
      i += len;
      line++;
      lineStart = i;
      continue;
    }
    if (raw) {
      // In raw strings a backslash still stops the next quote from closing the string, but is kept.
      value += c + n;
      i += 2;
      continue;
    }
    const simple = SIMPLE_ESCAPES[n];
    if (simple !== undefined) {
      value += simple;
      i += 2;
      continue;
    }
    if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4))![0];
      value += String.fromCodePoint(parseInt(m, 8));
      i += 1 + m.length;
      continue;
    }
    const hexLen = n === "x" ? 2 : !bytes && n === "u" ? 4 : !bytes && n === "U" ? 8 : 0;
    if (hexLen > 0) {
      const h = text.slice(i + 2, i + 2 + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(h)) throw new PySyntaxError(`truncated \\${n} escape`, line, i - lineStart + 1);
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff) throw new PySyntaxError(`illegal Unicode character \\${n}${h}`, line, i - lineStart + 1);
      value += String.fromCodePoint(cp);
      i += 2 + hexLen;
      continue;
    }
    // Unknown escapes (and \N{...}, whose name table we do not carry) stay as written, as Python keeps them.
    value += c;
    i++;
  }
}

/** Marks a value that is not a Python literal: the assignment is skipped, as DVC skips it. */
class NotLiteral {}

class LiteralParser {
  private i = 0;
  constructor(private readonly toks: readonly Token[]) {}

  private peek(): Token | undefined {
    return this.toks[this.i];
  }
  private isOp(text: string): boolean {
    const t = this.peek();
    return t !== undefined && t.kind === "op" && t.text === text;
  }
  private expectOp(text: string): void {
    if (!this.isOp(text)) throw new NotLiteral();
    this.i++;
  }

  /** The whole token list as one expression; a top-level comma makes a tuple. */
  parseAll(): unknown {
    const v = this.parseTupleOrExpr(() => this.i >= this.toks.length);
    if (this.i !== this.toks.length) throw new NotLiteral();
    return v;
  }

  private parseTupleOrExpr(atEnd: () => boolean): unknown {
    const first = this.parseExpr();
    if (!this.isOp(",")) return first;
    const items = [first];
    while (this.isOp(",")) {
      this.i++;
      if (atEnd()) break;
      items.push(this.parseExpr());
    }
    return items;
  }

  private parseSequence(close: string): unknown[] {
    const items: unknown[] = [];
    while (!this.isOp(close)) {
      items.push(this.parseExpr());
      if (this.isOp(",")) this.i++;
      else if (!this.isOp(close)) throw new NotLiteral();
    }
    this.i++;
    return items;
  }

  private parseExpr(): unknown {
    const t = this.peek();
    if (!t) throw new NotLiteral();
    if (t.kind === "op" && (t.text === "-" || t.text === "+")) {
      this.i++;
      const v = this.parseExpr();
      if (t.text === "+") {
        if (typeof v !== "number" && typeof v !== "bigint" && !(v instanceof PyFloat)) throw new NotLiteral();
        return v;
      }
      if (typeof v === "number") return -v;
      if (typeof v === "bigint") return intOf(-v);
      if (v instanceof PyFloat) return new PyFloat(-v.value);
      throw new NotLiteral();
    }
    if (t.kind === "number") {
      this.i++;
      return parseNumber(t.text);
    }
    if (t.kind === "string") {
      if (t.fstring) throw new NotLiteral();
      let s = t.text;
      this.i++;
      // Adjacent string literals concatenate (`"a" "b"`).
      for (let n = this.peek(); n && n.kind === "string"; n = this.peek()) {
        if (n.fstring || n.bytes !== t.bytes) throw new NotLiteral();
        s += n.text;
        this.i++;
      }
      return s;
    }
    if (t.kind === "name") {
      this.i++;
      if (t.text === "True") return true;
      if (t.text === "False") return false;
      if (t.text === "None") return null;
      if (t.text === "set" && this.isOp("(")) {
        this.i++;
        this.expectOp(")");
        return [];
      }
      throw new NotLiteral();
    }
    if (t.text === "[") {
      this.i++;
      return this.parseSequence("]");
    }
    if (t.text === "(") {
      this.i++;
      if (this.isOp(")")) {
        this.i++;
        return [];
      }
      const first = this.parseExpr();
      if (this.isOp(")")) {
        this.i++;
        return first;
      }
      this.expectOp(",");
      return [first, ...this.parseSequence(")")];
    }
    if (t.text === "{") {
      this.i++;
      if (this.isOp("}")) {
        this.i++;
        return {};
      }
      const firstKey = this.parseExpr();
      if (!this.isOp(":")) {
        // A set: de-duplicated, in source order.
        const rest = this.isOp(",") ? (this.i++, this.parseSequence("}")) : (this.expectOp("}"), []);
        const seen = new Set<string>();
        return [firstKey, ...rest].filter((v) => {
          const k = JSON.stringify(v, (_, x: unknown) => (typeof x === "bigint" ? `${x}n` : x instanceof PyFloat ? x.value : x));
          if (seen.has(k)) return false;
          seen.add(k);
          return true;
        });
      }
      const obj: Record<string, unknown> = {};
      let key: unknown = firstKey;
      while (true) {
        this.expectOp(":");
        obj[pyStr(key)] = this.parseExpr();
        if (this.isOp("}")) break;
        this.expectOp(",");
        if (this.isOp("}")) break;
        key = this.parseExpr();
      }
      this.i++;
      return obj;
    }
    throw new NotLiteral();
  }
}

/** An int as a number when a double holds it exactly, else as a bigint. */
function intOf(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** A number literal: an int (exact) or, when written with a point or an exponent, a float. */
function parseNumber(text: string): number | bigint | PyFloat {
  if (/[jJ]$/.test(text)) throw new NotLiteral(); // complex numbers have no JSON form
  const t = text.replace(/_/g, "");
  if (/^0[xX][0-9a-fA-F]+$|^0[oO][0-7]+$|^0[bB][01]+$/.test(t)) return intOf(BigInt(t.toLowerCase()));
  if (/^[0-9]+$/.test(t)) return intOf(BigInt(t));
  const n = Number(t);
  if (Number.isNaN(n)) throw new NotLiteral();
  return new PyFloat(n);
}

/** How Python's `repr()` prints a value inside a tuple key (strings quoted, as Python quotes them). */
function pyRepr(v: unknown): string {
  if (typeof v !== "string") return pyStr(v);
  const q = v.includes("'") && !v.includes('"') ? '"' : "'";
  const body = v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
  return q + (q === "'" ? body.replace(/'/g, "\\'") : body) + q;
}

/** How Python's `str()` prints a dict key. */
function pyStr(key: unknown): string {
  if (typeof key === "string") return key;
  if (key === true) return "True";
  if (key === false) return "False";
  if (key === null) return "None";
  if (key instanceof PyFloat) return formatFloat(key.value);
  if (Array.isArray(key)) return `(${key.map(pyRepr).join(", ")}${key.length === 1 ? "," : ""})`;
  return String(key);
}

const BLOCK_KEYWORDS = new Set(["class", "def", "async", "if", "elif", "else", "for", "while", "with", "try", "except", "finally", "match", "case"]);

/** Index of the first `:` outside brackets, or -1. */
function topLevelColon(tokens: readonly Token[]): number {
  let d = 0;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind !== "op") continue;
    if (t.text === "(" || t.text === "[" || t.text === "{") d++;
    else if (t.text === ")" || t.text === "]" || t.text === "}") d--;
    else if (t.text === ":" && d === 0) return k;
  }
  return -1;
}

/** Positions of top-level `=` (assignment, not `==`, `<=`, ...). */
function topLevelAssigns(tokens: readonly Token[]): number[] {
  const at: number[] = [];
  let d = 0;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind !== "op") continue;
    if (t.text === "(" || t.text === "[" || t.text === "{") d++;
    else if (t.text === ")" || t.text === "]" || t.text === "}") d--;
    else if (t.text === "=" && d === 0) at.push(k);
  }
  return at;
}

interface Block {
  stmt: Statement;
  /** The statements of a compound statement's body (inline body after the colon included). */
  body: Statement[];
}

/** Groups a flat statement list into top-level statements of the first indentation, each with its body. */
function blocks(stmts: readonly Statement[]): Block[] {
  const out: Block[] = [];
  let k = 0;
  while (k < stmts.length) {
    const s = stmts[k]!;
    const body: Statement[] = [];
    k++;
    const first = s.tokens[0]!;
    // `match`/`case` are soft keywords: `match: int = 1` is an annotated assignment, not a block.
    const soft = (first.text === "match" || first.text === "case") && topLevelAssigns(s.tokens).length > 0;
    const colon = first.kind === "name" && BLOCK_KEYWORDS.has(first.text) && !soft ? topLevelColon(s.tokens) : -1;
    if (colon >= 0) {
      const inline = s.tokens.slice(colon + 1);
      if (inline.length > 0) body.push({ indent: s.indent + 1, line: inline[0]!.line, tokens: inline });
      while (k < stmts.length && stmts[k]!.indent > s.indent) body.push(stmts[k++]!);
    } else {
      // A stray deeper line (only possible in invalid code) belongs to nothing; skip it with the statement.
      while (k < stmts.length && stmts[k]!.indent > s.indent) k++;
    }
    out.push({ stmt: { ...s, tokens: colon >= 0 ? s.tokens.slice(0, colon) : s.tokens }, body });
  }
  return out;
}

/** The name an assignment target binds, under DVC's rules; undefined to skip the statement. */
function targetName(target: readonly Token[], onlySelf: boolean): string | undefined {
  // `(x): int = 1` binds x, as `x: int = 1` does.
  while (target.length > 2 && target[0]!.text === "(" && target[target.length - 1]!.text === ")" && target[0]!.kind === "op") target = target.slice(1, -1);
  const [a, b, c] = target;
  if (target.length === 1 && a?.kind === "name" && !onlySelf) return a.text;
  if (target.length === 3 && a?.kind === "name" && a.text === "self" && b?.text === "." && c?.kind === "name") return c.text;
  return undefined;
}

function collect(stmts: readonly Statement[], onlySelf: boolean, out: Record<string, unknown>): Record<string, unknown> {
  for (const { stmt, body } of blocks(stmts)) {
    const toks = stmt.tokens;
    const head = toks[0]!;
    if (head.kind === "name" && head.text === "class" && toks[1]?.kind === "name") {
      out[toks[1].text] = collect(body, false, {});
      continue;
    }
    if (head.kind === "name" && head.text === "def" && toks[1]?.text === "__init__") {
      collect(body, true, out);
      continue;
    }
    if (head.kind === "name" && BLOCK_KEYWORDS.has(head.text) && topLevelAssigns(toks).length === 0) continue;
    const eqs = topLevelAssigns(toks);
    if (eqs.length !== 1) continue; // not an assignment, or a chained one (`a = b = 1`), which DVC skips
    const eq = eqs[0]!;
    let target = toks.slice(0, eq);
    const colon = topLevelColon(target);
    if (colon >= 0) target = target.slice(0, colon); // `name: annotation = value`
    const name = targetName(target, onlySelf);
    if (name === undefined) continue;
    const valueToks = toks.slice(eq + 1);
    if (valueToks.length === 0) continue;
    try {
      out[name] = new LiteralParser(valueToks).parseAll();
    } catch (e) {
      if (!(e instanceof NotLiteral)) throw e;
    }
  }
  return out;
}

export interface PythonParamsOptions {
  /** Floats as `PyFloat` and ints past 2^53 as `bigint` (default: plain numbers). */
  typed?: boolean;
}

/** Plain numbers in place of `PyFloat` and `bigint`, for readers that want plain JSON-like values. */
function plainNumbers(v: unknown): unknown {
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(plainNumbers);
  if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) (v as Record<string, unknown>)[k] = plainNumbers(x);
  }
  return v;
}

/** Reads a Python params file into a plain mapping; `file` is used in messages. */
export function parsePythonParams(file: string, text: string, opts: PythonParamsOptions = {}): Result<Record<string, unknown>> {
  try {
    const stmts = tokenize(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    const values = collect(stmts, false, {});
    return ok(opts.typed ? values : (plainNumbers(values) as Record<string, unknown>));
  } catch (e) {
    if (e instanceof PySyntaxError) return fail([error("params", `invalid Python: ${e.message}`, { file, line: e.line, col: e.col })]);
    throw e;
  }
}
