/**
 * `pipe report [--rev R]... [--exp NAME]... [-o FILE] [--open]`: one self-contained HTML page with the DAG coloured
 * by status, the params and metrics of the chosen revisions and experiments side by side (default: HEAD and the
 * workspace), every plot overlaid across them, and where the page comes from. Prints the page's `file://` URL.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { writeAtomic } from "../../core/atomic-write.js";
import { gatherReport } from "../../report/report-data.js";
import { reportPage } from "../../report/report-page.js";
import { EXIT_OK, type CommandContext } from "../context.js";
import { printWarnings, usageError } from "../compare.js";
import { loadForCommand } from "../load.js";
import { openInBrowser } from "../open.js";

const VERSION = (createRequire(import.meta.url)("../../../package.json") as { version: string }).version;

export interface ReportOptions {
  rev?: string[];
  exp?: string[];
  out?: string;
  open?: boolean;
}

export async function run(ctx: CommandContext, opts: ReportOptions): Promise<number> {
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const r = await gatherReport(loaded.graph, loaded.sources, { revs: opts.rev ?? [], exps: opts.exp ?? [], version: VERSION });
  if (!r.ok) return usageError(ctx, r.errors);
  printWarnings(ctx, r.value.warnings);
  const file = path.resolve(ctx.global.cwd, opts.out ?? "pipe_report.html");
  await writeAtomic(file, reportPage(r.value, path.basename(loaded.project.root)));
  ctx.io.out(pathToFileURL(file).href + "\n");
  if (opts.open) await openInBrowser(ctx, file);
  return EXIT_OK;
}
