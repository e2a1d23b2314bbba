/**
 * Template values and how they print, the way DVC prints them.
 *
 * DVC interpolates Python values, so text produced from them follows Python: a float read as `100.0` prints
 * `100.0`, `1e-5` prints `1e-05`, `True` inside a larger string prints `true` (DVC's own `to_str`), and a mapping in
 * `cmd` unpacks into `--key value` flags. JavaScript has one number type, so a float is carried as a `PyFloat`
 * wrapper from the moment a file is read until it is printed; integers stay plain numbers. Mappings are `Map`s so
 * that keys keep their written order (a plain object would move integer-like keys such as `2021` first).
 *
 * An integer that a double cannot hold exactly (above 2^53) is a `bigint`, read from its source text, so that
 * `12345678901234567890` prints as written, as Python's unbounded int does.
 *
 * This module also reads YAML nodes into such values straight from the parser's nodes, so that `1.0` stays a float
 * and every value keeps its source location for messages (`vars-file.ts` reads whole files of every format).
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";
import type { SourceLocation } from "../core/diagnostic.js";
import { nodeLocation, resolveAlias } from "../formats/yaml.js";
import { formatFloat, PyFloat } from "../formats/pyfloat.js";

export { formatFloat, PyFloat } from "../formats/pyfloat.js";

export type Value = null | boolean | number | bigint | string | PyFloat | Value[] | VMap;
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
  if (typeof v === "bigint") return v.toString();
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

/** The plain JS form of a value (floats as numbers, mappings as objects), for `meta` and out flags. */
export function toPlain(v: Value): unknown {
  if (v instanceof PyFloat) return v.value;
  // JSON (the load cache, `dag --json`) has no exact form for it; its digits, as text, lose nothing.
  if (typeof v === "bigint") return v.toString();
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
  if (typeof v === "bigint") return exactInt(v);
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

/** An integer as a number when a double holds it exactly, else as a bigint. */
export function exactInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
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
    if (!intLike || !Number.isFinite(v)) return new PyFloat(v);
    if (Number.isSafeInteger(v)) return v;
    // Past 2^53 the double is not what was written: read the integer again from its text.
    const exact = bigIntOf(src);
    return exact === undefined ? v : exactInt(exact);
  }
  if (typeof v === "bigint") return exactInt(v);
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (v instanceof Date) return v.toISOString();
  return String(v as string);
}

/** A YAML 1.2 integer's source text (`-12`, `+7`, `0x1F`, `0o17`) as a bigint. */
function bigIntOf(src: string): bigint | undefined {
  const m = /^([-+]?)(0x[0-9a-fA-F]+|0o[0-7]+|[0-9]+)$/.exec(src);
  if (!m) return undefined;
  const n = BigInt(m[2]!);
  return m[1] === "-" ? -n : n;
}

/** The string form of a mapping key node, as DVC's `to_str` names it (`2021`, `true`, `0.1`). */
export function keyText(doc: Document, key: unknown): string {
  if (isAlias(key)) return keyText(doc, resolveAlias(doc, key));
  if (isScalar(key)) return toStr(scalarValue(key));
  if (key === null || key === undefined) return "None";
  return String(key);
}

export interface NodeConversion {
  file: string;
  lineCounter: LineCounter;
  doc: Document;
}

interface Walk {
  open: Set<unknown>;
}

/**
 * Converts a YAML node into a value. When `locs` is given, records the location of every value (and of the key of
 * every mapping entry, which is where a reader looks) by dotted path under `prefix`. The document must come from
 * `parseYaml` without errors: its aliases were checked there (an alias bomb, an alias inside its own collection and
 * an alias without an anchor are parse errors), so following them here cannot explode.
 */
export function nodeToValue(p: NodeConversion, node: unknown, locs?: Locations, prefix = ""): Value {
  return convert(p, node, locs, prefix, { open: new Set() });
}

function convert(p: NodeConversion, node: unknown, locs: Locations | undefined, prefix: string, w: Walk): Value {
  if (isAlias(node)) node = resolveAlias(p.doc, node);
  // An alias inside the collection it names would recurse forever; YAML allows it, a value cannot hold it.
  if (w.open.has(node)) return null;
  if (isMap(node)) {
    w.open.add(node);
    const m: VMap = new Map();
    for (const pair of node.items) {
      const k = keyText(p.doc, pair.key);
      const path = prefix ? `${prefix}.${k}` : k;
      if (locs) locs.set(path, nodeLocation(p, pair.key));
      m.set(k, convert(p, pair.value, locs, path, w));
    }
    w.open.delete(node);
    return m;
  }
  if (isSeq(node)) {
    w.open.add(node);
    const out = node.items.map((it, i) => {
      const path = prefix ? `${prefix}.${i}` : String(i);
      if (locs) locs.set(path, nodeLocation(p, it));
      return convert(p, it, locs, path, w);
    });
    w.open.delete(node);
    return out;
  }
  if (node === null || node === undefined) return null;
  return scalarValue(node as Node);
}
