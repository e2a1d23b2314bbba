/**
 * The checked stage graph (spec 2.4 and 4): edges by path, the load-time graph errors, and the execution order.
 *
 * Edges: stage A -> stage B (producer -> consumer) when a dependency of B equals an output of A, lies inside a
 * directory output of A, or is a directory holding an output of A. Outputs are indexed in a path trie
 * (`trie.ts`), so building the graph is linear in the number of paths plus the number of edges. URL dependencies and
 * outputs only connect by exact equality.
 *
 * Errors, all collected (never only the first), each at the offending YAML node with notes pointing at the others:
 * two stages declaring the same output, overlapping outputs, a stage reading its own output (or a path inside or
 * around it), a stages file inside an output directory (running that stage would delete it), and cycles, each
 * printed whole as `a -> b -> c -> a` with the dependency that makes every edge.
 *
 * Order: DVC's plan (a depth-first post-order): stages are taken in definition order and, before each, its upstream
 * stages in the order its dependencies are declared. The walk is iterative, so a chain of 100,000 stages is fine.
 */
import { error, fail, ok, type Diagnostic, type RelatedInfo, type Result } from "../core/diagnostic.js";
import { compareDiagnostics } from "../formats/yaml.js";
import type { DepEntry, Pipeline, Stage, StageGraph } from "../core/model.js";
import { unreachable } from "../core/unreachable.js";
import { OutIndex, type OutConflict, type OutRef, type PathRelation } from "./trie.js";

/** Why an edge exists: the first dependency of the consumer that reads an output of the producer. */
export interface EdgeReason {
  dep: DepEntry;
  out: OutRef["out"];
  relation: PathRelation;
}

function q(s: string): string {
  return `'${s}'`;
}

/** A root-relative path quoted for a message; the root itself (an out of `.`) is shown as `.`, not as `''`. */
function qp(p: string): string {
  return q(p === "" ? "." : p);
}

/** `'b' depends on 'x', an output of 'a'` and its variants, for notes and messages. */
export function describeEdge(producer: string, consumer: string, why: EdgeReason): string {
  const d = qp(why.dep.rootPath);
  const o = qp(why.out.rootPath);
  switch (why.relation) {
    case "equal":
      return `${q(consumer)} depends on ${d}, an output of ${q(producer)}`;
    case "inside":
      return `${q(consumer)} depends on ${d}, inside output ${o} of ${q(producer)}`;
    case "contains":
      return `${q(consumer)} depends on ${d}, which holds output ${o} of ${q(producer)}`;
    default:
      return unreachable(why.relation);
  }
}

function conflictDiagnostic(c: OutConflict): Diagnostic {
  const a = c.added;
  const e = c.existing;
  const same = a.stage === e.stage;
  const owner = same ? "the same stage" : q(e.stage.address);
  const at = (ref: OutRef, message: string): RelatedInfo => (ref.out.loc ? { message, location: ref.out.loc } : { message });
  switch (c.kind) {
    case "duplicate":
      if (same) {
        return error("duplicate-out", `output ${qp(a.out.rootPath)} is declared twice in stage ${q(a.stage.address)}`, a.out.loc ?? a.stage.loc, {
          related: [at(e, "first declared here")],
          hint: "declare each output once (outs, metrics and plots share one namespace)",
        });
      }
      return error(
        "duplicate-out",
        `output ${qp(a.out.rootPath)} is declared by two stages: ${q(e.stage.address)} and ${q(a.stage.address)}`,
        a.out.loc ?? a.stage.loc,
        {
          related: [at(e, `declared by ${q(e.stage.address)} here`)],
          hint: "an output has exactly one producer: remove it from one of the stages, or give one of them another path",
        },
      );
    case "inside":
      return error(
        "overlapping-outs",
        `output ${qp(a.out.rootPath)} of ${q(a.stage.address)} lies inside output ${qp(e.out.rootPath)} of ${owner}`,
        a.out.loc ?? a.stage.loc,
        {
          related: [at(e, `${qp(e.out.rootPath)} is declared by ${q(e.stage.address)} here`)],
          hint: "outputs must not overlap: track the directory or the files inside it, not both",
        },
      );
    case "contains":
      return error(
        "overlapping-outs",
        `output ${qp(a.out.rootPath)} of ${q(a.stage.address)} holds output ${qp(e.out.rootPath)} of ${owner}`,
        a.out.loc ?? a.stage.loc,
        {
          related: [at(e, `${qp(e.out.rootPath)} is declared by ${q(e.stage.address)} here`)],
          hint: "outputs must not overlap: track the directory or the files inside it, not both",
        },
      );
    default:
      return unreachable(c);
  }
}

