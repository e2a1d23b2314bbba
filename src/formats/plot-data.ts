/**
 * Plot data files as DVC reads them: CSV and TSV (a header row, then one record per row), JSON and YAML (a list of
 * records, a mapping holding such a list somewhere below it, or a mapping of equal-length columns). Every format
 * becomes the same thing: a list of flat records, values as the file holds them (CSV cells stay strings, as DVC's
 * `csv.DictReader` gives them; Vega-Lite's `quantitative` type reads numeric strings as numbers).
 *
 * A file that does not parse, or holds no list of records, is a located diagnostic, never an exception.
 */
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { parseYaml, toPlain } from "./yaml.js";

export type PlotRecord = Record<string, unknown>;

/** The data formats DVC's vega renderer reads, by extension. */
export const PLOT_DATA_EXTENSIONS = [".csv", ".tsv", ".json", ".yaml", ".yml"] as const;
/** Image extensions shown as images. */
export const PLOT_IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".svg", ".gif"] as const;

export function extensionOf(file: string): string {
  const base = file.slice(file.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot <= 0 ? "" : base.slice(dot).toLowerCase();
}

export function isPlotImage(file: string): boolean {
  return (PLOT_IMAGE_EXTENSIONS as readonly string[]).includes(extensionOf(file));
}

export function isPlotData(file: string): boolean {
  return (PLOT_DATA_EXTENSIONS as readonly string[]).includes(extensionOf(file));
}

/**
 * One delimiter-separated table (RFC 4180 quoting: `"a, b"`, `""` for a quote), header first. Rows shorter than the
 * header leave the missing fields out; an empty line is skipped.
 */
export function parseDelimited(text: string, delimiter: "," | "\t"): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  let i = 0;
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const endRow = (): void => {
    row.push(cell);
    cell = "";
    if (!(row.length === 1 && row[0] === "")) rows.push(row);
    row = [];
  };
  while (i < s.length) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else cell += c;
      i++;
      continue;
    }
    if (c === '"' && cell === "") quoted = true;
    else if (c === delimiter) {
      row.push(cell);
      cell = "";
    } else if (c === "\n") endRow();
    else if (c !== "\r") cell += c;
    i++;
  }
  if (cell !== "" || row.length > 0) endRow();
  return rows;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The first list of records in a value, depth first in key order (DVC's `_find_first_list`). */
function firstRecordList(v: unknown): PlotRecord[] | undefined {
  if (Array.isArray(v)) return v.every(isRecord) && v.length > 0 ? (v as PlotRecord[]) : undefined;
  if (!isRecord(v)) return undefined;
  for (const child of Object.values(v)) {
    const found = firstRecordList(child);
    if (found) return found;
  }
  return undefined;
}

/** A mapping of scalar columns of one length (`{epoch: [1, 2], loss: [0.5, 0.4]}`) as records. */
function columnsAsRecords(v: unknown): PlotRecord[] | undefined {
  if (!isRecord(v)) return undefined;
  const cols = Object.entries(v);
  if (cols.length === 0 || !cols.every(([, c]) => Array.isArray(c) && c.every((x) => x === null || typeof x !== "object"))) return undefined;
  const n = (cols[0]![1] as unknown[]).length;
  if (n === 0 || !cols.every(([, c]) => (c as unknown[]).length === n)) return undefined;
  return Array.from({ length: n }, (_, i) => Object.fromEntries(cols.map(([k, c]) => [k, (c as unknown[])[i]])));
}

/** Nested records flattened to dotted keys (`{a: {b: 1}}` -> `{"a.b": 1}`), as DVC flattens datapoints. */
function flatten(r: PlotRecord, prefix = "", out: PlotRecord = {}): PlotRecord {
  for (const [k, v] of Object.entries(r)) {
    const key = prefix === "" ? k : `${prefix}.${k}`;
    if (isRecord(v)) flatten(v, key, out);
    else out[key] = typeof v === "bigint" ? Number(v) : v;
  }
  return out;
}

/**
 * The records of a plot data file; `file` is shown in diagnostics and picks the format by its extension. `header:
 * false` (a plot prop): a CSV/TSV file has no header row, and its fields are named by position (`0`, `1`, ...).
 */
export function parsePlotData(file: string, text: string, opts: { header?: boolean } = {}): Result<PlotRecord[]> {
  const ext = extensionOf(file);
  if (ext === ".csv" || ext === ".tsv") {
    const rows = parseDelimited(text, ext === ".csv" ? "," : "\t");
    if (opts.header === false) return ok(rows.map((r) => Object.fromEntries(r.map((v, i) => [String(i), v]))));
    const header = rows[0];
    if (!header) return fail([error("plots", `plot data file '${file}' is empty`, { file, line: 1, col: 1 })]);
    return ok(rows.slice(1).map((r) => Object.fromEntries(header.flatMap((h, i) => (i < r.length ? [[h, r[i]]] : [])))));
  }
  let value: unknown;
  if (ext === ".json") {
    try {
      value = JSON.parse(text);
    } catch (e) {
      return fail([error("plots", `plot data file '${file}' is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, { file, line: 1, col: 1 })]);
    }
  } else if (ext === ".yaml" || ext === ".yml") {
    const parsed = parseYaml(file, text);
    const plain = parsed.doc.errors.length > 0 ? undefined : toPlain(parsed);
    if (!plain?.ok) {
      const e = parsed.doc.errors[0];
      const where = e ? { file, line: e.linePos?.[0].line ?? 1, col: e.linePos?.[0].col ?? 1 } : { file, line: 1, col: 1 };
      return fail([error("plots", `plot data file '${file}' is not valid YAML${e ? `: ${e.message.split("\n")[0]!}` : ""}`, where)]);
    }
    value = plain.value;
  } else {
    return fail([error("plots", `'${file}' is not a plot data file (${PLOT_DATA_EXTENSIONS.join(", ")}) nor an image`, { file, line: 1, col: 1 })]);
  }
  const list = firstRecordList(value) ?? columnsAsRecords(value);
  if (!list) return fail([error("plots", `plot data file '${file}' holds no list of records (a list of mappings, or a mapping of equal-length lists)`, { file, line: 1, col: 1 })]);
  return ok(list.map((r) => flatten(r)));
}
