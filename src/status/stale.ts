/**
 * The set of stale stages, for callers that need the verdict but not the reasons (`pipe dag --status` colouring the
 * graph). The verdict is exactly `pipelineStatus`'s `stale` flag, but a stage whose (unfrozen) upstream is already
 * stale is stale whatever its own files say, so its deps and outs are never hashed: after an edit to the first input
 * of a long chain only the first stage reads anything.
 *
 * Stages are checked concurrently, each as soon as its upstream verdicts are known.
 */
import type { Result } from "../core/diagnostic.js";
import { ok } from "../core/diagnostic.js";
import { LockStore } from "../lock/read.js";
import type { StageGraph } from "../core/model.js";
import { lockEntriesFor, withUpstream } from "./pipeline.js";
import { checkStage, openWorkspace, type Workspace } from "./workspace.js";

/**
 * Addresses among `addresses` (default: every stage) that `pipe status` would report as stale, checked through `ws`
 * and `locks`. A malformed lock fails the call with located diagnostics, as for `pipelineStatus`.
 */
export async function staleAddressesIn(graph: StageGraph, ws: Workspace, locks: LockStore, addresses?: readonly string[]): Promise<Result<Set<string>>> {
  const order = withUpstream(graph, addresses ?? graph.order);
  const entries = await lockEntriesFor(
    order.map((a) => graph.stages.get(a)!),
    locks,
  );
  if (!entries.ok) return entries;
  const verdicts = new Map<string, Promise<boolean>>();
  // `order` is topological, so every upstream's promise exists before its dependents ask for it.
  for (const a of order) {
    const stage = graph.stages.get(a)!;
    verdicts.set(
      a,
      (async (): Promise<boolean> => {
        if (stage.frozen) return false; // never stale, and stops the propagation
        const ups = await Promise.all((graph.upstream.get(a) ?? []).map((u) => verdicts.get(u) ?? Promise.resolve(false)));
        if (ups.some((s) => s)) return true;
        return (await checkStage(ws, stage, entries.value.get(a))).stale;
      })(),
    );
  }
  const wanted = new Set(addresses ?? graph.order);
  const stale = new Set<string>();
  for (const a of order) if (wanted.has(a) && (await verdicts.get(a)!)) stale.add(a);
  return ok(stale);
}

/**
 * `staleAddressesIn` with the workspace and locks of `graph`'s project: opens the stat cache, checks, and saves what
 * the stat cache learnt. `sources` receives the text of the lock files read (to render their diagnostics).
 */
export async function staleAddresses(graph: StageGraph, sources?: Map<string, string>, addresses?: readonly string[]): Promise<Result<Set<string>>> {
  const root = graph.pipeline.root;
  const ws = openWorkspace(root);
  const r = await staleAddressesIn(graph, ws, new LockStore(root, sources), addresses);
  if (r.ok) ws.hasher.save();
  return r;
}
