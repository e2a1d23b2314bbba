/**
 * The index of every declared output, keyed by path, that the graph is built from: a trie over path segments (so
 * "which outputs equal, contain or lie inside this path?" costs the depth of the path plus the size of the answer,
 * never a scan of all outputs), and an exact-match map for URL outputs.
 *
 * It also detects the conflicts between outputs as they are added (the same path twice, one output inside another),
 * and answers, for a dependency, which outputs it reads: the output with the same path, directory outputs it lies
 * inside (shortest first), and outputs inside it when it is a directory (in path order).
 *
 * URLs (`s3://...`, `https://...`) are matched only by exact equality: `pipe` neither lists nor hashes them, so a
 * prefix relation between two URLs says nothing reliable about what one stage reads of another's output.
 */
import type { DepEntry, OutEntry, Stage } from "../core/model.js";

/** One declared output and the stage declaring it. */
export interface OutRef {
  stage: Stage;
  out: OutEntry;
}

/** How a dependency path relates to an output path. */
export type PathRelation = "equal" | "inside" | "contains";

export interface Producer extends OutRef {
  /** `inside`: the dependency lies inside this (directory) output; `contains`: the dependency is a directory holding it. */
  relation: PathRelation;
}

/** A conflict found while adding an output. `existing` was added before `added`. */
export type OutConflict =
  | { kind: "duplicate"; added: OutRef; existing: OutRef }
  /** `added` lies inside the directory output `existing`. */
  | { kind: "inside"; added: OutRef; existing: OutRef }
  /** `added` is a directory holding the output `existing`. */
  | { kind: "contains"; added: OutRef; existing: OutRef };

interface Node {
  children?: Map<string, Node>;
  ref?: OutRef;
  /** Outputs in this subtree, this node included. */
  count: number;
  /** Memoised outputs strictly below this node, in path order; dropped when an output is added below. */
  below?: OutRef[];
}

/** Path segments of a root path: `` is the root itself, an absolute path keeps a leading empty segment. */
export function segments(rootPath: string): string[] {
  return rootPath === "" ? [] : rootPath.split("/");
}

function sortedChildren(n: Node): [string, Node][] {
  if (!n.children) return [];
  return [...n.children].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export class OutIndex {
  private readonly root: Node = { count: 0 };
  private readonly urls = new Map<string, OutRef>();

  /** Every output, in the order added. */
  readonly all: OutRef[] = [];

  /** Builds the index of every output of `stages`, in order, collecting the conflicts. */
  static of(stages: readonly Stage[]): { index: OutIndex; conflicts: OutConflict[] } {
    const index = new OutIndex();
    const conflicts: OutConflict[] = [];
    for (const stage of stages) {
      for (const out of stage.outs) {
        const c = index.add({ stage, out });
        if (c) conflicts.push(c);
      }
    }
    return { index, conflicts };
  }

  /**
   * Adds an output. A duplicate is not added (the first declaration stays the owner); an overlapping output is
   * added (its conflict is reported once, against the nearest enclosing output or the first output inside it).
   */
  add(ref: OutRef): OutConflict | undefined {
    this.all.push(ref);
    if (ref.out.external) {
      const existing = this.urls.get(ref.out.rootPath);
      if (existing) return { kind: "duplicate", added: ref, existing };
      this.urls.set(ref.out.rootPath, ref);
      return undefined;
    }
    const segs = segments(ref.out.rootPath);
    let node = this.root;
    let enclosing: OutRef | undefined = node.ref;
    for (const s of segs) {
      let next = node.children?.get(s);
      if (!next) {
        next = { count: 0 };
        (node.children ??= new Map()).set(s, next);
      }
      if (node.ref) enclosing = node.ref;
      node = next;
    }
    if (node.ref) return { kind: "duplicate", added: ref, existing: node.ref };
    const inside = node.count > 0 ? this.firstBelow(node) : undefined;
    node.ref = ref;
    let n = this.root;
    n.count++;
    n.below = undefined;
    for (const s of segs) {
      n = n.children!.get(s)!;
      n.count++;
      n.below = undefined;
    }
    if (enclosing) return { kind: "inside", added: ref, existing: enclosing };
    if (inside) return { kind: "contains", added: ref, existing: inside };
    return undefined;
  }

  /** The outputs a dependency reads, each once: equal or enclosing outputs (shortest first), then those inside it. */
  producersOf(dep: Pick<DepEntry, "rootPath" | "external">): Producer[] {
    const out: Producer[] = [];
    this.eachProducer(dep, (ref, relation) => void out.push({ ...ref, relation }));
    return out;
  }

  /** `producersOf` without the allocations, for the hot loop that builds the graph. */
  eachProducer(dep: Pick<DepEntry, "rootPath" | "external">, fn: (ref: OutRef, relation: PathRelation) => void): void {
    if (dep.external) {
      const r = this.urls.get(dep.rootPath);
      if (r) fn(r, "equal");
      return;
    }
    let node: Node | undefined = this.root;
    if (node.count === 0) return;
    const path = dep.rootPath;
    if (node.ref) fn(node.ref, path === "" ? "equal" : "inside");
    // Walk the segments without splitting the string.
    let start = 0;
    while (start < path.length) {
      let end = path.indexOf("/", start);
      if (end < 0) end = path.length;
      node = node.children?.get(path.slice(start, end));
      if (!node) return;
      if (node.ref) fn(node.ref, end === path.length ? "equal" : "inside");
      start = end + 1;
    }
    if (node.count > (node.ref ? 1 : 0)) for (const r of this.below(node)) fn(r, "contains");
  }

  /** The output at exactly `rootPath`, if any. */
  at(rootPath: string): OutRef | undefined {
    if (this.urls.has(rootPath)) return this.urls.get(rootPath);
    let node: Node | undefined = this.root;
    for (const s of segments(rootPath)) {
      node = node.children?.get(s);
      if (!node) return undefined;
    }
    return node.ref;
  }

  /** The outermost output that `rootPath` lies strictly inside, if any. */
  enclosing(rootPath: string): OutRef | undefined {
    let node: Node | undefined = this.root;
    const segs = segments(rootPath);
    if (node.ref && segs.length > 0) return node.ref;
    for (let i = 0; i < segs.length - 1; i++) {
      node = node.children?.get(segs[i]!);
      if (!node) return undefined;
      if (node.ref) return node.ref;
    }
    return undefined;
  }

  /** Outputs strictly below `node`, in path order (memoised until something is added below). */
  private below(node: Node): OutRef[] {
    if (node.below) return node.below;
    const acc: OutRef[] = [];
    const walk = (n: Node): void => {
      for (const [, c] of sortedChildren(n)) {
        if (c.count === 0) continue;
        if (c.ref) acc.push(c.ref);
        walk(c);
      }
    };
    if (node.count > (node.ref ? 1 : 0)) walk(node);
    node.below = acc;
    return acc;
  }

  private firstBelow(node: Node): OutRef | undefined {
    let n = node;
    for (;;) {
      const next = sortedChildren(n).find(([, c]) => c.count > 0)?.[1];
      if (!next) return undefined;
      if (next.ref) return next.ref;
      n = next;
    }
  }
}
