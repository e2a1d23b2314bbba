/**
 * How params and metrics values print, in tables and in `--json`: one stable rule for numbers, JSON for lists and
 * mappings, strings raw unless that would make them read as another value (see `renderValue`).
 *
 * Numbers (the README documents this rule):
 * - A number prints as the shortest decimal that reads back to the same double (`0.1`, not `0.1000000000000000055`),
 *   in positional notation when 1e-6 <= |x| < 1e21 (`0.00001`, `123456789012`), and as `<digits>e<exp>` outside that
 *   range (`1e-7`, `2.5e+21`). This is ECMAScript's `Number#toString`; Python's `1e-05` never appears.
 * - A number written `1.0` in a params file is the number 1 and prints `1`.
 * - NaN and infinities (YAML `.nan`/`.inf`, TOML `nan`/`inf`) print `nan`, `inf`, `-inf`.
 * - With a precision N (metrics, `--precision`, default 5), a non-integer is rounded to N significant digits, but
 *   never coarser than units (`1234.5678` -> `1234.6`, `123456.78` -> `123457`, `0.000123456` -> `0.00012346`), then
 *   printed by the rule above, so trailing zeros disappear (`0.5`, not `0.50000`). Integers always print in full.
 * - A change (`diff`) is `new - old`, rounded to the larger count of decimals of its operands, so 0.3 - 0.1 is `0.2`,
 *   not `0.19999999999999998`.
 */

/** Placeholder of a key or file absent on one side of a diff; rendered `-` in tables and `null` in JSON. */
export const MISSING: unique symbol = Symbol("missing");
export type Value = unknown;

export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return String(x);
}

/** Rounds `x` to `digits` significant digits (never coarser than units) and prints it by `formatNumber`. */
export function formatNumberPrecision(x: number, digits: number): string {
  if (!Number.isFinite(x) || Number.isInteger(x)) return formatNumber(x);
  const intDigits = Math.abs(x) >= 1 ? Math.floor(Math.log10(Math.abs(x))) + 1 : 0;
  const sig = Math.min(100, Math.max(digits, intDigits, 1));
  return formatNumber(Number(x.toPrecision(sig)));
}

/** Digits after the decimal point in the shortest form of `x` (`1.25` -> 2, `1.5e-7` -> 8). */
function decimals(x: number): number {
  const s = String(Math.abs(x));
  const e = s.indexOf("e");
  const mant = e < 0 ? s : s.slice(0, e);
  const exp = e < 0 ? 0 : Number(s.slice(e + 1));
  const dot = mant.indexOf(".");
  const frac = dot < 0 ? 0 : mant.length - dot - 1;
  return Math.max(0, frac - exp);
}

export function isNumber(v: unknown): v is number {
  return typeof v === "number";
}

/** An integer value: a bigint (an integer literal beyond 2^53) or an integral number. */
function asExactInteger(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  return undefined;
}

/** `new - old` for two numbers (see the module comment for the rounding), else undefined. */
export function numericDiff(oldV: unknown, newV: unknown): number | bigint | undefined {
  if (typeof oldV === "bigint" || typeof newV === "bigint") {
    // Integers beyond 2^53 subtract exactly, as Python's ints do; a bigint against a float is a float difference.
    const a = asExactInteger(oldV);
    const b = asExactInteger(newV);
    if (a !== undefined && b !== undefined) {
      const d = b - a;
      return d >= BigInt(Number.MIN_SAFE_INTEGER) && d <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(d) : d;
    }
    if (typeof oldV !== "number" && typeof oldV !== "bigint") return undefined;
    if (typeof newV !== "number" && typeof newV !== "bigint") return undefined;
    return Number(newV) - Number(oldV);
  }
  if (!isNumber(oldV) || !isNumber(newV)) return undefined;
  const d = newV - oldV;
  if (!Number.isFinite(d) || !Number.isFinite(oldV) || !Number.isFinite(newV)) return d;
  const places = Math.max(decimals(oldV), decimals(newV));
  if (places > 100) return d;
  const rounded = Number(d.toFixed(places));
  return Object.is(rounded, -0) ? 0 : rounded;
}

/**
 * The JSON-compatible form of a value read from a params/metrics file (dates as ISO text, nan/inf as text); integers
 * beyond 2^53 stay bigints, for `stringifyJson` to print in full.
 */
export function toJsonValue(v: unknown): unknown {
  if (v === MISSING || v === undefined) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : formatNumber(v);
  if (typeof v === "bigint") return v; // printed in full by `stringifyJson`
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toJsonValue(x);
    return out;
  }
  return v;
}

/** One-line JSON with `, ` and `: ` separators (`[1, 2]`, `{"a": 1}`), numbers by `formatNumber`. */
function inlineJson(v: unknown, precision: number | undefined): string {
  if (typeof v === "number") return precision === undefined ? formatNumber(v) : formatNumberPrecision(v, precision);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (Array.isArray(v)) return `[${v.map((x) => inlineJson(x, precision)).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${JSON.stringify(k)}: ${inlineJson(x, precision)}`)
      .join(", ")}}`;
  }
  if (v === undefined || v === MISSING) return "null";
  return JSON.stringify(v);
}

/**
 * A value as a table cell: `-` when missing, strings raw (as `dvc params diff` prints them), `true`/`false`/`null`,
 * numbers by the rule above, lists and mappings as one-line JSON.
 *
 * A string is printed JSON-quoted when raw it would read as something else: always when it is `-` (which stands for
 * a missing value), and, with `quote`, whatever it is (`diffTable` asks for that when a row's two values differ but
 * would print the same, such as the number `1` and the string `"1"`).
 */
export function renderValue(v: unknown, precision?: number, quote = false): string {
  if (v === MISSING || v === undefined) return "-";
  if (typeof v === "string") return quote || v === "-" ? JSON.stringify(v) : v;
  if (v instanceof Date) return v.toISOString();
  return inlineJson(v, precision);
}

/**
 * `JSON.stringify(value, null, indent)`, except that a bigint prints as its digits (an exact JSON number) instead of
 * throwing. For the documents `toJsonValue` makes: plain objects, arrays, strings, finite numbers, booleans, null;
 * and Maps with string keys, printed as objects in the Map's order. `indent` 0: all on one line (NDJSON).
 */
export function stringifyJson(value: unknown, indent = 2): string {
  const pad = " ".repeat(indent);
  const nl = indent > 0 ? "\n" : "";
  const colon = indent > 0 ? ": " : ":";
  const go = (v: unknown, at: string): string => {
    if (typeof v === "bigint") return v.toString();
    if (Array.isArray(v)) {
      if (v.length === 0) return "[]";
      const inner = at + pad;
      return `[${nl}${v.map((x) => inner + go(x === undefined ? null : x, inner)).join(`,${nl}`)}${nl}${at}]`;
    }
    if (v !== null && typeof v === "object" && !(v instanceof Date)) {
      // A Map prints as an object in its own order: a plain object puts integer-like keys first (an abbreviated sha
      // such as `1234567` would jump ahead of `workspace`).
      const all = v instanceof Map ? [...(v as Map<string, unknown>)] : Object.entries(v as Record<string, unknown>);
      const entries = all.filter(([, x]) => x !== undefined);
      if (entries.length === 0) return "{}";
      const inner = at + pad;
      return `{${nl}${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}${colon}${go(x, inner)}`).join(`,${nl}`)}${nl}${at}}`;
    }
    return JSON.stringify(v) ?? "null";
  };
  return go(value, "");
}
