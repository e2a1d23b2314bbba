/**
 * The text drawing of `pipe dag`: boxes joined by edges, layered top to bottom, producers above consumers.
 *
 * Layout is not ours: `@dagrejs/dagre` ranks the nodes, orders each rank (crossing reduction) and assigns x
 * positions, including the bend points of long edges. This module fits that layout to a terminal and rasterises it:
 *
 * 1. Each weakly connected part of the graph is laid out on its own; parts are then packed side by side on shelves
 *    no wider than `width` (a part wider than that gets a shelf of its own), so many small pieces stay compact.
 * 2. Fitting: a part is laid out with whole labels first; while it is wider than `width`, long labels are wrapped
 *    onto several lines (after `:`, `/`, `@`, `_`, `-`), and ranks are capped in width (the ranks are then given
 *    to dagre, which still orders and places the nodes). The narrowest result wins.
 * 3. Rows: every rank is a row of boxes; between two ranks lies a channel whose height is computed here. Columns:
 *    dagre's x coordinates (in characters), rounded.
 * 4. Routing, per channel: an edge enters the channel at the bottom centre of its producer (every edge leaving a
 *    box leaves from one column, so a fan-out reads as a tree) or at the column of its bend point, and leaves it at
 *    a port on the top side of its consumer (one port per incoming line, spread over the box, straight where
 *    possible) or at its next bend point. Producers whose lines all end at the same consumers share one line (a
 *    bus: every top of it reaches every bottom, so merging says nothing false). Lines that move sideways get a
 *    horizontal track; tracks are packed left-edge first, and a line whose top column is another line's bottom
 *    column turns above it, so two lines never run on top of each other.
 * 5. Characters: `|` and `-` for lines, `+` where a line turns or branches, `v` where it enters a box. Where two
 *    lines cross, the vertical one is drawn (`--|--`), so a `+` always means a real junction.
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
  const text = local ? n.local! : n.short;
  return marked && n.stale ? `${text} *` : text;
}

/** The stages file every node of a part (of two or more) comes from, when that is one file below the root. */
function commonFile(nodes: readonly DagNode[]): string | undefined {
  const f = nodes[0]?.file;
  if (nodes.length < 2 || f === undefined || !f.includes("/")) return undefined;
  return nodes.every((n) => n.file === f && n.local !== undefined) ? f : undefined;
}

/**
 * Breaks a long label into lines of about `max` characters, after `:`, `/`, `@`, `_`, `-`, `.` or a space (so
 * `sub:train@lr-0.1` becomes `sub:` / `train@lr-0.1`); a word is cut only when it is half as long again as `max`.
 */
export function wrapLabel(label: string, max: number): string[] {
  if (label.length <= max) return [label];
  const chunks = label.match(/[^:/@_\-. ]*[:/@_\-. ]|[^:/@_\-. ]+$/g) ?? [label];
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

// ---- layout ---------------------------------------------------------------------------------------------------

interface Placed {
  id: string;
  /** The box, line by line. */
  box: string[];
  level: number;
  left: number;
  right: number;
  center: number;
}

interface EdgeRoute {
  index: number;
  /** Upper and lower end in the drawing: producer and consumer, unless dagre reversed the edge. */
  upper: Placed;
  lower: Placed;
  /** dagre reversed it to break a cycle (only possible between collapsed groups): the arrow points up. */
  reversed: boolean;
  /** Column at each level strictly between the ends. */
  pass: Map<number, number>;
}

interface Layout {
  placed: Map<string, Placed>;
  routes: EdgeRoute[];
  levelH: number[];
}

/** Drawing order constraints: ranks for dagre's `ranker: "none"`, each rank at most `maxWidth` columns of boxes. */
function cappedRanks(
  nodes: readonly DagNode[],
  edges: readonly [string, string][],
  widths: ReadonlyMap<string, number>,
  maxWidth: number,
): Map<string, number> | undefined {
  // Layers are filled from the bottom (each node as low as its consumers allow), so sources sit just above what
  // reads them; Kahn's algorithm on the reversed graph, ties in view order.
  const pos = new Map(nodes.map((n, i) => [n.id, i]));
  const succ = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  const outDeg = new Map<string, number>(nodes.map((n) => [n.id, 0]));
  for (const [a, b] of edges) {
    succ.get(b)!.push(a);
    outDeg.set(a, outDeg.get(a)! + 1);
  }
  const ready = nodes.filter((n) => outDeg.get(n.id) === 0).map((n) => n.id);
  const layer = new Map<string, number>();
  const used: number[] = [];
  const consumers = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const [a, b] of edges) consumers.get(a)!.push(b);
  while (ready.length > 0) {
    ready.sort((x, y) => pos.get(y)! - pos.get(x)!);
    const v = ready.pop()!;
    let l = 0;
    for (const c of consumers.get(v)!) l = Math.max(l, layer.get(c)! + 1);
    const w = widths.get(v)! + 2;
    while ((used[l] ?? 0) > 0 && (used[l] ?? 0) + w > maxWidth) l++;
    used[l] = (used[l] ?? 0) + w;
    layer.set(v, l);
    for (const p of succ.get(v)!) {
      const d = outDeg.get(p)! - 1;
      outDeg.set(p, d);
      if (d === 0) ready.push(p);
    }
  }
  if (layer.size < nodes.length) return undefined; // a cycle between collapsed groups: leave ranking to dagre
  const top = Math.max(...layer.values());
  return new Map([...layer].map(([id, l]) => [id, 2 * (top - l)]));
}