function ownOutDiagnostic(stage: Stage, why: EdgeReason): Diagnostic {
  const d = qp(why.dep.rootPath);
  const o = qp(why.out.rootPath);
  const message =
    why.relation === "equal"
      ? `stage ${q(stage.address)} depends on its own output ${o}`
      : why.relation === "inside"
        ? `stage ${q(stage.address)} depends on ${d}, inside its own output ${o}`
        : `stage ${q(stage.address)} depends on ${d}, which holds its own output ${o}`;
  return error("dep-is-own-out", message, why.dep.loc ?? stage.loc, {
    related: why.out.loc ? [{ message: `${o} is declared as an output here`, location: why.out.loc }] : [],
    hint: "a stage cannot read what it writes; to update a file in place, declare it only as an output with `persist: true`",
  });
}

interface Built {
  upstream: Map<string, string[]>;
  errors: Diagnostic[];
}

/**
 * Edges by path, in the order each consumer declares its dependencies; reports stages reading their own outputs.
 * This is the hot loop of loading a large pipeline, so it allocates little: why an edge exists is worked out again
 * only for the edges an error has to explain.
 */
function connect(stages: readonly Stage[], index: OutIndex): Built {
  const upstream = new Map<string, string[]>();
  const errors: Diagnostic[] = [];
  for (const stage of stages) {
    const ups: string[] = [];
    let seen: Set<string> | undefined;
    for (const dep of stage.deps) {
      let ownReported = false;
      index.eachProducer(dep, (ref, relation) => {
        if (ref.stage === stage) {
          if (!ownReported) errors.push(ownOutDiagnostic(stage, { dep, out: ref.out, relation }));
          ownReported = true;
          return;
        }
        const from = ref.stage.address;
        // Most stages have a handful of producers: a linear scan beats a set until there are many.
        if (seen) {
          if (seen.has(from)) return;
          seen.add(from);
        } else if (ups.includes(from)) return;
        else if (ups.length >= 16) seen = new Set(ups).add(from);
        ups.push(from);
      });
    }
    upstream.set(stage.address, ups);
  }
  return { upstream, errors };
}

/**
 * DVC's plan order, and every cycle met on the way (one per back edge, as a list of addresses in producer ->
 * consumer order, starting at the earliest-defined stage of the cycle, without repeating it at the end).
 */
function postOrder(stages: readonly Stage[], upstream: ReadonlyMap<string, readonly string[]>): { order: string[]; cycles: string[][] } {
  const position = new Map<string, number>();
  stages.forEach((s, i) => position.set(s.address, i));
  const state = new Map<string, 1 | 2>();
  const onStack = new Map<string, number>();
  const order: string[] = [];
  const cycles: string[][] = [];
  const seenCycles = new Set<string>();
  const frames: { a: string; i: number }[] = [];
  for (const s of stages) {
    if (state.has(s.address)) continue;
    frames.push({ a: s.address, i: 0 });
    state.set(s.address, 1);
    onStack.set(s.address, 0);
    while (frames.length > 0) {
      const top = frames[frames.length - 1]!;
      const ups = upstream.get(top.a) ?? [];
      if (top.i < ups.length) {
        const u = ups[top.i++]!;
        const st = state.get(u);
        if (st === undefined) {
          state.set(u, 1);
          onStack.set(u, frames.length);
          frames.push({ a: u, i: 0 });
        } else if (st === 1) {
          // frames[k..] runs consumer -> producer; the cycle in producer -> consumer order is its reverse.
          const k = onStack.get(u)!;
          const cyc = frames.slice(k).map((f) => f.a).reverse();
          let start = 0;
          for (let j = 1; j < cyc.length; j++) if (position.get(cyc[j]!)! < position.get(cyc[start]!)!) start = j;
          const rotated = [...cyc.slice(start), ...cyc.slice(0, start)];
          const key = rotated.join("\u0000");
          if (!seenCycles.has(key)) {
            seenCycles.add(key);
            cycles.push(rotated);
          }
        }
      } else {
        frames.pop();
        state.set(top.a, 2);
        onStack.delete(top.a);
        order.push(top.a);
      }
    }
  }
  return { order, cycles };
}

