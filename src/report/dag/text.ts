/**
 * The text drawing of `pipe dag`: boxes joined by edges, layered top to bottom, producers above consumers, fitted to
 * a terminal (80 columns unless told otherwise).
 *
 * The layout is dagre's: given the layer of every box, `@dagrejs/dagre` orders each layer (crossing reduction) and
 * gives the boxes x positions (Brandes-Koepf), in characters. This module chooses the layers, maps dagre's
 * coordinates onto a character grid, routes the edges and rasterises:
 *
 * 1. Parts: each weakly connected part of the graph is drawn on its own; parts are packed side by side on shelves no
 *    wider than the width (a wider part gets a shelf of its own).
 * 2. Layers (`layersFor`): filled top to bottom like a schedule, at most as wide as a cap; a wide layer (a fan-out of
 *    forty stages) becomes several rows, and what reads a row follows it.
 * 3. Boxes (`place`): dagre lays out the boxes with the edges between adjacent layers (a net joining several boxes
 *    to several others is one hub node, as it is drawn). A tall drawing is laid out in bands, each as wide as fits.
 * 4. Long edges (spanning layers) run on lanes (`laneColumns`): a producer's edges share one line that branches at
 *    every layer it serves; producers with the same consumers left share it (see `producerLines`). Each lane gets
 *    the free column nearest to what it joins, clear of every box it passes.
 * 5. Fitting (`drawBoxes`): whole labels in natural layers first, then labels wrapped onto several lines (after
 *    `:`, `/`, `@`, `_`, `-`), then rows narrower step by step. The first drawing within the width wins; when none
 *    fits, the narrowest is drawn anyway (and says so): a drawing is never replaced by a list.
 * 6. Routing, per channel between two layers (`channelNets`, `netColumns`, `assignTracks`): a line leaves the
 *    bottom centre of its box (so a fan-out reads as a tree) and ends at a port on the top side of its consumer (one
 *    port per incoming line, spread over the box) or at a lane. Producers whose lines end at the same set of boxes
 *    share one line (a bus: every top of it reaches every bottom, so merging says nothing false). Lines that move
 *    sideways get a horizontal track; a line whose top column is another line's bottom column turns above it, a row
 *    apart, and lines on one row are a blank column apart, so two lines never read as one.
 * 7. Characters: `|` and `-` for lines, `+` where a line turns or branches, `v` where it enters a box (`^` for an
 *    edge that closes a cycle between collapsed groups, drawn upwards). Where two lines cross, the vertical one is
 *    drawn (`--|--`), so a `+` always means a real junction.
 *
 * The output is a pure function of the view (dagre is deterministic for the same insertion order): the same bytes on
 * every run.
 */
import dagre from "@dagrejs/dagre";
import type { DagNode, DagView } from "./view.js";

export interface TextOptions {
  /** Target width in columns (default 80): parts are fitted to it where possible, and packed side by side within it. */
  width?: number;
}

// ---- grid -----------------------------------------------------------------------------------------------------

const U = 1;
const D = 2;
const L = 4;
const R = 8;

/**
 * A character grid: fixed characters (boxes, arrows) in a flat array, and for the cells lines pass through, the
 * directions each net takes there (so junctions and crossings can be told apart when rendering).
 */
class Grid {
  private readonly chars: Uint32Array;
  private readonly nets = new Map<number, Map<string, number>>();
  constructor(
    private readonly height: number,
    private readonly width: number,
  ) {
    this.chars = new Uint32Array(height * width);
  }
  put(row: number, col: number, ch: string): void {
    if (row < 0 || row >= this.height || col < 0 || col >= this.width) return;
    this.chars[row * this.width + col] = ch.codePointAt(0)!;
  }
  private line(row: number, col: number, net: string, bits: number): void {
    if (row < 0 || row >= this.height || col < 0 || col >= this.width) return;
    const i = row * this.width + col;
    let m = this.nets.get(i);
    if (!m) {
      m = new Map();
      this.nets.set(i, m);
    }
    m.set(net, (m.get(net) ?? 0) | bits);
  }
  vertical(col: number, from: number, to: number, net: string): void {
    for (let r = from; r <= to; r++) this.line(r, col, net, (r > from ? U : 0) | (r < to ? D : 0));
  }
  horizontal(row: number, from: number, to: number, net: string): void {
    for (let c = from; c <= to; c++) this.line(row, c, net, (c > from ? L : 0) | (c < to ? R : 0));
  }
  render(): string[] {
    const out: string[] = [];
    for (let r = 0; r < this.height; r++) {
      let line = "";
      for (let c = 0; c < this.width; c++) {
        const i = r * this.width + c;
        const ch = this.chars[i]!;
        line += ch !== 0 ? String.fromCodePoint(ch) : lineChar(this.nets.get(i));
      }
      out.push(line.trimEnd());
    }
    return out;
  }
}

function lineChar(nets: Map<string, number> | undefined): string {
  if (!nets || nets.size === 0) return " ";
  const all = [...nets.values()];
  const vOnly = (b: number): boolean => (b & (L | R)) === 0;
  const hOnly = (b: number): boolean => (b & (U | D)) === 0;
  if (all.every(vOnly)) return "|";
  if (all.every(hOnly)) return "-";
  // A vertical line over a horizontal one is a crossing, drawn as the vertical line, so `+` always means a junction.
  if (all.length > 1 && all.every((b) => vOnly(b) || hOnly(b))) return "|";
  return "+";
}

// ---- boxes ----------------------------------------------------------------------------------------------------

function labelOf(n: DagNode, marked: boolean, local: boolean): string {
  const text = local ? n.local! : n.label;
  return marked && n.stale ? `${text} *` : text;
}

