/**
 * The `pipe report` page: one self-contained HTML file made of
 * - where it comes from (time, HEAD's commit, the `pipe` version) and a count of stages by status;
 * - the DAG as SVG (dagre's layout), stages coloured by status, reasons on hover and in a list of the stages to run;
 *   `foreach`/`matrix` groups collapse to one node by a checkbox (CSS only: the page works without JavaScript);
 * - params and metrics of each side in columns, values that differ from the first column highlighted;
 * - every plot, its sides overlaid (the only part drawn by script).
 * It narrows to a phone's width: the DAG and tables scroll sideways inside their own boxes.
 */
import type { StageStatus } from "../status/types.js";
import { renderValue } from "../params/format.js";
import { sameValue } from "../params/diff.js";
import type { SideBySide } from "../compare/side-by-side.js";
import { dagSvg, STATUS_COLOURS, type NodeStatus, type SvgNode } from "./dag/svg.js";
import { esc, page } from "./html.js";
import { plotsHtml } from "./plots/page.js";
import type { ReportData } from "./report-data.js";

const CSS = `
.summary{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.pill{border-radius:12px;padding:2px 10px;font-size:13px;border:1px solid}
.dag-box{overflow:auto;max-height:80vh;border:1px solid var(--line);border-radius:6px;background:#fff;-webkit-overflow-scrolling:touch}
.dag-box svg{display:block}
.dag .node{cursor:default}
.toggle{margin:6px 0;display:inline-flex;gap:6px;align-items:center;font-size:13px}
#dag-collapse:checked ~ .dag-expanded{display:none}
#dag-collapse:not(:checked) ~ .dag-collapsed{display:none}
.reasons pre{margin:4px 0 10px 12px;font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap}
.tables{display:grid;gap:16px}
tr.diff td:first-child,tr.diff td:nth-child(2){font-weight:600}
`;

const ORDER: NodeStatus[] = ["stale", "never", "frozen", "fresh"];

function statusOf(s: StageStatus): NodeStatus {
  if (s.frozen) return s.reasons.some((r) => r.kind === "no-lock-entry") ? "never" : "frozen";
  if (s.reasons.some((r) => r.kind === "no-lock-entry")) return "never";
  return s.stale ? "stale" : "fresh";
}

function worst(list: readonly NodeStatus[]): NodeStatus {
  return ORDER.find((o) => list.includes(o)) ?? "fresh";
}

/** The DAG's nodes and edges, with groups of two or more members collapsed when `collapse`. */
function dagModel(d: ReportData, collapse: boolean): { nodes: SvgNode[]; edges: [string, string][]; groups: number } {
  const status = new Map(d.statuses.map((s) => [s.address, statusOf(s)]));
  const groupOf = new Map<string, string>();
  const members = new Map<string, string[]>();
  for (const a of d.graph.order) {
    const s = d.graph.stages.get(a)!;
    if (s.group === undefined) continue;
    const key = `group:${s.file}:${s.group}`;
    members.set(key, [...(members.get(key) ?? []), a]);
  }
  for (const [key, list] of members) if (list.length > 1 && collapse) for (const a of list) groupOf.set(a, key);
  const nodes: SvgNode[] = [];
  const placed = new Set<string>();
  for (const a of d.graph.order) {
    const gid = groupOf.get(a);
    if (gid !== undefined) {
      if (placed.has(gid)) continue;
      placed.add(gid);
      const list = members.get(gid)!;
      const first = d.graph.stages.get(list[0]!)!;
      const st = worst(list.map((m) => status.get(m) ?? "fresh"));
      const counts = ORDER.map((o) => [o, list.filter((m) => status.get(m) === o).length] as const).filter(([, n]) => n > 0);
      const label = `${first.dir === "" ? "" : `${first.file}:`}${first.group!}@{${list.length}}`;
      nodes.push({ id: gid, label, status: st, members: list.length, title: `${label}: ${counts.map(([o, n]) => `${n} ${STATUS_COLOURS[o].label}`).join(", ")}` });
      continue;
    }
    const st = status.get(a) ?? "fresh";
    const why = d.reasons.get(a) ?? [];
    nodes.push({ id: a, label: a, status: st, title: [`${a}: ${STATUS_COLOURS[st].label}`, ...why.map((l) => l.trimEnd())].join("\n") });
  }
  const seen = new Set<string>();
  const edges: [string, string][] = [];
  for (const a of d.graph.order) {
    const to = groupOf.get(a) ?? a;
    for (const u of d.graph.upstream.get(a) ?? []) {
      const from = groupOf.get(u) ?? u;
      const k = `${from}\u0000${to}`;
      if (from === to || seen.has(k)) continue;
      seen.add(k);
      edges.push([from, to]);
    }
  }
  return { nodes, edges, groups: [...members.values()].filter((l) => l.length > 1).length };
}

