/**
 * Shared start of every command that needs the project: find the root, load and expand the stages files, build the
 * checked graph. Diagnostics (errors and warnings) are printed here, once, to stderr; on failure the caller gets the
 * exit code to return (2: invalid project).
 */
import { renderDiagnostics, type Diagnostic } from "../config/diagnostic.js";
import type { StageGraph } from "../model.js";
import { buildGraph } from "../graph/graph.js";
import { loadPipeline } from "../project/load.js";
import { findProjectRoot, type ProjectRoot } from "../project/root.js";
import { EXIT_USAGE, type CommandContext } from "./context.js";

export interface LoadedProject {
  project: ProjectRoot;
  graph: StageGraph;
  sources: Map<string, string>;
}

export function printDiagnostics(ctx: CommandContext, ds: readonly Diagnostic[], sources?: ReadonlyMap<string, string>): void {
  if (ds.length === 0) return;
  ctx.io.err(renderDiagnostics(ds, sources) + "\n");
}

/** Finds the project root from the command's cwd; prints the diagnostic and returns an exit code on failure. */
export async function findRootForCommand(ctx: CommandContext): Promise<ProjectRoot | number> {
  const r = await findProjectRoot(ctx.global.cwd);
  if (!r.ok) {
    printDiagnostics(ctx, r.errors);
    return EXIT_USAGE;
  }
  return r.value;
}

export async function loadForCommand(ctx: CommandContext): Promise<LoadedProject | number> {
  const project = await findRootForCommand(ctx);
  if (typeof project === "number") return project;
  const sources = new Map<string, string>();
  const p = await loadPipeline(project.root, sources);
  if (!p.ok) {
    printDiagnostics(ctx, [...p.errors, ...p.warnings], sources);
    return EXIT_USAGE;
  }
  const g = buildGraph(p.value);
  // Warnings of loading and of the graph are printed together, before anything else the command prints.
  const warnings = [...p.warnings, ...g.warnings];
  if (!g.ok) {
    printDiagnostics(ctx, [...g.errors, ...warnings], sources);
    return EXIT_USAGE;
  }
  if (!ctx.global.quiet) printDiagnostics(ctx, warnings, sources);
  return { project, graph: g.value, sources };
}