/** The stages file every node of a part (of two or more) comes from, when that is one file outside the working directory (as shown). */
function commonFile(nodes: readonly DagNode[]): string | undefined {
  const f = nodes[0]?.file;
  if (nodes.length < 2 || f === undefined || !f.includes("/")) return undefined;
  return nodes.every((n) => n.file === f && n.local !== undefined) ? f : undefined;
}

/**
 * Breaks a long label into lines of about `max` characters, after `:`, `/`, `@`, `_`, `-`, `.` or a space (so
 * `sub:train@lr-0.1` becomes `sub:` / `train@lr-0.1`). A word is broken only when it is half as long again as
 * `max`: where a capital follows a small letter (`SKCount` / `Vectorizer`) if it can, else cut.
 */
export function wrapLabel(label: string, max: number): string[] {
  if (label.length <= max) return [label];
  const chunks = (label.match(/[^:/@_\-. ]*[:/@_\-. ]|[^:/@_\-. ]+$/g) ?? [label]).flatMap((chunk) =>
    chunk.length > Math.ceil(max * 1.5) ? chunk.split(/(?<=[a-z0-9])(?=[A-Z])/) : [chunk],
  );
  const lines: string[] = [];
  let line = "";
  for (let chunk of chunks) {
    if (line.length + chunk.length <= max) {
      line += chunk;
      continue;
    }
    if (line !== "") lines.push(line);
    // A word a little longer than the limit stays whole; a much longer one is cut.
    while (chunk.length > Math.ceil(max * 1.5)) {
      lines.push(chunk.slice(0, max));
      chunk = chunk.slice(max);
    }
    line = chunk;
  }
  if (line !== "") lines.push(line);
  return lines;
}

function boxLines(lines: readonly string[]): string[] {
  const w = Math.max(...lines.map((l) => l.length));
  const bar = `+${"-".repeat(w + 2)}+`;
  return [bar, ...lines.map((l) => `| ${l.padEnd(w)} |`), bar];
}

// ---- layers ---------------------------------------------------------------------------------------------------

/** Columns between two boxes of a layer, and taken by a line running through a layer (the line and a space). */
const GAP = 2;
const LINE = 2;

/** An edge as the layers see it: `from` is drawn above `to`. */
interface LayerEdge {
  from: string;
  to: string;
  /** The view edge closes a cycle (only possible between collapsed groups): drawn from its consumer (`from`, above)
   * down to its producer, with the arrow pointing up into the consumer. */
  rev?: number;
}

/**
 * The view's edges with every cycle broken: a depth-first walk in view order reverses the edges that lead back to a
 * node on its path.
 */
function acyclicEdges(nodes: readonly DagNode[], edges: readonly [string, string][]): LayerEdge[] {
  const out = new Map<string, number[]>(nodes.map((n) => [n.id, []]));
  edges.forEach(([a], i) => out.get(a)!.push(i));
  const state = new Map<string, "open" | "done">();
  const back = new Set<number>();
  for (const n of nodes) {
    if (state.has(n.id)) continue;
    state.set(n.id, "open");
    const stack: [string, number][] = [[n.id, 0]];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const list = out.get(top[0])!;
      if (top[1] === list.length) {
        state.set(top[0], "done");
        stack.pop();
        continue;
      }
      const i = list[top[1]++]!;
      const w = edges[i]![1];
      const s = state.get(w);
      if (s === "open") back.add(i);
      else if (s === undefined) {
        state.set(w, "open");
        stack.push([w, 0]);
      }
    }
  }
  return edges.map(([a, b], i) => (back.has(i) ? { from: b, to: a, rev: i } : { from: a, to: b }));
}

/**
 * The lines of long edges, per producer: for each layer its line runs through, the line's key. A producer's edges
 * share one line, which branches at each layer it serves; producers whose consumers from that layer down are the
 * same share the line there (every producer on it feeds every consumer it leads to, so sharing says nothing false;
 * their lines above all end at the same boxes and at this line, so they are one net there and the line has one way
 * in). An edge that closes a cycle keeps a line of its own. Keys are the consumers' positions.
 */
function producerLines(edges: readonly LayerEdge[], layerOf: (id: string) => number, pos: ReadonlyMap<string, number>): Map<string, [number, string][]> {
  const targets = new Map<string, string[]>();
  const out = new Map<string, [number, string][]>();
  for (const e of edges) {
    if (e.rev !== undefined) {
      const list: [number, string][] = [];
      for (let k = layerOf(e.from) + 1; k < layerOf(e.to); k++) list.push([k, `rev:${e.rev}`]);
      if (list.length > 0) out.set(`rev:${e.rev}`, list);
    } else {
      const ts = targets.get(e.from);
      if (ts) ts.push(e.to);
      else targets.set(e.from, [e.to]);
    }
  }
  for (const [u, ts] of targets) {
    const sorted = [...ts].sort((x, y) => layerOf(y) - layerOf(x) || pos.get(x)! - pos.get(y)!);
    const last = layerOf(sorted[0]!);
    const list: [number, string][] = [];
    let key = "";
    let i = 0;
    for (let k = last - 1; k > layerOf(u); k--) {
      while (i < sorted.length && layerOf(sorted[i]!) >= k) key += `,${pos.get(sorted[i++]!)!}`;
      list.push([k, key]);
    }
    if (list.length > 0) out.set(u, list);
  }
  return out;
}

/** How many lines run through each layer (see `producerLines`). */
function linesPerLayer(lines: ReadonlyMap<string, [number, string][]>, layers: number): number[] {
  const keys = Array.from({ length: layers }, () => new Set<string>());
  for (const list of lines.values()) for (const [k, key] of list) keys[k]!.add(key);
  return keys.map((k) => k.size);
}

