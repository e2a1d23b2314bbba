/**
 * Reading a vars/params file into template values, by extension, the way DVC reads each format:
 *
 * - YAML through the stages files' reader (`formats/yaml.ts`): every syntax error located, merge keys expanded,
 *   unknown tags refused; aliases bounded (`nodeToValue`);
 * - JSON strictly, as Python's `json` reads it (`formats/json.ts`), not as YAML: `{"a": 1,}` is an error;
 * - TOML through smol-toml, its errors located (`formats/toml.ts`);
 * - Python as `ast.literal_eval` of module-level assignments (`formats/python.ts`).
 *
 * In every format `1.0` stays a float (`PyFloat`) and an integer past 2^53 stays exact (`bigint`), so that
 * interpolated text is what DVC prints. Problems are diagnostics, never exceptions.
 */
import { formatOf } from "../formats/params-file.js";
import { fail, ok, type Result } from "../core/diagnostic.js";
import { parseJson } from "../formats/json.js";
import { parseTomlText } from "../formats/toml.js";
import { parseYaml, yamlDiagnostics } from "../formats/yaml.js";
import { parsePythonParams } from "../formats/python.js";
import { PyFloat } from "../formats/pyfloat.js";
import { exactInt, fromPlain, nodeToValue, type Locations, type Value, type VMap } from "./value.js";

export interface VarsFileValue {
  value: Value;
  locs: Locations;
}

/** A JSON number's text as Python's `json` reads it: a float when written with `.`, an exponent, or as NaN/Infinity. */
function jsonNumber(text: string): unknown {
  if (/^-?[0-9]+$/.test(text)) return exactInt(BigInt(text));
  if (text === "NaN") return new PyFloat(NaN);
  if (text === "Infinity") return new PyFloat(Infinity);
  if (text === "-Infinity") return new PyFloat(-Infinity);
  return new PyFloat(Number(text));
}

/** TOML read with integers as BigInt: every remaining number is a float. */
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

/** Reads the text of a vars/params file; `file` is root-relative, for messages and to choose the format. */
export function readVarsText(file: string, text: string): Result<VarsFileValue> {
  const format = formatOf(file);
  if (format === "json") {
    const locs: Locations = new Map();
    const r = parseJson(file, text, { number: jsonNumber, object: (entries) => new Map(entries as [string, Value][]), locs });
    return r.ok ? ok({ value: r.value as Value, locs }) : r;
  }
  if (format === "toml") {
    const r = parseTomlText(file, text, { integersAsBigInt: true });
    return r.ok ? ok({ value: fromToml(r.value), locs: new Map() }) : r;
  }
  if (format === "python") {
    const r = parsePythonParams(file, text, { typed: true });
    return r.ok ? ok({ value: fromPlain(r.value), locs: new Map() }) : r;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const parsed = parseYaml(file, text);
  const { errors } = yamlDiagnostics(parsed);
  if (errors.length > 0) return fail(errors);
  const locs: Locations = new Map();
  return ok({ value: nodeToValue(parsed, parsed.doc.contents, locs), locs });
}