function layoutPart(nodes: readonly DagNode[], edges: readonly [string, string][], boxes: ReadonlyMap<string, string[]>, maxRank?: number): Layout | undefined {
  const g = new dagre.graphlib.Graph();
  const widths = new Map([...boxes].map(([id, b]) => [id, b[0]!.length]));
  const ranks = maxRank === undefined ? undefined : cappedRanks(nodes, edges, widths, maxRank);
  if (maxRank !== undefined && !ranks) return undefined;
  g.setGraph({ rankdir: "TB", nodesep: 2, edgesep: 2, ranksep: 2, marginx: 0, marginy: 0, ...(ranks ? { ranker: "none" } : {}) });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) {
    const box = boxes.get(n.id)!;
    g.setNode(n.id, { width: box[0]!.length, height: box.length, ...(ranks ? { rank: ranks.get(n.id)! } : {}) });
  }
  // dagre's initial ordering walks edges last-inserted first: inserting them in reverse keeps siblings in definition
  // order, left to right.
  for (let i = edges.length - 1; i >= 0; i--) g.setEdge(edges[i]![0], edges[i]![1]);
  dagre.layout(g);

  // Levels: the distinct ranks of real nodes, top to bottom; a level is as tall as its tallest box.
  const rankList = [...new Set(nodes.map((n) => g.node(n.id).rank!))].sort((a, b) => a - b);
  const levelOfRank = new Map(rankList.map((r, i) => [r, i]));
  const levelY: number[] = [];
  const levelH: number[] = rankList.map(() => 0);
  const placed = new Map<string, Placed>();
  let minCol = Infinity;
  for (const n of nodes) {
    const nl = g.node(n.id);
    const box = boxes.get(n.id)!;
    const w = box[0]!.length;
    // Column c is the interval [c, c+1): a box centred at x has its centre in column floor(x), like a bend point
    // dagre lines up with it.
    const center = Math.floor(nl.x!);
    const left = center - Math.floor(w / 2);
    const level = levelOfRank.get(nl.rank!)!;
    levelY[level] = nl.y!;
    levelH[level] = Math.max(levelH[level]!, box.length);
    placed.set(n.id, { id: n.id, box, level, left, right: left + w - 1, center });
    minCol = Math.min(minCol, left);
  }
  const routes: EdgeRoute[] = [];
  edges.forEach(([a, b], index) => {
    const pa = placed.get(a)!;
    const pb = placed.get(b)!;
    const reversed = pa.level > pb.level;
    const upper = reversed ? pb : pa;
    const lower = reversed ? pa : pb;
    const points = g.edge(a, b)?.points ?? [];
    const pass = new Map<number, number>();
    for (let k = upper.level + 1; k < lower.level; k++) {
      let best = points[0];
      for (const p of points) if (best === undefined || Math.abs(p.y - levelY[k]!) < Math.abs(best.y - levelY[k]!)) best = p;
      const x = Math.floor(best?.x ?? (upper.center + lower.center) / 2);
      pass.set(k, x);
      minCol = Math.min(minCol, x);
    }
    routes.push({ index, upper, lower, reversed, pass });
  });
  for (const p of placed.values()) {
    p.left -= minCol;
    p.right -= minCol;
    p.center -= minCol;
  }
  for (const r of routes) for (const [k, x] of r.pass) r.pass.set(k, x - minCol);
  return { placed, routes, levelH };
}

// ---- routing --------------------------------------------------------------------------------------------------

interface Top {
  col: number;
  /** Row (relative to the channel's first row) where the line starts: -1, or above it under a box shorter than its level. */
  from: number;
}

