/**
 * What `pipe report` shows, gathered in one library call: the status of every stage (the same judgement as `pipe
 * status`, with its reasons in `status`'s words), the params and metrics of the chosen sides (revisions and
 * experiments, the workspace last), every plot overlaid across those sides, and where the page comes from (the
 * commit of HEAD and its date, the `pipe` version). No clock time: two reports of the same project are the same
 * bytes. The page itself is `report-page.ts`.
 */
import { fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { StageGraph } from "../core/model.js";
import { paramsAndMetrics, type SideBySide } from "../compare/side-by-side.js";
import { resolveCommit, runGit } from "../git/git.js";
import { projectGit, WORKSPACE } from "../git/revision.js";
import { LockStore } from "../lock/read.js";
import { pipelineStatus } from "../status/pipeline.js";
import type { StageStatus } from "../status/types.js";
import { openWorkspace } from "../status/workspace.js";
import { collectPlots, openSides } from "./plots/collect.js";
import type { BuiltPlot } from "./plots/build.js";
import { renderStatusText } from "./status.js";

export interface ReportData {
  graph: StageGraph;
  statuses: StageStatus[];
  /** Each stage's reasons as `pipe status` words them, one line each, nesting kept as indentation (empty when up to date). */
  reasons: Map<string, string[]>;
  sides: string[];
  params: SideBySide;
  metrics: SideBySide;
  plots: BuiltPlot[];
  /** HEAD's commit, when the project is in a git repository with commits. */
  commit?: string;
  /** HEAD's committer date (ISO 8601), with `commit`. */
  commitDate?: string;
  version: string;
  warnings: Diagnostic[];
}

export interface ReportRequest {
  revs: readonly string[];
  exps: readonly string[];
  version: string;
}

function reasonLines(st: StageStatus): string[] {
  if (!st.stale && !(st.frozen && st.reasons.length > 0)) return [];
  const text = renderStatusText([st], { verbose: false });
  // The first line names the stage; the rest are its reasons, indented.
  return text
    .split("\n")
    .slice(1)
    .filter((l) => l.startsWith(" "))
    .map((l) => l.replace(/^ {2}/, ""));
}

export async function gatherReport(graph: StageGraph, sources: Map<string, string>, req: ReportRequest): Promise<Result<ReportData>> {
  const root = graph.pipeline.root;
  const status = await pipelineStatus(graph, openWorkspace(root), new LockStore(root, sources), graph.order);
  if (!status.ok) return fail(status.errors, status.warnings);
  const reasons = new Map(status.value.stages.map((s) => [s.address, reasonLines(s)]));
  const pg = await projectGit(root);
  if (!pg.ok) return pg;
  let commit: string | undefined;
  if (pg.value) {
    const head = await resolveCommit(pg.value.repo, "HEAD");
    if (head.ok && head.value.sha) commit = head.value.sha;
  }
  let commitDate: string | undefined;
  if (commit && pg.value) {
    const d = await runGit(pg.value.repo.root, ["show", "-s", "--format=%cI", commit]);
    if (!(d instanceof Error) && d.code === 0) commitDate = d.stdout.toString("utf8").trim();
  }
  // Revisions asked for, else HEAD (the baseline of experiments too) when there is one; the workspace always, last.
  const revs = req.revs.length > 0 ? [...new Set(req.revs)].filter((r) => r !== WORKSPACE) : commit ? ["HEAD"] : [];
  const opened = await openSides(root, graph.pipeline, { revs: [...revs, WORKSPACE], exps: req.exps }, "report compares git revisions");
  if (!opened.ok) return opened;
  const sides = opened.value.sides;
  const tracked = opened.value.tracked;
  const { readCachedAt } = await import("../compare/metrics-cached.js");
  const values = await paramsAndMetrics(sides, tracked, (side, files) => readCachedAt(root, side, opened.value.stagesAt.get(side) ?? new Map(), files));
  if (!values.ok) return values;
  const plots = await collectPlots(root, graph.pipeline, sides, opened.value.stagesAt);
  if (!plots.ok) return plots;
  return ok({
    graph,
    statuses: status.value.stages,
    reasons,
    sides: sides.map((s) => s.name),
    params: values.value.params,
    metrics: values.value.metrics,
    plots: plots.value.plots,
    ...(commit ? { commit } : {}),
    ...(commitDate ? { commitDate } : {}),
    version: req.version,
    warnings: [...status.warnings, ...opened.value.warnings, ...values.value.warnings, ...plots.value.warnings, ...plots.value.problems],
  });
}