interface Layers {
  /** Node ids per layer, top to bottom, in view order. */
  rows: string[][];
  layer: Map<string, number>;
  /** The widest layer, boxes and lines through it: about the narrowest a drawing of these layers can be. */
  estimate: number;
}

/** Width of a row of boxes, `GAP` apart. */
function rowWidth(widths: readonly number[]): number {
  return widths.reduce((a, w) => a + w, 0) + GAP * Math.max(0, widths.length - 1);
}

/** How many of `widths` go into the first row when they are wrapped into rows no wider than `limit`, rows made even. */
export function firstRowCount(widths: readonly number[], limit: number): number {
  const greedy = (t: number): { rows: number; first: number } => {
    let rows = 1;
    let used = 0;
    let first = 0;
    for (const w of widths) {
      if (used > 0 && used + GAP + w > t) {
        rows++;
        used = w;
      } else used += used > 0 ? GAP + w : w;
      if (rows === 1) first++;
    }
    return { rows, first };
  };
  const { rows } = greedy(limit);
  // The narrowest limit that needs no more rows makes them even.
  let lo = Math.max(...widths);
  let hi = Math.max(lo, limit);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (greedy(mid).rows <= rows) hi = mid;
    else lo = mid + 1;
  }
  return greedy(hi).first;
}

/**
 * The layers, filled top to bottom like a schedule. Each takes, of the nodes whose producers all sit above it, as
 * many as fit into `cap` columns with the lines running through it (the rows made even): first the nodes nothing
 * reads (their lines would only get longer), then those that add the fewest lines (a node whose consumers make a set
 * no line leads to yet adds one; a node that is the last consumer of a producer ends that producer's line), then in
 * view order. A node that reads nothing waits until a consumer of it has everything else it reads, so it sits just
 * above that consumer. With an unlimited `cap` every node sits one layer below its lowest producer; with a narrow one
 * a wide fan-out becomes rows, and what reads a row follows it.
 */
function layersFor(nodes: readonly DagNode[], edges: readonly LayerEdge[], widths: ReadonlyMap<string, number>, cap: number): Layers {
  const pos = new Map(nodes.map((n, i) => [n.id, i]));
  const preds = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  const succs = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const e of edges) {
    if (e.from === e.to) continue;
    preds.get(e.to)!.push(e.from);
    succs.get(e.from)!.push(e.to);
  }
  const isSource = (v: string): boolean => preds.get(v)!.length === 0;
  const isSink = (v: string): boolean => succs.get(v)!.length === 0;
  const left = new Map(nodes.map((n) => [n.id, preds.get(n.id)!.length]));
  const innerLeft = new Map(nodes.map((n) => [n.id, preds.get(n.id)!.filter((p) => !isSource(p)).length]));
  const eligible = (v: string): boolean => !isSource(v) || isSink(v) || succs.get(v)!.some((c) => innerLeft.get(c) === 0);
  const layer = new Map<string, number>();
  const rows: string[][] = [];
  let ready = nodes.filter((n) => isSource(n.id)).map((n) => n.id);
  // Placed producers with consumers still to place: their lines run through the next layer, one per set of
  // consumers left (told apart by a hash of their positions).
  const open = new Set<string>();
  const setOf = (u: string, without?: string): number => {
    let h = 0;
    for (const c of succs.get(u)!) if (!layer.has(c) && c !== without) h = (h + Math.imul(pos.get(c)! + 1, 2654435761)) | 0;
    return h;
  };
  while (layer.size < nodes.length) {
    const k = rows.length;
    const candidates = ready.filter(eligible);
    const lines = new Set<number>();
    for (const u of open) lines.add(setOf(u));
    const cost = new Map<string, number>();
    for (const v of candidates) {
      let c = !isSink(v) && !lines.has(setOf(v)) ? 1 : 0;
      for (const p of preds.get(v)!) if (open.has(p) && setOf(p, v) === 0) c--;
      cost.set(v, c);
    }
    const rank = (v: string): number => (isSink(v) ? -Infinity : cost.get(v)!);
    candidates.sort((x, y) => rank(x) - rank(y) || pos.get(x)! - pos.get(y)!);
    const count = cap === Infinity ? candidates.length : firstRowCount(candidates.map((v) => widths.get(v)!), cap - LINE * lines.size);
    const row = candidates.slice(0, Math.max(1, count));
    rows.push(row);
    for (const v of row) layer.set(v, k);
    ready = ready.filter((v) => !layer.has(v));
    for (const v of row) {
      if (!isSink(v)) open.add(v);
      for (const p of preds.get(v)!) if (succs.get(p)!.every((c) => layer.has(c))) open.delete(p);
      for (const c of succs.get(v)!) {
        left.set(c, left.get(c)! - 1);
        if (!isSource(v)) innerLeft.set(c, innerLeft.get(c)! - 1);
        if (left.get(c) === 0) ready.push(c);
      }
    }
    ready.sort((x, y) => pos.get(x)! - pos.get(y)!);
  }
  const through = linesPerLayer(producerLines(edges, (id) => layer.get(id)!, pos), rows.length);
  const estimate = Math.max(...rows.map((row, k) => rowWidth(row.map((v) => widths.get(v)!)) + LINE * through[k]!));
  return { rows, layer, estimate };
}

// ---- layout ---------------------------------------------------------------------------------------------------

/** A box, or a junction: where a line of long edges runs through a layer. */
interface Elem {
  id: string;
  level: number;
  /** The box, line by line; undefined for a junction. */
  box?: string[];
  left: number;
  right: number;
  center: number;
}

interface Link {
  from: Elem;
  to: Elem;
  /** For the first piece of a reversed edge: the key of its own line, which leaves the box above with an arrow up. */
  up?: string;
  /** An arrow head where it enters the box below. */
  arrow: boolean;
}

