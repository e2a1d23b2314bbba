/**
 * A fast reader for the block-YAML subset lock files are written in (ours always; DVC's nearly always): nested block
 * mappings, block sequences (also "indentless", at the parent key's indentation), single-line plain, single- and
 * double-quoted scalars resolved with the YAML 1.2 core schema, and `{}`/`[]`.
 *
 * Why it exists: the general `yaml` parser builds a full document with positions and takes about a second for the
 * 1 MB lock of a 1,000-stage pipeline, which alone would blow the no-op `status` budget. This reader does the same
 * job in milliseconds.
 *
 * It is deliberately strict: on anything outside the subset (comments, anchors, tags, block scalars, multi-line
 * scalars, duplicate keys, tabs, CRLF) it returns `undefined` and the caller falls back to the full parser, which
 * also produces the located diagnostics. So when it answers, it answers exactly what the full parser would.
 */

class Bail extends Error {}

interface Line {
  indent: number;
  text: string;
}

const NULL_RE = /^(?:~|null|Null|NULL)$/;
const TRUE_RE = /^(?:true|True|TRUE)$/;
const FALSE_RE = /^(?:false|False|FALSE)$/;
const INT_RE = /^[-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const INF_RE = /^[-+]?\.(?:inf|Inf|INF)$/;
const NAN_RE = /^\.(?:nan|NaN|NAN)$/;
// A plain scalar may not start with an indicator.
const PLAIN_START_BAD = new Set([..."-?:,[]{}#&*!|>'\"%@`"]);

/** Whether a plain scalar cannot start this way (`-`, `?`, `:` may start one when a non-space follows). */
function badPlainStart(s: string): boolean {
  const c = s[0]!;
  if (c === "-" || c === "?" || c === ":") return s.length < 2 || s[1] === " ";
  return PLAIN_START_BAD.has(c);
}

/** Resolves a plain scalar with the YAML 1.2 core schema (as the `yaml` package does by default). */
export function resolvePlain(s: string): unknown {
  const c = s.charCodeAt(0);
  // Fast path: a letter that cannot start null/true/false/.inf/.nan is a string (most keys, paths and commands).
  if (((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) && c !== 0x6e && c !== 0x4e && c !== 0x74 && c !== 0x54 && c !== 0x66 && c !== 0x46) return s;
  if (NULL_RE.test(s)) return null;
  if (TRUE_RE.test(s)) return true;
  if (FALSE_RE.test(s)) return false;
  if (INT_RE.test(s)) {
    const n = Number(s);
    // Beyond 2^53 the full parser's rounding could differ from ours: let it decide.
    if (!Number.isSafeInteger(n)) throw new Bail();
    return n;
  }
  if (FLOAT_RE.test(s)) return parseFloat(s);
  if (INF_RE.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  if (NAN_RE.test(s)) return NaN;
  if (/^0[ox]/.test(s)) throw new Bail();
  return s;
}

function scalar(raw: string): unknown {
  const s = raw;
  if (s === "") return null;
  const c = s[0]!;
  if (c === "'") {
    if (s.length < 2 || !s.endsWith("'")) throw new Bail();
    const inner = s.slice(1, -1);
    // Every quote inside must be doubled.
    if (inner.replace(/''/g, "").includes("'")) throw new Bail();
    return inner.replace(/''/g, "'");
  }
  if (c === '"') {
    if (s.length < 2 || !s.endsWith('"')) throw new Bail();
    try {
      const v: unknown = JSON.parse(s);
      if (typeof v !== "string") throw new Bail();
      return v;
    } catch {
      throw new Bail();
    }
  }
  if (s === "{}") return {};
  if (s === "[]") return [];
  if (badPlainStart(s) || s.includes(" #") || s.includes(": ") || s.endsWith(":") || /\s$/.test(s)) throw new Bail();
  return resolvePlain(s);
}

/** Splits `key: value` / `key:`; returns undefined when the text is not a mapping entry. */
function splitKey(text: string): [string, string] | undefined {
  let key: string;
  let rest: string;
  const c = text[0];
  if (c === "'" || c === '"') {
    // A quoted key: find its closing quote.
    let i = 1;
    for (; i < text.length; i++) {
      if (c === "'" && text[i] === "'") {
        if (text[i + 1] === "'") {
          i++;
          continue;
        }
        break;
      }
      if (c === '"' && text[i] === "\\") {
        i++;
        continue;
      }
      if (c === '"' && text[i] === '"') break;
    }
    if (i >= text.length) throw new Bail();
    key = scalar(text.slice(0, i + 1)) as string;
    rest = text.slice(i + 1);
    if (!(rest === ":" || rest.startsWith(": "))) return undefined;
  } else {
    const colon = text.indexOf(": ");
    if (colon >= 0) {
      key = text.slice(0, colon);
      rest = text.slice(colon);
    } else if (text.endsWith(":")) {
      key = text.slice(0, -1);
      rest = ":";
    } else {
      return undefined;
    }
    if (key === "" || badPlainStart(key) || key.charCodeAt(key.length - 1) === 0x20 || key.includes(":") || key.includes(" #")) throw new Bail();
    // Keys are strings in the JS value whatever they resolve to (`1:` names "1"), as `doc.toJS()` gives them.
    const v = resolvePlain(key);
    key = typeof v === "string" ? v : v === null ? "" : String(v);
    if (v === null) throw new Bail();
  }
  return [key, rest === ":" ? "" : rest.slice(2).trimStart()];
}

const ESCAPES: Record<string, string> = {
  "0": "\0", a: "\x07", b: "\b", t: "\t", "\t": "\t", n: "\n", v: "\v", f: "\f", r: "\r", e: "\x1b", " ": " ",
  '"': '"', "/": "/", "\\": "\\", N: "\x85", _: "\xa0", L: "\u2028", P: "\u2029",
};

/** The value of a double-quoted scalar's folded body (without the quotes); see YAML 1.2 section 7.3.1. */
function doubleQuoted(body: string): string {
  let out = "";
  // Trailing blanks before a line break are dropped, but not those an escape produced.
  let kept = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === "\\") {
      const n = body[i + 1];
      if (n === undefined) throw new Bail();
      if (n === "\n") {
        // An escaped line break joins the lines; the next line's leading blanks go too.
        i += 2;
        while (body[i] === " ") i++;
        i--;
        continue;
      }
      const hex = n === "x" ? 2 : n === "u" ? 4 : n === "U" ? 8 : 0;
      if (hex > 0) {
        const h = body.slice(i + 2, i + 2 + hex);
        if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(h)) throw new Bail();
        out += String.fromCodePoint(parseInt(h, 16));
        kept = out.length;
        i += 1 + hex;
        continue;
      }
      const e = ESCAPES[n];
      if (e === undefined) throw new Bail();
      out += e;
      kept = out.length;
      i++;
      continue;
    }
    if (c === "\n") {
      let j = out.length;
      while (j > kept && out[j - 1] === " ") j--;
      out = out.slice(0, j);
      let breaks = 0;
      while (body[i] === "\n" || body[i] === " ") {
        if (body[i] === "\n") breaks++;
        i++;
      }
      i--;
      out += breaks === 1 ? " " : "\n".repeat(breaks - 1);
      continue;
    }
    out += c;
  }
  return out;
}

