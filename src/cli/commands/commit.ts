/**
 * `pipe commit [TARGET...]`: records the workspace state of the targets (default: every stage) into the lock and the
 * cache without running anything, for outputs produced by hand (spec 5). Each stage is hashed as `repro` would after
 * running it; its cached outputs are stored, its run-cache entry recorded, and its lock entry written when it
 * differs from the one there. A stage whose deps, params or outputs are missing is not recorded and is named (exit 1).
 */
import type { Diagnostic } from "../../core/diagnostic.js";
import { colors, EXIT_FAILED, EXIT_OK, type CommandContext } from "../context.js";
import { loadForCommand, printDiagnostics } from "../load.js";
import { whereForPipeline } from "../../project/where.js";
import { openStageWriter, updateGitignores, withWriteLock } from "../stage-writer.js";

export async function run(ctx: CommandContext, targets: string[], _opts: Record<string, unknown> = {}): Promise<number> {
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources } = loaded;
  const root = graph.pipeline.root;
  const where = whereForPipeline(graph.pipeline, ctx.global.cwd);
  const [{ ObjectStore }, { RunCache }, { storeOutput }, { openWorkspace, absOf }, { recordStage }, { serializeLockEntry, writeLockEntry }, repro] =
    await Promise.all([
      import("../../cache/store.js"),
      import("../../cache/runcache.js"),
      import("../../cache/checkout.js"),
      import("../../status/workspace.js"),
      import("../../status/record.js"),
      import("../../lock/write.js"),
      import("../../exec/repro.js"),
    ]);
  const w = await openStageWriter(ctx, loaded, targets);
  if (typeof w === "number") return w;
  const { config, chosen, locks } = w;
  const c = colors(ctx);
  return withWriteLock(ctx, root, "pipe commit", async (signal) => {
    const ws = openWorkspace(root);
    const store = new ObjectStore(root, undefined, { recordVerified: true });
    const runs = new RunCache(root);
    const cc = { root, store, linkTypes: config.cache.links };
    const problems: Diagnostic[] = [];
    let committed = 0;
    const files = new Set<string>();
    for (const a of chosen) {
      if (signal.aborted) break;
      const s = graph.stages.get(a)!;
      const rec = await recordStage(ws, s);
      if (!rec.ok) {
        problems.push(...rec.errors);
        continue;
      }
      const { entry, outs } = rec.value;
      let stored = true;
      for (const ro of outs) {
        if (!ro.hashed || !ro.out.cache) continue;
        const r = await storeOutput(cc, ro.out.rootPath, repro.toOutputHash(ro.hashed));
        ws.hasher.invalidate(absOf(root, ro.out.rootPath));
        if (!r.ok) {
          problems.push(...r.errors);
          stored = false;
        } else if (r.value.repaired.length > 0) {
          ctx.io.err(
            `warning: cache object${r.value.repaired.length > 1 ? "s" : ""} ${r.value.repaired.join(", ")} of '${ro.out.rootPath}' no longer matched ${r.value.repaired.length > 1 ? "their names" : "its name"} (edited through a hardlink or symlink?) and ${r.value.repaired.length > 1 ? "were" : "was"} replaced by the workspace content\n`,
          );
        }
      }
      if (!stored) continue;
      if (repro.runCacheable(s)) {
        const r = await runs.record(await runs.key(repro.runKeyFromEntry(s, entry)), repro.runEntryOf(outs));
        if (!r.ok) problems.push(...r.errors);
      }
      const lf = await locks.forDir(s.dir);
      const prev = lf.ok && lf.value?.flavor === "pipe" ? lf.value.stages.get(s.name) : undefined;
      if (!prev || serializeLockEntry(prev) !== serializeLockEntry(entry)) {
        const w = await writeLockEntry(graph.pipeline, s, entry);
        if (!w.ok) {
          problems.push(...w.errors);
          continue;
        }
        committed++;
        if (!ctx.global.quiet) ctx.io.out(`Committed '${c.bold(where.address(a))}'\n`);
      }
      files.add(s.file);
    }
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
