/**
 * Reproducing the pipeline of an experiment: `repro`'s engine on a project directory (the workspace, or a temporary
 * worktree of a queued experiment) whose cache and run-cache are another project's (`cacheRoot`). That is how queued
 * experiments share the project's cache: an output one of them computed is restored by the next (run-cache), and the
 * objects every experiment stores land where `exp apply` and `pipe checkout` find them.
 *
 * The caller brings the event sink (a reporter of `report/`) and the abort signal; nothing here prints or exits.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import type { EventSink } from "../exec/events.js";
import { buildGraph } from "../graph/graph.js";
import { loadPipelineCached } from "../project/load.js";
import { findProjectRoot } from "../project/root.js";
import type { StageGraph } from "../core/model.js";
import type { ExecutorName } from "../project/config.js";

export interface ReproduceInput {
  /** The directory to run in (a project root, or a directory inside one). */
  dir: string;
  /** Whose `.pipe/cache` and `.pipe/runs` to use (default: the project's own). */
  cacheRoot?: string;
  /** Stage addresses or group names (default: every stage). */
  targets?: readonly string[];
  force?: boolean;
  jobs?: string;
  /** What runs the stages (default: the config's `executor:`). */
  executor?: ExecutorName;
  emit: EventSink;
  signal?: AbortSignal;
  /** Told of diagnostics of loading and of the config (printed by the caller). */
  onDiagnostics?: (ds: readonly Diagnostic[], sources: ReadonlyMap<string, string>) => void;
}

export type ReproduceOutcome =
  | { kind: "done"; root: string; graph: StageGraph; failed: number; ran: number; restored: number; upToDate: number; interrupted: boolean }
  | { kind: "invalid"; errors: Diagnostic[]; sources: ReadonlyMap<string, string> }
  | { kind: "blocked"; errors: Diagnostic[]; sources: ReadonlyMap<string, string> };

/** Loads the project at `dir` and runs the selected stages; the write lock of that project is held meanwhile. */
export async function reproduce(input: ReproduceInput): Promise<ReproduceOutcome> {
  const found = await findProjectRoot(input.dir);
  const sources = new Map<string, string>();
  if (!found.ok) return { kind: "invalid", errors: found.errors, sources };
  const root = found.value.root;
  const loaded = await loadPipelineCached(root, sources);
  if (!loaded.result.ok) return { kind: "invalid", errors: [...loaded.result.errors, ...loaded.result.warnings], sources };
  const g = buildGraph(loaded.result.value);
  if (!g.ok) return { kind: "invalid", errors: [...g.errors, ...g.warnings], sources };
  loaded.remember();
  const graph = g.value;
  const warnings = [...loaded.result.warnings, ...g.warnings];

  const { prepareRepro, runRepro } = await import("../exec/run-repro.js");
  const p = await prepareRepro({ graph, sources, targets: input.targets ?? [], cwd: input.dir, select: { force: input.force === true }, jobs: input.jobs, dry: false, ...(input.executor ? { executor: input.executor } : {}) });
  if (!p.ok && p.config) return { kind: "invalid", errors: p.errors, sources };
  warnings.push(...p.warnings);
  if (warnings.length > 0) input.onDiagnostics?.(warnings, sources);
  if (!p.ok) return { kind: "invalid", errors: p.errors, sources };
  const r = await runRepro(p.value, {
    lockAs: "pipe exp run",
    onLocked: () => ({ emit: input.emit, ...(input.signal ? { signal: input.signal } : {}) }),
    cacheRoot: input.cacheRoot ?? root,
  });
  switch (r.kind) {
    case "locked-out":
    case "stopped":
      return { kind: "blocked", errors: r.kind === "locked-out" ? r.errors : [], sources };
    case "preflight":
      return r.invalid ? { kind: "invalid", errors: r.errors, sources } : { kind: "blocked", errors: r.errors, sources };
    case "done": {
      const c = r.counts;
      return { kind: "done", root, graph, failed: c.failed, ran: c.ran, restored: c.restored, upToDate: c.upToDate, interrupted: r.interrupted };
    }
  }
}
