/**
 * Setting `repro`'s engine up on a loaded project and running it: the configuration, the executor (the configured one
 * or a flag's), the job count, the stages selected and forced, the project write lock, then the workspace, lock
 * store, cache and run-cache the engine works with, and the counts it ends with. `pipe repro` and `pipe exp run`
 * (`experiments/reproduce.ts`) both start the engine here, so the two cannot set it up differently.
 *
 * It is two steps so a caller can stop between them: `prepareRepro` decides what would run and changes nothing;
 * `runRepro` takes the lock (not under `--dry`) and runs. Nothing here prints or exits: the caller brings the event
 * sink and the interrupt signal once the lock is held (`onLocked`), and may do work of its own under the lock before
 * the engine starts (`beforeEngine`: `repro --pull`).
 */
import { error, type Diagnostic } from "../core/diagnostic.js";
import type { StageGraph } from "../core/model.js";
import { createExecutor } from "../executors/index.js";
import type { Executor } from "../executors/executor.js";
import { resolveTargets } from "../graph/select.js";
import { LockStore } from "../lock/read.js";
import { readConfig, type ExecutorName, type PipeConfig } from "../project/config.js";
import { projectCache } from "../storage/project-cache.js";
import { RunCache } from "../storage/runcache.js";
import { LocalCache } from "../storage/store.js";
import { openWorkspace } from "../status/workspace.js";
import type { EventSink } from "./events.js";
import { planRepro, type SelectFlags } from "./plan.js";
import { ReproEngine, summarise } from "./repro.js";
import { lockProject, parseJobs, type LockProjectOptions } from "./session.js";

export interface ReproRequest {
  graph: StageGraph;
  sources: Map<string, string>;
  /** Targets as given (resolved from `cwd`); empty: every stage. */
  targets: readonly string[];
  cwd: string;
  select: SelectFlags;
  /** `-j` as given. */
  jobs: string | undefined;
  /** `--executor`, overriding the configured one. */
  executor?: ExecutorName;
  dry: boolean;
  /** `--tty`: a pseudo-terminal for the stage (one stage at a time). */
  tty?: boolean;
  /** Standard output is a terminal. Off one (a CI log), `--tty` has no terminal to pass on: stages run as without it. */
  terminal?: boolean;
}

export interface PreparedRepro {
  request: ReproRequest;
  root: string;
  config: PipeConfig;
  executor: Executor;
  jobs: number;
  selected: string[];
  forced: Set<string>;
}

/**
 * What would run, nothing changed yet. `config`: the configuration could not be read (its warnings are among the
 * errors); otherwise `warnings` are the configuration's, to show before the errors.
 */
export type Prepared =
  | { ok: true; value: PreparedRepro; warnings: Diagnostic[] }
  | { ok: false; errors: Diagnostic[]; warnings: Diagnostic[]; config: boolean };

export async function prepareRepro(request: ReproRequest): Promise<Prepared> {
  const { graph, sources } = request;
  const root = graph.pipeline.root;
  const config = await readConfig(root, sources);
  if (!config.ok) return { ok: false, errors: [...config.errors, ...config.warnings], warnings: [], config: true };
  const warnings = config.warnings;
  const bad = (errors: Diagnostic[]): Prepared => ({ ok: false, errors, warnings, config: false });
  // --dry runs nothing, so its executor records nothing.
  const tty = request.tty === true && request.terminal === true;
  const executor = createExecutor(request.executor ?? config.value.executor, { root, record: !request.dry, slurm: config.value.slurm, tty });
  const jobs =
    request.jobs === undefined && config.value.jobs === undefined && executor.defaultJobs !== undefined ? executor.defaultJobs : parseJobs(request.jobs, config.value.jobs);
  if (jobs === undefined) return bad([error("usage", `invalid value for -j/--jobs: '${request.jobs ?? ""}' (expected a positive integer or 'auto')`)]);
  let addresses: string[] | undefined;
  if (request.targets.length > 0) {
    const r = resolveTargets(graph, request.targets, request.cwd, root);
    if (!r.ok) return bad(r.errors);
    addresses = r.value;
  }
  const { selected, forced } = planRepro(graph, addresses, request.select);
  if (request.tty === true && jobs > 1) return bad([error("usage", "--tty gives one stage at a time the terminal: use it with -j 1")]);
  return { ok: true, value: { request, root, config: config.value, executor, jobs, selected, forced }, warnings };
}