interface Top {
  col: number;
  /** Row (relative to the channel's first row) where the line starts: -1, or above it under a box shorter than its level. */
  from: number;
}

/** The lines of one channel that connect: every top reaches every bottom. */
interface Net {
  id: string;
  links: Link[];
  /** Filled in once the elements have columns. */
  tops: Top[];
  /** Bottom column -> whether an arrow ends there. */
  bottoms: Map<number, boolean>;
  /** Columns and rows of arrows pointing up into the box above (reversed edges). */
  arrowsUp: [number, number][];
  track?: number;
}

interface Layout {
  levels: Elem[][];
  levelH: number[];
  /** Per channel (below each level but the last), its nets. */
  channels: Net[][];
}

/** Boxes, junctions and the links between adjacent layers, and the nets of every channel. */
function buildLayout(nodes: readonly DagNode[], edges: readonly LayerEdge[], layers: Layers, boxes: ReadonlyMap<string, string[]>): Layout {
  const { rows, layer } = layers;
  const levels: Elem[][] = rows.map(() => []);
  const elems = new Map<string, Elem>();
  for (const n of nodes) {
    const e: Elem = { id: n.id, level: layer.get(n.id)!, box: boxes.get(n.id)!, left: 0, right: 0, center: 0 };
    elems.set(n.id, e);
    levels[e.level]!.push(e);
  }
  // Junctions by key (see `producerLines`); their ids are a newline and a number, which no node id holds.
  const junctions = new Map<string, Elem>();
  const junction = (key: string, level: number): Elem => {
    let e = junctions.get(key);
    if (!e) {
      e = { id: `\n${junctions.size}`, level, left: 0, right: 0, center: 0 };
      junctions.set(key, e);
      levels[level]!.push(e);
    }
    return e;
  };
  const links: Link[] = [];
  const seen = new Set<string>();
  const link = (from: Elem, to: Elem, arrow: boolean, up?: string): void => {
    const k = `${from.id}\u0000${to.id}\u0000${up ?? ""}`;
    if (seen.has(k)) return;
    seen.add(k);
    links.push({ from, to, arrow, ...(up !== undefined ? { up } : {}) });
  };
  // Each producer's line, down to its last consumer (see `producerLines`).
  const lines = producerLines(edges, (id) => layer.get(id)!, new Map(nodes.map((n, i) => [n.id, i])));
  const targets = new Map<string, string[]>();
  for (const e of edges) if (e.rev === undefined) targets.set(e.from, [...(targets.get(e.from) ?? []), e.to]);
  for (const [u, ts] of targets) {
    let prev = elems.get(u)!;
    const keys = new Map(lines.get(u) ?? []);
    const last = Math.max(...ts.map((t) => layer.get(t)!));
    for (let k = prev.level + 1; k <= last; k++) {
      for (const t of ts) if (layer.get(t) === k) link(prev, elems.get(t)!, true);
      if (k === last) break;
      const j = junction(`${keys.get(k)!}@${k}`, k);
      link(prev, j, false);
      prev = j;
    }
  }
  // A reversed edge: its own line from the consumer above down to the producer, no arrow there.
  for (const e of edges) {
    if (e.rev === undefined) continue;
    const up = `rev:${e.rev}`;
    let prev = elems.get(e.from)!;
    const to = elems.get(e.to)!;
    for (let k = prev.level + 1; k < to.level; k++) {
      const j = junction(`${up}@${k}`, k);
      link(prev, j, false, prev.box ? up : undefined);
      prev = j;
    }
    link(prev, to, false, prev.box ? up : undefined);
  }
  const levelH = levels.map((es) => Math.max(...es.map((e) => e.box?.length ?? 0)));
  return { levels, levelH, channels: channelNets(levels, links) };
}

/**
 * The nets of every channel. Lines start at a box (its bottom centre; a reversed edge at a column of its own) or a
 * junction; the starts whose lines end at the same set of elements below share one net (a bus).
 */
function channelNets(levels: readonly Elem[][], links: readonly Link[]): Net[][] {
  const perChannel: Link[][] = levels.slice(1).map(() => []);
  for (const l of links) perChannel[l.from.level]!.push(l);
  return perChannel.map((list) => {
    const byTop = new Map<string, Link[]>();
    for (const l of list) {
      const k = l.up ?? l.from.id;
      const ls = byTop.get(k);
      if (ls) ls.push(l);
      else byTop.set(k, [l]);
    }
    const nets = new Map<string, Net>();
    for (const [k, ls] of byTop) {
      const id = ls[0]!.up !== undefined ? k : `bus:${[...new Set(ls.map((l) => l.to.id))].sort().join("\u0000")}`;
      let n = nets.get(id);
      if (!n) nets.set(id, (n = { id, links: [], tops: [], bottoms: new Map(), arrowsUp: [] }));
      n.links.push(...ls);
    }
    return [...nets.values()];
  });
}

/**
 * The columns of a box of width `w` that dagre centres at `x`. Column c is the interval [c, c+1); the box's left side
 * is rounded to a column and the rest follows, so boxes dagre keeps `GAP` apart stay at least `GAP` blank columns
 * apart, whatever their widths (rounding the centre instead loses a column between an odd and an even width).
 */
export function boxColumns(x: number, w: number): { left: number; center: number; right: number } {
  const left = Math.round(x - w / 2);
  return { left, center: left + Math.floor(w / 2), right: left + w - 1 };
}

/** Most boxes dagre lays out at once: layers are laid out in bands of about this many (dagre's time grows faster). */
const BAND = 80;