/** Why `producer -> consumer` is an edge: the first dependency of the consumer reading an output of the producer. */
function reasonOf(index: OutIndex, producer: Stage, consumer: Stage): EdgeReason | undefined {
  for (const dep of consumer.deps) {
    for (const p of index.producersOf(dep)) if (p.stage === producer) return { dep, out: p.out, relation: p.relation };
  }
  return undefined;
}

function cycleDiagnostic(cycle: readonly string[], index: OutIndex, stages: ReadonlyMap<string, Stage>): Diagnostic {
  // Located at the first stage of the cycle (the earliest defined); each edge's dependency is a note.
  const related: RelatedInfo[] = [];
  for (let i = 0; i < cycle.length; i++) {
    const from = cycle[i]!;
    const to = cycle[(i + 1) % cycle.length]!;
    const why = reasonOf(index, stages.get(from)!, stages.get(to)!)!;
    const message = `${from} -> ${to}: ${describeEdge(from, to, why)}`;
    related.push(why.dep.loc ? { message, location: why.dep.loc } : { message });
  }
  return error("cycle", `cycle in the stage graph: ${[...cycle, cycle[0]!].join(" -> ")}`, stages.get(cycle[0]!)!.loc, {
    related,
    hint: "a stage cannot depend, even through other stages, on its own outputs",
  });
}

/** Builds and checks the stage graph of a pipeline. Errors (exit 2) are every graph error found, sorted by location. */
export function buildGraph(pipeline: Pipeline): Result<StageGraph> {
  const stages = pipeline.stages;
  const byAddress = new Map<string, Stage>();
  for (const s of stages) byAddress.set(s.address, s);

  const { index, conflicts } = OutIndex.of(stages);
  const errors: Diagnostic[] = conflicts.map(conflictDiagnostic);

  for (const f of pipeline.files) {
    const around = index.enclosing(f.file);
    if (around) {
      errors.push(
        error(
          "overlapping-outs",
          `stages file ${q(f.file)} lies inside output ${qp(around.out.rootPath)} of ${q(around.stage.address)}`,
          around.out.loc ?? around.stage.loc,
          { hint: `running ${q(around.stage.address)} would delete the stages file; move the output or the stages file` },
        ),
      );
    }
  }

  const { upstream, errors: edgeErrors } = connect(stages, index);
  errors.push(...edgeErrors);

  const { order, cycles } = postOrder(stages, upstream);
  for (const c of cycles) errors.push(cycleDiagnostic(c, index, byAddress));

  if (errors.length > 0) return fail(errors.sort(compareDiagnostics));

  const downstream = new Map<string, string[]>();
  for (const a of order) downstream.set(a, []);
  for (const a of order) for (const u of upstream.get(a)!) downstream.get(u)!.push(a);
  // Consumers were pushed in execution order already (the outer loop runs in it); nothing to sort.

  const graph: StageGraph = { pipeline, stages: byAddress, upstream, downstream, order };
  indexes.set(graph, index);
  return ok(graph);
}

/** Why `producer -> consumer` is an edge (the first dependency of the consumer reading an output of the producer). */
export function edgeReason(graph: StageGraph, producer: string, consumer: string): EdgeReason | undefined {
  const p = graph.stages.get(producer);
  const c = graph.stages.get(consumer);
  return p && c ? reasonOf(indexOf(graph), p, c) : undefined;
}

const indexes = new WeakMap<StageGraph, OutIndex>();

/** The output index of a built graph (memoised per graph), for path questions: who produces this path? */
export function indexOf(graph: StageGraph): OutIndex {
  let i = indexes.get(graph);
  if (!i) {
    i = OutIndex.of(graph.pipeline.stages).index;
    indexes.set(graph, i);
  }
  return i;
}
