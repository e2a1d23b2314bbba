/**
 * `pipe checkout [TARGET...]`: makes the cached outputs of the targets (default: every stage) what their lock entries
 * say, from the cache (spec 5). Prints one line per output it changed, as git and DVC do (`A` added, `M` modified),
 * and fails (exit 1) naming every output whose objects the cache does not have (or had corrupt: those objects are
 * removed). Workspace content that is about to be replaced and is not in the cache is saved there first and named.
 */
import { lstat } from "node:fs/promises";
import path from "node:path";
import { error, type Diagnostic } from "../../core/diagnostic.js";
import { pathKey } from "../../lock/types.js";
import { EXIT_FAILED, EXIT_OK, type CommandContext } from "../context.js";
import { loadForCommand, printDiagnostics } from "../load.js";
import { whereForPipeline } from "../../project/where.js";
import { openStageWriter, updateGitignores, withWriteLock } from "../stage-writer.js";

export async function run(ctx: CommandContext, targets: string[], _opts: Record<string, unknown> = {}): Promise<number> {
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources } = loaded;
  const root = graph.pipeline.root;
  const where = whereForPipeline(graph.pipeline, ctx.global.cwd);
  const [{ ObjectStore }, { checkoutOutput }, { openWorkspace }, { clearRunMarker }] = await Promise.all([
    import("../../cache/store.js"),
    import("../../cache/checkout.js"),
    import("../../status/workspace.js"),
    import("../../exec/run-marker.js"),
  ]);
  const w = await openStageWriter(ctx, loaded, targets);
  if (typeof w === "number") return w;
  const { config, chosen, named, locks } = w;
  return withWriteLock(ctx, root, "pipe checkout", async (signal) => {
    const ws = openWorkspace(root);
    const cc = {
      root,
      store: new ObjectStore(root, undefined, { recordVerified: true }),
      linkTypes: config.cache.links,
      fileHash: async (abs: string, algo: "xxh64" | "md5" | "legacy-md5") => {
        const h = await ws.hasher.hashPath(abs, algo);
        return h.kind === "file" ? h.hash : "";
      },
      // What the ignore rules leave out of a directory output stays as it is, as in DVC.
      ignoreTest: (absDir: string) => ws.hasher.ignoreTest(absDir),
    };
    const problems: Diagnostic[] = [];
    let changed = 0;
    let recorded = 0;
    const files = new Set<string>();
    for (const a of chosen) {
      if (signal.aborted) break;
      const s = graph.stages.get(a)!;
      const lf = await locks.forDir(s.dir);
      const entry = lf.ok ? lf.value?.stages.get(s.name) : undefined;
      if (!entry) {
        // Named on the command line: say why nothing happened to it.
        if (named.has(a) && !ctx.global.quiet) ctx.io.err(`note: '${a}' has no lock entry (it never ran): nothing to restore\n`);
        continue;
      }
      recorded++;
      // The outputs become the lock's: what a failed run left is gone, so a later edit is the user's (run-marker.ts).
      await clearRunMarker(root, a);
      const byPath = new Map(entry.outs.map((o) => [pathKey(o.path), o]));
      for (const o of s.outs) {
        if (o.external) continue;
        if (!o.cache) {
          const gone = await lstat(path.join(root, o.rootPath)).then(
            () => false,
            () => true,
          );
          if (gone && !ctx.global.quiet) {
            ctx.io.err(`note: '${where.path(o.rootPath)}' (stage '${where.address(a)}') is missing and has cache: false, so it cannot be restored; 'pipe repro ${where.address(a)}' produces it again\n`);
          }
          continue;
        }
        const e = byPath.get(pathKey(o.path));
        if (!e || e.algo === "none") continue;
        const abs = path.join(root, o.rootPath);
        const existed = await lstat(abs).then(
          () => true,
          () => false,
        );
        const r = await checkoutOutput(cc, o.rootPath, e.hash);
        ws.hasher.invalidate(abs);
        if (!r.ok) {
          problems.push(...r.errors);
          continue;
        }
        const v = r.value;
        if (v.status === "missing") {
          problems.push(
            error("io", `cannot restore '${o.rootPath}' (stage '${a}'): not in the cache`, o.loc ?? s.loc, {
              hint: `run 'pipe repro ${a}' to produce it again`,
            }),
          );
          continue;
        }
        if (v.status === "corrupt") {
          problems.push(
            error("io", `cannot restore '${o.rootPath}' (stage '${a}'): its cache object ${v.ids.map((x) => x.id).join(", ")} was corrupt and has been removed`, o.loc ?? s.loc, {
              hint: `run 'pipe repro ${a}' to produce it again`,
            }),
          );
          continue;
        }
        for (const sv of v.saved) {
          ctx.io.err(`note: '${sv.path}' had content that was not in the cache; it was saved there as ${sv.id} before being replaced\n`);
        }
        if (v.status === "restored") {
          changed++;
          files.add(s.file);
          const shown = e.hash.endsWith(".dir") ? `${where.path(o.rootPath)}/` : where.path(o.rootPath);
          if (!ctx.global.quiet) ctx.io.out(`${existed ? "M" : "A"}       ${shown}\n`);
        }
      }
    }
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
