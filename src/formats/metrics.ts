/**
 * Metrics files into flat `{dot.key: value}` mappings: JSON, YAML and TOML (through the params readers), and CSV/TSV
 * (header row plus the last data row, which is how a training log's final epoch is usually written).
 *
 * As DVC does (`dvc/repo/metrics/show.py: _extract_metrics`), only scalar leaves are metrics: numbers, strings and
 * booleans; lists, nulls and empty mappings are dropped, so a confusion matrix in `metrics.json` does not flood the
 * table. A file whose content is a bare scalar is one metric with the empty key.
 */
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { flatten, parseParamsText } from "./params-file.js";

export type Flat = Record<string, unknown>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

function extract(v: unknown): unknown {
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Date) return v.toISOString();
  if (!isRecord(v)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const m = extract(x);
    if (m !== undefined && !(isRecord(m) && Object.keys(m).length === 0)) out[k] = m;
  }
  return out;
}

/** Splits delimited text into rows of fields (RFC 4180 quoting: `"a,b"`, `"say ""hi"""`). */
export function parseDelimited(text: string, sep: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const endRow = (): void => {
    row.push(field);
    field = "";
    if (!(row.length === 1 && row[0] === "")) rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
      continue;
    }
    if (c === '"' && field === "") {
      quoted = true;
      i++;
    } else if (c === sep) {
      row.push(field);
      field = "";
      i++;
    } else if (c === "\r" || c === "\n") {
      endRow();
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== "" || row.length > 0) endRow();
  return rows;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A CSV field as a value: numbers as numbers (`nan`/`inf` too), everything else as text. */
function fieldValue(s: string): unknown {
  const t = s.trim();
  if (NUMBER.test(t)) return Number(t);
  const l = t.toLowerCase();
  if (l === "nan") return NaN;
  if (l === "inf" || l === "+inf" || l === "infinity") return Infinity;
  if (l === "-inf" || l === "-infinity") return -Infinity;
  return s;
}

function isDelimited(file: string): "," | "\t" | undefined {
  const ext = path.extname(file).toLowerCase();
  return ext === ".csv" ? "," : ext === ".tsv" ? "\t" : undefined;
}

/**
 * Parses a metrics file's text into its metrics as nested in the file (what `metrics show --json` prints, as DVC does):
 * a mapping, or a bare scalar for a file that holds one; a CSV/TSV file is a mapping of its columns. `file` names it in
 * messages and chooses the format by extension.
 */
export function parseMetricsTree(file: string, text: string): Result<unknown> {
  const sep = isDelimited(file);
  if (sep !== undefined) {
    const rows = parseDelimited(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, sep);
    const header = rows[0];
    if (!header) return ok({});
    const last = rows.length > 1 ? rows[rows.length - 1]! : [];
    const out: Flat = {};
    header.forEach((name, i) => {
      const v = last[i];
      if (v !== undefined && v !== "") out[name] = fieldValue(v);
    });
    return ok(out);
  }
  const r = parseParamsText(file, text);
  if (!r.ok) return r;
  const v = extract(r.value);
  if (v === undefined) {
    if (r.value === null || r.value === undefined) return ok({});
    return fail([error("params", `${file}: not a metrics file (expected a mapping of metrics, found a list)`)]);
  }
  return ok(v);
}

/** The flat `{dot.key: value}` form of a metrics tree (the table's columns); a bare scalar is the empty key. */
export function flattenMetrics(tree: unknown): Flat {
  return isRecord(tree) ? flatten(tree) : { "": tree };
}

/** Parses a metrics file's text into flat `{dot.key: value}` metrics. */
export function parseMetricsText(file: string, text: string): Result<Flat> {
  const r = parseMetricsTree(file, text);
  return r.ok ? ok(flattenMetrics(r.value), r.warnings) : r;
}
