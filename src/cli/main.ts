/**
 * The `pipe` command line: the commander program, and the one place that turns results into exit codes and thrown
 * exceptions (bugs) into an "internal error" message.
 *
 * Start-up is a budget (`pipe --version` must stay near `node -e 0`), so every command module is imported lazily,
 * only when that command runs; this file imports nothing heavy. `pipe --version` alone never gets here: `bin/pipe.js`
 * answers it before importing this file (commander's own load is most of the budget), with the same output.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { createRequire } from "node:module";
import path from "node:path";
import type { CommandContext, GlobalOptions, RunIo } from "./context.js";
import { DEFAULT_PRECISION, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE } from "./context.js";
// Imported up front, not on the error path: with the open-file limit reached (EMFILE) a lazy import there fails too.
import { envErrorOf, envText } from "../core/env-error.js";
import { registerTransferCommands } from "./transfer-program.js";
import { registerReportCommands } from "./report-program.js";
import { registerExperiments } from "./exp-program.js";

const require = createRequire(import.meta.url);
const VERSION: string = (require("../../package.json") as { version: string }).version;

function globalsOf(cmd: Command, io: RunIo): GlobalOptions {
  const o = cmd.optsWithGlobals() as { C?: string; color?: boolean; verbose?: boolean; quiet?: boolean };
  const noColorEnv = io.env["NO_COLOR"] !== undefined && io.env["NO_COLOR"] !== "";
  return {
    cwd: path.resolve(io.cwd, o.C ?? "."),
    color: o.color !== false && !noColorEnv && io.stdoutIsTTY,
    verbose: o.verbose === true,
    quiet: o.quiet === true,
  };
}

function contextOf(cmd: Command, io: RunIo): CommandContext {
  return {
    global: globalsOf(cmd, io),
    io: {
      out: (t) => io.stdout(t),
      err: (t) => io.stderr(t),
      errIsTTY: io.stderrIsTTY,
      outIsTTY: io.stdoutIsTTY,
      ...(io.ask ? { ask: io.ask } : {}),
    },
    env: io.env,
  };
}

/** The process's own cwd, environment and streams, for `bin/pipe.js`. */
export function processIo(): RunIo {
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    stdoutColumns: process.stdout.isTTY ? process.stdout.columns : undefined,
    stderrColumns: process.stderr.isTTY ? process.stderr.columns : undefined,
    stdoutHasColors: process.stdout.isTTY ? process.stdout.hasColors?.() : undefined,
    stderrHasColors: process.stderr.isTTY ? process.stderr.hasColors?.() : undefined,
    ...(process.stdin.isTTY === true && process.stderr.isTTY === true ? { ask } : {}),
  };
}

/** One line read from the terminal after `question` (on stderr); undefined at end of input (Ctrl-D). */
async function ask(question: string): Promise<string | undefined> {
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    let answered = false;
    rl.on("close", () => {
      if (!answered) process.stderr.write("\n");
      resolve(undefined);
    });
    rl.question(question, (line) => {
      answered = true;
      resolve(line);
      rl.close();
    });
  });
}

type Runner = (ctx: CommandContext) => Promise<number>;

/** Wraps a command body so its exit code reaches `run`'s caller (through `exit`, the run's own slot). */
function action<A extends unknown[]>(body: (cmd: Command, ...args: A) => Runner) {
  return async (...all: unknown[]): Promise<void> => {
    const cmd = all[all.length - 1] as Command;
    const args = all.slice(0, -2) as A;
    const run = runOf(cmd);
    run.code = await body(cmd, ...args)(contextOf(cmd, run.io));
  };
}

/** The io and the exit code of the run a program was built for (commander hands actions only the command). */
interface RunState {
  io: RunIo;
  code: number;
}
const runs = new WeakMap<Command, RunState>();

function runOf(cmd: Command): RunState {
  for (let c: Command | null = cmd; c; c = c.parent) {
    const r = runs.get(c);
    if (r) return r;
  }
  throw new Error("a command ran outside of run()");
}

/** The most significant digits `--precision` accepts (beyond what a double holds, and far beyond any use). */
const MAX_PRECISION = 100;

/** `--precision <n>` of `metrics show` and `metrics diff`: a whole number, parsed here so help shows `(default: 5)`. */
function precisionOption(): Option {
  return new Option("--precision <n>", "significant digits")
    .default(DEFAULT_PRECISION)
    .argParser((raw: string): number => {
      const n = Number(raw);
      if (!/^\d+$/.test(raw.trim()) || n < 1 || n > MAX_PRECISION) {
        throw new InvalidArgumentError(`--precision takes a whole number of significant digits from 1 to ${MAX_PRECISION}`);
      }
      return n;
    });
}

