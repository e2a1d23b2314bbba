/**
 * The outputs of `pipe metrics show`: the table (one row per metrics file and revision, one column per metric) and
 * the `--json` document in DVC 3's layout.
 */
import type { Side } from "../git/revision.js";
import type { MetricsShowOutcome } from "../compare/metrics.js";
import { renderValue, toJsonValue } from "../params/format.js";
import type { TableData } from "./table.js";

/** The `metrics show` table: `[Revision]  Path  <metric...>`, metric columns sorted, `-` where a file lacks one. */
export function showTable(outcome: MetricsShowOutcome, withRevision: boolean, precision: number): TableData {
  const keys = [...new Set(outcome.rows.flatMap((r) => Object.keys(r.values)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const headers = [...(withRevision ? ["Revision"] : []), "Path", ...keys];
  const rows = outcome.rows.map((r) => [
    ...(withRevision ? [r.side] : []),
    r.file,
    ...keys.map((k) => (Object.hasOwn(r.values, k) ? renderValue(r.values[k], precision) : "-")),
  ]);
  return { headers, rows };
}

/**
 * `--json` of `show`, in DVC 3's layout (`dvc metrics show --json`): `{rev: {data: {file: {data: metrics} | {error:
 * message}}}}`, metrics nested as in the file. The workspace shown alone (no revisions, no `--all-commits`) is the
 * revision `""`, as DVC names it there. Revisions in the order shown (Maps: an object would move an all-digit
 * abbreviated sha ahead of the others).
 */
export function showJson(outcome: MetricsShowOutcome, sides: readonly Side[], workspaceAlone: boolean): Map<string, { data: Map<string, unknown> }> {
  const files = new Map<string, Map<string, unknown>>();
  for (const s of sides) files.set(s.name, new Map());
  for (const r of outcome.rows) files.get(r.side)!.set(r.file, { data: toJsonValue(r.data) });
  for (const e of outcome.errors) files.get(e.side)!.set(e.file, { error: e.message });
  const out = new Map<string, { data: Map<string, unknown> }>();
  for (const [rev, data] of files) out.set(workspaceAlone ? "" : rev, { data });
  return out;
}
