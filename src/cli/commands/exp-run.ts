/**
 * `pipe exp run [TARGETS] [-S [FILE:]KEY=VALUE]... [-n NAME] [-m MSG] [-f] [--queue | --run-all [-j N]] [--executor NAME]`: one
 * experiment in the workspace (`experiments/run.ts: runInWorkspace`, with `repro`'s reporter), or the grid queued
 * (`queueExperiments`), or the queue run (`runQueue`). Exit codes: 0 recorded, 1 a stage or an experiment failed,
 * 2 bad usage (an invalid or taken name, an unknown key), 130 interrupted.
 */
import path from "node:path";
import { error, type Diagnostic } from "../../core/diagnostic.js";
import { colors, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { printDiagnostics } from "../load.js";
import { execRunCommand, openExpForCommand, parseSets } from "../exp-common.js";

export interface ExpRunOptions {
  setParam?: string[];
  name?: string;
  message?: string;
  force?: boolean;
  queue?: boolean;
  runAll?: boolean;
  jobs?: string;
  executor?: string;
}

export async function run(ctx: CommandContext, targets: string[], opts: ExpRunOptions): Promise<number> {
  const p = await openExpForCommand(ctx);
  if (typeof p === "number") return p;
  const sets = parseSets(ctx, opts.setParam ?? []);
  if (typeof sets === "number") return sets;
  const run = await import("../../experiments/run.js");
  const usage = (ds: readonly Diagnostic[]): number => (printDiagnostics(ctx, ds), ds.some((d) => d.reason === "usage" || d.reason === "params") ? EXIT_USAGE : EXIT_FAILED);
  const { executorNamed, unknownExecutor } = await import("../../project/config.js");
  const executor = opts.executor === undefined ? undefined : executorNamed(opts.executor);
  if (opts.executor !== undefined && executor === undefined) return usage([unknownExecutor(opts.executor, "flag")]);

  if (opts.queue === true) {
    const r = await run.queueExperiments(p, sets, { ...(opts.name !== undefined ? { name: opts.name } : {}), ...(opts.message !== undefined ? { message: opts.message } : {}), targets });
    if (!r.ok) return usage(r.errors);
    for (const e of r.value) ctx.io.out(`queued experiment '${e.name}'${e.overrides.length > 0 ? ` (${e.overrides.map((o) => `${o.key}=${o.raw}`).join(", ")})` : ""}\n`);
    if (opts.runAll !== true) return EXIT_OK;
  }

  if (opts.runAll === true && opts.queue !== true && sets.length > 0) {
    return usage([error("usage", "--run-all runs what is queued: add --queue to queue these -S overrides first")]);
  }
  if (opts.runAll === true) {
    const jobs = opts.jobs === undefined ? undefined : Number(opts.jobs);
    if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) return usage([error("usage", `invalid value for -j/--jobs: '${opts.jobs ?? ""}' (expected a positive integer)`)]);
    const { queueEventText } = await import("../../report/exp-show.js");
    const ac = new AbortController();
    const onSig = (): void => ac.abort();
    process.once("SIGINT", onSig);
    process.once("SIGTERM", onSig);
    try {
      const r = await run.runQueue({ p, ...(jobs !== undefined ? { jobs } : {}), ...(executor ? { executor } : {}), execRun: execRunCommand(), emit: (e) => ctx.global.quiet || ctx.io.err(queueEventText(e, (f) => path.relative(ctx.global.cwd, f))), signal: ac.signal });
      if (!r.ok) return usage(r.errors);
      if (!ctx.global.quiet) ctx.io.out(`${r.value.recorded} experiment(s) recorded, ${r.value.failed} failed\n`);
      return ac.signal.aborted ? EXIT_INTERRUPTED : r.value.failed > 0 ? EXIT_FAILED : EXIT_OK;
    } finally {
      process.removeListener("SIGINT", onSig);
      process.removeListener("SIGTERM", onSig);
    }
  }
  const [{ reproduce }, { createReproTextReporter }] = await Promise.all([import("../../experiments/reproduce.js"), import("../../report/repro-text.js")]);
  const reporter = createReproTextReporter({
    out: ctx.io.out,
    err: ctx.io.err,
    statusLine: ctx.io.errIsTTY && !ctx.global.quiet,
    prefix: false,
    quiet: ctx.global.quiet,
    verbose: ctx.global.verbose,
    colors: colors(ctx),
  });
  const session = await import("../../exec/session.js");
  const interrupts = session.handleInterrupts({ onSecond: () => process.exit(EXIT_INTERRUPTED) });
  try {
    const r = await run.runInWorkspace({
      p,
      sets,
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(opts.message !== undefined ? { message: opts.message } : {}),
      reproduce: () =>
        reproduce({
          dir: ctx.global.cwd,
          targets,
          force: opts.force === true,
          ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
          ...(executor ? { executor } : {}),
          emit: (e) => reporter.handle(e),
          signal: interrupts.signal,
          onDiagnostics: (ds, sources) => ctx.global.quiet || printDiagnostics(ctx, ds, sources),
        }),
    });
    reporter.close();
    if (!r.ok) return usage(r.errors);
    if (r.value.kind === "failed") {
      const o = r.value.outcome;
      if (o.kind !== "done") return (printDiagnostics(ctx, o.errors, o.sources), o.kind === "invalid" ? EXIT_USAGE : EXIT_FAILED);
      if (o.interrupted) return EXIT_INTERRUPTED;
      ctx.io.err("the experiment failed: nothing was recorded\n");
      return EXIT_FAILED;
    }
    if (!ctx.global.quiet) ctx.io.out(`\nRan experiment '${r.value.name}' (${r.value.sha.slice(0, 7)}, baseline ${r.value.baseline.slice(0, 7)}).\n`);
    return EXIT_OK;
  } finally {
    reporter.close();
    interrupts.dispose();
  }
}
