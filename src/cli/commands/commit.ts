/**
 * `pipe commit [TARGET...]`: records the workspace state of the targets (default: every stage) into the lock and the
 * cache without running anything, for outputs produced by hand (spec 5), through the record path `repro` uses after
 * running a stage (`exec/commit.ts`, `exec/record.ts`). A stage whose deps, params or outputs are missing is not
 * recorded and is named (exit 1).
 */
import { colors, EXIT_FAILED, EXIT_OK, type CommandContext } from "../context.js";
import { loadWithWhere, printDiagnostics } from "../load.js";
import { openStageWriter, updateGitignores, withWriteLock } from "../stage-writer.js";

export async function run(ctx: CommandContext, targets: string[], _opts: Record<string, unknown> = {}): Promise<number> {
  const loaded = await loadWithWhere(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources, root, where } = loaded;
  const [{ LocalCache }, { RunCache }, { openWorkspace }, { commitStages }, { warningText }] = await Promise.all([
    import("../../storage/store.js"),
    import("../../storage/runcache.js"),
    import("../../status/workspace.js"),
    import("../../exec/commit.js"),
    import("../../report/repro-warnings.js"),
  ]);
  const w = await openStageWriter(ctx, loaded, targets);
  if (typeof w === "number") return w;
  const { config, chosen, locks } = w;
  const c = colors(ctx);
  return withWriteLock(ctx, root, "pipe commit", async (signal) => {
    const ws = openWorkspace(root);
    const { problems, committed, files } = await commitStages({
      graph,
      chosen,
      locks,
      ws,
      store: new LocalCache(root, undefined, { recordVerified: true }),
      runs: new RunCache(root),
      linkTypes: config.cache.links,
      emit: (e) => {
        if (e.type === "warning") ctx.io.err(`warning: ${warningText(e.warning)}\n`);
      },
      onCommitted: (a) => {
        if (!ctx.global.quiet) ctx.io.out(`Committed '${c.bold(where.address(a))}'\n`);
      },
      signal,
    });
    if (config.gitignore) problems.push(...(await updateGitignores(root, graph.pipeline, files)));
    ws.hasher.save();
    if (signal.aborted) {
      ctx.io.err("Interrupted.\n");
      return 130;
    }
    if (!ctx.global.quiet && problems.length === 0 && committed === 0) ctx.io.out("Nothing to commit: the lock matches the workspace.\n");
    if (problems.length > 0) {
      printDiagnostics(ctx, problems, sources);
      return EXIT_FAILED;
    }
    return EXIT_OK;
  });
}
