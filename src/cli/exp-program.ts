/**
 * The `exp` and `queue` commands of the program (DVC 3's names and flags), kept out of `main.ts` so that file gains
 * one line for them. Each action imports its command file lazily, as every command of `main.ts` does.
 */
import { Command, Option } from "commander";
import type { CommandContext } from "./context.js";

type Runner = (ctx: CommandContext) => Promise<number>;
type Action = <A extends unknown[]>(body: (cmd: Command, ...args: A) => Runner) => (...all: unknown[]) => Promise<void>;

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function registerExperiments(program: Command, action: Action): void {
  const exp = program.command("exp").description("run, compare and share experiments (git commits under refs/exps)");
  exp
    .command("run")
    .description("run an experiment in the workspace (or queue them with --queue; run the queue with --run-all)")
    .argument("[targets...]", "stage addresses or group names")
    .option("-S, --set-param <[file:]key=value>", "override a param (a=1,2 sweeps a grid with --queue)", collect)
    .option("-n, --name <name>", "the experiment's name (default: two generated words)")
    .option("-m, --message <msg>", "the experiment commit's message")
    .option("-f, --force", "run the stages even if fresh")
    .option("--queue", "queue the experiment(s) instead of running")
    .option("--run-all", "run every queued experiment, each in its own worktree")
    .addOption(new Option("-j, --jobs <n>", "with --run-all: experiments at once (slurm: all); else stages at once"))
    .option("--executor <name>", "what runs the stages (local, slurm), overriding the config's executor")
    .action(
      action((cmd, targets: string[]) => async (ctx) => {
        const m = await import("./commands/exp-run.js");
        return m.run(ctx, targets, cmd.opts());
      }),
    );
  exp
    .command("exec-run", { hidden: true })
    .description("run a queued experiment's pipeline in its worktree (started by the queue runner)")
    .argument("[targets...]")
    .requiredOption("--cache-root <dir>")
    .option("--executor <name>")
    .action(
      action((cmd, targets: string[]) => async (ctx) => {
        const m = await import("./commands/exp-exec.js");
        return m.run(ctx, targets, cmd.opts());
      }),
    );
  exp
    .command("show")
    .description("a table of the baseline and its experiments, with their metrics and params")
    .option("--md", "a markdown table")
    .option("--json", "JSON output")
    .option("--csv", "CSV output")
    .option("--sort-by <metric>", "sort experiments by this metric or param")
    .addOption(new Option("--sort-order <order>", "sort order").choices(["asc", "desc"]).default("asc"))
    .option("--only-changed", "only columns whose value differs between rows")
    .option("--drop <regex>", "hide columns matching")
    .option("--keep <regex>", "show columns matching, even if dropped")
    .option("-A, --all-commits", "experiments of every baseline")
    .option("-n, --num <n>", "the last N commits of HEAD's branch")
    .option("--rev <rev>", "experiments of this baseline")
    .option("--param-deps", "only params some stage depends on")
    .action(
      action((cmd) => async (ctx) => {
        const m = await import("./commands/exp-show.js");
        return m.run(ctx, cmd.opts());
      }),
    );
  exp
    .command("diff")
    .description("metrics and params of A (default HEAD) against B (default the workspace); names of experiments allowed")
    .argument("[a]")
    .argument("[b]")
    .option("--all", "unchanged values too")
    .option("--md", "markdown tables")
    .option("--json", "JSON output")
    .action(
      action((cmd, a: string | undefined, b: string | undefined) => async (ctx) => {
        const m = await import("./commands/exp-diff.js");
        return m.run(ctx, a, b, cmd.opts());
      }),
    );
  const manage = (name: string, description: string, configure: (c: Command) => Command): void => {
    configure(exp.command(name).description(description)).action(
      action((cmd, ...args: unknown[]) => async (ctx) => {
        const m = await import("./commands/exp-manage.js");
        return m.run(ctx, name, args, cmd.opts());
      }),
    );
  };
  manage("apply", "put an experiment's params, lock and outputs into the workspace", (c) => c.argument("<name>").option("-f, --force", "overwrite uncommitted changes"));
  manage("branch", "make a git branch of an experiment", (c) => c.argument("<name>").argument("<branch>"));
  manage("remove", "remove experiments (and queued entries)", (c) =>
    c.argument("[names...]").option("--all", "every experiment").option("--queue", "every queued experiment").option("--rev <rev>", "the experiments of this baseline"),
  );
  manage("list", "experiments by baseline (HEAD's; --all: every baseline)", (c) => c.option("--all", "every baseline").option("--name-only", "names only"));
  manage("clean", "remove temporary worktrees no running experiment uses", (c) => c);
  manage("push", "push experiments (default: HEAD's) to a git remote", (c) => c.argument("<git_remote>").argument("[names...]"));
  manage("pull", "pull experiments (default: HEAD's) from a git remote", (c) => c.argument("<git_remote>").argument("[names...]"));

  const queue = program.command("queue").description("the experiment queue");
  const q = (name: string, description: string, configure: (c: Command) => Command): void => {
    configure(queue.command(name).description(description)).action(
      action((cmd, ...args: unknown[]) => async (ctx) => {
        const m = await import("./commands/queue.js");
        return m.run(ctx, name, args, cmd.opts());
      }),
    );
  };
  q("start", "run the queue in the background", (c) => c.option("-j, --jobs <n>", "experiments at once (slurm: all)").option("--executor <name>", "what runs the stages (local, slurm)"));
  q("status", "queued, running, finished and failed experiments", (c) => c);
  q("logs", "the output of a queued experiment", (c) => c.argument("<name>"));
  q("remove", "remove entries of the queue", (c) => c.argument("[names...]").option("--all", "every entry not running").option("--queued", "every queued entry").option("--success", "finished entries").option("--failed", "failed entries"));
  q("kill", "stop running experiments", (c) => c.argument("<names...>"));
}
