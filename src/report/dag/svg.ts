/**
 * The DAG as SVG, laid out by dagre (`@dagrejs/dagre`, top to bottom), for the HTML report: one `<g class="node">` per
 * node, filled with its status colour and titled with its status and reasons (the browser shows the title on hover),
 * and one `<path class="edge">` per edge, producer -> consumer. Static SVG: it needs no script.
 *
 * Sizes are estimated from the label length (the system font is not known when the page is written); node and edge
 * order follow the input, so the same graph gives the same bytes.
 */
import dagre from "@dagrejs/dagre";
import { esc } from "../html.js";

export type NodeStatus = "fresh" | "stale" | "frozen" | "never";

export const STATUS_COLOURS: Record<NodeStatus, { fill: string; stroke: string; text: string; label: string }> = {
  fresh: { fill: "#dafbe1", stroke: "#1a7f37", text: "#0d3d1b", label: "up to date" },
  stale: { fill: "#ffebe9", stroke: "#cf222e", text: "#5d0f12", label: "stale" },
  frozen: { fill: "#ddf4ff", stroke: "#0969da", text: "#0a3069", label: "frozen" },
  never: { fill: "#f6f8fa", stroke: "#8c959f", text: "#424a53", label: "never run" },
};

export interface SvgNode {
  id: string;
  label: string;
  status: NodeStatus;
  /** Hover text: status and reasons. */
  title: string;
  /** For a collapsed group: how many stages it stands for. */
  members?: number;
}

/** Above this many nodes the layout trades tidiness for time. */
const LARGE = 300;
const CHAR = 7.2;
const PAD = 12;
const H = 30;

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** The SVG of the graph; `cls` is added to the root element's classes. */
export function dagSvg(nodes: readonly SvgNode[], edges: readonly [string, string][], cls: string): string {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  // Dagre's default ranker (network simplex) gives the tidiest layers but takes about a minute for a 1,000-stage
  // graph; longest-path takes a few seconds and stays readable. (Skipping the ordering sweeps as well saves a second
  // more but leaves layers in an order whose edges cross the whole page.)
  const large = nodes.length > LARGE;
  g.setGraph({ rankdir: "TB", nodesep: 16, ranksep: 36, marginx: 8, marginy: 8, ...(large ? { ranker: "longest-path" } : {}) });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: Math.max(48, Math.ceil(n.label.length * CHAR) + 2 * PAD), height: H });
  for (const [a, b] of edges) g.setEdge(a, b);
  dagre.layout(g);
  const gr = g.graph();
  const width = Math.ceil(gr.width ?? 0);
  const height = Math.ceil(gr.height ?? 0);
  const out: string[] = [];
  out.push(`<svg class="dag ${cls}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="pipeline graph">`);
  out.push(`<defs><marker id="arrow-${cls}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#57606a"/></marker></defs>`);
  out.push('<g class="edges">');
  for (const [a, b] of edges) {
    const e = g.edge(a, b) as { points?: { x: number; y: number }[] } | undefined;
    const pts = e?.points ?? [];
    if (pts.length === 0) continue;
    const d = pts.map((p, i) => `${i === 0 ? "M" : "L"}${round(p.x)},${round(p.y)}`).join("");
    out.push(`<path class="edge" data-from="${esc(a)}" data-to="${esc(b)}" d="${d}" fill="none" stroke="#57606a" stroke-width="1.2" marker-end="url(#arrow-${cls})"/>`);
  }
  out.push("</g>");
  out.push('<g class="nodes">');
  for (const n of nodes) {
    const box = g.node(n.id) as { x: number; y: number; width: number; height: number };
    const c = STATUS_COLOURS[n.status];
    const x = round(box.x - box.width / 2);
    const y = round(box.y - box.height / 2);
    out.push(
      `<g class="node ${n.members !== undefined ? "group" : "stage"} status-${n.status}" data-id="${esc(n.id)}" data-status="${n.status}"${n.members !== undefined ? ` data-members="${n.members}"` : ""}>` +
        `<title>${esc(n.title)}</title>` +
        `<rect x="${x}" y="${y}" width="${round(box.width)}" height="${round(box.height)}" rx="6" fill="${c.fill}" stroke="${c.stroke}" stroke-width="${n.members !== undefined ? 2.5 : 1.5}"${n.members !== undefined ? ' stroke-dasharray="5 3"' : ""}/>` +
        `<text x="${round(box.x)}" y="${round(box.y + 4.5)}" text-anchor="middle" fill="${c.text}" font-size="12" font-family="ui-monospace,SFMono-Regular,Menlo,Consolas,monospace">${esc(n.label)}</text>` +
        "</g>",
    );
  }
  out.push("</g></svg>");
  return out.join("\n");
}
