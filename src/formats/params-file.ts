/**
 * Params file readers: YAML, JSON, TOML and Python, by extension, into plain JS values; and dot-key flattening.
 *
 * Readers return values, never throw: a syntax error is a `Diagnostic` naming the file (and line/column where the
 * format's parser gives one). JSON is read as Python reads it (`formats/json.ts`: `NaN`, `Infinity`; an integer
 * literal beyond 2^53 stays exact), and a YAML or TOML integer beyond 2^53 is a `bigint` too, so such values print in
 * full instead of failing or rounding.
 */
import path from "node:path";
import { error, fail, type Result } from "../core/diagnostic.js";
import { parseJson } from "./json.js";
import { NotRegularFile, readRegularFile } from "./input-file.js";
import { decodeUtf8 } from "./text.js";
import { parseTomlText } from "./toml.js";
import { parseYaml, toPlain, yamlDiagnostics } from "./yaml.js";
import { parsePythonParams } from "./python.js";

export type ParamsFormat = "yaml" | "json" | "toml" | "python";

export function formatOf(file: string): ParamsFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".json") return "json";
  if (ext === ".toml") return "toml";
  if (ext === ".py") return "python";
  return "yaml";
}

/** Parses params text; `file` is used for messages and to choose the format. */
export function parseParamsText(file: string, text: string): Result<unknown> {
  const format = formatOf(file);
  // Editors on Windows save a byte-order mark; no format here means anything by it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    switch (format) {
      case "json":
        return parseJson(file, text, { number: exactNumber });
      case "toml":
        // Integers beyond 2^53 as bigints, printed in full, rather than an error for the whole file.
        return parseTomlText(file, text, { integersAsBigInt: "asNeeded" });
      case "python":
        return parsePythonParams(file, text);
      case "yaml": {
        // The stages files' YAML reader: every syntax error at its real position, with the same wording.
        const parsed = parseYaml(file, text, { intAsBigInt: true });
        const { errors } = yamlDiagnostics(parsed);
        if (errors.length > 0) return fail(errors);
        return toPlain(parsed);
      }
    }
  } catch (e) {
    return fail([error("params", `${file}: cannot parse ${format}: ${e instanceof Error ? e.message : String(e)}`)]);
  }
}

/**
 * A JSON number as Python's `json` makes it: an integer literal beyond 2^53 is exact (a `bigint`), anything else is
 * the double its text denotes (`NaN`, `Infinity` included).
 */
function exactNumber(text: string): number | bigint {
  const n = Number(text);
  if (Number.isSafeInteger(n) || !/^-?[0-9]+$/.test(text)) return n;
  return BigInt(text);
}

/** Reads and parses a params file; a missing file is a `missing-file` diagnostic. */
export async function readParamsFile(absPath: string, shownAs: string): Promise<Result<unknown>> {
  // Never `readFile`: a FIFO would block the command forever.
  const bytes = await readRegularFile(absPath);
  if (bytes instanceof NotRegularFile) return fail([error("params", `cannot read params file '${shownAs}': ${bytes.message}`)]);
  if (bytes instanceof Error) return fail([error("missing-file", `params file '${shownAs}' does not exist`)]);
  // Python, and so DVC, refuses a file that is not UTF-8; decoding it with replacement characters would compare
  // values nobody wrote.
  const decoded = decodeUtf8(shownAs, bytes);
  if (!decoded.ok) return fail([decoded.error]);
  return parseParamsText(shownAs, decoded.text);
}

/**
 * Flattens nested mappings into dot keys: `{train: {lr: 0.1}}` -> `{"train.lr": 0.1}`. Lists are values, not keys.
 * An empty mapping is kept as a value so that it is not silently lost.
 */
export function flatten(value: unknown, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out[prefix] = {};
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = value;
  }
  return out;
}