interface Net {
  id: string;
  tops: Top[];
  /** Bottom column -> whether an arrow ends there. */
  bottoms: Map<number, boolean>;
  /** Columns where an arrow points up into the box above (reversed edges). */
  arrowsUp: number[];
  track?: number;
}

/** One edge's piece in one channel. */
interface Seg {
  r: EdgeRoute;
  /** The line it starts on: the producer's fan-out (`node:id`), a reversed edge's own (`rev:i`) or a bend (`edge:i`). */
  key: string;
  top: Top;
  /** The channel (the level above it). */
  gap: number;
  /** Ends at the box below (else continues through the next level at its bend column). */
  last: boolean;
}

/** Spreads `desired` columns over [lo, hi], in order, two apart where there is room (one otherwise). */
function spread(desired: readonly number[], lo: number, hi: number): number[] {
  const k = desired.length;
  if (k === 0) return [];
  const step = (k - 1) * 2 < hi - lo + 1 ? 2 : 1;
  const cols = desired.map((d) => Math.min(hi, Math.max(lo, d)));
  for (let i = 1; i < k; i++) cols[i] = Math.max(cols[i]!, cols[i - 1]! + step);
  cols[k - 1] = Math.min(cols[k - 1]!, hi);
  for (let i = k - 2; i >= 0; i--) cols[i] = Math.min(cols[i]!, cols[i + 1]! - step);
  return cols.map((c) => Math.max(lo, c));
}

function channelNets(layout: Layout): Net[][] {
  const { placed, routes, levelH } = layout;
  const levels = levelH.length;
  // Reversed edges arrive at the bottom of the box above at their own columns, right of its centre.
  const revCol = new Map<number, number>();
  const seen = new Map<string, number>();
  for (const r of routes) {
    if (!r.reversed) continue;
    const n = (seen.get(r.upper.id) ?? 0) + 1;
    seen.set(r.upper.id, n);
    revCol.set(r.index, Math.min(r.upper.right - 1, r.upper.center + 2 * n));
  }
  const segs: Seg[][] = Array.from({ length: Math.max(0, levels - 1) }, () => []);
  for (const r of routes) {
    for (let gap = r.upper.level; gap < r.lower.level; gap++) {
      const first = gap === r.upper.level;
      const key = first ? (r.reversed ? `rev:${r.index}` : `node:${r.upper.id}`) : `edge:${r.index}`;
      const col = first ? (r.reversed ? revCol.get(r.index)! : r.upper.center) : r.pass.get(gap)!;
      const from = first ? r.upper.box.length - 1 - levelH[gap]! : -1;
      segs[gap]!.push({ r, key, top: { col, from }, gap, last: gap + 1 === r.lower.level });
    }
  }

  return segs.map((list) => {
    // Lines by key. Then every producer whose lines in this channel all end at boxes below gets one net for all of
    // them, and producers ending at the same set of boxes share it (a bus).
    const byKey = new Map<string, Seg[]>();
    for (const s of list) byKey.set(s.key, [...(byKey.get(s.key) ?? []), s]);
    const byProducer = new Map<string, Seg[]>();
    for (const s of list) if (!s.r.reversed) byProducer.set(s.r.upper.id, [...(byProducer.get(s.r.upper.id) ?? []), s]);
    const busOf = new Map<string, string>();
    for (const ss of byProducer.values()) {
      if (!ss.every((s) => s.last)) continue;
      const targets = [...new Set(ss.map((s) => s.r.lower.id))].sort().join("\u0000");
      for (const s of ss) busOf.set(s.key, `bus:${targets}`);
    }
    const nets = new Map<string, { net: Net; segs: Seg[] }>();
    for (const [key, ss] of byKey) {
      const id = busOf.get(key) ?? key;
      let n = nets.get(id);
      if (!n) {
        n = { net: { id, tops: [], bottoms: new Map(), arrowsUp: [] }, segs: [] };
        nets.set(id, n);
      }
      n.net.tops.push(ss[0]!.top);
      n.segs.push(...ss);
    }
    // Ports on the top side of each box below, in the order the lines come from.
    const incoming = new Map<string, { id: string; at: number }[]>();
    for (const { net, segs: ss } of nets.values()) {
      const at = net.tops.reduce((a, t) => a + t.col, 0) / net.tops.length;
      for (const target of new Set(ss.filter((s) => s.last).map((s) => s.r.lower.id))) {
        incoming.set(target, [...(incoming.get(target) ?? []), { id: net.id, at }]);
      }
    }
    const port = new Map<string, number>();
    for (const [target, list] of incoming) {
      const p = placed.get(target)!;
      list.sort((x, y) => x.at - y.at || (x.id < y.id ? -1 : 1));
      const cols = spread(
        list.map((x) => Math.round(x.at)),
        p.left + 1,
        p.right - 1,
      );
      list.forEach((x, i) => port.set(`${target}\u0000${x.id}`, cols[i]!));
    }
    for (const { net, segs: ss } of nets.values()) {
      for (const s of ss) {
        const col = s.last ? port.get(`${s.r.lower.id}\u0000${net.id}`)! : s.r.pass.get(s.gap + 1)!;
        net.bottoms.set(col, (net.bottoms.get(col) ?? false) || (s.last && !s.r.reversed));
        if (s.key.startsWith("rev:")) net.arrowsUp.push(s.top.col);
      }
    }
    return [...nets.values()].map((n) => n.net);
  });
}

