/**
 * `pipe dag [TARGET]` (spec 5): draws the stage graph, or with `--outs` the graph of outputs, as text (default),
 * Graphviz dot, mermaid, mermaid in a markdown fence, or JSON (schemas/dag.schema.json). A TARGET (a stage, a group,
 * a stages file, or an output path) limits the drawing to what leads to it, unless `--full`. Large `foreach`/`matrix`
 * groups are one node unless `--expand`. The text drawing (and its layout library) is loaded only when drawn.
 */
import { AT_ROOT, whereForPipeline } from "../../project/where.js";
import { error, type Diagnostic } from "../../core/diagnostic.js";
import { indexOf } from "../../graph/graph.js";
import { resolveTargets } from "../../graph/select.js";
import type { StageGraph } from "../../core/model.js";
import { buildView } from "../../report/dag/view.js";
import { EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { loadForCommand, printDiagnostics } from "../load.js";
import path from "node:path";

export interface DagOptions {
  dot?: boolean;
  mermaid?: boolean;
  md?: boolean;
  json?: boolean;
  outs?: boolean;
  full?: boolean;
  expand?: boolean;
  status?: boolean;
}

/** The stages producing `target` read as a path (relative to `cwd`): its producer, or the producers inside it. */
function producersOfPath(graph: StageGraph, target: string, cwd: string): string[] {
  const external = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(target);
  let rootPath = target;
  if (!external) {
    const rel = path.relative(graph.pipeline.root, path.resolve(cwd, target)).split(path.sep).join("/");
    if (rel === ".." || rel.startsWith("../") || path.isAbsolute(rel)) return [];
    rootPath = rel;
  }
  const found = indexOf(graph).producersOf({ rootPath, external });
  return [...new Set(found.map((p) => p.stage.address))];
}

/** `--status`: what `pipe status` would call stale (the same check; the stat cache keeps it cheap). */
export async function run(ctx: CommandContext, target: string | undefined, opts: DagOptions = {}): Promise<number> {
  const formats = (["dot", "mermaid", "md", "json"] as const).filter((f) => opts[f]);
  if (formats.length > 1) {
    printDiagnostics(ctx, [error("usage", `choose one output format: ${formats.map((f) => `--${f}`).join(", ")} were given`)]);
    return EXIT_USAGE;
  }
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources, project } = loaded;

  let targets: string[] | undefined;
  if (target !== undefined) {
    const r = resolveTargets(graph, [target], ctx.global.cwd, project.root);
    if (r.ok) targets = r.value;
    else {
      const byPath = producersOfPath(graph, target, ctx.global.cwd);
      if (byPath.length === 0) {
        const ds: Diagnostic[] = r.errors.map((e) => (e.message.startsWith("unknown stage") ? { ...e, message: `unknown stage or output '${target}'` } : e));
        printDiagnostics(ctx, ds, sources);
        return EXIT_USAGE;
      }
      targets = byPath;
    }
  }

  let stale: Set<string> | undefined;
  if (opts.status) {
    // The verdict only: a stage below a stale one is marked without hashing its files.
    const { staleAddresses } = await import("../../status/stale.js");
    const r = await staleAddresses(graph, sources);
    if (!r.ok) {
      printDiagnostics(ctx, r.errors, sources);
      return EXIT_USAGE;
    }
    stale = r.value;
  }
  // Drawings show addresses and paths from the working directory, as DVC's do; JSON keeps the root's.
  const where = opts.json ? AT_ROOT : whereForPipeline(graph.pipeline, ctx.global.cwd);
  const view = buildView(graph, { targets, full: opts.full, outs: opts.outs, expand: opts.expand, stale, where });
  if (opts.json) {
    const { dagJson } = await import("../../report/dag/formats.js");
    ctx.io.out(JSON.stringify(dagJson(graph, view), null, 2) + "\n");
  } else if (opts.dot) {
    const { renderDot } = await import("../../report/dag/formats.js");
    ctx.io.out(renderDot(view));
  } else if (opts.mermaid || opts.md) {
    const { renderMermaid } = await import("../../report/dag/formats.js");
    ctx.io.out(renderMermaid(view, opts.md === true));
  } else {
    const { renderText } = await import("../../report/dag/text.js");
    ctx.io.out(renderText(view));
  }
  return EXIT_OK;
}