/**
 * dagre orders the boxes of every layer and gives them x positions (in columns), from the edges between adjacent
 * layers; then the lines of long edges get columns of their own (`laneColumns`).
 *
 * Layers are laid out in bands: dagre keeps a box in line with the boxes it is joined to, so a tall drawing can creep
 * sideways. When the layers so far no longer fit in `width`, a new band starts there and is laid out on its own (the
 * channel above it takes the edges to their new columns), shifted so that those edges run as straight as they can.
 */
function place(layout: Layout, width: number): void {
  const { levels } = layout;
  const links = layout.channels.flatMap((nets) => nets.flatMap((n) => n.links)).filter((l) => l.from.box && l.to.box);
  let a = 0;
  while (a < levels.length) {
    let b = a + 1;
    for (let count = levels[a]!.length; b < levels.length && count + levels[b]!.length <= BAND; b++) count += levels[b]!.length;
    const g = new dagre.graphlib.Graph();
    // Edge routing is ours: dagre's edges need no room (`edgesep`) and no label space (`labelpos`).
    g.setGraph({ rankdir: "TB", nodesep: GAP, edgesep: 0, ranksep: 1, marginx: 0, marginy: 0, ranker: "none" });
    g.setDefaultEdgeLabel(() => ({ labelpos: "c" }));
    for (let k = a; k < b; k++) for (const e of levels[k]!) if (e.box) g.setNode(e.id, { width: e.box[0]!.length, height: e.box.length, rank: 4 * (k - a) });
    // A net joining several boxes to several others is one node between the layers (a hub), as it is drawn: dagre
    // spreads a layer widely to keep many crossing edges apart.
    const edges: [string, string][] = [];
    for (let k = a; k < b - 1; k++) {
      layout.channels[k]!.forEach((net, i) => {
        const inner = net.links.filter((l) => l.from.box && l.to.box);
        const tops = [...new Set(inner.map((l) => l.from.id))];
        const bottoms = [...new Set(inner.map((l) => l.to.id))];
        if (tops.length >= 2 && bottoms.length >= 2) {
          const hub = `\n${k}:${i}`;
          g.setNode(hub, { width: 0, height: 0, rank: 4 * (k - a) + 2 });
          for (const t of tops) edges.push([t, hub]);
          for (const t of bottoms) edges.push([hub, t]);
        } else for (const l of inner) edges.push([l.from.id, l.to.id]);
      });
    }
    // dagre's initial ordering walks edges last-inserted first: inserting them in reverse keeps siblings in
    // definition order, left to right.
    for (let i = edges.length - 1; i >= 0; i--) g.setEdge(edges[i]![0], edges[i]![1]);
    dagre.layout(g);
    // Keep the layers that fit together (at least one).
    let lo = Infinity;
    let hi = -Infinity;
    let cut = a;
    for (let k = a; k < b; k++) {
      let l = lo;
      let h = hi;
      for (const e of levels[k]!) {
        if (!e.box) continue;
        Object.assign(e, boxColumns(g.node(e.id).x!, e.box[0]!.length));
        l = Math.min(l, e.left);
        h = Math.max(h, e.right);
      }
      if (k > a && h - l + 1 > width) break;
      [lo, hi, cut] = [l, h, k + 1];
    }
    // Shift the band: by the median of what the edges into it would move sideways, within the width if it fits.
    const moves: number[] = [];
    if (a > 0) for (const l of links) if (l.to.level === a) moves.push(l.from.center - (l.to.center - lo));
    moves.sort((x, y) => x - y);
    const shift = Math.max(0, Math.min(moves[Math.floor(moves.length / 2)] ?? 0, width - (hi - lo + 1))) - lo;
    for (let k = a; k < cut; k++) {
      for (const e of levels[k]!) {
        e.left += shift;
        e.right += shift;
        e.center += shift;
      }
    }
    a = cut;
  }
  // A layer joined to neither neighbour by an edge between boxes has its place from nothing dagre knows about: it
  // is centred on the others (its edges run on lanes, which go around it).
  const joined = new Set<number>();
  for (const l of links) {
    joined.add(l.from.level);
    joined.add(l.to.level);
  }
  let lo = Infinity;
  let hi = -Infinity;
  levels.forEach((es, k) => {
    if (joined.has(k)) for (const e of es) if (e.box) [lo, hi] = [Math.min(lo, e.left), Math.max(hi, e.right)];
  });
  if (lo <= hi) {
    levels.forEach((es, k) => {
      if (joined.has(k)) return;
      const boxes = es.filter((e) => e.box);
      const l = Math.min(...boxes.map((e) => e.left));
      const r = Math.max(...boxes.map((e) => e.right));
      const shift = Math.floor((lo + hi - l - r) / 2);
      for (const e of boxes) {
        e.left += shift;
        e.right += shift;
        e.center += shift;
      }
    });
  }
  laneColumns(layout);
  let min = Infinity;
  for (const es of levels) for (const e of es) min = Math.min(min, e.left);
  for (const es of levels) {
    for (const e of es) {
      e.left -= min;
      e.right -= min;
      e.center -= min;
    }
    es.sort((x, y) => x.left - y.left);
  }
}

/**
 * Columns for the lines of long edges. Junctions joined one below the other form a line (a lane) that runs straight
 * down; each lane gets the free column nearest to the boxes it joins, over all the layers it runs through: a blank
 * column (two where that costs little) from every box there, and one from every other lane. Long lanes go first.
 */
