/**
 * `pipe status [TARGET...]`: which stages are stale and why (spec 5). A reader: it never blocks on a running
 * `repro` and writes nothing but the stat cache (`.pipe/state`) and the load cache (`.pipe/tmp/load-cache`), only
 * when `.pipe/` exists.
 *
 * Exit codes: 0; 1 with `-q` or `--check` when anything is stale; 2 for an invalid project, an unknown target or a
 * damaged lock file.
 */
import { colors, EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { loadForCommand, printDiagnostics } from "../load.js";
import { executionOrder, resolveTargets } from "../../graph/select.js";
import { LockStore } from "../../lock/read.js";
import { pipelineStatus } from "../../status/pipeline.js";
import { renderStatusText, statusJson } from "../../status/render.js";
import { openWorkspace } from "../../status/workspace.js";
import { stringifyJson } from "../../params/format.js";

export interface StatusOptions {
  json?: boolean;
  check?: boolean;
}

export async function run(ctx: CommandContext, targets: string[], opts: StatusOptions): Promise<number> {
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources } = loaded;
  const root = graph.pipeline.root;

  let addresses: readonly string[] = graph.order;
  if (targets.length > 0) {
    const selected = resolveTargets(graph, targets, ctx.global.cwd, root);
    if (!selected.ok) {
      printDiagnostics(ctx, selected.errors, sources);
      return EXIT_USAGE;
    }
    addresses = executionOrder(graph, selected.value);
  }

  const ws = openWorkspace(root);
  const locks = new LockStore(root, sources);
  // The hash of a new dep or out is shown by `-v` and in `--json`; a plain report does not read it.
  const r = await pipelineStatus(graph, ws, locks, addresses, { hashNew: !ctx.global.quiet && (ctx.global.verbose || opts.json === true) });
  if (!r.ok) {
    printDiagnostics(ctx, r.errors, sources);
    return EXIT_USAGE;
  }
  ws.hasher.save();

  const stages = r.value.stages;
  const anyStale = stages.some((s) => s.stale);
  if (!ctx.global.quiet) {
    // stringifyJson: a params value may be an integer beyond 2^53 (a bigint), which JSON.stringify cannot print.
    if (opts.json) ctx.io.out(stringifyJson(statusJson(stages)) + "\n");
    else {
      const c = colors(ctx);
      ctx.io.out(renderStatusText(stages, { verbose: ctx.global.verbose, name: (s) => c.bold(s) }));
    }
    if (ctx.global.verbose) {
      const st = ws.hasher.stats;
      ctx.io.err(`Checked ${stages.length} stage${stages.length === 1 ? "" : "s"}: read ${st.bytesRead} bytes of ${st.filesRead} file${st.filesRead === 1 ? "" : "s"}, ${st.statCacheHits} from the stat cache\n`);
    }
  }
  if (ctx.global.quiet || opts.check) return anyStale ? EXIT_FAILED : EXIT_OK;
  return EXIT_OK;
}
