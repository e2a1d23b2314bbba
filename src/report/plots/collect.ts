/**
 * `plots show` and `plots diff` as one library call: the workspace's plot definitions (selected by targets), their
 * data at each named side (read from the workspace, from git, or through a revision's lock from the cache) and the
 * plots built from it. Experiments are sides too: `--exp NAME` resolves through DVC's `refs/exps/.../NAME`.
 */
import { ok, type Diagnostic, type Result } from "../../core/diagnostic.js";
import type { Pipeline } from "../../core/model.js";
import { addRevision, openComparison } from "../../compare/comparison.js";
import type { Tracked } from "../../compare/tracked.js";
import { plotDefinitions, readPlotsAt, selectPlots, type PlotAtSide, type PlotDefinition } from "../../compare/plots.js";
import { openSide, projectGit, type Side } from "../../git/revision.js";
import { findExperiment } from "../../experiments/project.js";
import { buildPlots, type BuiltPlot } from "./build.js";

export interface CollectedPlots {
  plots: BuiltPlot[];
  /** The sides drawn, in order (their names). */
  sides: string[];
  warnings: Diagnostic[];
  /** Plots left out (an unknown template, a field not in the data). */
  problems: Diagnostic[];
}

/** What to compare: revisions (git names), experiments (names under `refs/exps`), in this order. */
export interface SideRequest {
  revs: readonly string[];
  exps?: readonly string[];
}

/**
 * The ref an experiment name stands for, as every other command reads it (`findExperiment`: under HEAD's baseline
 * first, then the newest of that name), so `--exp NAME` and `--rev NAME` pick the same experiment.
 */
async function resolveExperiment(root: string, name: string): Promise<Result<string>> {
  const f = await findExperiment({ cwd: root }, name);
  return f.ok ? ok(f.value.ref) : f;
}

/** Opens the sides of `req` (revisions, then experiments shown under their names, then the workspace if named). */
export async function openSides(root: string, pipeline: Pipeline, req: SideRequest, why: string): Promise<Result<{ sides: Side[]; warnings: Diagnostic[]; stagesAt: Map<Side, Map<string, string>>; tracked: Tracked }>> {
  const names = [...req.revs];
  const expRefs: string[] = [];
  for (const e of req.exps ?? []) {
    const r = await resolveExperiment(root, e);
    if (!r.ok) return r;
    expRefs.push(r.value);
  }
  const opened = await openComparison(root, pipeline, names, why, (f) => f);
  if (!opened.ok) return opened;
  const { cmp } = opened.value;
  const sides = [...opened.value.sides];
  const pg = await projectGit(root);
  if (!pg.ok) return pg;
  for (const [i, ref] of expRefs.entries()) {
    const s = await openSide(root, pg.value, ref, why);
    if (!s.ok) return s;
    const side: Side = { ...s.value, name: req.exps![i]! };
    const added = await addRevision(cmp, side);
    if (!added.ok) return added;
    sides.push(side);
  }
  // The workspace last: series and columns read from old to new.
  const ordered = [...sides.filter((s) => s.kind !== "workspace"), ...sides.filter((s) => s.kind === "workspace")];
  return ok({ sides: ordered, warnings: opened.value.warnings, stagesAt: cmp.stagesAt, tracked: cmp.tracked });
}

/** Plot definitions for the targets: those the pipeline defines, and a target file no definition names, as DVC draws it. */
function definitionsFor(pipeline: Pipeline, targets: readonly string[] | undefined): PlotDefinition[] {
  const defs = plotDefinitions(pipeline);
  if (!targets || targets.length === 0) return defs;
  const chosen = selectPlots(defs, targets);
  for (const t of targets) {
    if (selectPlots(defs, [t]).length === 0) chosen.push({ id: t, sources: [{ file: t, y: [] }], props: {}, dir: "" });
  }
  return chosen;
}

/** Every plot of the pipeline at `sides` (root-relative `targets` select plots). */
export async function collectPlots(root: string, pipeline: Pipeline, sides: readonly Side[], stagesAt: ReadonlyMap<Side, Map<string, string>>, targets?: readonly string[]): Promise<Result<CollectedPlots>> {
  const defs = definitionsFor(pipeline, targets);
  const warnings: Diagnostic[] = [];
  const atSides: Map<string, PlotAtSide>[] = [];
  for (const side of sides) {
    const r = await readPlotsAt(side, defs, async (s, files) => {
      const { readCachedBytesAt } = await import("../../compare/metrics-cached.js");
      return readCachedBytesAt(root, s, stagesAt.get(s) ?? new Map(), files);
    });
    warnings.push(...r.warnings);
    atSides.push(r.plots);
  }
  const built = buildPlots(root, defs, sides.map((s) => s.name), atSides);
  return ok({ plots: built.plots, sides: sides.map((s) => s.name), warnings, problems: built.problems });
}