export interface RunHooks {
  /** Who holds the write lock (`pipe repro`), and what it is told while taking it. */
  lockAs: string;
  lock?: LockProjectOptions;
  /** The lock is held (or not needed, under `--dry`): where events go, and the signal that interrupts the run. */
  onLocked: (executor: Executor) => { emit: EventSink; signal?: AbortSignal; dispose?: () => void };
  /** Under the lock, before the engine; false stops there (the caller has said why). */
  beforeEngine?: (selected: readonly string[], locks: LockStore, signal: AbortSignal | undefined) => Promise<boolean>;
  /** Whose cache and run-cache (default: the project's own, with DVC's cache as a read-only source). */
  cacheRoot?: string;
  forceDownstream?: boolean;
  keepGoing?: boolean;
  /** false with `--no-run-cache`. */
  runCache?: boolean;
  /** false with `--no-commit`. */
  commit?: boolean;
}

export type ReproRun =
  /** Another writer holds the project. */
  | { kind: "locked-out"; errors: Diagnostic[] }
  /** `beforeEngine` stopped it. */
  | { kind: "stopped" }
  /** Found before anything ran; `invalid`: a damaged lock file (the project is invalid) rather than a failure. */
  | { kind: "preflight"; errors: Diagnostic[]; invalid: boolean }
  | { kind: "done"; counts: ReturnType<typeof summarise>; interrupted: boolean };

export async function runRepro(p: PreparedRepro, hooks: RunHooks): Promise<ReproRun> {
  const { root, request, executor } = p;
  const { dry, graph, sources } = request;
  let release: (() => Promise<void>) | undefined;
  if (!dry) {
    const l = await lockProject(root, hooks.lockAs, { ...hooks.lock, executor });
    if (!l.ok) return { kind: "locked-out", errors: l.errors };
    release = () => l.value.release();
  }
  const { emit, signal, dispose } = hooks.onLocked(executor);
  const ws = openWorkspace(root);
  try {
    if (hooks.beforeEngine && !dry && !(await hooks.beforeEngine(p.selected, new LockStore(root, sources), signal))) return { kind: "stopped" };
    const cacheRoot = hooks.cacheRoot;
    const engine = new ReproEngine({
      graph,
      selected: p.selected,
      forced: p.forced,
      flags: {
        forceDownstream: hooks.forceDownstream === true,
        keepGoing: hooks.keepGoing === true,
        dry,
        runCache: hooks.runCache !== false,
        commit: hooks.commit !== false,
        jobs: p.jobs,
      },
      ws,
      locks: new LockStore(root, sources, { writeCache: !dry }),
      // --dry changes nothing in the cache: not the record of verified objects, not a corrupt object (reported instead).
      store:
        cacheRoot === undefined ? projectCache(root, dry ? { readOnly: true } : { recordVerified: true }) : new LocalCache(cacheRoot, undefined, { recordVerified: true }),
      runs: new RunCache(cacheRoot ?? root),
      linkTypes: p.config.cache.links,
      gitignore: p.config.gitignore,
      executor,
      emit,
      ...(signal ? { signal } : {}),
    });
    const result = await engine.run();
    if (result.preflight.length > 0) return { kind: "preflight", errors: result.preflight, invalid: result.preflightInvalid };
    if (!dry) ws.hasher.save();
    return { kind: "done", counts: summarise(result.results), interrupted: result.interrupted };
  } finally {
    dispose?.();
    await release?.();
  }
}