function laneColumns(layout: Layout): void {
  const { levels, channels } = layout;
  const lanes: Elem[][] = [];
  const laneOf = new Map<Elem, Elem[]>();
  const continued = new Set<Elem>();
  const pull = new Map<Elem[], number[]>();
  for (const nets of channels) {
    for (const net of nets) {
      for (const l of net.links) {
        if (l.to.box || laneOf.has(l.to)) continue;
        // A junction continues the lane of a junction feeding it, if that lane goes on nowhere else.
        const prev = net.links.find((x) => x.to === l.to && !x.from.box && !continued.has(x.from))?.from;
        let lane: Elem[];
        if (prev) {
          continued.add(prev);
          lane = laneOf.get(prev)!;
        } else {
          lane = [];
          lanes.push(lane);
          pull.set(lane, []);
        }
        lane.push(l.to);
        laneOf.set(l.to, lane);
      }
      // What pulls each lane sideways: the boxes its lines come from and go to.
      for (const l of net.links) {
        if (!l.from.box && l.to.box) pull.get(laneOf.get(l.from)!)!.push(l.to.center);
        if (l.from.box && !l.to.box) pull.get(laneOf.get(l.to)!)!.push(l.from.center);
      }
    }
  }
  // Taken columns per level: boxes and the column beside them, other lanes and the column beside them; `roomy`
  // also takes the second column beside a box.
  const taken = levels.map((es) => {
    const cols = new Set<number>();
    for (const e of es) if (e.box) for (let c = e.left - 1; c <= e.right + 1; c++) cols.add(c);
    return cols;
  });
  const roomy = levels.map((es) => {
    const cols = new Set<number>();
    for (const e of es) if (e.box) cols.add(e.left - 2).add(e.right + 2);
    return cols;
  });
  const order = lanes.map((lane, i) => ({ lane, i })).sort((x, y) => y.lane.length - x.lane.length || x.lane[0]!.level - y.lane[0]!.level || x.i - y.i);
  for (const { lane } of order) {
    const p = pull.get(lane)!;
    const want = p.length > 0 ? Math.round(p.reduce((s, x) => s + x, 0) / p.length) : 0;
    const nearest = (free: (c: number) => boolean): number => {
      let d = 0;
      while (!free(want + d) && !free(want - d)) d++;
      return free(want + d) ? want + d : want - d;
    };
    const tight = nearest((c) => lane.every((j) => !taken[j.level]!.has(c)));
    const loose = nearest((c) => lane.every((j) => !taken[j.level]!.has(c) && !roomy[j.level]!.has(c)));
    // Two blank columns from a box read better, unless that takes the lane much further from what it joins.
    const col = Math.abs(loose - want) <= Math.abs(tight - want) + 4 ? loose : tight;
    // A lane also keeps its column from lanes ending just above it or starting just below (they would read as one).
    for (const j of lane) j.left = j.right = j.center = col;
    for (let k = Math.max(0, lane[0]!.level - 1); k <= Math.min(levels.length - 1, lane[lane.length - 1]!.level + 1); k++) {
      for (let c = col - 1; c <= col + 1; c++) taken[k]!.add(c);
    }
  }
}

// ---- routing --------------------------------------------------------------------------------------------------

/** Spreads `desired` columns over [lo, hi], in order, `step` apart where there is room (one otherwise). */
function spread(desired: readonly number[], lo: number, hi: number, step = 2): number[] {
  const k = desired.length;
  if (k === 0) return [];
  if ((k - 1) * step >= hi - lo + 1) step = 1;
  const cols = desired.map((d) => Math.min(hi, Math.max(lo, d)));
  for (let i = 1; i < k; i++) cols[i] = Math.max(cols[i]!, cols[i - 1]! + step);
  cols[k - 1] = Math.min(cols[k - 1]!, hi);
  for (let i = k - 2; i >= 0; i--) cols[i] = Math.min(cols[i]!, cols[i + 1]! - step);
  return cols.map((c) => Math.max(lo, c));
}

/** Columns of every net's tops and bottoms, once the elements are placed. */
function netColumns(layout: Layout): void {
  const { channels, levelH } = layout;
  channels.forEach((nets, gap) => {
    const revSeen = new Map<string, number>();
    for (const net of nets) {
      const started = new Set<string>();
      for (const l of net.links) {
        const key = l.up ?? l.from.id;
        if (started.has(key)) continue;
        started.add(key);
        const from = l.from;
        const startRow = from.box ? from.box.length - 1 - levelH[gap]! : -1;
        if (l.up !== undefined && from.box) {
          // A reversed edge leaves the box at its own column right of the centre, with an arrow up into it.
          const i = (revSeen.get(from.id) ?? 0) + 1;
          revSeen.set(from.id, i);
          const col = Math.min(from.right - 1, from.center + 2 * i);
          net.tops.push({ col, from: startRow });
          net.arrowsUp.push([col, startRow + 1]);
        } else net.tops.push({ col: from.center, from: startRow });
      }
    }
    // Ports on the top side of each element below, in the order the lines come from.
    const incoming = new Map<Elem, { net: Net; at: number }[]>();
    for (const net of nets) {
      const at = net.tops.reduce((a, t) => a + t.col, 0) / net.tops.length;
      for (const to of new Set(net.links.map((l) => l.to))) incoming.set(to, [...(incoming.get(to) ?? []), { net, at }]);
    }
    const port = new Map<Net, Map<Elem, number>>(nets.map((n) => [n, new Map()]));
    for (const [to, list] of incoming) {
      list.sort((x, y) => x.at - y.at || (x.net.id < y.net.id ? -1 : 1));
      // A junction has one way in (see `producerLines`).
      const cols = to.box
        ? spread(
            list.map((x) => Math.round(x.at)),
            to.left + 1,
            to.right - 1,
          )
        : list.map(() => to.center);
      list.forEach((x, i) => port.get(x.net)!.set(to, cols[i]!));
    }
    for (const net of nets) {
      for (const l of net.links) {
        const col = port.get(net)!.get(l.to)!;
        net.bottoms.set(col, (net.bottoms.get(col) ?? false) || l.arrow);
      }
    }
  });
}