/** Folds the lines of a multi-line plain or single-quoted scalar (already trimmed): YAML line folding. */
function fold(parts: readonly string[]): string {
  let out = parts[0] ?? "";
  let empties = 0;
  for (const p of parts.slice(1)) {
    if (p === "") {
      empties++;
      continue;
    }
    out += empties === 0 ? " " + p : "\n".repeat(empties) + p;
    empties = 0;
  }
  if (empties > 0) throw new Bail(); // trailing empty lines belong to the document, not the scalar
  return out;
}

export function fastParseYaml(text: string): unknown {
  // Tabs, CRLF, comments, and an escaped trailing space (which line trimming would lose) are left to the full parser.
  if (text.includes("\t") || text.includes("\r")) return undefined;
  if (text.includes("#") && /(^|\s)#/m.test(text)) return undefined;
  if (text.includes("\\ ") && /\\ +$/m.test(text)) return undefined;
  const lines: (Line | undefined)[] = [];
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    let indent = start;
    while (indent < end && text.charCodeAt(indent) === 0x20) indent++;
    let stop = end;
    while (stop > indent && text.charCodeAt(stop - 1) === 0x20) stop--;
    if (stop === indent) lines.push(undefined);
    else {
      const t = text.slice(indent, stop);
      if (t === "---" || t.startsWith("--- ") || t === "...") return undefined;
      lines.push({ indent: indent - start, text: t });
    }
    start = end + 1;
  }
  let pos = 0;
  const skipBlank = (): void => {
    while (pos < lines.length && lines[pos] === undefined) pos++;
  };
  const peek = (): Line | undefined => {
    skipBlank();
    return lines[pos];
  };

  /**
   * A scalar value that starts with `first` on the current line (already consumed) and may continue on following
   * lines indented deeper than `parentIndent`.
   */
  const value = (first: string, parentIndent: number): unknown => {
    const c = first[0];
    if (c === '"' || c === "'") {
      let body = first.slice(1);
      let multi = false;
      for (;;) {
        const close = closingQuote(body, c);
        if (close >= 0) {
          if (body.slice(close + 1).trim() !== "") throw new Bail();
          body = body.slice(0, close);
          break;
        }
        if (pos >= lines.length) throw new Bail();
        const l = lines[pos];
        if (l !== undefined && l.indent <= parentIndent) throw new Bail();
        body += "\n" + (l === undefined ? "" : l.text);
        multi = true;
        pos++;
      }
      if (c === '"') return doubleQuoted(body);
      if (!multi) return body.replace(/''/g, "'");
      const parts = body.split("\n").map((x, i, a) => (i === 0 ? x.trimEnd() : i === a.length - 1 ? x.trimStart() : x.trim()));
      return fold(parts).replace(/''/g, "'");
    }
    const parts = [first];
    for (;;) {
      const save = pos;
      const l = peek();
      if (!l || l.indent <= parentIndent) {
        pos = save;
        break;
      }
      // Blank lines between continuation lines are part of the folding.
      for (let i = save; i < pos; i++) parts.push("");
      if (l.text.includes(": ") || l.text.endsWith(":") || l.text.includes(" #")) throw new Bail();
      parts.push(l.text);
      pos++;
    }
    if (parts.length === 1) return scalar(first);
    if (badPlainStart(first) || first.includes(": ") || first.includes(" #")) throw new Bail();
    // A multi-line plain scalar is always a string (never null, a number or a boolean).
    return fold(parts);
  };

  // The value of a `key:` whose content starts on the next line, indented deeper than the key (`parentIndent`).
  const block = (indent: number, parentIndent: number): unknown => {
    const first = peek()!;
    if (first.indent !== indent) throw new Bail();
    if (first.text === "-" || first.text.startsWith("- ")) return sequence(indent);
    if (isKeyLine(first.text)) return mapping(indent, undefined);
    pos++;
    return value(first.text, parentIndent);
  };

  // `firstInline` is the text of a mapping that starts on a `- ` line (its first key sits after the dash).
  const mapping = (indent: number, firstInline: string | undefined): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    let inline = firstInline;
    for (;;) {
      let text: string;
      if (inline !== undefined) {
        text = inline;
        inline = undefined;
      } else {
        const l = peek();
        if (!l || l.indent < indent) break;
        if (l.indent > indent) throw new Bail();
        if (l.text === "-" || l.text.startsWith("- ")) break;
        text = l.text;
        pos++;
      }
      const kv = splitKey(text);
      if (!kv) throw new Bail();
      const [key, val] = kv;
      if (key === "__proto__" || Object.prototype.hasOwnProperty.call(out, key)) throw new Bail();
      if (val !== "") {
        out[key] = value(val, indent);
        continue;
      }
      const next = peek();
      if (next && next.indent > indent) out[key] = block(next.indent, indent);
      else if (next && next.indent === indent && (next.text === "-" || next.text.startsWith("- "))) out[key] = sequence(indent);
      else out[key] = null;
    }
    return out;
  };

  const sequence = (indent: number): unknown[] => {
    const out: unknown[] = [];
    for (;;) {
      const l = peek();
      if (!l || l.indent !== indent || !(l.text === "-" || l.text.startsWith("- "))) break;
      if (l.text === "-") throw new Bail();
      const item = l.text.slice(2);
      const itemIndent = indent + 2 + (item.length - item.trimStart().length);
      const body = item.trimStart();
      if (body.startsWith("- ")) throw new Bail(); // nested inline sequence
      pos++;
      const kv = body[0] === '"' || body[0] === "'" ? quotedKeyOrNot(body) : splitKey(body);
      if (kv) out.push(mapping(itemIndent, body));
      else out.push(value(body, indent));
    }
    return out;
  };

  try {
    if (peek() === undefined) return null;
    const v = block(peek()!.indent, -1);
    if (peek() !== undefined) return undefined;
    return v;
  } catch (e) {
    if (e instanceof Bail) return undefined;
    throw e;
  }
}

