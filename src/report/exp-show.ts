/**
 * `pipe exp show` in words: DVC's table (a rule, `Experiment`, `Created`, a `State` column when some row is not a
 * recorded experiment, the metrics, then the params, a rule), experiments drawn as a tree under their baseline
 * (`├── 1a2b3c4 [name]`), numbers right-aligned, `-` for a missing value, and the best value of the sorted column
 * marked with `*` (the other cells of that column padded so the numbers still line up). Also markdown, CSV and JSON
 * (`schemas/exp-show.schema.json`), and the words of the queue runner's events.
 *
 * Cut to the terminal: when the table is wider than the terminal, columns are taken in order (the experiment, its
 * time and state, the sorted column, the metrics, the params) while they fit, and a note on stderr says how many were
 * left out and how to see them.
 */
import stringWidth from "string-width";
import { renderValue, stringifyJson, toJsonValue } from "../params/format.js";
import type { Column, ShowData, ShowRow } from "../experiments/show.js";
import { cellValue, findColumn } from "../experiments/show.js";
import type { QueueEvent } from "../experiments/run.js";
import { renderTable } from "./table.js";

export interface ShowRenderOptions {
  sortBy?: string;
  sortOrder?: "asc" | "desc";
  onlyChanged?: boolean;
  drop?: RegExp;
  keep?: RegExp;
  /** Terminal width (cut the table to it); undefined: never cut. */
  width?: number;
}

/** The columns after `--only-changed`, `--drop` and `--keep` (keep wins over drop, as in DVC). */
export function selectColumns(data: ShowData, o: ShowRenderOptions): Column[] {
  return data.columns.filter((c) => {
    if (o.keep?.test(c.label)) return true;
    if (o.drop?.test(c.label)) return false;
    if (o.onlyChanged === true) {
      const seen = new Set(data.rows.map((r) => cellValue(r, c)).filter((v) => v !== undefined).map((v) => JSON.stringify(toJsonValue(v))));
      return seen.size > 1;
    }
    return true;
  });
}

