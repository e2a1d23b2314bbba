/**
 * `pipe plots show [TARGETS]`, `pipe plots diff [REVS]` and `pipe plots templates [NAME]`, as DVC 3 has them.
 *
 * `show` and `diff` write one self-contained page, `index.html` in `-o DIR` (default `pipe_plots/`), and print its
 * `file://` URL; `--json` prints the filled Vega-Lite specs instead (`schemas/plots.json`) and writes nothing. `diff`
 * draws one series per revision or experiment, the workspace included (no revision: `HEAD` and the workspace).
 * `templates` writes the built-in templates (or one) to `-o DIR` (default `.pipe/plots/`) for editing.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { error } from "../../core/diagnostic.js";
import { writeAtomic } from "../../core/atomic-write.js";
import { rootTargets } from "../../compare/comparison.js";
import { WORKSPACE } from "../../git/revision.js";
import { collectPlots, openSides } from "../../report/plots/collect.js";
import { plotsJson, plotsPage } from "../../report/plots/page.js";
import { TEMPLATES, templateText } from "../../report/plots/templates.js";
import { EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { printJson, printWarnings, usageError } from "../compare.js";
import { findRootForCommand, loadForCommand } from "../load.js";
import { openInBrowser } from "../open.js";

export interface PlotsOptions {
  out?: string;
  json?: boolean;
  open?: boolean;
  targets?: string[];
  exp?: string[];
}

async function draw(ctx: CommandContext, names: string[], targets: string[] | undefined, opts: PlotsOptions, title: string): Promise<number> {
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const root = loaded.project.root;
  const t = rootTargets(root, ctx.global.cwd, targets && targets.length > 0 ? targets : undefined);
  if (!t.ok) return usageError(ctx, t.errors);
  const sides = await openSides(root, loaded.graph.pipeline, { revs: names, exps: opts.exp ?? [] }, "plots diff reads revisions from git");
  if (!sides.ok) return usageError(ctx, sides.errors);
  const r = await collectPlots(root, loaded.graph.pipeline, sides.value.sides, sides.value.stagesAt, t.value);
  if (!r.ok) return usageError(ctx, r.errors);
  printWarnings(ctx, [...sides.value.warnings, ...r.value.warnings]);
  // A plot that cannot be drawn is an error of the project, located, but the others are still drawn.
  printWarnings(ctx, r.value.problems);
  if (opts.json) {
    printJson(ctx, plotsJson(r.value.plots, r.value.problems));
    return r.value.problems.length > 0 ? EXIT_USAGE : EXIT_OK;
  }
  const dir = path.resolve(ctx.global.cwd, opts.out ?? "pipe_plots");
  const file = path.join(dir, "index.html");
  await mkdir(dir, { recursive: true });
  await writeAtomic(file, plotsPage(title, r.value.plots, `${r.value.sides.join(" vs ")} · ${r.value.plots.length} plot${r.value.plots.length === 1 ? "" : "s"}`));
  ctx.io.out(pathToFileURL(file).href + "\n");
  if (opts.open) await openInBrowser(ctx, file);
  return r.value.problems.length > 0 ? EXIT_USAGE : EXIT_OK;
}

export function runShow(ctx: CommandContext, targets: string[], opts: PlotsOptions): Promise<number> {
  return draw(ctx, [WORKSPACE], targets, opts, "Plots");
}

export function runDiff(ctx: CommandContext, revs: string[], opts: PlotsOptions): Promise<number> {
  const names = revs.length === 0 && (opts.exp ?? []).length === 0 ? ["HEAD", WORKSPACE] : [...new Set([...revs, WORKSPACE])];
  return draw(ctx, names, opts.targets, opts, "Plots diff");
}

export async function runTemplates(ctx: CommandContext, name: string | undefined, opts: { out?: string }): Promise<number> {
  const names = name === undefined ? Object.keys(TEMPLATES) : [name];
  if (name !== undefined && templateText(name) === undefined) {
    return usageError(ctx, [error("usage", `no template named '${name}'; the templates are ${Object.keys(TEMPLATES).join(", ")}`)]);
  }
  let dir: string;
  if (opts.out !== undefined) dir = path.resolve(ctx.global.cwd, opts.out);
  else {
    const project = await findRootForCommand(ctx);
    if (typeof project === "number") return project;
    dir = path.join(project.root, ".pipe", "plots");
  }
  // As DVC: an existing template file with other content is the user's edit, never overwritten.
  const clashes: string[] = [];
  for (const n of names) {
    const existing = await readFile(path.join(dir, `${n}.json`), "utf8").catch(() => undefined);
    if (existing !== undefined && existing !== templateText(n)) clashes.push(path.join(dir, `${n}.json`));
  }
  if (clashes.length > 0) return usageError(ctx, clashes.map((f) => error("usage", `template '${f}' already exists and differs from the built-in one; remove it to write it again`)));
  await mkdir(dir, { recursive: true });
  for (const n of names) {
    const file = path.join(dir, `${n}.json`);
    await writeAtomic(file, templateText(n)!);
    ctx.io.out(path.relative(ctx.global.cwd, file) + "\n");
  }
  return EXIT_OK;
}
