/**
 * Reads a text drawing of `pipe dag` back, as a person would: finds the boxes, and follows every line down from
 * each box (`|` down, `+` down or sideways, `-` and a crossing `|` sideways, never up) to the `v` arrow heads it
 * reaches. The tests compare what that reading finds with the graph that was drawn.
 */
import type { DagView } from "../../src/report/dag/view.js";

export interface TracedBox {
  /** The label, its lines joined (wrapping splits labels without dropping characters). */
  label: string;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export function boxesIn(text: string): TracedBox[] {
  const grid = text.split("\n").map((l) => [...l]);
  const at = (r: number, c: number): string => grid[r]?.[c] ?? " ";
  const boxes: TracedBox[] = [];
  const inside = new Set<string>();
  for (let r = 0; r < grid.length; r++) {
    for (let c = 0; c < grid[r]!.length; c++) {
      if (at(r, c) !== "+" || at(r, c + 1) !== "-" || at(r + 1, c) !== "|" || inside.has(`${r},${c}`)) continue;
      let right = c + 1;
      while (at(r, right) === "-") right++;
      if (at(r, right) !== "+" || at(r + 1, right) !== "|" || at(r + 1, c + 1) !== " ") continue;
      let bottom = r + 1;
      while (at(bottom, c) === "|" && at(bottom, right) === "|") bottom++;
      if (at(bottom, c) !== "+" || at(bottom, right) !== "+") continue;
      const text: string[] = [];
      for (let rr = r + 1; rr < bottom; rr++) text.push(grid[rr]!.slice(c + 2, right - 1).join(""));
      boxes.push({ label: text.join("").replace(/\s/g, ""), top: r, bottom, left: c, right });
      for (let rr = r; rr <= bottom; rr++) for (let cc = c; cc <= right; cc++) inside.add(`${rr},${cc}`);
    }
  }
  return boxes;
}

/** The drawn edges, as [from, to] indexes into `boxes`. */
export function traceEdges(text: string): { boxes: TracedBox[]; edges: [number, number][] } {
  const grid = text.split("\n").map((l) => [...l]);
  const boxes = boxesIn(text);
  const owner = new Map<string, number>();
  boxes.forEach((b, i) => {
    for (let r = b.top; r <= b.bottom; r++) for (let c = b.left; c <= b.right; c++) owner.set(`${r},${c}`, i);
  });
  const at = (r: number, c: number): string => (owner.has(`${r},${c}`) ? "#" : (grid[r]?.[c] ?? " "));
  const edges: [number, number][] = [];
  boxes.forEach((b, i) => {
    const found = new Set<number>();
    const seen = new Set<string>();
    const stack: [number, number, "d" | "l" | "r"][] = [];
    for (let c = b.left; c <= b.right; c++) if ("|+".includes(at(b.bottom + 1, c))) stack.push([b.bottom + 1, c, "d"]);
    while (stack.length > 0) {
      const [r, c, d] = stack.pop()!;
      if (seen.has(`${r},${c},${d}`)) continue;
      seen.add(`${r},${c},${d}`);
      const ch = at(r, c);
      if (ch === "v") {
        const o = owner.get(`${r + 1},${c}`);
        if (o !== undefined) found.add(o);
      } else if (d === "d") {
        if (ch === "|") stack.push([r + 1, c, "d"]);
        else if (ch === "+") {
          stack.push([r + 1, c, "d"]);
          if ("-+|".includes(at(r, c - 1))) stack.push([r, c - 1, "l"]);
          if ("-+|".includes(at(r, c + 1))) stack.push([r, c + 1, "r"]);
        }
      } else {
        const dc = d === "l" ? -1 : 1;
        if (ch === "-" || ch === "|") stack.push([r, c + dc, d]);
        else if (ch === "+") {
          stack.push([r, c + dc, d]);
          if ("|+v".includes(at(r + 1, c))) stack.push([r + 1, c, "d"]);
        }
      }
    }
    for (const t of [...found].sort((x, y) => x - y)) edges.push([i, t]);
  });
  return { boxes, edges };
}

/**
 * What differs between a drawing and the view it draws: nodes without a box, edges not drawn, and drawn edges the
 * view does not have. Nodes whose label two boxes share are left out of the edge comparison.
 */
export function drawingProblems(text: string, view: DagView): string[] {
  const { boxes, edges } = traceEdges(text);
  const problems: string[] = [];
  if (boxes.length !== view.nodes.length) problems.push(`${boxes.length} boxes for ${view.nodes.length} nodes`);
  const byLabel = new Map<string, number[]>();
  boxes.forEach((b, i) => byLabel.set(b.label, [...(byLabel.get(b.label) ?? []), i]));
  const mark = (s: string): string => (s + (view.marked ? " *" : "")).replace(/\s/g, "");
  const boxOf = new Map<string, number>();
  for (const n of view.nodes) {
    const labels = new Set([n.label, ...(n.local !== undefined ? [n.local] : [])].flatMap((l) => [l.replace(/\s/g, ""), mark(l)]));
    const found = [...new Set([...labels].flatMap((l) => byLabel.get(l) ?? []))];
    if (found.length === 0) problems.push(`no box for ${n.id}`);
    else if (found.length === 1 && byLabel.get(boxes[found[0]!]!.label)!.length === 1) boxOf.set(n.id, found[0]!);
  }
  const idOf = new Map([...boxOf].map(([id, i]) => [i, id]));
  const drawn = new Set(edges.filter(([a, b]) => idOf.has(a) && idOf.has(b)).map(([a, b]) => `${idOf.get(a)!} -> ${idOf.get(b)!}`));
  const wanted = new Set(view.edges.filter(([a, b]) => boxOf.has(a) && boxOf.has(b)).map(([a, b]) => `${a} -> ${b}`));
  for (const e of wanted) if (!drawn.has(e)) problems.push(`not drawn: ${e}`);
  for (const e of drawn) if (!wanted.has(e)) problems.push(`drawn but not in the graph: ${e}`);
  return problems;
}

/**
 * How the grid mapping can go wrong: two boxes of a row closer than two blank columns, or a line beside a box
 * without a blank column between them.
 */
export function gridProblems(text: string): string[] {
  const lines = text.split("\n");
  const boxes = boxesIn(text);
  const problems: string[] = [];
  for (let r = 0; r < lines.length; r++) {
    const row = boxes.filter((b) => b.top <= r && r <= b.bottom).sort((a, b) => a.left - b.left);
    for (let i = 1; i < row.length; i++) {
      if (row[i]!.left - row[i - 1]!.right - 1 < 2) problems.push(`row ${r}: boxes ${row[i - 1]!.label} and ${row[i]!.label} touch`);
    }
    [...(lines[r] ?? "")].forEach((ch, c) => {
      if (ch === " " || row.some((b) => b.left <= c && c <= b.right)) return;
      if (row.some((b) => c === b.left - 1 || c === b.right + 1)) problems.push(`row ${r}: '${ch}' at column ${c} touches a box`);
    });
  }
  return problems;
}
