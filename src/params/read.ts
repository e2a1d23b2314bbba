/**
 * Params file readers: YAML, JSON, TOML and Python, by extension, into plain JS values; and dot-key flattening.
 *
 * Readers return values, never throw: a syntax error is a `Diagnostic` naming the file (and line/column where the
 * format's parser gives one).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { error, fail, ok, type Result, type SourceLocation } from "../config/diagnostic.js";
import { parseYaml, yamlDiagnostics } from "../config/yaml.js";
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
        try {
          return ok(JSON.parse(text) as unknown);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          const loc = jsonErrorLocation(file, text, msg);
          // V8 quotes the whole document in some messages; keep only the description.
          const what = msg.replace(/ in JSON at position \d+.*$/s, "").replace(/, ".*" is not valid JSON$/s, "");
          return fail([error("params", loc ? `invalid JSON: ${what}` : `${file}: invalid JSON: ${what}`, loc)]);
        }
      case "toml":
        return ok(parseToml(text) as unknown);
      case "python":
        return parsePythonParams(file, text);
      case "yaml": {
        // The stages files' YAML reader: every syntax error at its real position, with the same wording.
        const parsed = parseYaml(file, text);
        const { errors } = yamlDiagnostics(parsed);
        if (errors.length > 0) return fail(errors);
        return ok(parsed.doc.toJS() as unknown);
      }
    }
  } catch (e) {
    return fail([error("params", `${file}: cannot parse ${format}: ${e instanceof Error ? e.message : String(e)}`)]);
  }
}

/** Where a `JSON.parse` error message says the problem is (`... at position 12 (line 2 column 3)`). */
function jsonErrorLocation(file: string, text: string, message: string): SourceLocation | undefined {
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return { file, line: Number(lc[1]), col: Number(lc[2]) };
  const pos = /at position (\d+)/.exec(message);
  if (!pos) return undefined;
  const before = text.slice(0, Number(pos[1]));
  const nl = before.lastIndexOf("\n");
  return { file, line: before.split("\n").length, col: before.length - nl };
}

/** Reads and parses a params file; a missing file is a `missing-file` diagnostic. */
export async function readParamsFile(absPath: string, shownAs: string): Promise<Result<unknown>> {
  let text: string;
  try {
    text = await readFile(absPath, "utf8");
  } catch {
    return fail([error("missing-file", `params file '${shownAs}' does not exist`)]);
  }
  return parseParamsText(shownAs, text);
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
