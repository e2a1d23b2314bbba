/**
 * What `pipe dag` draws, independent of the format: the nodes (stages, collapsed `foreach`/`matrix` groups, or
 * outputs with `--outs`) and the edges between them, producer -> consumer, in a deterministic order (nodes in
 * execution order, edges sorted by the positions of their ends). Every renderer (text, dot, mermaid, JSON) draws
 * a `DagView`, so they all show the same graph.
 *
 * - Scope: every stage, or (given targets) the targets and their upstream; `full` shows every stage anyway.
 * - A group with more than `GROUP_LIMIT` visible members becomes one node `name@{n}` unless `expand`; its edges are
 *   merged (and edges between its own members dropped).
 * - `outs`: nodes are outputs; `a -> b` when the stage producing `b` reads `a`. A collapsed group's outputs are one
 *   node.
 * - `stale`: stage addresses to mark; a group or output node is stale when one of its stages is.
 * - `where`: labels show addresses and paths as DVC does, relative to the working directory (`project/where.ts`);
 *   node ids stay root addresses and root paths.
 */
import { indexOf } from "../../graph/graph.js";
import { upstreamClosure } from "../../graph/select.js";
import type { OutEntry, Stage, StageGraph } from "../../core/model.js";
import { AT_ROOT, type Where } from "../../project/where.js";

/** Groups with more members than this are drawn as one node unless `expand`. */
export const GROUP_LIMIT = 8;

export type DagNodeKind = "stage" | "group" | "out";

export interface DagNode {
  /** Unique within the view: a stage address, `group:<file>:<name>`, or `out:<path>`. */
  id: string;
  kind: DagNodeKind;
  /** Label: the address (`sub/dvc.yaml:name@{n}` for a group), the path for an output, as shown (see `where`). */
  label: string;
  /** For stage and group nodes: the stages file as shown (relative to the working directory), and the label without it (`name`, `name@{n}`). */
  file?: string;
  local?: string;
  /** The stages this node stands for, in execution order (one for a stage or an output). */
  stages: string[];
  stale: boolean;
  /** For an output node: the output. */
  out?: OutEntry;
}

export interface DagView {
  nodes: DagNode[];
  /** [from, to] node ids, producer -> consumer. */
  edges: [string, string][];
  /** Whether stale marks were asked for (so renderers can add a legend). */
  marked: boolean;
}

export interface ViewOptions {
  /** Resolved target addresses: draw them and their upstream. */
  targets?: readonly string[];
  /** Draw every stage even with targets. */
  full?: boolean;
  /** Outputs instead of stages. */
  outs?: boolean;
  /** Do not collapse large groups. */
  expand?: boolean;
  /** Stale stage addresses (from `pipe status`). */
  stale?: ReadonlySet<string>;
  /** How labels show addresses and paths (default: from the root). */
  where?: Where;
}

function fullAddress(s: Pick<Stage, "dir" | "file" | "dataSource">, name: string): string {
  if (s.dataSource) return s.file;
  return s.dir === "" ? name : `${s.file}:${name}`;
}

export function buildView(graph: StageGraph, opts: ViewOptions = {}): DagView {
  const visible = opts.targets && opts.targets.length > 0 && !opts.full ? upstreamClosure(graph, opts.targets) : [...graph.order];
  const stale = opts.stale ?? new Set<string>();
  const where = opts.where ?? AT_ROOT;
  const stage = (a: string): Stage => graph.stages.get(a)!;

  // Which visible stages collapse into a group node.
  const groupKey = (s: Stage): string | undefined => (s.group === undefined ? undefined : `${s.file}\u0000${s.group}`);
  const members = new Map<string, string[]>();
  for (const a of visible) {
    const k = groupKey(stage(a));
    if (k === undefined) continue;
    const m = members.get(k);
    if (m) m.push(a);
    else members.set(k, [a]);
  }
  const collapsed = new Map<string, string>(); // stage address -> group node id
  const groupNodes = new Map<string, DagNode>();
  if (!opts.expand) {
    for (const [k, list] of members) {
      if (list.length <= GROUP_LIMIT) continue;
      const first = stage(list[0]!);
      const name = `${first.group!}@{${list.length}}`;
      const id = `group:${first.file}:${first.group!}`;
      groupNodes.set(k, {
        id,
        kind: "group",
        label: where.address(fullAddress(first, name)),
        file: where.path(first.file),
        local: name,
        stages: list,
        stale: list.some((a) => stale.has(a)),
      });
      for (const a of list) collapsed.set(a, id);
    }
  }

  return opts.outs ? outsView(graph, visible, collapsed, groupNodes, stale, where) : stagesView(graph, visible, collapsed, groupNodes, stale, where);
}

