/**
 * Loading a whole project into a `Pipeline` (spec 1, 2): discover every stages file, then for each one parse the
 * YAML (with positions), validate it against the grammar and expand its templates into concrete stages.
 *
 * Every file is read and checked even when an earlier one failed, so one run reports every error of the project;
 * errors come out in file order (the root's file first, then by path), each file's sorted by position. Every text
 * read goes into `sources` so that the caller can quote source lines even on failure. Files are read in parallel
 * but assembled in discovery order, so the result does not depend on I/O timing.
 */
import { readFile } from "node:fs/promises";
import { error, fail, ok, type Diagnostic, type Result } from "../config/diagnostic.js";
import { validateStagesFile } from "../config/validate.js";
import { parseYaml } from "../config/yaml.js";
import type { Pipeline, StagesFileInfo } from "../model.js";
import { expandStagesFile, type ExpandedFile } from "../template/expand.js";
import { discoverStagesFiles, type DiscoveredFile } from "./discover.js";

interface FileOutcome {
  info?: StagesFileInfo;
  expanded?: ExpandedFile;
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

async function loadFile(root: string, f: DiscoveredFile, sources: Map<string, string>): Promise<FileOutcome> {
  let text: string;
  try {
    text = await readFile(f.abs, "utf8");
  } catch (e) {
    return { errors: [error("io", `cannot read ${f.file}: ${(e as Error).message}`)], warnings: [] };
  }
  sources.set(f.file, text);
  const info: StagesFileInfo = { file: f.file, text, flavor: f.flavor };
  const parsed = parseYaml(f.file, text);
  const check = validateStagesFile(parsed);
  if (check.errors.length > 0) return { info, errors: check.errors, warnings: check.warnings };
  const r = await expandStagesFile({ root, file: f.file, text, doc: parsed.doc, lineCounter: parsed.lineCounter, sources });
  if (!r.ok) return { info, errors: r.errors, warnings: [...check.warnings, ...r.warnings] };
  return { info, expanded: r.value, errors: [], warnings: [...check.warnings, ...r.warnings] };
}

/**
 * Discovers, parses, validates and expands every stages file under `root`. Every file text read is put into
 * `sources` (keyed by the same `file` string diagnostics use) so diagnostics can be rendered even on failure.
 */
export async function loadPipeline(root: string, sources: Map<string, string>): Promise<Result<Pipeline>> {
  const found = await discoverStagesFiles(root);
  if (!found.ok) return found;
  const outcomes = await Promise.all(found.value.map((f) => loadFile(root, f, sources)));
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [...found.warnings];
  const pipeline: Pipeline = { root, files: [], stages: [], params: [], metrics: [], plots: [] };
  for (const o of outcomes) {
    errors.push(...o.errors);
    warnings.push(...o.warnings);
    if (o.info) pipeline.files.push(o.info);
    if (!o.expanded) continue;
    pipeline.stages.push(...o.expanded.stages);
    pipeline.params.push(...o.expanded.params);
    pipeline.metrics.push(...o.expanded.metrics);
    pipeline.plots.push(...o.expanded.plots);
  }
  if (errors.length > 0) return fail(errors, warnings);
  return ok(pipeline, warnings);
}