function stateOf(r: ShowRow): string {
  switch (r.kind) {
    case "queued":
      return "Queued";
    case "running":
      return "Running";
    case "failed":
      return "Failed";
    case "experiment":
      return "Success";
    default:
      return "-";
  }
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** DVC's `Created`: `Dec 07, 2026` for a baseline, `09:14 PM` for an experiment of the same day. */
function created(r: ShowRow, baselineDay: string | undefined): string {
  if (r.created === undefined) return "-";
  const d = new Date(r.created);
  const day = `${MONTHS[d.getMonth()]!} ${pad2(d.getDate())}, ${d.getFullYear()}`;
  if (r.kind === "baseline" || r.kind === "workspace" || day !== baselineDay) return day;
  const h = d.getHours() % 12 === 0 ? 12 : d.getHours() % 12;
  return `${pad2(h)}:${pad2(d.getMinutes())} ${d.getHours() < 12 ? "AM" : "PM"}`;
}

interface Grid {
  headers: string[];
  rows: string[][];
  numeric: boolean[];
}

function grid(data: ShowData, cols: readonly Column[], o: ShowRenderOptions, tree: boolean): Grid {
  const showState = data.rows.some((r) => r.kind === "queued" || r.kind === "running" || r.kind === "failed");
  const sortCol = o.sortBy !== undefined ? findColumn(cols, o.sortBy) : undefined;
  const best = sortCol ? bestValue(data.rows, sortCol, o.sortOrder ?? "asc") : undefined;
  const headers = ["Experiment", "Created", ...(showState ? ["State"] : []), ...cols.map((c) => c.label)];
  const numeric = [false, false, ...(showState ? [false] : []), ...cols.map((c) => data.rows.every((r) => { const v = cellValue(r, c); return v === undefined || typeof v === "number" || typeof v === "bigint"; }))];
  const rows: string[][] = [];
  let baselineDay: string | undefined;
  data.rows.forEach((r, i) => {
    if (r.kind === "baseline") baselineDay = created(r, undefined);
    const next = data.rows[i + 1];
    const last = next === undefined || next.kind === "baseline" || next.kind === "workspace";
    let label = r.name;
    if (r.kind !== "workspace" && r.kind !== "baseline") {
      const id = r.rev ? `${r.rev.slice(0, 7)} [${r.name}]` : `[${r.name}]`;
      label = tree ? `${last ? "└──" : "├──"} ${id}` : id;
    }
    const cells = cols.map((c) => {
      const v = cellValue(r, c);
      const text = renderValue(v);
      if (c !== sortCol) return text;
      return best !== undefined && v === best && r.kind === "experiment" ? `${text}*` : `${text} `;
    });
    rows.push([label, created(r, baselineDay), ...(showState ? [stateOf(r)] : []), ...cells]);
  });
  return { headers, rows, numeric };
}

function bestValue(rows: readonly ShowRow[], c: Column, order: "asc" | "desc"): number | undefined {
  let best: number | undefined;
  // Among the experiments: the baseline and the workspace are what they are compared with.
  for (const r of rows) {
    if (r.kind !== "experiment") continue;
    const v = cellValue(r, c);
    if (typeof v !== "number" || Number.isNaN(v)) continue;
    if (best === undefined || (order === "asc" ? v < best : v > best)) best = v;
  }
  return best;
}

/** The plain table, cut to `width`; `hidden` counts the columns left out. */
export function renderShowText(data: ShowData, o: ShowRenderOptions): { text: string; hidden: number } {
  const cols = selectColumns(data, o);
  const g = grid(data, cols, o, true);
  const widths = g.headers.map((h, i) => Math.max(stringWidth(h), ...g.rows.map((r) => stringWidth(r[i]!))));
  const fixed = g.headers.length - cols.length;
  // Order of preference for the columns beyond the fixed ones: the sorted one first, then as laid out.
  const sortCol = o.sortBy !== undefined ? findColumn(cols, o.sortBy) : undefined;
  const order = cols.map((_, i) => i).sort((a, b) => (cols[a] === sortCol ? -1 : cols[b] === sortCol ? 1 : a - b));
  let chosen = [...Array(fixed).keys()];
  let used = chosen.reduce((s, i) => s + widths[i]! + 2, 2);
  let hidden = 0;
  for (const k of order) {
    const i = fixed + k;
    if (o.width !== undefined && used + widths[i]! + 2 > o.width) {
      hidden++;
      continue;
    }
    chosen.push(i);
    used += widths[i]! + 2;
  }
  chosen = chosen.sort((a, b) => a - b);
  const line = (cells: readonly string[]): string =>
    ("  " + chosen.map((i) => (g.numeric[i] ? " ".repeat(Math.max(0, widths[i]! - stringWidth(cells[i]!))) + cells[i]! : cells[i]! + " ".repeat(Math.max(0, widths[i]! - stringWidth(cells[i]!))))).join("  ")).trimEnd();
  const ruleWidth = Math.max(...[g.headers, ...g.rows].map((r) => stringWidth(line(r))));
  const rule = " " + "─".repeat(Math.max(0, ruleWidth + 1));
  const text = [rule, line(g.headers), rule, ...g.rows.map(line), rule].join("\n") + "\n";
  return { text, hidden };
}

export function renderShowMarkdown(data: ShowData, o: ShowRenderOptions): string {
  const cols = selectColumns(data, o);
  const g = grid(data, cols, o, false);
  return renderTable({ headers: g.headers, rows: g.rows }, "markdown");
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** DVC's CSV: `Experiment,rev,typ,Created,parent,State`, then a column per metric and param; values raw. */
export function renderShowCsv(data: ShowData, o: ShowRenderOptions): string {
  const cols = selectColumns(data, o);
  const head = ["Experiment", "rev", "typ", "Created", "parent", "State", ...cols.map((c) => c.label)];
  const lines = [head.map(csvCell).join(",")];
  for (const r of data.rows) {
    const typ = r.kind === "experiment" ? "branch_commit" : r.kind === "baseline" ? "baseline" : r.kind;
    const cells = [r.kind === "workspace" || r.kind === "baseline" ? "" : r.name, r.rev ?? r.name, typ, r.created ?? "", r.baseline?.slice(0, 7) ?? "", r.kind === "workspace" || r.kind === "baseline" ? "" : stateOf(r)];
    for (const c of cols) {
      const v = cellValue(r, c);
      cells.push(v === undefined ? "" : renderValue(v));
    }
    lines.push(cells.map(csvCell).join(","));
  }
  return lines.join("\n") + "\n";
}

/** `--json`: `schemas/exp-show.schema.json`. */
export function renderShowJson(data: ShowData, o: ShowRenderOptions): string {
  const cols = selectColumns(data, o);
  const keep = (flat: Record<string, Record<string, unknown>>, kind: "metric" | "param"): Record<string, Record<string, unknown>> => {
    const out: Record<string, Record<string, unknown>> = {};
    for (const c of cols) {
      if (c.kind !== kind) continue;
      const v = flat[c.file]?.[c.key];
      if (v === undefined) continue;
      (out[c.file] ??= {})[c.key] = toJsonValue(v);
    }
    return out;
  };
  const doc = {
    columns: cols.map((c) => ({ kind: c.kind, file: c.file, key: c.key, label: c.label })),
    rows: data.rows.map((r) => ({
      kind: r.kind,
      name: r.name,
      rev: r.rev ?? null,
      baseline: r.baseline ?? null,
      created: r.created ?? null,
      state: r.kind === "workspace" || r.kind === "baseline" ? null : stateOf(r).toLowerCase(),
      ...(r.log !== undefined ? { log: r.log } : {}),
      metrics: keep(r.metrics, "metric"),
      params: keep(r.params, "param"),
    })),
  };
  return stringifyJson(doc) + "\n";
}

/** Words of the queue runner's events (stderr). */
export function queueEventText(e: QueueEvent, shown: (file: string) => string = (f) => f): string {
  switch (e.type) {
    case "exp-resumed":
      return `'${e.name}' was left running by a pipe that is gone: queued again\n`;
    case "exp-started":
      return `running experiment '${e.name}' (log: ${shown(e.log)})\n`;
    case "exp-recorded":
      return `recorded experiment '${e.name}' (${e.sha.slice(0, 7)}) in ${(e.stagesMs / 1000).toFixed(1)} s\n`;
    case "exp-failed":
      return `experiment '${e.name}' failed: ${e.reason} (log: ${shown(e.log)})\n`;
  }
}
