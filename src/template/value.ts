/**
 * Template values and how they print, the way DVC prints them.
 *
 * DVC interpolates Python values, so text produced from them follows Python: a float read as `100.0` prints
 * `100.0`, `1e-5` prints `1e-05`, `True` inside a larger string prints `true` (DVC's own `to_str`), and a mapping in
 * `cmd` unpacks into `--key value` flags. JavaScript has one number type, so a float is carried as a `PyFloat`
 * wrapper from the moment a file is read until it is printed; integers stay plain numbers. Mappings are `Map`s so
 * that keys keep their written order (a plain object would move integer-like keys such as `2021` first).
 *
 * This module also reads YAML (and JSON, which YAML 1.2 contains) into such values straight from the parser's
 * nodes, so that `1.0` stays a float and every value keeps its source location for messages.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { parse as parseToml } from "smol-toml";
import type { SourceLocation } from "../config/diagnostic.js";
import { aliasErrors, nodeLocation } from "../config/yaml.js";
import { formatOf } from "../params/read.js";

/** A Python float: printed as Python's `repr` prints it. */
export class PyFloat {
  constructor(readonly value: number) {}
}

export type Value = null | boolean | number | string | PyFloat | Value[] | VMap;
export type VMap = Map<string, Value>;

export function isVMap(v: unknown): v is VMap {
  return v instanceof Map;
}

/** A mapping or a list (DVC's `is_map_or_seq`). */
export function isComposite(v: Value): v is Value[] | VMap {
  return Array.isArray(v) || v instanceof Map;
}

/** How DVC's `parsing` config renders booleans and lists of a mapping unpacked into `cmd`. */
export interface ParsingConfig {
  /** `store_true` (default): `--flag` for true, nothing for false; `boolean_optional`: also `--no-flag` for false. */
  bool?: "store_true" | "boolean_optional";
  /** `nargs` (default): `--k 1 2`; `append`: `--k 1 --k 2`. */
  list?: "nargs" | "append";
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  // toExponential() without an argument gives the shortest digits that read back to the same double, as repr does.
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(x.toExponential());
  if (!m) return String(x);
  const sign = m[1]!;
  const digits = m[2]! + (m[3] ?? "");
  const exp = Number(m[4]);
  if (exp < -4 || exp >= 16) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? "-" : "+"}${e < 10 ? "0" : ""}${e}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac || "0"}`;
}

/** A plain JS number as Python would print it (a non-integer is a float; an integer prints as an int). */
function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n).includes("e") ? BigInt(n).toString() : String(n);
  return formatFloat(n);
}

/** Python's `str()` of a scalar (`True`, `None`, `0.1`), as DVC prints list items and values of unpacked mappings. */
export function pyStr(v: Value): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return formatNumber(v);
  if (v instanceof PyFloat) return formatFloat(v.value);
  if (typeof v === "string") return v;
  return preview(v);
}

/** DVC's `to_str` for a scalar: like `str()`, but booleans are `true`/`false`. */
export function toStr(v: Value): string {
  if (typeof v === "boolean") return v ? "true" : "false";
  return pyStr(v);
}

const SHELL_UNSAFE = /[^\w@%+=:,./-]/;

/** Python's `shlex.quote`, which DVC applies to strings of an unpacked mapping. */
export function shellQuote(s: string): string {
  if (s === "") return "''";
  if (!SHELL_UNSAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** Nested mappings flattened to dot keys; empty mappings vanish (as `flatten_dict` drops them). */
function flattenMap(m: VMap, prefix: string, out: [string, Value][]): void {
  for (const [k, v] of m) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v instanceof Map) flattenMap(v, key, out);
    else out.push([key, v]);
  }
}

/** Thrown by `unpackFlags` for a list holding a list or a mapping; callers turn it into a diagnostic. */
export class NestedIterableError extends Error {
  constructor(readonly key: string) {
    super(`cannot interpolate a nested list or mapping in '${key}'`);
  }
}

/**
 * A mapping interpolated into `cmd`: `--lr 0.1 --epochs 2 --fast --layers 1 2 --opt.beta 0.9` (DVC's `to_str` of a
 * dict). Strings are shell-quoted; list items that are not strings print as Python prints them (`True`).
 */
export function unpackFlags(m: VMap, config: ParsingConfig = {}): string {
  const flat: [string, Value][] = [];
  flattenMap(m, "", flat);
  const parts: string[] = [];
  for (const [k, v] of flat) {
    if (typeof v === "boolean") {
      if (v) parts.push(`--${k}`);
      else if (config.bool === "boolean_optional") parts.push(`--no-${k}`);
    } else if (typeof v === "string") {
      parts.push(`--${k} ${shellQuote(v)}`);
    } else if (Array.isArray(v)) {
      v.forEach((item, n) => {
        if (isComposite(item)) throw new NestedIterableError(k);
        const s = typeof item === "string" ? shellQuote(item) : pyStr(item);
        if (config.list === "append" || n === 0) parts.push(`--${k} ${s}`);
        else parts.push(s);
      });
    } else {
      parts.push(`--${k} ${pyStr(v)}`);
    }
  }
  return parts.join(" ");
}

/** A short, one-line rendering of a value for messages (`{lr: 0.1, epochs: 2}`, `[a, b]`). */
export function preview(v: Value, max = 60): string {
  const s = previewFull(v);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function previewFull(v: Value): string {
  if (Array.isArray(v)) return `[${v.map(previewFull).join(", ")}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${k}: ${previewFull(x)}`).join(", ")}}`;
  if (typeof v === "string") return /^[\w./@-]*$/.test(v) && v !== "" ? v : JSON.stringify(v);
  return toStr(v);
}

