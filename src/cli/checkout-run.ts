/**
 * Checking out the workspace as `pipe checkout [TARGET...]` does, for that command and for those that end with a
 * checkout (`pull`, `exp apply`), so none of them imports another command. It makes the cached outputs of the
 * targets (default: every stage) what their lock entries say, from the cache (spec 5). Prints one line per output it changed, as git and DVC do (`A` added, `M` modified),
 * and fails (exit 1) naming every output whose objects the cache does not have (or had corrupt: those objects are
 * removed). Workspace content that is about to be replaced and is not in the cache is saved there first and named.
 * The work is `exec/checkout.ts`'s, through the restore function `repro` uses; this file prints what it tells.
 */
import { unreachable } from "../core/unreachable.js";
import { EXIT_FAILED, EXIT_OK, type CommandContext } from "./context.js";
import { loadForCommand, printDiagnostics } from "./load.js";
import { whereForPipeline } from "../project/where.js";
import { openStageWriter, updateGitignores, withWriteLock } from "./stage-writer.js";

/** `onRestored` hears each output put back (root-relative), for `pull --json`'s `restored`. */
export async function checkoutWorkspace(ctx: CommandContext, targets: string[], opts: { onRestored?: (rootPath: string) => void } = {}): Promise<number> {
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources } = loaded;
  const root = graph.pipeline.root;
  const where = whereForPipeline(graph.pipeline, ctx.global.cwd);
  const [{ projectCache }, { openWorkspace }, { checkoutStages }] = await Promise.all([
    import("../storage/project-cache.js"),
    import("../status/workspace.js"),
    import("../exec/checkout.js"),
  ]);
  const w = await openStageWriter(ctx, loaded, targets);
  if (typeof w === "number") return w;
  const { config, chosen, named, locks } = w;
  return withWriteLock(ctx, root, "pipe checkout", async (signal) => {
    const ws = openWorkspace(root);
    const quiet = ctx.global.quiet;
    const { problems, changed, recorded, files } = await checkoutStages({
      graph,
      chosen,
      named,
      locks,
      ws,
      store: projectCache(root, { recordVerified: true }),
      linkTypes: config.cache.links,
      signal,
      on: (e) => {
        switch (e.type) {
          case "no-lock-entry":
            if (!quiet) ctx.io.err(`note: '${e.stage}' has no lock entry (it never ran): nothing to restore\n`);
            return;
          case "uncached-missing":
            if (!quiet) {
              ctx.io.err(`note: '${where.path(e.path)}' (stage '${where.address(e.stage)}') is missing and has cache: false, so it cannot be restored; 'pipe repro ${where.address(e.stage)}' produces it again\n`);
            }
            return;
          case "saved":
            ctx.io.err(`note: '${e.path}' had content that was not in the cache; it was saved there as ${e.id} before being replaced\n`);
            return;
          case "restored":
            opts.onRestored?.(e.path);
            if (!quiet) ctx.io.out(`${e.existed ? "M" : "A"}       ${where.path(e.path)}${e.dir ? "/" : ""}\n`);
            return;
          default:
            return unreachable(e);
        }
      },
    });
    if (config.gitignore) problems.push(...(await updateGitignores(root, graph.pipeline, files)));
    ws.hasher.save();
    if (signal.aborted) {
      ctx.io.err("Interrupted.\n");
      return 130;
    }
    if (!ctx.global.quiet && problems.length === 0) {
      // With no lock entry at all there is no record to match: say so rather than "outputs match the lock".
      const nothing = recorded === 0 ? "Nothing to restore: no stage has a lock entry yet ('pipe repro' runs them).\n" : "Nothing to restore: outputs match the lock.\n";
      ctx.io.out(changed === 0 ? nothing : `Restored ${changed} output${changed === 1 ? "" : "s"}.\n`);
    }
    if (problems.length > 0) {
      printDiagnostics(ctx, problems, sources);
      return EXIT_FAILED;
    }
    return EXIT_OK;
  });
}
