/**
 * `checkout`'s library: makes the cached outputs of the chosen stages what their lock entries say, as the repro
 * decision in its `checkout` mode says (`plan/decide.ts`: restore what the lock records, or nothing without an
 * entry), through the restore function `repro` uses (`restore.ts`), going on past an output that cannot be restored and naming it
 * (spec 5). What happened is told as events for the command to print; what failed comes back as diagnostics.
 */
import { lstat } from "node:fs/promises";
import { error, type Diagnostic } from "../core/diagnostic.js";
import type { LinkType } from "../storage/link.js";
import type { LocalCache } from "../storage/store.js";
import type { LockStore } from "../lock/read.js";
import type { StageGraph } from "../core/model.js";
import { absOf, type Workspace } from "../status/workspace.js";
import { cacheContextOf } from "./record.js";
import { lockedOutputs, restoreOutputs } from "./restore.js";
import { clearRunMarker } from "./run-marker.js";
import { decideWithoutRunning } from "../plan/decide.js";

export type CheckoutEvent =
  /** A stage named on the command line has no lock entry: nothing to restore. */
  | { type: "no-lock-entry"; stage: string }
  /** An output with `cache: false` is missing: it cannot be restored. */
  | { type: "uncached-missing"; stage: string; path: string }
  /** Workspace content not in the cache was saved there before being replaced. */
  | { type: "saved"; path: string; id: string }
  /** An output was changed to what the lock records (`existed`: it was there, different). */
  | { type: "restored"; stage: string; path: string; dir: boolean; existed: boolean };

export interface CheckoutInput {
  graph: StageGraph;
  chosen: readonly string[];
  /** Stages named on the command line. */
  named: ReadonlySet<string>;
  locks: LockStore;
  ws: Workspace;
  store: LocalCache;
  linkTypes: readonly LinkType[];
  on: (e: CheckoutEvent) => void;
  signal: AbortSignal;
}

export interface CheckoutSummary {
  problems: Diagnostic[];
  /** Outputs changed. */
  changed: number;
  /** Stages that have a lock entry. */
  recorded: number;
  /** Stages files with an output restored (their `.gitignore` is brought up to date). */
  files: Set<string>;
}

export async function checkoutStages(input: CheckoutInput): Promise<CheckoutSummary> {
  const { graph, ws } = input;
  const root = ws.root;
  const cc = cacheContextOf(ws, input.store, input.linkTypes);
  const problems: Diagnostic[] = [];
  let changed = 0;
  let recorded = 0;
  const files = new Set<string>();
  for (const a of input.chosen) {
    if (input.signal.aborted) break;
    const s = graph.stages.get(a)!;
    const lf = await input.locks.forStage(s);
    const d = decideWithoutRunning(s, lf.ok ? lf.value?.stages.get(s.name) : undefined, "checkout");
    if (d.kind === "no-record") {
      // Named on the command line: say why nothing happened to it.
      if (input.named.has(a)) input.on({ type: "no-lock-entry", stage: a });
      continue;
    }
    if (d.kind !== "restore" || d.from !== "cache") throw new Error(`checkout cannot apply '${d.kind}'`);
    const entry = d.entry;
    recorded++;
    // The outputs become the lock's: what a failed run left is gone, so a later edit is the user's (run-marker.ts).
    await clearRunMarker(root, a);
    // An output declared since the stage last ran has nothing recorded to restore: left as it is.
    const locked = new Map(lockedOutputs(s, entry).outs.map((lo) => [lo.out, lo]));
    for (const o of s.outs) {
      if (o.external) continue;
      if (!o.cache) {
        const gone = await lstat(absOf(root, o.rootPath)).then(
          () => false,
          () => true,
        );
        if (gone) input.on({ type: "uncached-missing", stage: a, path: o.rootPath });
        continue;
      }
      const lo = locked.get(o);
      if (!lo) continue;
      await restoreOutputs(cc, ws, [lo], (r) => {
        // A fresh clone or a pull that stopped half-way lacks objects a remote has: both ways back are named.
        const hint = { hint: `run 'pipe pull ${a}' if a remote has it, or 'pipe repro ${a}' to produce it again` };
        if (r.kind === "error") problems.push(...r.errors);
        else if (r.kind === "missing") problems.push(error("io", `cannot restore '${o.rootPath}' (stage '${a}'): not in the cache`, o.loc ?? s.loc, hint));
        else if (r.kind === "corrupt") {
          const src = r.ids[0]?.source;
          const what = src !== undefined ? `is corrupt in ${src} and was not used` : "was corrupt and has been removed";
          problems.push(error("io", `cannot restore '${o.rootPath}' (stage '${a}'): its cache object ${r.ids.map((x) => x.id).join(", ")} ${what}`, o.loc ?? s.loc, hint));
        } else {
          for (const sv of r.saved) input.on({ type: "saved", ...sv });
          if (r.changed) {
            changed++;
            files.add(s.file);
            input.on({ type: "restored", stage: a, path: o.rootPath, dir: lo.id.endsWith(".dir"), existed: r.existed });
          }
        }
        return true;
      });
    }
  }
  return { problems, changed, recorded, files };
}
