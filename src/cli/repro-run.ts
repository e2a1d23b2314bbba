/**
 * Running `pipe repro` as the command does, for it and for `watch` (which runs it again on each change), so neither
 * command imports the other. `pipe repro [TARGET...]` brings the targets (default: every stage) up to date (spec 5). Parses flags, selects
 * stages, takes the project write lock, runs the engine (`exec/repro.ts`) with the text reporter (or, with `--json`,
 * the NDJSON one: `report/repro-json.ts`), and maps the
 * outcome to an exit code: 0 done, 1 a stage failed (or a dep is missing, or another writer holds the project),
 * 2 bad usage or invalid project, 130 interrupted.
 */
import { colors, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, type CommandContext } from "./context.js";
import { loadForCommand, lockNotes, printDiagnostics } from "./load.js";
import { whereForPipeline } from "../project/where.js";

export interface ReproOptions {
  force?: boolean;
  singleItem?: boolean;
  downstream?: boolean;
  pipeline?: boolean;
  forceDownstream?: boolean;
  jobs?: string;
  keepGoing?: boolean;
  dry?: boolean;
  /** false with --no-run-cache */
  runCache?: boolean;
  /** false with --no-commit */
  commit?: boolean;
  /** Wait for stages a dead pipe left running instead of stopping them. */
  wait?: boolean;
  /** What runs stage commands (overrides the config's `executor`). */
  executor?: string;
  /** One JSON object per event on stdout (`schemas/repro-events.schema.json`). */
  json?: boolean;
  /** A pseudo-terminal for the stage (`pipe` on a terminal, -j 1). */
  tty?: boolean;
  /** Fetch missing outputs and run-cache entries from the remote first (`cli/transfer-run.ts`). */
  pull?: boolean;
}

export async function reproCommand(ctx: CommandContext, targets: string[], opts: ReproOptions): Promise<number> {
  const started = performance.now();
  const { executorNamed, unknownExecutor } = await import("../project/config.js");
  const executor = opts.executor === undefined ? undefined : executorNamed(opts.executor);
  if (opts.executor !== undefined && executor === undefined) {
    printDiagnostics(ctx, [unknownExecutor(opts.executor, "flag")]);
    return EXIT_USAGE;
  }
  const dry = opts.dry === true;
  // --dry writes nothing, not even the load cache.
  const loaded = await loadForCommand(ctx, { writeLoadCache: !dry });
  if (typeof loaded === "number") return loaded;
  const { graph, sources } = loaded;
  const [{ prepareRepro, runRepro }, session, { createReproTextReporter }, { createReproJsonReporter }] = await Promise.all([
    import("../exec/run-repro.js"),
    import("../exec/session.js"),
    import("../report/repro-text.js"),
    import("../report/repro-json.js"),
  ]);
  const request = { graph, sources, targets, cwd: ctx.global.cwd, select: opts, jobs: opts.jobs, dry, tty: opts.tty === true, terminal: ctx.io.outIsTTY === true };
  const p = await prepareRepro({ ...request, ...(executor ? { executor } : {}) });
  if (!ctx.global.quiet) printDiagnostics(ctx, p.warnings, sources);
  if (!p.ok) {
    printDiagnostics(ctx, p.errors, sources);
    return EXIT_USAGE;
  }
  const where = whereForPipeline(graph.pipeline, ctx.global.cwd);
  let reporter: ReturnType<typeof createReproTextReporter> | undefined;
  let stop: number | undefined;
  const r = await runRepro(p.value, {
    lockAs: "pipe repro",
    lock: lockNotes(ctx, opts.wait === true),
    onLocked: (ex) => {
      // A second signal has the executor cancel everything at once, then exits here (the core never exits).
      const interrupts = session.handleInterrupts({ executor: ex, onSecond: () => process.exit(EXIT_INTERRUPTED) });
      // JSON gives addresses and paths from the root, whatever the working directory (as `status --json` does).
      const rep = (reporter = opts.json === true ? createReproJsonReporter({ out: ctx.io.out }) : createReproTextReporter({
        out: ctx.io.out,
        err: ctx.io.err,
        statusLine: ctx.io.errIsTTY && !ctx.global.quiet,
        prefix: p.value.jobs > 1,
        quiet: ctx.global.quiet,
        verbose: ctx.global.verbose,
        colors: colors(ctx),
        where,
        ...(process.stderr.columns ? { columns: process.stderr.columns } : {}),
      }));
      return { emit: (e) => rep.handle(e), signal: interrupts.signal, dispose: () => interrupts.dispose() };
    },
    ...(opts.pull ? { beforeEngine: async (selected, locks, signal) => {
      const { pullBeforeRepro } = await import("./transfer-run.js");
      stop = await pullBeforeRepro(ctx, graph, selected, locks, signal!, opts.json === true);
      return stop === undefined;
    } } : {}),
    forceDownstream: opts.forceDownstream === true,
    keepGoing: opts.keepGoing === true,
    runCache: opts.runCache !== false,
    commit: opts.commit !== false,
  });
  reporter?.close();
  switch (r.kind) {
    case "locked-out":
      printDiagnostics(ctx, r.errors);
      return EXIT_FAILED;
    case "stopped":
      return stop ?? EXIT_FAILED;
    case "preflight":
      printDiagnostics(ctx, r.errors, sources);
      return r.invalid ? EXIT_USAGE : EXIT_FAILED;
    case "done":
      // The last event: a status line cleared by `close` stays cleared.
      reporter?.handle(r.interrupted ? { type: "interrupted" } : { type: "run-summary", ...r.counts, durationMs: performance.now() - started, dry });
      if (r.interrupted) return EXIT_INTERRUPTED;
      return r.counts.failed > 0 ? EXIT_FAILED : EXIT_OK;
  }
}