function dagSection(d: ReportData): string {
  const expanded = dagModel(d, false);
  const parts: string[] = ['<section id="dag"><h2>Pipeline</h2>'];
  const counts = ORDER.map((o) => [o, d.statuses.filter((s) => statusOf(s) === o).length] as const);
  parts.push(
    `<div class="summary">${counts
      .map(([o, n]) => `<span class="pill" data-status="${o}" style="background:${STATUS_COLOURS[o].fill};border-color:${STATUS_COLOURS[o].stroke};color:${STATUS_COLOURS[o].text}">${n} ${STATUS_COLOURS[o].label}</span>`)
      .join("")}</div>`,
  );
  if (expanded.groups > 0) {
    // Large pipelines open with groups collapsed; the checkbox switches with CSS alone.
    const checked = d.statuses.length > 200 ? " checked" : "";
    const collapsed = dagModel(d, true);
    parts.push(`<input type="checkbox" id="dag-collapse"${checked}><label class="toggle" for="dag-collapse">Collapse foreach/matrix groups (${expanded.groups})</label>`);
    parts.push(`<div class="dag-box dag-expanded">${dagSvg(expanded.nodes, expanded.edges, "expanded")}</div>`);
    parts.push(`<div class="dag-box dag-collapsed">${dagSvg(collapsed.nodes, collapsed.edges, "collapsed")}</div>`);
  } else {
    parts.push(`<div class="dag-box dag-expanded">${dagSvg(expanded.nodes, expanded.edges, "expanded")}</div>`);
  }
  const toRun = d.statuses.filter((s) => (d.reasons.get(s.address) ?? []).length > 0);
  if (toRun.length > 0) {
    parts.push(`<details class="reasons"${toRun.length <= 20 ? " open" : ""}><summary>Why stages are stale (${toRun.length})</summary>`);
    for (const s of toRun) {
      parts.push(`<div data-stage="${esc(s.address)}"><code>${esc(s.address)}</code> <span class="meta">${STATUS_COLOURS[statusOf(s)].label}</span><pre class="why">${esc((d.reasons.get(s.address) ?? []).join("\n"))}</pre></div>`);
    }
    parts.push("</details>");
  } else if (d.statuses.length > 0) {
    parts.push('<p class="meta">Every stage is up to date.</p>');
  }
  parts.push("</section>");
  return parts.join("\n");
}

function valueTable(kind: string, values: SideBySide, sides: readonly string[]): string {
  if (values.size === 0) return `<p class="meta">No ${kind}.</p>`;
  const rows: string[] = [];
  for (const [file, keys] of values) {
    for (const [key, vals] of keys) {
      const base = vals[0];
      const changed = vals.map((v, i) => i > 0 && !sameValue(v, base));
      const cells = vals.map((v, i) => {
        const cls = [typeof v === "number" || typeof v === "bigint" ? "num" : "", changed[i] ? "changed" : ""].filter(Boolean).join(" ");
        return `<td${cls ? ` class="${cls}"` : ""}>${v === undefined ? "–" : esc(renderValue(v))}</td>`;
      });
      rows.push(`<tr${changed.some(Boolean) ? ' class="diff"' : ""}><td>${esc(file)}</td><td>${esc(key)}</td>${cells.join("")}</tr>`);
    }
  }
  return `<div class="scroll"><table class="${kind}"><thead><tr><th>Path</th><th>Key</th>${sides.map((s) => `<th>${esc(s)}</th>`).join("")}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table></div>`;
}

/** The whole page. */
export function reportPage(d: ReportData, projectName: string): string {
  const from = d.commit ? `commit <code>${esc(d.commit.slice(0, 12))}</code>${d.commitDate ? ` of ${esc(d.commitDate.replace("T", " "))}` : ""}` : "no commit";
  const header = `<header><h1>pipe report · ${esc(projectName)}</h1><div class="meta" id="made">Made from ${from} (and the workspace) with pipe ${esc(d.version)} · ${d.statuses.length} stage${d.statuses.length === 1 ? "" : "s"} · compared: ${d.sides.map(esc).join(", ")}</div></header>`;
  const body = [
    header,
    "<main>",
    dagSection(d),
    '<section id="params"><h2>Params</h2>',
    valueTable("params", d.params, d.sides),
    "</section>",
    '<section id="metrics"><h2>Metrics</h2>',
    valueTable("metrics", d.metrics, d.sides),
    "</section>",
    '<section id="plots"><h2>Plots</h2>',
    plotsHtml(d.plots),
    "</section>",
    "</main>",
    `<footer class="meta">Made by <code>pipe report</code>. This page makes no network request; plots are drawn by the Vega libraries inlined below.</footer>`,
  ].join("\n");
  return page({ title: `pipe report · ${projectName}`, css: CSS, body, plots: d.plots.some((p) => p.kind === "vega") });
}
