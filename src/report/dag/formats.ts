/**
 * The machine-readable drawings of `pipe dag`: Graphviz dot, mermaid (bare or in a markdown fence) and JSON. Each
 * draws a `DagView` as given (nodes in execution order, edges producer -> consumer, sorted), so the output is the
 * same bytes for the same pipeline. Stale nodes (when `--status` marks them) are filled in dot, get a `stale` class
 * in mermaid and `"stale": true` in JSON.
 */
import type { StageGraph } from "../../core/model.js";
import { stageJson, type StageJson } from "./stage-json.js";
import type { DagNode, DagView } from "./view.js";

function dotString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Node names in dot: the label (as DVC writes them), unless two nodes share one. */
function dotIds(view: DagView): Map<string, string> {
  const count = new Map<string, number>();
  for (const n of view.nodes) count.set(n.label, (count.get(n.label) ?? 0) + 1);
  return new Map(view.nodes.map((n) => [n.id, count.get(n.label)! > 1 ? n.id : n.label]));
}

export function renderDot(view: DagView): string {
  const ids = dotIds(view);
  const lines = ["digraph pipe {", "\tnode [shape=box];"];
  for (const n of view.nodes) {
    const attrs: string[] = [];
    if (ids.get(n.id) !== n.label) attrs.push(`label=${dotString(n.label)}`);
    if (view.marked && n.stale) attrs.push('style=filled, fillcolor="#ffd7d7", color="#c00000"');
    lines.push(`\t${dotString(ids.get(n.id)!)}${attrs.length > 0 ? ` [${attrs.join(", ")}]` : ""};`);
  }
  for (const [a, b] of view.edges) lines.push(`\t${dotString(ids.get(a)!)} -> ${dotString(ids.get(b)!)};`);
  lines.push("}");
  return lines.join("\n") + "\n";
}

function mermaidLabel(s: string): string {
  // Inside a quoted mermaid label `"` ends the label, and `<...>` is read as HTML (and dropped by mermaid's
  // sanitiser): both become mermaid's entity codes.
  return `"${s.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;")}"`;
}

export function renderMermaid(view: DagView, markdown = false): string {
  const ids = new Map(view.nodes.map((n, i) => [n.id, `n${i + 1}`]));
  const lines = ["flowchart TD"];
  for (const n of view.nodes) lines.push(`\t${ids.get(n.id)!}[${mermaidLabel(n.label)}]`);
  for (const [a, b] of view.edges) lines.push(`\t${ids.get(a)!}-->${ids.get(b)!}`);
  const stale = view.marked ? view.nodes.filter((n) => n.stale).map((n) => ids.get(n.id)!) : [];
  if (stale.length > 0) {
    lines.push("\tclassDef stale fill:#ffd7d7,stroke:#c00000");
    lines.push(`\tclass ${stale.join(",")} stale`);
  }
  const body = lines.join("\n");
  return markdown ? `\`\`\`mermaid\n${body}\n\`\`\`\n` : `${body}\n`;
}

export interface DagJsonNode {
  id: string;
  kind: DagNode["kind"];
  label: string;
  stale?: boolean;
  /** For a stage node: the stage (with `meta`); for an output node: the producing stage's address. */
  stage?: (StageJson & { meta: unknown }) | string;
  /** For a group node: its members' addresses, in execution order. */
  members?: string[];
  /** For an output node. */
  path?: string;
  type?: "outs" | "metrics" | "plots";
  cache?: boolean;
  persist?: boolean;
  flags?: Record<string, unknown>;
}

export interface DagJson {
  nodes: DagJsonNode[];
  edges: { from: string; to: string }[];
}

export function dagJson(graph: StageGraph, view: DagView): DagJson {
  const nodes = view.nodes.map((n): DagJsonNode => {
    const base: DagJsonNode = { id: n.id, kind: n.kind, label: n.label };
    if (view.marked) base.stale = n.stale;
    if (n.kind === "stage") {
      const s = graph.stages.get(n.stages[0]!)!;
      base.stage = { ...stageJson(s), meta: s.meta ?? null };
    } else if (n.kind === "group") {
      base.members = [...n.stages];
    } else if (n.out) {
      base.stage = n.stages[0]!;
      base.path = n.out.rootPath;
      base.type = n.out.kind;
      base.cache = n.out.cache;
      base.persist = n.out.persist;
      base.flags = n.out.flags;
    }
    return base;
  });
  return { nodes, edges: view.edges.map(([from, to]) => ({ from, to })) };
}
