/**
 * `pipe status --no-data [TARGET...]`: whether the lock describes the pipeline, from what git holds alone
 * (`status/no-data.ts`), for CI jobs on a fresh clone without data or cache. Reads the stages files, params files,
 * git-tracked deps and the lock; never an output or an untracked file; writes nothing but the stat cache when `.pipe/`
 * exists.
 *
 * Exit codes: 0 the lock describes the pipeline; 1 it does not (each problem printed); 2 an invalid project, an
 * unknown target, a damaged lock, or no git work tree.
 */
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "./context.js";
import { loadForCommand, printDiagnostics } from "./load.js";

export async function run(ctx: CommandContext, targets: string[], opts: { json?: boolean }): Promise<number> {
  const [{ executionOrder, resolveTargets }, { checkNoData }, { renderNoDataText, noDataJson }, { stringifyJson }, { whereForPipeline }, { openWorkspace }, { LockStore }] =
    await Promise.all([
      import("../graph/select.js"),
      import("../status/no-data.js"),
      import("../report/no-data.js"),
      import("../params/format.js"),
      import("../project/where.js"),
      import("../status/workspace.js"),
      import("../lock/read.js"),
    ]);
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources } = loaded;
  let addresses: readonly string[] = graph.order;
  if (targets.length > 0) {
    const selected = resolveTargets(graph, targets, ctx.global.cwd, graph.pipeline.root);
    if (!selected.ok) {
      printDiagnostics(ctx, selected.errors, sources);
      return EXIT_USAGE;
    }
    addresses = executionOrder(graph, selected.value);
  }
  const root = graph.pipeline.root;
  const r = await checkNoData({ graph, ws: openWorkspace(root), locks: new LockStore(root, sources), addresses });
  if (!r.ok) {
    printDiagnostics(ctx, r.errors, sources);
    return EXIT_USAGE;
  }
  if (!ctx.global.quiet) {
    if (opts.json) ctx.io.out(stringifyJson(noDataJson(r.value)) + "\n");
    else ctx.io.out(renderNoDataText(r.value, { verbose: ctx.global.verbose, where: whereForPipeline(graph.pipeline, ctx.global.cwd) }));
  }
  return r.value.issues.length > 0 ? EXIT_FAILED : EXIT_OK;
}
