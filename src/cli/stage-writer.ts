/**
 * The preamble shared by the commands that change stage state without running commands (`checkout`, `commit`): the
 * project config, the targets resolved to stages in execution order, every lock file those stages need parsed up
 * front (so a malformed lock is exit 2 before anything changes), then the project write lock and interrupt handling
 * for the body, both released however the body ends.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import type { Pipeline } from "../core/model.js";
import type { PipeConfig } from "../project/config.js";
import type { LockStore } from "../lock/read.js";
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, type CommandContext } from "./context.js";
import { lockNotes, printDiagnostics, type LoadedProject } from "./load.js";

export interface StageWriter {
  config: PipeConfig;
  /** The selected stages, in execution order. */
  chosen: string[];
  /** Stages named by the targets (empty when no target was given). */
  named: ReadonlySet<string>;
  locks: LockStore;
}

/** Resolves and checks everything, or prints why not and returns the exit code. */
export async function openStageWriter(ctx: CommandContext, loaded: LoadedProject, targets: readonly string[]): Promise<StageWriter | number> {
  const { graph, sources } = loaded;
  const root = graph.pipeline.root;
  const [{ readConfig }, select, { LockStore }] = await Promise.all([
    import("../project/config.js"),
    import("../graph/select.js"),
    import("../lock/read.js"),
  ]);
  const config = await readConfig(root, sources);
  if (!config.ok) {
    printDiagnostics(ctx, [...config.errors, ...config.warnings], sources);
    return EXIT_USAGE;
  }
  const sel = targets.length === 0 ? { ok: true as const, value: [...graph.order] } : select.resolveTargets(graph, [...targets], ctx.global.cwd, root);
  if (!sel.ok) {
    printDiagnostics(ctx, sel.errors, sources);
    return EXIT_USAGE;
  }
  const locks = new LockStore(root, sources);
  const chosen = select.executionOrder(graph, sel.value);
  for (const a of chosen) {
    const r = await locks.forStage(graph.stages.get(a)!);
    if (!r.ok) {
      printDiagnostics(ctx, r.errors, sources);
      return EXIT_USAGE;
    }
  }
  return { config: config.value, chosen, named: new Set(targets.length === 0 ? [] : sel.value), locks };
}

/**
 * Runs `body` holding the project write lock (`command` names the holder for a second writer's message), with
 * Ctrl-C turned into an aborted signal the body checks between stages.
 */
export async function withWriteLock(ctx: CommandContext, root: string, command: string, body: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const session = await import("../exec/session.js");
  const lock = await session.lockProject(root, command, lockNotes(ctx));
  if (!lock.ok) {
    printDiagnostics(ctx, lock.errors);
    return EXIT_FAILED;
  }
  // A second signal exits at once (nothing of these commands runs in a child process).
  const interrupts = session.handleInterrupts({ onSecond: () => process.exit(EXIT_INTERRUPTED) });
  try {
    return await body(interrupts.signal);
  } finally {
    interrupts.dispose();
    await lock.value.release();
  }
}

/**
 * Brings the `.gitignore` beside each of `files` (stages files, root-relative) up to date with every cached output
 * of that file's stages, in file order, as `repro` does after a stage succeeds.
 */
export async function updateGitignores(root: string, pipeline: Pipeline, files: Iterable<string>): Promise<Diagnostic[]> {
  const { addToGitignore } = await import("../storage/gitignore.js");
  const problems: Diagnostic[] = [];
  for (const file of [...new Set(files)].sort()) {
    const stages = pipeline.stages.filter((t) => t.file === file);
    const paths = stages.flatMap((t) => t.outs.filter((o) => o.cache && !o.external).map((o) => o.rootPath));
    if (paths.length === 0) continue;
    const g = await addToGitignore(root, stages[0]!.dir, paths);
    if (!g.ok) problems.push(...g.errors);
  }
  return problems;
}
