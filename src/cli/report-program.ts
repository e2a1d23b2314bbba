/**
 * The commander definitions of `plots show|diff|templates` and `report`, kept out of `main.ts` so that file stays a
 * list. Light on purpose: the command bodies are imported only when one runs.
 */
import type { Command } from "commander";
import type { CommandContext } from "./context.js";

type Action = <A extends unknown[]>(body: (cmd: Command, ...args: A) => (ctx: CommandContext) => Promise<number>) => (...all: unknown[]) => Promise<void>;

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerReportCommands(program: Command, action: Action): void {
  const plots = program.command("plots").description("draw plots: show, compare across revisions, edit templates");
  plots
    .command("show")
    .description("draw every plot (or the targets) of the workspace as one offline HTML page")
    .argument("[targets...]")
    .option("-o, --out <dir>", "write index.html here (default pipe_plots)")
    .option("--json", "print the filled Vega-Lite specs instead of writing a page")
    .option("--open", "open the page in a browser")
    .action(
      action((cmd, targets: string[]) => async (ctx) => {
        const m = await import("./commands/plots.js");
        return m.runShow(ctx, targets, cmd.opts());
      }),
    );
  plots
    .command("diff")
    .description("draw every plot with one series per revision or experiment, the workspace included (default: HEAD)")
    .argument("[revs...]")
    .option("--targets <files...>", "only these plots")
    .option("--exp <name>", "an experiment to draw (repeatable)", collect)
    .option("-o, --out <dir>", "write index.html here (default pipe_plots)")
    .option("--json", "print the filled Vega-Lite specs instead of writing a page")
    .option("--open", "open the page in a browser")
    .action(
      action((cmd, revs: string[]) => async (ctx) => {
        const m = await import("./commands/plots.js");
        return m.runDiff(ctx, revs, cmd.opts());
      }),
    );
  plots
    .command("templates")
    .description("write the built-in plot templates (or one) for editing (default .pipe/plots)")
    .argument("[name]")
    .option("-o, --out <dir>", "write them here")
    .action(
      action((cmd, name: string | undefined) => async (ctx) => {
        const m = await import("./commands/plots.js");
        return m.runTemplates(ctx, name, cmd.opts());
      }),
    );
  program
    .command("report")
    .description("one offline HTML page: the DAG by status, params and metrics across revisions, every plot")
    .option("--rev <rev>", "a revision to compare (repeatable; default HEAD beside the workspace)", collect)
    .option("--exp <name>", "an experiment to compare (repeatable)", collect)
    .option("-o, --out <file>", "write the page here (default pipe_report.html)")
    .option("--open", "open the page in a browser")
    .action(
      action((cmd) => async (ctx) => {
        const m = await import("./commands/report.js");
        return m.run(ctx, cmd.opts());
      }),
    );
}