function isKeyLine(text: string): boolean {
  const c = text[0];
  if (c === '"' || c === "'") return quotedKeyOrNot(text) !== undefined;
  return splitKey(text) !== undefined;
}

/** For a `- "..."` item: a quoted key (`- "a": 1`) or a quoted scalar item (possibly spanning lines). */
function quotedKeyOrNot(body: string): [string, string] | undefined {
  const q = body[0]!;
  const close = closingQuote(body.slice(1), q);
  if (close < 0) return undefined; // a multi-line quoted scalar item
  const rest = body.slice(close + 2);
  if (rest === ":" || rest.startsWith(": ")) return splitKey(body);
  return undefined;
}

/** Index of the closing quote in `s` (the text after the opening quote), or -1. */
function closingQuote(s: string, q: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q === '"' && c === "\\") {
      i++;
      continue;
    }
    if (c === q) {
      if (q === "'" && s[i + 1] === "'") {
        i++;
        continue;
      }
      return i;
    }
  }
  return -1;
}


/**
 * An even faster path for the exact layout `pipe` writes (and DVC nearly always writes): `schema: '2.0'`, `stages:`,
 * stage names at indent 2, `cmd`/`deps`/`params`/`outs` at 4, file entries as `- path:` items at 4 with scalar fields
 * at 6, params files at 6 with scalar values at 8. It builds the same plain value as `fastParseYaml` and declines
 * (`undefined`) on anything else, which then goes through the general readers.
 */