/**
 * Gives each net that moves sideways a track (1-based row in the channel) and returns the channel's height: a row
 * for the lines leaving the boxes above, one per track, and a row for the arrows.
 */
function assignTracks(nets: readonly Net[]): number {
  const moving = nets.filter((n) => n.tops.length > 1 || n.bottoms.size > 1 || !n.bottoms.has(n.tops[0]!.col));
  if (moving.length === 0) return 2;
  const spans = new Map<Net, [number, number]>();
  for (const n of moving) {
    const cols = [...n.tops.map((t) => t.col), ...n.bottoms.keys()];
    spans.set(n, [Math.min(...cols), Math.max(...cols)]);
  }
  // A net whose top column is another's bottom column must turn above it.
  const before = new Map<Net, Net[]>();
  for (const b of moving) before.set(b, moving.filter((a) => a !== b && a.tops.some((t) => b.bottoms.has(t.col))));
  const order = [...moving].sort((a, b) => spans.get(a)![0] - spans.get(b)![0] || spans.get(a)![1] - spans.get(b)![1] || (a.id < b.id ? -1 : 1));
  let placedCount = 0;
  let track = 0;
  while (placedCount < moving.length) {
    track++;
    let ready = order.filter((n) => n.track === undefined && before.get(n)!.every((p) => p.track !== undefined && p.track < track));
    // A cycle of constraints (two lines swapping columns): take the leftmost and accept the overlap.
    if (ready.length === 0) ready = [order.find((n) => n.track === undefined)!];
    let end = -Infinity;
    for (const n of ready) {
      const [lo, hi] = spans.get(n)!;
      if (lo <= end + 1) continue;
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
  const { placed, routes, levelH } = layout;
  const channels = channelNets(layout);
  const heights = channels.map(assignTracks);
  const levelRow: number[] = [];
  let rows = 0;
  levelH.forEach((h, k) => {
    levelRow[k] = rows;
    rows += h + (k < levelH.length - 1 ? heights[k]! : 0);
  });
  let width = 0;
  for (const p of placed.values()) width = Math.max(width, p.right + 1);
  for (const r of routes) for (const x of r.pass.values()) width = Math.max(width, x + 1);
  const grid = new Grid(rows, width);

  // Bends of long edges run straight through the levels they cross.
  for (const r of routes) for (const [k, x] of r.pass) grid.vertical(x, levelRow[k]! - 1, levelRow[k]! + levelH[k]!, `edge:${r.index}`);
  channels.forEach((nets, gap) => {
    const top = levelRow[gap]! + levelH[gap]!;
    const bottom = levelRow[gap + 1]! - 1;
    for (const net of nets) {
      const key = net.id.startsWith("edge:") ? net.id : `${gap}:${net.id}`;
      const bottoms = [...net.bottoms.keys()];
      if (net.track === undefined) {
        const t = net.tops[0]!;
        grid.vertical(t.col, top + t.from, bottom + 1, key);
      } else {
        const row = top + net.track;
        for (const t of net.tops) grid.vertical(t.col, top + t.from, row, key);
        const cols = [...net.tops.map((t) => t.col), ...bottoms];
        grid.horizontal(row, Math.min(...cols), Math.max(...cols), key);
        for (const b of bottoms) grid.vertical(b, row, bottom + 1, key);
      }
      for (const [b, arrow] of net.bottoms) if (arrow) grid.put(bottom, b, "v");
      for (const c of net.arrowsUp) grid.put(top, c, "^");
    }
  });
  // Boxes last: their borders hide the line ends that reach into them.
  for (const p of placed.values()) {
    p.box.forEach((text, i) => {
      for (let c = 0; c < text.length; c++) grid.put(levelRow[p.level]! + i, p.left + c, text[c]!);
    });
  }
  const lines = grid.render();
  return { lines, width: Math.max(...lines.map((l) => l.length)) };
}

// ---- parts and packing ----------------------------------------------------------------------------------------

/** Label widths tried, widest first. */
const WRAPS = [Infinity, 28, 20, 14];
/** Beyond these sizes a part gets fewer attempts: a layout of a few hundred nodes takes dagre a good part of a second. */
const SMALL_PART = 24;
const LARGE_PART = 60;

/** (label width, rank width cap) pairs to try for a part of `n` nodes, in order of preference. */
function attemptsFor(n: number, width: number): [number, number | undefined][] {
  if (n > LARGE_PART) return [[16, undefined]];
  if (n > SMALL_PART) return [
    [Infinity, undefined],
    [16, undefined],
  ];
  return [
    ...WRAPS.map((w): [number, undefined] => [w, undefined]),
    [20, width],
    [14, width],
    [14, Math.floor((width * 2) / 3)],
  ];
}

function drawPart(nodes: readonly DagNode[], edges: readonly [string, string][], marked: boolean, width: number): Drawing {
  // A part whose stages all live in one stages file outside the root is captioned with it, and its boxes show names.
  const caption = commonFile(nodes);
  const d = drawBoxes(nodes, edges, marked, width, caption !== undefined);
  if (caption === undefined) return d;
  return { lines: [caption, ...d.lines], width: Math.max(d.width, caption.length) };
}

function drawBoxes(nodes: readonly DagNode[], edges: readonly [string, string][], marked: boolean, width: number, local: boolean): Drawing {
  const boxesAt = (wrap: number): Map<string, string[]> => new Map(nodes.map((n) => [n.id, boxLines(wrapLabel(labelOf(n, marked, local), wrap))]));
  if (nodes.length === 1) {
    const lines = boxesAt(Infinity).get(nodes[0]!.id)!;
    return { lines, width: lines[0]!.length };
  }
  const attempts = attemptsFor(nodes.length, width);
  // The first attempt that fits wins; when none fits, the narrowest drawing with dagre's own ranking (capped ranks
  // only help when they make the part fit: otherwise they just add long edges).
  let best: Drawing | undefined;
  for (const [wrap, cap] of attempts) {
    const layout = layoutPart(nodes, edges, boxesAt(wrap), cap);
    if (!layout) continue;
    const d = rasterise(layout);
    if (d.width <= width) return d;
    if (cap === undefined && (!best || d.width < best.width)) best = d;
  }
  if (!best || best.width > width) return drawList(nodes, edges, marked, width, local);
  return best;
}

/**
 * The fallback for a part no layout fits into `width` (a stage fanning out to dozens of others, a few hundred
 * stages): one line per node in execution order, each followed by the nodes it depends on. A box drawing several
 * screens wide cannot be read in a terminal; this can, and it still says every edge.
 */
function drawList(nodes: readonly DagNode[], edges: readonly [string, string][], marked: boolean, width: number, local: boolean): Drawing {
  const label = new Map(nodes.map((n) => [n.id, labelOf(n, marked, local)]));
  const upstream = new Map<string, string[]>();
  for (const [from, to] of edges) {
    let u = upstream.get(to);
    if (!u) upstream.set(to, (u = []));
    u.push(label.get(from)!);
  }
  const lines = [`(${nodes.length} nodes, too wide for ${width} columns: each listed with what it depends on)`];
  // The arrows line up in one column, unless a name is too long for that: then its list starts on the next line.
  const column = Math.min(Math.max(...nodes.map((n) => label.get(n.id)!.length)), Math.floor(width / 2)) + 2;
  for (const n of nodes) {
    const name = label.get(n.id)!;
    const ups = upstream.get(n.id);
    if (!ups) {
      lines.push(name);
      continue;
    }
    // Long dependency names would overflow the column: then the list goes under the name, indented 4.
    const longest = Math.max(...ups.map((u) => u.length)) + 1;
    const at = column + 3 + longest <= width ? column : 4;
    let line: string;
    if (name.length + 2 <= at) line = `${name.padEnd(at)}<- `;
    else {
      lines.push(name);
      line = `${"".padEnd(at)}<- `;
    }
    const indent = at + 3;
    let fresh = true;
    ups.forEach((u, i) => {
      const item = i < ups.length - 1 ? `${u},` : u;
      if (!fresh && line.length + 1 + item.length > width) {
        lines.push(line);
        line = " ".repeat(indent) + item;
      } else line += (fresh ? "" : " ") + item;
      fresh = false;
    });
    lines.push(line);
  }
  return { lines, width: Math.max(...lines.map((l) => l.length)) };
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
  return lines.join("\n") + "\n";
}
