/**
 * Reproducing the pipeline of an experiment: `repro`'s engine on a project directory (the workspace, or a temporary
 * worktree of a queued experiment) whose cache and run-cache are another project's (`cacheRoot`). That is how queued
 * experiments share the project's cache: an output one of them computed is restored by the next (run-cache), and the
 * objects every experiment stores land where `exp apply` and `pipe checkout` find them.
 *
 * The caller brings the event sink (a reporter of `report/`) and the abort signal; nothing here prints or exits.
 */
import { error, type Diagnostic } from "../core/diagnostic.js";
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

  const [{ readConfig }, { resolveTargets }, { planRepro }, session, { createExecutor }] = await Promise.all([
    import("../project/config.js"),
    import("../graph/select.js"),
    import("../exec/plan.js"),
    import("../exec/session.js"),
    import("../executors/index.js"),
  ]);
  const config = await readConfig(root, sources);
  if (!config.ok) return { kind: "invalid", errors: [...config.errors, ...config.warnings], sources };
  warnings.push(...config.warnings);
  if (warnings.length > 0) input.onDiagnostics?.(warnings, sources);
  // The executor's own default when neither -j nor the config says (SLURM: the cluster's scheduler is the limit).
  const executor = createExecutor(input.executor ?? config.value.executor, { root, record: true, slurm: config.value.slurm });
  const jobs = input.jobs === undefined && config.value.jobs === undefined && executor.defaultJobs !== undefined ? executor.defaultJobs : session.parseJobs(input.jobs, config.value.jobs);
  if (jobs === undefined) return { kind: "invalid", errors: [error("usage", `invalid value for -j/--jobs: '${input.jobs ?? ""}'`)], sources };
  let addresses: string[] | undefined;
  if (input.targets && input.targets.length > 0) {
    const r = resolveTargets(graph, [...input.targets], input.dir, root);
    if (!r.ok) return { kind: "invalid", errors: r.errors, sources };
    addresses = r.value;
  }
  const { selected, forced } = planRepro(graph, addresses, { force: input.force === true });
  const lock = await session.lockProject(root, "pipe exp run", { executor });
  if (!lock.ok) return { kind: "blocked", errors: lock.errors, sources };
  const [{ ReproEngine, summarise }, { openWorkspace }, { LockStore }, { LocalCache }, { RunCache }] = await Promise.all([
    import("../exec/repro.js"),
    import("../status/workspace.js"),
    import("../lock/read.js"),
    import("../storage/store.js"),
    import("../storage/runcache.js"),
  ]);
  const cacheRoot = input.cacheRoot ?? root;
  const ws = openWorkspace(root);
  try {
    const engine = new ReproEngine({
      graph,
      selected,
      forced,
      flags: { forceDownstream: false, keepGoing: false, dry: false, runCache: true, commit: true, jobs },
      ws,
      locks: new LockStore(root, sources),
      store: new LocalCache(cacheRoot, undefined, { recordVerified: true }),
      runs: new RunCache(cacheRoot),
      linkTypes: config.value.cache.links,
      gitignore: config.value.gitignore,
      executor,
      emit: input.emit,
      ...(input.signal ? { signal: input.signal } : {}),
    });
    const result = await engine.run();
    if (result.preflight.length > 0) {
      return result.preflightInvalid ? { kind: "invalid", errors: result.preflight, sources } : { kind: "blocked", errors: result.preflight, sources };
    }
    ws.hasher.save();
    const c = summarise(result.results);
    return { kind: "done", root, graph, failed: c.failed, ran: c.ran, restored: c.restored, upToDate: c.upToDate, interrupted: result.interrupted };
  } finally {
    await lock.value.release();
  }
}