/**
 * Gives each net that moves sideways a track (1-based row in the channel) and returns the channel's height: a row
 * for the lines leaving the boxes above, one per track, and a row for the arrows.
 */
function assignTracks(nets: readonly Net[]): number {
  if (nets.length === 0) return 1;
  const moving = nets.filter((n) => n.tops.length > 1 || n.bottoms.size > 1 || !n.bottoms.has(n.tops[0]!.col));
  if (moving.length === 0) return 2;
  const spans = new Map<Net, [number, number]>();
  for (const n of moving) {
    const cols = [...n.tops.map((t) => t.col), ...n.bottoms.keys()];
    spans.set(n, [Math.min(...cols), Math.max(...cols)]);
  }
  // A net whose top column is another's bottom column must turn above it, a row apart (`+` over `+` would read as
  // one line): that other net waits for it.
  const bottomsAt = new Map<number, Net[]>();
  for (const n of moving) for (const c of n.bottoms.keys()) bottomsAt.set(c, [...(bottomsAt.get(c) ?? []), n]);
  const waitsFor = new Map<Net, Net[]>(moving.map((n) => [n, []]));
  for (const a of moving) {
    for (const t of a.tops) for (const b of bottomsAt.get(t.col) ?? []) if (b !== a && !waitsFor.get(b)!.includes(a)) waitsFor.get(b)!.push(a);
  }
  const verticals = new Set<number>();
  for (const n of nets) for (const c of [...n.tops.map((t) => t.col), ...n.bottoms.keys()]) verticals.add(c);
  const order = [...moving].sort((a, b) => spans.get(a)![0] - spans.get(b)![0] || spans.get(a)![1] - spans.get(b)![1] || (a.id < b.id ? -1 : 1));
  let placedCount = 0;
  let track = 0;
  while (placedCount < moving.length) {
    track++;
    const waiting = order.filter((n) => n.track === undefined);
    let ready = waiting.filter((n) => waitsFor.get(n)!.every((p) => p.track !== undefined && p.track < track - 1));
    // None ready: a row left empty between a net and one waiting for it, or else a cycle of constraints (two lines
    // swapping columns): then take the leftmost and accept the overlap.
    if (ready.length === 0 && !waiting.some((n) => waitsFor.get(n)!.every((p) => p.track !== undefined))) ready = [waiting[0]!];
    // Lines on one row are apart by a blank column: a column with a vertical line would join them (`-+|+-`).
    let end = -Infinity;
    for (const n of ready) {
      const [lo, hi] = spans.get(n)!;
      let blank = false;
      for (let c = end + 1; c < lo && !blank; c++) blank = !verticals.has(c);
      if (lo <= end + 1 || !blank) continue;
      n.track = track;
      placedCount++;
      end = hi;
    }
  }
  return track + 2;
}

// ---- drawing --------------------------------------------------------------------------------------------------

interface Drawing {
  lines: string[];
  width: number;
}

function rasterise(layout: Layout): Drawing {
  const { levels, levelH, channels } = layout;
  netColumns(layout);
  const heights = channels.map(assignTracks);
  const levelRow: number[] = [];
  let rows = 0;
  levelH.forEach((h, k) => {
    levelRow[k] = rows;
    rows += h + (k < levelH.length - 1 ? heights[k]! : 0);
  });
  let width = 0;
  for (const es of levels) for (const e of es) width = Math.max(width, e.right + 1);
  const grid = new Grid(rows, width);

  // Junctions: lines straight through the level.
  levels.forEach((es, k) => {
    for (const e of es) if (!e.box) grid.vertical(e.center, levelRow[k]! - 1, levelRow[k]! + levelH[k]!, e.id);
  });
  channels.forEach((nets, gap) => {
    const top = levelRow[gap]! + levelH[gap]!;
    const bottom = levelRow[gap + 1]! - 1;
    for (const net of nets) {
      const key = `${gap}:${net.id}`;
      if (net.track === undefined) {
        const t = net.tops[0]!;
        grid.vertical(t.col, top + t.from, bottom + 1, key);
      } else {
        const row = top + net.track;
        for (const t of net.tops) grid.vertical(t.col, top + t.from, row, key);
        const cols = [...net.tops.map((t) => t.col), ...net.bottoms.keys()];
        grid.horizontal(row, Math.min(...cols), Math.max(...cols), key);
        for (const b of net.bottoms.keys()) grid.vertical(b, row, bottom + 1, key);
      }
      for (const [b, arrow] of net.bottoms) if (arrow) grid.put(bottom, b, "v");
      for (const [c, r] of net.arrowsUp) grid.put(top + r, c, "^");
    }
  });
  // Boxes last: their borders hide the line ends that reach into them.
  levels.forEach((es, k) => {
    for (const e of es) {
      e.box?.forEach((text, i) => {
        for (let c = 0; c < text.length; c++) grid.put(levelRow[k]! + i, e.left + c, text[c]!);
      });
    }
  });
  const lines = grid.render();
  return { lines, width: Math.max(...lines.map((l) => l.length)) };
}

// ---- parts and packing ----------------------------------------------------------------------------------------

/** Label widths tried, widest first: first with every layer in one row, then with wide layers wrapped into rows. */
const WRAPS = [Infinity, 28, 20, 14, 10];
const ROW_WRAPS = [20, 14];
/** The narrowest rows tried. */
const MIN_CAP = 24;
/** How many layouts a part gets (dagre takes a while over a few hundred nodes), beyond this many nodes. */
const LARGE_PART = 150;
const LARGE_TRIES = 3;

function drawPart(nodes: readonly DagNode[], edges: readonly [string, string][], marked: boolean, width: number): Drawing {
  // A part whose stages all live in one stages file outside the root is captioned with it, and its boxes show names.
  const caption = commonFile(nodes);
  const d = drawBoxes(nodes, edges, marked, width, caption !== undefined);
  if (caption === undefined) return d;
  return { lines: [caption, ...d.lines], width: Math.max(d.width, caption.length) };
}