/**
 * Usage mistakes read as one line (`pipe: unknown command 'stauts'`), commander's "(Did you mean status?)" when a
 * name is near, and where help is, rather than the whole help, whose 27 lines bury the one that matters. The
 * command the mistake was made in names its own help (`pipe metrics show --help`). Called once every command exists:
 * commander copies settings to a subcommand only when it is added.
 */
function pointToHelp(cmd: Command, names: readonly string[] = []): void {
  const words = [...names, cmd.name()];
  cmd.showHelpAfterError(`Run '${words.join(" ")} --help' for usage.`);
  for (const sub of cmd.commands) pointToHelp(sub, words);
}

function jobsOption(): Option {
  return new Option("-j, --jobs <n>", "run up to N independent stages at once (`auto` = CPU count)");
}

export function buildProgram(io: RunIo): Command {
  const program = new Command("pipe");
  runs.set(program, { io, code: 0 });
  program
    .description("A DVC-compatible pipeline orchestrator: runs only stale stages, in parallel, and says why.")
    .version(VERSION, "--version", "print the version")
    .option("-C <dir>", "run as if pipe was started in <dir>")
    .option("--no-color", "disable colours (also NO_COLOR)")
    .option("-v, --verbose", "more detail (old and new hashes, timings)")
    .option("-q, --quiet", "print nothing but errors")
    // Set before any command is added: subcommands copy these settings when they are created. Global options are
    // listed in every command's help (`pipe status --help` must show `-q`, which is what CI scripts use).
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      outputError: (str, write) => write(str.replace(/^error: /, "pipe: ")),
      writeOut: (str) => io.stdout(str),
      writeErr: (str) => io.stderr(str),
      // Undefined off a terminal, as commander's own default returns (its typing says number; it falls back to 80).
      getOutHelpWidth: () => io.stdoutColumns as number,
      getErrHelpWidth: () => io.stderrColumns as number,
      // commander's own choice (its `useColor`), made from the run's environment rather than the process's.
      getOutHasColors: () => helpColors(io, io.stdoutIsTTY && io.stdoutHasColors !== false),
      getErrHasColors: () => helpColors(io, io.stderrIsTTY && io.stderrHasColors !== false),
    })
    .exitOverride();

  program
    .command("init")
    .description("create .pipe/ (config and .gitignore) in the current directory")
    .action(
      action((cmd) => async (ctx) => {
        const m = await import("./commands/init.js");
        return m.run(ctx, cmd.opts());
      }),
    );

  program
    .command("repro")
    .description("bring the targets (default: every stage) up to date")
    .argument("[targets...]", "stage addresses or group names")
    .option("-f, --force", "run the targets even if fresh")
    .option("-s, --single-item", "only the targets, not their upstream")
    .option("-d, --downstream", "the targets and every stage downstream of them")
    .option("-p, --pipeline", "every stage of the connected component holding the targets")
    .option("--force-downstream", "once a stage runs, run its dependents too")
    .addOption(jobsOption())
    .option("-k, --keep-going", "after a failure, keep running stages that do not depend on it")
    .option("--dry", "print what would run and why; change nothing")
    .option("--no-run-cache", "do not restore outputs from the run-cache")
    .option("--no-commit", "run, but do not store outputs in the cache")
    .option("--wait", "wait for stages a pipe that died left running, instead of stopping them")
    .option("--executor <name>", "what runs stage commands (default: 'executor' in .pipe/config.yaml, else local)")
    .option("--tty", "give the stage a pseudo-terminal when pipe runs on one (with -j 1)")
    .option("--json", "one JSON object per event on stdout (NDJSON), stage output included")
    .option("--pull", "first fetch missing outputs and run-cache entries from the remote")
    .action(
      action((cmd, targets: string[]) => async (ctx) => {
        const m = await import("./commands/repro.js");
        return m.run(ctx, targets, cmd.opts());
      }),
    );

  program
    .command("status")
    .description("report stale stages and why")
    .argument("[targets...]", "stage addresses or group names")
    .option("--json", "one JSON document on stdout")
    .option("--check", "print the report, exit 1 when anything is stale")
    .option("-c, --cloud", "compare the outputs in the cache with a remote (new, deleted, missing)")
    .option("-r, --remote <name>", "with --cloud: the remote (default: core.remote)")
    .option("--no-data", "judge the lock from what git holds alone (CI: no outputs, no cache); exit 1 when it does not describe the pipeline")
    .action(
      action((cmd, targets: string[]) => async (ctx) => {
        const m = await import("./commands/status.js");
        return m.run(ctx, targets, cmd.opts());
      }),
    );

  program
    .command("dag")
    .description("draw the stage graph")
    .argument("[target]", "draw only the part leading to this stage")
    .option("--dot", "Graphviz dot")
    .option("--mermaid", "mermaid flowchart")
    .option("--md", "mermaid in a markdown fence")
    .option("--json", "nodes, edges and stage fields as JSON")
    .option("--outs", "draw outputs instead of stages")
    .option("--full", "the whole graph, not only the part leading to TARGET")
    .option("--expand", "draw every member of large foreach/matrix groups")
    .option("--status", "mark stale stages")
    .action(
      action((cmd, target: string | undefined) => async (ctx) => {
        const m = await import("./commands/dag.js");
        return m.run(ctx, target, cmd.opts());
      }),
    );

  const stage = program.command("stage").description("inspect stages");
  stage
    .command("list")
    .description("one line per stage")
    .argument("[targets...]", "stage addresses or group names")
    .option("--json", "an array with one object per expanded stage")
    .action(
      action((cmd, targets: string[]) => async (ctx) => {
        const m = await import("./commands/stage-list.js");
        return m.run(ctx, targets, cmd.opts());
      }),
    );

  const params = program.command("params").description("compare parameters across git revisions");
  params
    .command("diff")
    .description("params that differ between A_REV (default HEAD) and B_REV (default the workspace)")
    .argument("[a_rev]")
    .argument("[b_rev]")
    .option("--all", "show unchanged params too")
    .option("--deps", "only params some stage depends on (and vars keys templating reads, as DVC)")
    .option("--targets <files...>", "only these params files")
    .option("--json", "JSON output")
    .option("--md", "a markdown table")
    .option("--no-path", "hide the Path column")
    .action(
      action((cmd, a: string | undefined, b: string | undefined) => async (ctx) => {
        const m = await import("./commands/params-diff.js");
        return m.run(ctx, a, b, cmd.opts());
      }),
    );

  const metrics = program.command("metrics").description("show and compare metrics");
  metrics
    .command("show")
    .description("metrics of the workspace, or of the given revisions")
    .argument("[revs...]")
    .option("--all-commits", "every commit of the repository")
    .option("--json", "JSON output")
    .option("--md", "a markdown table")
    .addOption(precisionOption())
    .action(
      action((cmd, revs: string[]) => async (ctx) => {
        const m = await import("./commands/metrics.js");
        return m.runShow(ctx, revs, cmd.opts());
      }),
    );
  metrics
    .command("diff")
    .description("metrics that differ between A_REV (default HEAD) and B_REV (default the workspace)")
    .argument("[a_rev]")
    .argument("[b_rev]")
    .option("--all", "show unchanged metrics too")
    .option("--targets <files...>", "only these metrics files")
    .option("--json", "JSON output")
    .option("--md", "a markdown table")
    .option("--no-path", "hide the Path column")
    .addOption(precisionOption())
    .action(
      action((cmd, a: string | undefined, b: string | undefined) => async (ctx) => {
        const m = await import("./commands/metrics.js");
        return m.runDiff(ctx, a, b, cmd.opts());
      }),
    );

  program
    .command("checkout")
    .description("restore missing or modified outputs from the cache, as the lock records them")
    .argument("[targets...]")
    .action(
      action((_cmd, targets: string[]) => async (ctx) => {
        const m = await import("./commands/checkout.js");
        return m.run(ctx, targets);
      }),
    );

  program
    .command("commit")
    .description("record the workspace state of stages into the lock and cache without running them")
    .argument("[targets...]")
    .action(
      action((cmd, targets: string[]) => async (ctx) => {
        const m = await import("./commands/commit.js");
        return m.run(ctx, targets, cmd.opts());
      }),
    );

  program
    .command("add")
    .description("track files or directories no stage produces: cache them and write PATH.dvc")
    .argument("<paths...>")
    .option("--glob", "expand the paths as glob patterns")
    .action(action((cmd, paths: string[]) => async (ctx) => (await import("./commands/add.js")).run(ctx, paths, cmd.opts())));
  program
    .command("remove")
    .description("stop tracking what .dvc files track (the data stays)")
    .argument("<targets...>")
    .action(action((cmd, targets: string[]) => async (ctx) => (await import("./commands/remove.js")).run(ctx, targets, cmd.opts())));
  program
    .command("diff")
    .description("show tracked files added, modified, deleted or renamed between two revisions, or a revision and the workspace")
    .argument("[a_rev]", "old revision (default HEAD)")
    .argument("[b_rev]", "new revision (default: the workspace)")
    .option("--json", "print a JSON document")
    .option("--md", "print a markdown table")
    .option("--show-hash", "show the hash of each entry")
    .option("--hide-missing", "leave out the 'not in cache' entries")
    .option("--targets <paths...>", "only these tracked paths")
    .action(action((cmd, a?: string, b?: string) => async (ctx) => (await import("./commands/diff.js")).run(ctx, a, b, cmd.opts())));

  program
    .command("gc")
    .description("remove cache objects and run-cache entries that no lock or .dvc file in scope names")
    .option("-w, --workspace", "keep what the workspace names (always kept)")
    .option("-a, --all-branches", "also keep what the tip of every git branch names")
    .option("-T, --all-tags", "also keep what every git tag names")
    .option("-A, --all-commits", "also keep what every git commit names")
    .option("--rev <commit>", "also keep what this commit names")
    .option("-n, --num <n>", "with --rev: the last N commits from it along first parents (default 1)")
    .option("--date <YYYY-MM-DD>", "also keep what commits made on or after this day name")
    .option("--all-experiments", "also keep what every experiment (pipe exp) names")
    .option("--skip-failed", "go on without a revision whose lock or .dvc file cannot be read (a warning)")
    .option("-f, --force", "remove without asking")
    .option("--dry", "list what would be removed and how many bytes it would free")
    .option("-c, --cloud", "remove from a remote instead of the cache")
    .option("-r, --remote <name>", "with -c: the remote (default: core.remote)")
    .action(
      action((cmd) => async (ctx) => {
        const m = await import("./commands/gc.js");
        return m.run(ctx, cmd.opts());
      }),
    );

  registerTransferCommands(program, action);
  program
    .command("watch")
    .description("repro the targets, then again whenever their deps, params, stages or vars files change (Ctrl-C stops)")
    .argument("[targets...]", "stage addresses or group names")
    .addOption(jobsOption())
    .action(action((cmd, targets: string[]) => async (ctx) => (await import("./commands/watch.js")).run(ctx, targets, cmd.opts())));

  const lock = program.command("lock").description("pipe.lock in git: the merge driver");
  lock
    .command("merge")
    .description("git's merge driver for pipe.lock (%O %A %B %P): entry by entry, never conflict markers")
    .argument("<base>").argument("<ours>", "written with the result").argument("<theirs>").argument("[path]", "the lock's path in the repository")
    .action(action((_cmd, b: string, o: string, t: string, p?: string) => async (ctx) => (await import("./commands/lock.js")).runMerge(ctx, b, o, t, p)));
  lock
    .command("install-driver")
    .description("route pipe.lock to the merge driver: .gitattributes, and git config in this clone")
    .option("--command <cmd>", "how git runs pipe (default: this node and this pipe, by absolute path)")
    .action(action((cmd) => async (ctx) => (await import("./commands/lock.js")).runInstall(ctx, cmd.opts())));
  registerReportCommands(program, action);

  registerExperiments(program, action);
  pointToHelp(program);
  return program;
}

