/**
 * The commands of remote storage: `remote add|list|modify|remove|default`, `push`, `fetch`, `pull`. Registered here
 * rather than in `main.ts` to keep that file's share small; like every command, each module is imported only when
 * its command runs.
 */
import { Option, type Command } from "commander";
import type { CommandContext } from "./context.js";

type Runner = (ctx: CommandContext) => Promise<number>;
type Action = <A extends unknown[]>(body: (cmd: Command, ...args: A) => Runner) => (...all: unknown[]) => Promise<void>;

/** The flags `push`, `fetch` and `pull` share (DVC 3's). */
function transferFlags(c: Command): Command {
  return c
    .argument("[targets...]", "stage addresses or group names (default: every stage)")
    .option("-r, --remote <name>", "the remote to use (default: core.remote)")
    .addOption(new Option("-j, --jobs <n>", "transfers at once (default: the remote's jobs option, else per remote kind)"))
    .option("--run-cache", "also transfer run-cache entries (and the outputs they name)")
    .option("-a, --all-branches", "also the outputs the tip of every git branch names")
    .option("-T, --all-tags", "also the outputs every git tag names")
    .option("-A, --all-commits", "also the outputs every git commit names")
    .option("--rev <commit>", "also the outputs this commit names")
    .option("--json", "one JSON document on stdout (schemas/transfer.schema.json)");
}

export function registerTransferCommands(program: Command, action: Action): void {
  for (const [verb, what] of [
    ["push", "send the cached outputs the remote lacks"],
    ["fetch", "bring the outputs' objects the cache lacks from the remote (the workspace is not touched)"],
    ["pull", "fetch, then checkout"],
  ] as const) {
    transferFlags(program.command(verb).description(what)).action(
      action((cmd, targets: string[]) => async (ctx) => {
        const m = verb === "push" ? await import("./commands/push.js") : verb === "fetch" ? await import("./commands/fetch.js") : await import("./commands/pull.js");
        return m.run(ctx, targets, cmd.opts());
      }),
    );
  }

  const remote = program.command("remote").description("configure remote storage (.pipe/config.yaml; secrets in .pipe/config.local.yaml)");
  const load = (): Promise<typeof import("./commands/remote.js")> => import("./commands/remote.js");
  remote
    .command("add")
    .description("add a remote")
    .argument("<name>")
    .argument("<url>", "a directory, file://, s3://, gs://, ssh://, webdav(s)://, http(s)://")
    .option("-d, --default", "make it the default remote")
    .option("-f, --force", "replace a remote of that name")
    .option("--local", "in .pipe/config.local.yaml (git-ignored)")
    .action(action((cmd, name: string, url: string) => async (ctx) => (await load()).add(ctx, name, url, cmd.opts())));
  remote
    .command("list")
    .description("the configured remotes (-v: their options, secrets masked)")
    .option("--json", "JSON output")
    .action(action((cmd) => async (ctx) => (await load()).list(ctx, cmd.opts())));
  remote
    .command("modify")
    .description("set (or --unset) an option of a remote; secrets always go to .pipe/config.local.yaml")
    .argument("<name>")
    .argument("<key>")
    .argument("[value]")
    .option("--local", "in .pipe/config.local.yaml (git-ignored)")
    .option("-u, --unset", "remove the option")
    .action(action((cmd, name: string, key: string, value: string | undefined) => async (ctx) => (await load()).modify(ctx, name, key, value, cmd.opts())));
  remote
    .command("remove")
    .description("remove a remote")
    .argument("<name>")
    .action(action((_cmd, name: string) => async (ctx) => (await load()).remove(ctx, name)));
  remote
    .command("default")
    .description("print the default remote, or set it")
    .argument("[name]")
    .option("--local", "in .pipe/config.local.yaml (git-ignored)")
    .option("-u, --unset", "unset the default")
    .action(action((cmd, name: string | undefined) => async (ctx) => (await load()).setDefault(ctx, name, cmd.opts())));
}
