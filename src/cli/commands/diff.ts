/**
 * `pipe diff [A [B]] [--json] [--md] [--show-hash] [--hide-missing] [--targets PATH...]`: tracked files added,
 * deleted, modified and renamed between revision A (default HEAD) and revision B (default: the workspace), as `dvc
 * diff` prints them. The comparison is `compare/data-diff.ts`'s, the words `report/data-diff.ts`'s.
 */
import path from "node:path";
import { error } from "../../core/diagnostic.js";
import { colors, EXIT_OK, type CommandContext } from "../context.js";
import { printJson, printWarnings, usageError } from "../compare.js";
import { findRootForCommand, loadForCommand } from "../load.js";

export interface DiffFlags {
  json?: boolean;
  md?: boolean;
  showHash?: boolean;
  hideMissing?: boolean;
  targets?: string[];
}

export async function run(ctx: CommandContext, a: string | undefined, b: string | undefined, opts: DiffFlags = {}): Promise<number> {
  const workspace = b === undefined;
  const loaded = workspace ? await loadForCommand(ctx) : undefined;
  if (typeof loaded === "number") return loaded;
  const project = loaded ? loaded.project : await findRootForCommand(ctx);
  if (typeof project === "number") return project;
  const root = project.root;
  const [{ projectGit, openSide }, dd, report, { projectCache }, { openWorkspace }] = await Promise.all([
    import("../../git/revision.js"),
    import("../../compare/data-diff.js"),
    import("../../report/data-diff.js"),
    import("../../storage/project-cache.js"),
    import("../../status/workspace.js"),
  ]);
  const pg = await projectGit(root);
  if (!pg.ok) return usageError(ctx, pg.errors);
  if (!pg.value) return usageError(ctx, [error("git", "not a git repository: diff compares git revisions")]);
  const sideA = await openSide(root, pg.value, a ?? "HEAD", "diff compares git revisions");
  if (!sideA.ok) return usageError(ctx, sideA.errors);
  const targets = opts.targets?.map((t) => path.relative(root, path.resolve(ctx.global.cwd, t)).split(path.sep).join("/"));
  if (targets?.some((t) => t === ".." || t.startsWith("../"))) return usageError(ctx, [error("usage", "a target of diff lies outside the project")]);
  // A repository without commits has nothing to compare with (DVC prints nothing).
  const store = projectCache(root, { readOnly: true });
  let result;
  let remoteProblem: string | undefined;
  let remoteAsked: string | undefined;
  if (sideA.value.kind === "empty") result = { ok: true as const, value: { states: new Map(), unexpanded: [] } };
  else {
    const outsA = await dd.revisionOutputs(root, sideA.value);
    if (!outsA.ok) return usageError(ctx, outsA.errors);
    printWarnings(ctx, outsA.warnings);
    let bSide: Parameters<typeof dd.dataDiff>[0]["b"];
    if (workspace) bSide = { kind: "workspace", pipeline: loaded!.graph.pipeline, ws: openWorkspace(root) };
    else {
      const sideB = await openSide(root, pg.value, b, "diff compares git revisions");
      if (!sideB.ok) return usageError(ctx, sideB.errors);
      const outsB = sideB.value.kind === "empty" ? { ok: true as const, value: [], warnings: [] } : await dd.revisionOutputs(root, sideB.value);
      if (!outsB.ok) return usageError(ctx, outsB.errors);
      printWarnings(ctx, outsB.warnings);
      bSide = { kind: "recorded", outs: outsB.value };
    }
    const remote = dd.remoteManifests(root, (ctx.env ?? {}) as NodeJS.ProcessEnv);
    result = await dd.dataDiff({ root, store, a: outsA.value, b: bSide, opts: { ...(targets ? { targets } : {}), hideMissing: opts.hideMissing === true || !workspace }, manifests: remote.source });
    await remote.close();
    if (!result.ok) return usageError(ctx, result.errors);
    remoteProblem = remote.problem();
    remoteAsked = remote.consulted();
  }
  const diff = result.value;
  printWarnings(ctx, dd.unexpandedWarning(diff.unexpanded, remoteAsked, remoteProblem));
  const showHash = opts.showHash === true;
  if (opts.json) printJson(ctx, report.diffJson(diff, showHash));
  else if (opts.md) ctx.io.out(report.diffMarkdown(diff, showHash));
  else ctx.io.out(report.diffText(diff, colors(ctx), showHash));
  return EXIT_OK;
}