/** Whether commander colours its help and errors: its own rule (`useColor` in commander), on the run's environment. */
function helpColors(io: RunIo, isTTY: boolean): boolean {
  const env = io.env;
  if (env["NO_COLOR"] || env["FORCE_COLOR"] === "0" || env["FORCE_COLOR"] === "false") return false;
  if (env["FORCE_COLOR"] || env["CLICOLOR_FORCE"] !== undefined) return true;
  return isTTY;
}

/**
 * Runs `pipe` with the arguments after the program name and returns the exit code. The process's cwd, environment,
 * streams and exit code are not touched (they come in `io`), and what the run installs on the process (the interrupt
 * handlers) is removed before it returns, so runs can follow each other in one process (the tests do).
 */
export async function run(argv: readonly string[], io: RunIo): Promise<number> {
  const program = buildProgram(io);
  // An interrupt (Ctrl-C, SIGTERM, a hang-up) before a command installs its own handler still exits with the
  // documented code; nothing runs yet that needs stopping.
  const onSignal = (): never => process.exit(EXIT_INTERRUPTED);
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const sig of signals) process.once(sig, onSignal);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return runs.get(program)?.code ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; usage mistakes with 2 (commander already printed the message).
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    // A full disk, a read-only mount, a permission (core/env-error.ts): the machine's doing, not a bug in pipe.
    // Said plainly, with what to do, exit 1.
    const env = envErrorOf(e);
    if (env) {
      // Paths as seen from where the user is (inside the working directory: relative to it).
      io.stderr(`error: ${envText(env, { root: io.cwd })}\n`);
      return EXIT_FAILED;
    }
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    io.stderr(`pipe ${VERSION}: internal error (this is a bug in pipe, please report it):\n${msg}\n`);
    return 70;
  } finally {
    for (const sig of signals) process.removeListener(sig, onSignal);
  }
}

/** `bin/pipe.js`: the process's io, and the exit code set on the process. */
export async function main(argv: readonly string[]): Promise<void> {
  // `pipe stage list | head`: a reader that goes away is not an error (as for any Unix filter); stop quietly.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
  // `run` removes its interrupt handlers when it returns; the process may live a moment longer (streams to flush),
  // and an interrupt then still exits with the documented code.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(sig, () => process.exit(EXIT_INTERRUPTED));
  process.exitCode = await run(argv, processIo());
}
