/**
 * `pipe stage list [TARGET...]` (spec 5): every stage (or the targets' stages: a stage, a group, a stages file), in
 * execution order, one per line with a one-line description as `dvc stage list` writes it (the first line of `desc`,
 * or `Outputs a, b; Reports m.json`); `--json` prints them as an array of stage objects
 * (schemas/stage-list.schema.json).
 */
import { resolveTargets, selectStages } from "../../graph/select.js";
import { oneLine, stageJson } from "../../report/dag/stage-json.js";
import { EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { loadForCommand, printDiagnostics } from "../load.js";
import { whereForPipeline } from "../../project/where.js";

export interface StageListOptions {
  json?: boolean;
}

export async function run(ctx: CommandContext, targets: string[], opts: StageListOptions = {}): Promise<number> {
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources, project } = loaded;
  const resolved = resolveTargets(graph, targets, ctx.global.cwd, project.root);
  if (!resolved.ok) {
    printDiagnostics(ctx, resolved.errors, sources);
    return EXIT_USAGE;
  }
  const stages = selectStages(graph, resolved.value, { single: true }).map((a) => graph.stages.get(a)!);
  if (opts.json) {
    ctx.io.out(JSON.stringify(stages.map(stageJson), null, 2) + "\n");
    return EXIT_OK;
  }
  if (ctx.global.quiet || stages.length === 0) return EXIT_OK;
  // Addresses as DVC shows them, relative to the working directory; descriptions keep paths as written, as DVC's do.
  const where = whereForPipeline(graph.pipeline, ctx.global.cwd);
  const shown = stages.map((s) => where.address(s.address));
  const width = Math.max(...shown.map((a) => a.length));
  ctx.io.out(stages.map((s, i) => `${shown[i]!.padEnd(width)}  ${oneLine(s)}`.trimEnd()).join("\n") + "\n");
  return EXIT_OK;
}
