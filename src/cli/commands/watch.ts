/**
 * `pipe watch [TARGET...] [-j N]`: `repro` the targets, then again whenever what they read changes
 * (`exec/watch.ts`), until Ctrl-C. Each run is exactly `pipe repro` (`cli/repro-run.ts`, as that command runs it), so it takes and
 * releases the project write lock, prints its report, and on an interrupt stops its stages and records nothing of
 * theirs. Exit code: 130 (it only ends on an interrupt); 2 when the project cannot be found.
 */
import { EXIT_INTERRUPTED, type CommandContext } from "../context.js";
import { findRootForCommand } from "../load.js";

export async function run(ctx: CommandContext, targets: string[], opts: { jobs?: string }): Promise<number> {
  const project = await findRootForCommand(ctx);
  if (typeof project === "number") return project;
  const root = project.root;
  const [repro, { stagesReading, watchLoop, watchPlan }, { watchLine }, session, { loadPipelineCached }, { buildGraph }, { resolveTargets }, { whereOf }] = await Promise.all([
    import("../repro-run.js"),
    import("../../exec/watch.js"),
    import("../../report/watch.js"),
    import("../../exec/session.js"),
    import("../../project/load.js"),
    import("../../graph/graph.js"),
    import("../../graph/select.js"),
    import("../../project/where.js"),
  ]);
  const where = whereOf(root, ctx.global.cwd);
  const load = async (sources: Map<string, string>) => {
    const loaded = await loadPipelineCached(root, sources);
    const g = loaded.result.ok ? buildGraph(loaded.result.value) : undefined;
    const graph = g?.ok ? g.value : undefined;
    const selected = graph && targets.length > 0 ? resolveTargets(graph, targets, ctx.global.cwd, root) : undefined;
    return { graph, addresses: selected?.ok ? selected.value : undefined };
  };
  const plan = async (): Promise<import("../../exec/watch.js").WatchPlan> => {
    const sources = new Map<string, string>();
    const { graph, addresses } = await load(sources);
    return watchPlan(graph, addresses, sources.keys());
  };
  const jobs = opts.jobs !== undefined ? { jobs: opts.jobs } : {};
  const emit = (e: import("../../exec/watch.js").WatchEvent): void => void (ctx.global.quiet ? undefined : ctx.io.err(watchLine(e, where)));
  // After edits made during a run: first the stages that read the edited paths, forced (see `exec/watch.ts`).
  const runOnce = async (edited: readonly string[]): Promise<number> => {
    if (edited.length > 0) {
      const { graph, addresses } = await load(new Map());
      const again = graph ? stagesReading(graph, addresses, edited) : [];
      if (again.length > 0) {
        emit({ type: "watch-forced", stages: again, paths: [...edited] });
        const code = await repro.reproCommand(ctx, again, { force: true, ...jobs });
        if (code === EXIT_INTERRUPTED) return code;
      }
    }
    return repro.reproCommand(ctx, targets, jobs);
  };
  // Between runs an interrupt ends the wait; during a run `repro` installs its own handling and returns 130.
  const interrupts = session.handleInterrupts({ onSecond: () => process.exit(EXIT_INTERRUPTED) });
  try {
    return await watchLoop({
      root,
      runOnce,
      plan,
      emit,
      signal: interrupts.signal,
    });
  } finally {
    interrupts.dispose();
  }
}
