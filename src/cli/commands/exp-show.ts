/**
 * `pipe exp show [--md|--json|--csv] [--sort-by M] [--sort-order asc|desc] [--only-changed] [--drop RE] [--keep RE]
 * [-A|-n N|--rev R] [--param-deps]`: the table of `experiments/show.ts`, rendered by `report/exp-show.ts`; the plain
 * table is cut to the terminal's width (a note on stderr names how many columns were left out).
 */
import { error } from "../../core/diagnostic.js";
import { EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { loadForCommand, printDiagnostics } from "../load.js";
import { openExpForCommand } from "../exp-common.js";

export interface ExpShowOptions {
  md?: boolean;
  json?: boolean;
  csv?: boolean;
  sortBy?: string;
  sortOrder?: "asc" | "desc";
  onlyChanged?: boolean;
  drop?: string;
  keep?: string;
  allCommits?: boolean;
  num?: string;
  rev?: string;
  paramDeps?: boolean;
}

function regex(ctx: CommandContext, flag: string, v: string | undefined): RegExp | undefined | number {
  if (v === undefined) return undefined;
  try {
    return new RegExp(v);
  } catch (e) {
    printDiagnostics(ctx, [error("usage", `${flag} '${v}': not a regular expression (${e instanceof Error ? e.message : String(e)})`)]);
    return EXIT_USAGE;
  }
}

export async function run(ctx: CommandContext, opts: ExpShowOptions): Promise<number> {
  const p = await openExpForCommand(ctx);
  if (typeof p === "number") return p;
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const drop = regex(ctx, "--drop", opts.drop);
  const keep = regex(ctx, "--keep", opts.keep);
  if (typeof drop === "number" || typeof keep === "number") return EXIT_USAGE;
  const num = opts.num === undefined ? undefined : Number(opts.num);
  if (num !== undefined && (!Number.isInteger(num) || num < 1)) {
    printDiagnostics(ctx, [error("usage", `-n/--num takes a positive whole number, not '${opts.num ?? ""}'`)]);
    return EXIT_USAGE;
  }
  const [{ collectShow }, r] = await Promise.all([import("../../experiments/show.js"), import("../../report/exp-show.js")]);
  const data = await collectShow(p, loaded.graph.pipeline, {
    all: opts.allCommits === true,
    ...(num !== undefined ? { num } : {}),
    ...(opts.rev !== undefined ? { rev: opts.rev } : {}),
    paramDeps: opts.paramDeps === true,
    ...(opts.sortBy !== undefined ? { sortBy: opts.sortBy, sortOrder: opts.sortOrder ?? "asc" } : {}),
  });
  if (!data.ok) {
    printDiagnostics(ctx, data.errors);
    return EXIT_USAGE;
  }
  const ro = {
    ...(opts.sortBy !== undefined ? { sortBy: opts.sortBy, sortOrder: opts.sortOrder ?? "asc" } : {}),
    onlyChanged: opts.onlyChanged === true,
    ...(drop ? { drop } : {}),
    ...(keep ? { keep } : {}),
    ...(process.stdout.isTTY && process.stdout.columns ? { width: process.stdout.columns } : {}),
  };
  if (opts.json === true) ctx.io.out(r.renderShowJson(data.value, ro));
  else if (opts.csv === true) ctx.io.out(r.renderShowCsv(data.value, ro));
  else if (opts.md === true) ctx.io.out(r.renderShowMarkdown(data.value, ro));
  else {
    const t = r.renderShowText(data.value, ro);
    ctx.io.out(t.text);
    if (t.hidden > 0) ctx.io.err(`${t.hidden} column(s) did not fit the terminal: narrow them with --drop/--keep/--only-changed, or see all with --md, --csv or --json\n`);
  }
  return EXIT_OK;
}