/** The plain JS form of a value (floats as numbers, mappings as objects), for `cmdVars` and `meta`. */
export function toPlain(v: Value): unknown {
  if (v instanceof PyFloat) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) Object.defineProperty(o, k, { value: toPlain(x), enumerable: true, writable: true, configurable: true });
    return o;
  }
  return v;
}

/** A plain JS value (as other readers return them) as a template value; non-integer numbers become floats. */
export function fromPlain(v: unknown): Value {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number") return Number.isInteger(v) ? v : new PyFloat(v);
  if (v instanceof PyFloat) return v;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(fromPlain);
  if (typeof v === "object") {
    // TOML dates are objects with their own toString; anything else with keys is a mapping.
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== null && proto !== Object.prototype && typeof (v as { toISOString?: unknown }).toISOString === "function") {
      return String(v);
    }
    const m: VMap = new Map();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) m.set(k, fromPlain(x));
    return m;
  }
  return String(v);
}

/** Source locations of the values of a file, by dotted path (`train.lr`, `layers.0`), for messages. */
export type Locations = Map<string, SourceLocation>;

const INT_SOURCE = /^[-+]?[0-9]+$/;

/** A YAML scalar's value; numbers written as floats (`1.0`, `1e-5`, `.inf`) become `PyFloat`. */
function scalarValue(node: Node): Value {
  if (!isScalar(node)) return null;
  const v = node.value;
  if (typeof v === "number") {
    const src = typeof node.source === "string" ? node.source : String(v);
    const intLike = node.format === "HEX" || node.format === "OCT" || INT_SOURCE.test(src);
    return intLike && Number.isFinite(v) ? v : new PyFloat(v);
  }
  if (typeof v === "bigint") return Number(v);
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (v instanceof Date) return v.toISOString();
  return String(v as string);
}

/** The string form of a mapping key node, as DVC's `to_str` names it (`2021`, `true`, `0.1`). */
export function keyText(doc: Document, key: unknown): string {
  if (isAlias(key)) return keyText(doc, key.resolve(doc));
  if (isScalar(key)) return toStr(scalarValue(key));
  if (key === null || key === undefined) return "None";
  return String(key);
}

export interface NodeConversion {
  file: string;
  lineCounter: LineCounter;
  doc: Document;
}

/**
 * Converts a YAML node into a value. When `locs` is given, records the location of every value (and of the key of
 * every mapping entry, which is where a reader looks) by dotted path under `prefix`.
 */
export function nodeToValue(p: NodeConversion, node: unknown, locs?: Locations, prefix = "", open = new Set<unknown>()): Value {
  if (isAlias(node)) node = node.resolve(p.doc);
  // An alias inside the collection it names would recurse forever; YAML allows it, a value cannot hold it.
  if (open.has(node)) return null;
  if (isMap(node)) {
    open.add(node);
    const m: VMap = new Map();
    for (const pair of node.items) {
      const k = keyText(p.doc, pair.key);
      const path = prefix ? `${prefix}.${k}` : k;
      if (locs) locs.set(path, nodeLocation(p, pair.key));
      m.set(k, nodeToValue(p, pair.value, locs, path, open));
    }
    open.delete(node);
    return m;
  }
  if (isSeq(node)) {
    open.add(node);
    const out = node.items.map((it, i) => {
      const path = prefix ? `${prefix}.${i}` : String(i);
      if (locs) locs.set(path, nodeLocation(p, it));
      return nodeToValue(p, it, locs, path, open);
    });
    open.delete(node);
    return out;
  }
  if (node === null || node === undefined) return null;
  return scalarValue(node as Node);
}

/**
 * Typed values of a params/vars file's text, or undefined when this reader cannot read it faithfully (the caller
 * then falls back to the shared params reader, which also produces the diagnostics for broken files).
 */
export function typedParams(file: string, text: string): { value: Value; locs: Locations } | undefined {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const format = formatOf(file);
  if (format === "yaml" || format === "json") {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, version: "1.2", uniqueKeys: true, prettyErrors: false });
    // Aliases without a value (or an alias bomb) go to the shared reader too, which reports them where they are.
    if (doc.errors.length > 0 || (text.includes("*") && aliasErrors(doc).length > 0)) return undefined;
    const locs: Locations = new Map();
    return { value: nodeToValue({ file, lineCounter, doc }, doc.contents, locs), locs };
  }
  if (format === "toml") {
    try {
      // Integers as BigInt, so that every remaining number is a float (`1.0` stays a float).
      return { value: fromToml(parseToml(text, { integersAsBigInt: true })), locs: new Map() };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function fromToml(v: unknown): Value {
  if (typeof v === "number") return new PyFloat(v);
  if (Array.isArray(v)) return v.map(fromToml);
  if (v !== null && typeof v === "object" && (Object.getPrototypeOf(v) === null || Object.getPrototypeOf(v) === Object.prototype)) {
    const m: VMap = new Map();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) m.set(k, fromToml(x));
    return m;
  }
  return fromPlain(v);
}