function sortEdges(nodes: readonly DagNode[], edges: Iterable<string>): [string, string][] {
  const pos = new Map<string, number>();
  nodes.forEach((n, i) => pos.set(n.id, i));
  const list = [...edges].map((e) => e.split("\u0000") as [string, string]);
  return list.sort((x, y) => pos.get(x[0])! - pos.get(y[0])! || pos.get(x[1])! - pos.get(y[1])!);
}

function stagesView(
  graph: StageGraph,
  visible: readonly string[],
  collapsed: ReadonlyMap<string, string>,
  groups: ReadonlyMap<string, DagNode>,
  stale: ReadonlySet<string>,
  where: Where,
): DagView {
  const nodes: DagNode[] = [];
  const placed = new Set<string>();
  const groupById = new Map([...groups.values()].map((g) => [g.id, g]));
  for (const a of visible) {
    const gid = collapsed.get(a);
    if (gid !== undefined) {
      if (!placed.has(gid)) nodes.push(groupById.get(gid)!);
      placed.add(gid);
      continue;
    }
    const s = graph.stages.get(a)!;
    nodes.push({ id: a, kind: "stage", label: where.address(a), file: where.path(s.file), local: s.name, stages: [a], stale: stale.has(a) });
  }
  const inView = new Set(visible);
  const edges = new Set<string>();
  for (const a of visible) {
    const to = collapsed.get(a) ?? a;
    for (const u of graph.upstream.get(a) ?? []) {
      if (!inView.has(u)) continue;
      const from = collapsed.get(u) ?? u;
      if (from !== to) edges.add(`${from}\u0000${to}`);
    }
  }
  return { nodes, edges: sortEdges(nodes, edges), marked: stale.size > 0 };
}

function outsView(
  graph: StageGraph,
  visible: readonly string[],
  collapsed: ReadonlyMap<string, string>,
  groups: ReadonlyMap<string, DagNode>,
  stale: ReadonlySet<string>,
  where: Where,
): DagView {
  const nodes: DagNode[] = [];
  const groupById = new Map([...groups.values()].map((g) => [g.id, g]));
  const groupOuts = new Map<string, number>();
  const placedGroups = new Set<string>();
  const nodeOfOut = new Map<OutEntry, string>();
  for (const a of visible) {
    const s = graph.stages.get(a)!;
    const gid = collapsed.get(a);
    for (const o of s.outs) {
      if (gid !== undefined) {
        groupOuts.set(gid, (groupOuts.get(gid) ?? 0) + 1);
        nodeOfOut.set(o, `outs:${gid}`);
        continue;
      }
      const id = `out:${o.rootPath}`;
      nodeOfOut.set(o, id);
      nodes.push({ id, kind: "out", label: where.path(o.rootPath), stages: [a], stale: stale.has(a), out: o });
    }
    if (gid !== undefined && groupOuts.has(gid) && !placedGroups.has(gid)) {
      placedGroups.add(gid);
      const { file: _file, local: _local, ...g } = groupById.get(gid)!;
      nodes.push({ ...g, id: `outs:${gid}` });
    }
  }
  // Group nodes in --outs mode say how many outputs they stand for.
  for (const n of nodes) {
    if (n.kind !== "group") continue;
    const count = groupOuts.get(n.id.slice("outs:".length)) ?? 0;
    const suffix = ` (${count} output${count === 1 ? "" : "s"})`;
    n.label += suffix;
  }
  const index = indexOf(graph);
  const inView = new Set(visible);
  const edges = new Set<string>();
  for (const a of visible) {
    const s = graph.stages.get(a)!;
    if (s.outs.length === 0) continue;
    for (const dep of s.deps) {
      for (const p of index.producersOf(dep)) {
        if (p.stage === s || !inView.has(p.stage.address)) continue;
        const from = nodeOfOut.get(p.out)!;
        for (const o of s.outs) {
          const to = nodeOfOut.get(o)!;
          if (from !== to) edges.add(`${from}\u0000${to}`);
        }
      }
    }
  }
  return { nodes, edges: sortEdges(nodes, edges), marked: stale.size > 0 };
}
