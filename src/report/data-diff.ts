/**
 * The words and shapes of `pipe diff`, exactly as `dvc diff` prints them (`dvc/commands/diff.py`):
 *
 * - text: one block per state in the order added, deleted, renamed, modified, not in cache, each a coloured header
 *   (`Added:`) and one line per entry indented by four spaces (`--show-hash`: the first 8 hex digits, or
 *   `old..new` for a modification, then two spaces), a blank line after each block, then
 *   `files summary: 1 added, 2 modified` counting files only (not `dir/` entries) and only the states that have any;
 *   nothing at all when nothing differs;
 * - `--md`: a GitHub table `Status | Path` (`Status | Hash | Path` with `--show-hash`), one row per entry;
 * - `--json`: `{added: [...], deleted: [...], modified: [...], renamed: [...], "not in cache": [...]}` with
 *   `{path}` entries (`{path, hash}` with `--show-hash`; a rename's path is `{old, new}`), `{}` when nothing differs.
 */
import type { DataDiff, DiffEntry, DiffState } from "../compare/data-diff.js";
import type { Colors } from "./colors.js";
import { renderTable } from "./table.js";

const TEXT_ORDER: readonly DiffState[] = ["added", "deleted", "renamed", "modified", "not in cache"];
const JSON_ORDER: readonly DiffState[] = ["added", "deleted", "modified", "renamed", "not in cache"];

function shownPath(e: DiffEntry): string {
  return typeof e.path === "string" ? e.path : `${e.path.old} -> ${e.path.new}`;
}

function digest(h: DiffEntry["hash"]): string {
  return typeof h === "string" ? h.slice(0, 8) : `${h.old.slice(0, 8)}..${h.new.slice(0, 8)}`;
}

export function diffText(d: DataDiff, c: Colors, showHash: boolean): string {
  const color: Record<DiffState, (s: string) => string> = { added: c.green, deleted: c.red, renamed: c.green, modified: c.yellow, "not in cache": c.yellow };
  let out = "";
  const counts: [DiffState, number][] = [];
  for (const state of TEXT_ORDER) {
    const entries = d.states.get(state);
    if (!entries || entries.length === 0) continue;
    out += `${color[state](state[0]!.toUpperCase() + state.slice(1))}:\n`;
    let files = 0;
    for (const e of entries) {
      const p = shownPath(e);
      if (!p.endsWith("/")) files++;
      out += `    ${showHash ? `${digest(e.hash)}  ` : ""}${p}\n`;
    }
    out += "\n";
    counts.push([state, files]);
  }
  const summary = counts.filter(([, n]) => n > 0);
  if (summary.length > 0) out += `files summary: ${summary.map(([s, n]) => `${n} ${s}`).join(", ")}\n`;
  return out;
}

export function diffMarkdown(d: DataDiff, showHash: boolean): string {
  const rows: string[][] = [];
  for (const state of JSON_ORDER) {
    for (const e of d.states.get(state) ?? []) rows.push(showHash ? [state, digest(e.hash), shownPath(e)] : [state, shownPath(e)]);
  }
  return renderTable({ headers: showHash ? ["Status", "Hash", "Path"] : ["Status", "Path"], rows }, "markdown");
}

/** The `--json` document (`schemas/diff.schema.json`). */
export function diffJson(d: DataDiff, showHash: boolean): Record<string, unknown> {
  if ([...d.states.values()].every((l) => l.length === 0)) return {};
  const doc: Record<string, unknown> = {};
  for (const state of JSON_ORDER) {
    const entries = d.states.get(state);
    if (entries === undefined) continue;
    doc[state] = entries.map((e) => (showHash ? { path: e.path, hash: e.hash } : { path: e.path }));
  }
  return doc;
}
