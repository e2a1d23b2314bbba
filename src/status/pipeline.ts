/**
 * Staleness of a set of stages in execution order, with the `upstream stale` cause chains DVC does not give (DVC
 * judges each stage alone, so a stage whose upstream is stale looks clean there).
 *
 * The stages asked for are checked together with everything upstream of them (their causes), each exactly once; a
 * stage whose direct upstream is stale gets one `upstream stale` reason per stale upstream, carrying the chain from
 * the stage that is stale for its own reasons down to that upstream (`prepare -> featurize`). A stage that has never
 * run shows only `no lock entry`. Frozen stages are never stale, so they stop the propagation.
 */
import type { Diagnostic, Result } from "../core/diagnostic.js";
import { fail, ok } from "../core/diagnostic.js";
import type { LockEntry } from "../lock/types.js";
import type { LockStore } from "../lock/read.js";
import type { Stage, StageGraph } from "../core/model.js";
import type { FactsOptions } from "./stage.js";
import type { StageStatus } from "./types.js";
import { checkStage, type Workspace } from "./workspace.js";

/** Every address upstream of `addresses` (and themselves), in the graph's execution order. */
export function withUpstream(graph: StageGraph, addresses: readonly string[]): string[] {
  const want = new Set<string>();
  const stack = [...addresses];
  while (stack.length > 0) {
    const a = stack.pop()!;
    if (want.has(a)) continue;
    want.add(a);
    for (const u of graph.upstream.get(a) ?? []) stack.push(u);
  }
  return graph.order.filter((a) => want.has(a));
}

/** Reads the lock entries of `stages` (one lock per stages-file directory); malformed locks are diagnostics. */
export async function lockEntriesFor(stages: readonly Stage[], locks: LockStore): Promise<Result<Map<string, LockEntry | undefined>>> {
  const out = new Map<string, LockEntry | undefined>();
  const errors: Diagnostic[] = [];
  const failedDirs = new Set<string>();
  for (const s of stages) {
    const r = await locks.forStage(s);
    if (!r.ok) {
      if (!failedDirs.has(s.dir)) errors.push(...r.errors);
      failedDirs.add(s.dir);
      continue;
    }
    out.set(s.address, r.value?.stages.get(s.name));
  }
  return errors.length > 0 ? fail(errors) : ok(out);
}

export interface PipelineStatus {
  /** The stages asked for, in execution order. */
  stages: StageStatus[];
}

/** Adds `upstream stale` reasons to `statuses` (keyed by address, complete for `order`). */
export function addUpstreamReasons(graph: StageGraph, order: readonly string[], statuses: Map<string, StageStatus>): void {
  const chainOf = new Map<string, string[]>();
  for (const a of order) {
    const st = statuses.get(a);
    if (!st) continue;
    const own = st.stale;
    if (st.frozen) continue;
    const upstreamChains: string[][] = [];
    for (const u of graph.upstream.get(a) ?? []) {
      const us = statuses.get(u);
      if (!us?.stale) continue;
      upstreamChains.push([...(chainOf.get(u) ?? []), u]);
    }
    if (upstreamChains.length === 0) continue;
    // The chain this stage hands down: through its first stale upstream, unless it is stale on its own.
    if (!own) chainOf.set(a, upstreamChains[0]!);
    st.stale = true;
    if (st.reasons.some((r) => r.kind === "no-lock-entry")) continue;
    for (const chain of upstreamChains) st.reasons.push({ kind: "upstream-stale", chain });
  }
}

/**
 * Status of `addresses` (default: every stage), in execution order. Lock files are read through `locks`; a malformed
 * one fails the whole call with its diagnostics.
 */
export async function pipelineStatus(graph: StageGraph, ws: Workspace, locks: LockStore, addresses?: readonly string[], opts: FactsOptions = {}): Promise<Result<PipelineStatus>> {
  const asked = addresses ?? graph.order;
  const order = withUpstream(graph, asked);
  const stages = order.map((a) => graph.stages.get(a)!);
  const entries = await lockEntriesFor(stages, locks);
  if (!entries.ok) return entries;
  const statuses = new Map<string, StageStatus>();
  // Stages are independent until upstream reasons are added: check them concurrently (hashing overlaps I/O).
  await Promise.all(
    stages.map(async (s) => {
      statuses.set(s.address, await checkStage(ws, s, entries.value.get(s.address), opts));
    }),
  );
  addUpstreamReasons(graph, order, statuses);
  const askedSet = new Set(asked);
  return ok({ stages: order.filter((a) => askedSet.has(a)).map((a) => statuses.get(a)!) });
}
