/**
 * Shared start of every command that needs the project: find the root, load and expand the stages files (through the
 * load cache, `project/load-cache.ts`), build the checked graph. Diagnostics (errors and warnings) are printed here,
 * once, to stderr; on failure the caller gets the exit code to return (2: invalid project).
 */
import { renderDiagnostics, warning, type Diagnostic } from "../core/diagnostic.js";
import type { StageGraph } from "../core/model.js";
import { buildGraph } from "../graph/graph.js";
import type { DiscoveryObserver } from "../project/discover.js";
import { loadPipelineCached } from "../project/load.js";
import { findProjectRoot, type ProjectRoot } from "../project/root.js";
import { whereForPipeline, type Where } from "../project/where.js";
import { EXIT_USAGE, type CommandContext } from "./context.js";

export interface LoadedProject {
  project: ProjectRoot;
  graph: StageGraph;
  sources: Map<string, string>;
  /** What the pipeline is a function of (see `CachedLoad.key`), when known; undefined when warnings were printed. */
  key?: { discovered: string; inputs: [string, string][] };
}

export function printDiagnostics(ctx: CommandContext, ds: readonly Diagnostic[], sources?: ReadonlyMap<string, string>): void {
  if (ds.length === 0) return;
  ctx.io.err(renderDiagnostics(ds, sources) + "\n");
}

/** Finds the project root from the command's cwd; prints the diagnostic and returns an exit code on failure. */
export async function findRootForCommand(ctx: CommandContext): Promise<ProjectRoot | number> {
  const r = await findProjectRoot(ctx.global.cwd);
  if (!r.ok) {
    printDiagnostics(ctx, r.errors);
    return EXIT_USAGE;
  }
  return r.value;
}

/**
 * For the writing commands, which create `.pipe/` when it is missing: the one-line note saying so, the first time
 * (it decides where the project root is from then on). Silent with `-q`.
 */
export function noteInitialised(ctx: CommandContext): (root: string) => void {
  return (root) => {
    if (!ctx.global.quiet) ctx.io.err(`note: initialised .pipe/ in ${root}\n`);
  };
}

/**
 * What a writing command says while taking the project write lock: the note above, and a warning for each stage a
 * dead `pipe` left running (stopped, or waited for with `wait`), which is said even with `-q`: processes are killed.
 */
export function lockNotes(ctx: CommandContext, wait = false): import("../exec/session.js").LockProjectOptions {
  return {
    onInitialised: noteInitialised(ctx),
    waitForOrphans: wait,
    onOrphan: (o, waiting) =>
      printDiagnostics(ctx, [
        warning(
          "project",
          `stage '${o.stage}' is still running (process group ${o.run.pgid}), left by pipe ${o.pipePid} which is gone; ${waiting ? "waiting for it to end" : "stopping it"}`,
        ),
      ]),
  };
}

export interface LoadForCommandOptions {
  /** Store a fresh load in the load cache (default true); false for commands that promise to write nothing. */
  writeLoadCache?: boolean;
  /** Told of what discovery reads (see `DiscoveryObserver`). */
  observeDiscovery?: DiscoveryObserver;
}

export async function loadForCommand(ctx: CommandContext, opts: LoadForCommandOptions = {}): Promise<LoadedProject | number> {
  const project = await findRootForCommand(ctx);
  if (typeof project === "number") return project;
  const sources = new Map<string, string>();
  const loaded = await loadPipelineCached(project.root, sources, opts.observeDiscovery ? { observeDiscovery: opts.observeDiscovery } : {});
  const p = loaded.result;
  if (!p.ok) {
    printDiagnostics(ctx, [...p.errors, ...p.warnings], sources);
    return EXIT_USAGE;
  }
  const g = buildGraph(p.value);
  // Warnings of loading and of the graph are printed together, before anything else the command prints.
  const warnings = [...p.warnings, ...g.warnings];
  if (!g.ok) {
    printDiagnostics(ctx, [...g.errors, ...warnings], sources);
    return EXIT_USAGE;
  }
  // Only now is the project known to be valid as a whole, so only now may the load be cached.
  if (opts.writeLoadCache !== false) loaded.remember();
  if (!ctx.global.quiet) printDiagnostics(ctx, warnings, sources);
  // A load that warned is not one a memo may answer for: replaying the result would drop the warnings.
  return { project, graph: g.value, sources, ...(loaded.key && warnings.length === 0 ? { key: loaded.key } : {}) };
}

/**
 * What a `gc` scope keeps (`storage/gc-refs.ts`), for `gc` of the cache and of a remote alike: the named hashes, or
 * EXIT_USAGE after saying why nothing may be removed (a file in scope that cannot be read leaves what it names
 * unknown). Warnings are printed unless quiet.
 */
export async function referencesForGc(
  ctx: CommandContext,
  root: string,
  scope: import("../storage/gc-refs.js").GcScope,
): Promise<import("../storage/gc-refs.js").References | number> {
  const { collectReferences } = await import("../storage/gc-refs.js");
  const sources = new Map<string, string>();
  const named = await collectReferences(root, scope, sources);
  if (!named.ok) {
    printDiagnostics(ctx, [...named.errors, ...named.warnings], sources);
    ctx.io.err("gc: nothing was removed (what a file in scope names is unknown, so nothing may go)\n");
    return EXIT_USAGE;
  }
  if (!ctx.global.quiet) printDiagnostics(ctx, named.warnings, sources);
  return named.value;
}

/** `loadForCommand`, with the project root and the paths as the user's directory names them (`where`). */
export async function loadWithWhere(ctx: CommandContext): Promise<(LoadedProject & { root: string; where: Where }) | number> {
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  return { ...loaded, root: loaded.graph.pipeline.root, where: whereForPipeline(loaded.graph.pipeline, ctx.global.cwd) };
}