// A hex digest that YAML reads as a string (all digits, or `1e5`, read as numbers: the general path decides).
const HEXISH = /^[0-9a-f]+(\.dir)?$/;
function hashLike(v: string): boolean {
  return HEXISH.test(v) && !INT_RE.test(v) && !FLOAT_RE.test(v);
}
const SMALL_INT = /^[1-9][0-9]{0,14}$|^0$/;

export function fastParseLockLayout(text: string): unknown {
  const HEAD = "schema: '2.0'\nstages:\n";
  if (!text.startsWith(HEAD) || text.includes("\t") || text.includes("\r") || text.includes("#")) return undefined;
  const stages: Record<string, unknown> = {};
  let stage: Record<string, unknown> | undefined;
  let section: "cmd" | "deps" | "outs" | "params" | undefined;
  let list: unknown[] | undefined;
  let entry: Record<string, unknown> | undefined;
  let pfile: Record<string, unknown> | undefined;
  const n = text.length;
  try {
    for (let start = HEAD.length; start < n; ) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = n;
      let i = start;
      while (i < end && text.charCodeAt(i) === 0x20) i++;
      const indent = i - start;
      let stop = end;
      while (stop > i && text.charCodeAt(stop - 1) === 0x20) stop--;
      start = end + 1;
      if (stop === i) continue;
      let line = text.slice(i, stop);
      const item = line.charCodeAt(0) === 0x2d && line.charCodeAt(1) === 0x20;
      if (item) line = line.slice(2);
      if (indent === 2 && !item) {
        const kv = splitKey(line);
        if (!kv || kv[1] !== "" || kv[0] === "__proto__" || kv[0] in stages) return undefined;
        stage = {};
        stages[kv[0]] = stage;
        section = undefined;
        entry = undefined;
        pfile = undefined;
        continue;
      }
      if (!stage) return undefined;
      if (indent === 4 && !item) {
        const kv = splitKey(line);
        if (!kv) return undefined;
        const [k, v] = kv;
        if (k in stage) return undefined;
        entry = undefined;
        pfile = undefined;
        if (k === "cmd") {
          section = "cmd";
          if (v === "") {
            list = [];
            stage["cmd"] = list;
          } else stage["cmd"] = scalar(v);
        } else if ((k === "deps" || k === "outs" || k === "params") && v === "") {
          section = k;
          if (k === "params") stage["params"] = {};
          else {
            list = [];
            stage[k] = list;
          }
        } else return undefined;
        continue;
      }
      if (indent === 4 && item) {
        if ((section === "deps" || section === "outs") && list) {
          entry = {};
          list.push(entry);
          if (line.startsWith("path: ")) {
            entry["path"] = scalar(line.slice(6));
            continue;
          }
          const kv = splitKey(line);
          if (!kv) return undefined;
          entry[kv[0]] = scalar(kv[1]);
        } else if (section === "cmd" && list && Array.isArray(stage["cmd"])) {
          list.push(scalar(line));
        } else return undefined;
        continue;
      }
      if (indent === 6 && !item && entry && (section === "deps" || section === "outs")) {
        // The common fields of a file entry, without the general scalar machinery.
        if (line === "hash: xxh64" || line === "hash: md5") {
          if ("hash" in entry) return undefined;
          entry["hash"] = line.slice(6);
          continue;
        }
        const colon = line.indexOf(": ");
        if (colon === 3 || colon === 4 || colon === 5 || colon === 6) {
          const k = line.slice(0, colon);
          const v = line.slice(colon + 2);
          if ((k === "xxh64" || k === "md5") && hashLike(v)) {
            if (k in entry) return undefined;
            entry[k] = v;
            continue;
          }
          if ((k === "size" || k === "nfiles") && SMALL_INT.test(v)) {
            if (k in entry) return undefined;
            entry[k] = Number(v);
            continue;
          }
        }
        const kv = splitKey(line);
        if (!kv || kv[1] === "" || kv[0] === "__proto__" || kv[0] in entry) return undefined;
        entry[kv[0]] = scalar(kv[1]);
        continue;
      }
      if (indent === 6 && !item && section === "params") {
        const kv = splitKey(line);
        const params = stage["params"] as Record<string, unknown>;
        if (!kv || kv[0] === "__proto__" || kv[0] in params) return undefined;
        if (kv[1] === "") {
          pfile = {};
          params[kv[0]] = pfile;
        } else if (kv[1] === "{}") {
          params[kv[0]] = {};
          pfile = undefined;
        } else return undefined;
        continue;
      }
      if (indent === 8 && !item && pfile) {
        const kv = splitKey(line);
        if (!kv || kv[1] === "" || kv[0] === "__proto__" || kv[0] in pfile) return undefined;
        pfile[kv[0]] = scalar(kv[1]);
        continue;
      }
      return undefined;
    }
  } catch (e) {
    if (e instanceof Bail) return undefined;
    throw e;
  }
  return { schema: "2.0", stages };
}