function drawBoxes(nodes: readonly DagNode[], edges: readonly [string, string][], marked: boolean, width: number, local: boolean): Drawing {
  const boxesAt = new Map<number, Map<string, string[]>>();
  const boxesFor = (wrap: number): Map<string, string[]> => {
    let b = boxesAt.get(wrap);
    if (!b) boxesAt.set(wrap, (b = new Map(nodes.map((n) => [n.id, boxLines(wrapLabel(labelOf(n, marked, local), wrap))]))));
    return b;
  };
  if (nodes.length === 1) {
    const lines = WRAPS.map((w) => boxesFor(w).get(nodes[0]!.id)!).find((b) => b[0]!.length <= width) ?? boxesFor(WRAPS[WRAPS.length - 1]!).get(nodes[0]!.id)!;
    return { lines, width: lines[0]!.length };
  }
  const layerEdges = acyclicEdges(nodes, edges);
  const draw = (wrap: number, layers: Layers): Drawing => {
    const layout = buildLayout(nodes, layerEdges, layers, boxesFor(wrap));
    place(layout, width);
    return rasterise(layout);
  };
  // The first attempt that fits wins. An attempt whose layers are wider than `width` (boxes and lines) is not laid
  // out; when none fits, the narrowest drawing is kept (a wide terminal or `less -S` shows it whole).
  let best: Drawing | undefined;
  let fallback: { wrap: number; layers: Layers } | undefined;
  let tries = nodes.length > LARGE_PART ? LARGE_TRIES : Infinity;
  const tried = new Set<string>();
  /** A drawing, or when it would be no use to lay the layers out (too wide, or as tried before), their estimate. */
  const attempt = (wrap: number, cap: number): { d?: Drawing; layers: Layers } => {
    const widths = new Map([...boxesFor(wrap)].map(([id, b]) => [id, b[0]!.length]));
    const layers = layersFor(nodes, layerEdges, widths, cap);
    if (!fallback || layers.estimate < fallback.layers.estimate) fallback = { wrap, layers };
    const key = `${wrap}:${JSON.stringify(layers.rows)}`;
    if (layers.estimate > width || tries <= 0 || tried.has(key)) return { layers };
    tried.add(key);
    tries--;
    const d = draw(wrap, layers);
    if (!best || d.width < best.width) best = d;
    return { d, layers };
  };
  for (const wrap of WRAPS) {
    const { d } = attempt(wrap, Infinity);
    if (d && d.width <= width) return d;
  }
  // Layers wrapped into rows, narrower each time by what the last drawing was too wide.
  for (const wrap of nodes.length > LARGE_PART ? ROW_WRAPS.slice(-1) : ROW_WRAPS) {
    for (let cap = width; cap >= MIN_CAP && tries > 0; ) {
      const { d, layers } = attempt(wrap, cap);
      if (d && d.width <= width) return d;
      // A large part gets few tries: it steps twice as far.
      cap -= Math.max(2, (d?.width ?? layers.estimate) - width) * (nodes.length > LARGE_PART ? 2 : 1);
    }
  }
  return best ?? draw(fallback!.wrap, fallback!.layers);
}

/** Weakly connected parts of the view, each in the view's node order; parts ordered by their first node. */
function parts(view: DagView): { nodes: DagNode[]; edges: [string, string][] }[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    for (let c = x; parent.get(c) !== r; ) {
      const n = parent.get(c)!;
      parent.set(c, r);
      c = n;
    }
    return r;
  };
  for (const n of view.nodes) parent.set(n.id, n.id);
  for (const [a, b] of view.edges) {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(rb, ra);
  }
  const byRoot = new Map<string, { nodes: DagNode[]; edges: [string, string][] }>();
  for (const n of view.nodes) {
    const r = find(n.id);
    let p = byRoot.get(r);
    if (!p) {
      p = { nodes: [], edges: [] };
      byRoot.set(r, p);
    }
    p.nodes.push(n);
  }
  for (const e of view.edges) byRoot.get(find(e[0]))!.edges.push(e);
  return [...byRoot.values()];
}

/** Packs drawings left to right on shelves no wider than `width`, two spaces apart, a blank line between shelves. */
function pack(drawings: readonly Drawing[], width: number): string[] {
  const out: string[] = [];
  let shelf: Drawing[] = [];
  let used = 0;
  const flush = (): void => {
    if (shelf.length === 0) return;
    if (out.length > 0) out.push("");
    const h = Math.max(...shelf.map((d) => d.lines.length));
    for (let r = 0; r < h; r++) out.push(shelf.map((d) => (d.lines[r] ?? "").padEnd(d.width + 2)).join("").trimEnd());
    shelf = [];
    used = 0;
  };
  for (const d of drawings) {
    if (shelf.length > 0 && used + 2 + d.width > width) flush();
    used = shelf.length === 0 ? d.width : used + 2 + d.width;
    shelf.push(d);
  }
  flush();
  return out;
}

export function renderText(view: DagView, opts: TextOptions = {}): string {
  if (view.nodes.length === 0) return "";
  const width = opts.width ?? 80;
  const drawings = parts(view).map((p) => drawPart(p.nodes, p.edges, view.marked, width));
  const lines = pack(drawings, width);
  if (view.marked && view.nodes.some((n) => n.stale)) lines.push("", "* stale");
  const widest = Math.max(...drawings.map((d) => d.width));
  if (widest > width) lines.push("", `(${widest} columns wide: no layout fits ${width}; nothing is left out)`);
  return lines.join("\n") + "\n";
}
