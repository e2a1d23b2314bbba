/**
 * Plain and GitHub-markdown tables, laid out as DVC lays out its `params diff` / `metrics` tables (python-tabulate's
 * `plain` and `github` formats with numbers left as text): every column is as wide as its widest cell and at least
 * its header plus two, columns are left-aligned and separated by two spaces (plain) or ` | ` (markdown).
 *
 * Widths are display columns (`string-width`), not UTF-16 units, as tabulate measures them when `wcwidth` is installed.
 *
 * Differences, on purpose: plain lines carry no trailing spaces, and a cell never breaks the layout (a newline or
 * tab in a value prints as `\n`/`\t`, and `|` is escaped in markdown).
 */
import stringWidth from "string-width";

export interface TableData {
  headers: readonly string[];
  rows: readonly (readonly string[])[];
}

export type TableStyle = "plain" | "markdown";

function cell(text: string, style: TableStyle): string {
  const s = text.replace(/\r\n|\r|\n/g, "\\n").replace(/\t/g, "\\t");
  return style === "markdown" ? s.replace(/\|/g, "\\|") : s;
}

/**
 * Display width in terminal columns: a CJK character or an emoji takes two, a combining mark none (`string-width`),
 * so columns after such a cell still line up.
 */
function width(s: string): number {
  return stringWidth(s);
}

function pad(s: string, w: number): string {
  return s + " ".repeat(Math.max(0, w - width(s)));
}

/** Renders the table; the text ends with a newline (markdown: a blank line too, as DVC prints it). */
export function renderTable(table: TableData, style: TableStyle): string {
  const headers = table.headers.map((h) => cell(h, style));
  const rows = table.rows.map((r) => headers.map((_, i) => cell(r[i] ?? "", style)));
  const widths = headers.map((h, i) => Math.max(width(h) + 2, ...rows.map((r) => width(r[i]!))));
  if (style === "plain") {
    const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i]!)).join("  ").trimEnd();
    return [line(headers), ...rows.map(line)].join("\n") + "\n";
  }
  const line = (cells: string[]): string => `| ${cells.map((c, i) => pad(c, widths[i]!)).join(" | ")} |`;
  const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(headers), rule, ...rows.map(line)].join("\n") + "\n\n";
}
