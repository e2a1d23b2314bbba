/**
 * The JSON shape of one stage, shared by `pipe stage list --json` and `pipe dag --json` (spec 5): paths as written in
 * the stage (relative to its `wdir`), `wdir` and `file` relative to the project root, params as `{file: [keys] | null}`.
 */
import type { Stage } from "../../core/model.js";

export interface StageJson {
  address: string;
  name: string;
  /** The stages file, relative to the project root. */
  file: string;
  /** The working directory, relative to the project root (`.` for the root). */
  wdir: string;
  /** The interpolated command: a string, or a list for a list `cmd`. */
  cmd: string | string[];
  deps: string[];
  outs: string[];
  metrics: string[];
  plots: string[];
  /** Params file (as written) -> tracked keys, or null when the whole file is tracked. */
  params: Record<string, string[] | null>;
  frozen: boolean;
  always_changed: boolean;
  desc: string | null;
}

export function stageJson(s: Stage): StageJson {
  const params: Record<string, string[] | null> = {};
  for (const p of s.params) params[p.file] = p.keys === null ? null : [...p.keys];
  return {
    address: s.address,
    name: s.name,
    file: s.file,
    wdir: s.wdir === "" ? "." : s.wdir,
    cmd: Array.isArray(s.cmd) ? [...s.cmd] : s.cmd,
    deps: s.deps.map((d) => d.path),
    outs: s.outs.filter((o) => o.kind === "outs").map((o) => o.path),
    metrics: s.outs.filter((o) => o.kind === "metrics").map((o) => o.path),
    plots: s.outs.filter((o) => o.kind === "plots").map((o) => o.path),
    params,
    frozen: s.frozen,
    always_changed: s.alwaysChanged,
    desc: s.desc ?? null,
  };
}

/** Descriptions in `pipe stage list` are cut to this many characters, as DVC cuts them. */
export const DESCRIPTION_MAX = 80;

/**
 * The one-line description `pipe stage list` prints, as `dvc stage list` writes it: the first non-empty line of
 * `desc`, else `Outputs a, b; Reports m.json` (outputs, then metrics and plots, as written), `Depends on x, y` for a
 * stage with dependencies only, or `No outputs or dependencies`; cut to 80 characters with an ellipsis.
 */
export function oneLine(s: Stage): string {
  const first = (s.desc ?? "")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== "");
  let text: string;
  if (first !== undefined) text = first;
  else if (s.outs.length === 0 && s.deps.length === 0) text = "No outputs or dependencies";
  else if (s.outs.length === 0) text = `Depends on ${s.deps.map((d) => d.path).join(", ")}`;
  else {
    const parts: string[] = [];
    const outs = s.outs.filter((o) => o.kind === "outs").map((o) => o.path);
    const reports = s.outs.filter((o) => o.kind !== "outs").map((o) => o.path);
    if (outs.length > 0) parts.push(`Outputs ${outs.join(", ")}`);
    if (reports.length > 0) parts.push(`Reports ${reports.join(", ")}`);
    text = parts.join("; ");
  }
  return text.length > DESCRIPTION_MAX ? `${text.slice(0, DESCRIPTION_MAX - 1)}…` : text;
}
