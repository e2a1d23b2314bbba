/**
 * `pipe repro [TARGET...]`: brings the targets (default: every stage) up to date (spec 5). Parses flags, selects
 * stages, takes the project write lock, runs the engine (`exec/repro.ts`) with the text reporter (or, with `--json`,
 * the NDJSON one: `report/repro-json.ts`), and maps the
 * outcome to an exit code: 0 done, 1 a stage failed (or a dep is missing, or another writer holds the project),
 * 2 bad usage or invalid project, 130 interrupted.
 */
import { error } from "../../core/diagnostic.js";
import { colors, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { loadForCommand, lockNotes, printDiagnostics } from "../load.js";
import { whereForPipeline } from "../../project/where.js";

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

export async function run(ctx: CommandContext, targets: string[], opts: ReproOptions): Promise<number> {
  const started = performance.now();
  const { executorNamed, unknownExecutor } = await import("../../project/config.js");
  const executorFlag = opts.executor === undefined ? undefined : executorNamed(opts.executor);
  if (opts.executor !== undefined && executorFlag === undefined) {
    printDiagnostics(ctx, [unknownExecutor(opts.executor, "flag")]);
    return EXIT_USAGE;
  }
  // --dry writes nothing, not even the load cache.
  const loaded = await loadForCommand(ctx, { writeLoadCache: opts.dry !== true });
  if (typeof loaded === "number") return loaded;
  const { graph, sources } = loaded;
  const root = graph.pipeline.root;

  const [{ readConfig }, { resolveTargets }, { planRepro }, session, { createExecutor }] = await Promise.all([
    import("../../project/config.js"),
    import("../../graph/select.js"),
    import("../../exec/plan.js"),
    import("../../exec/session.js"),
    import("../../executors/index.js"),
  ]);
  const config = await readConfig(root, sources);
  if (!config.ok) {
    printDiagnostics(ctx, [...config.errors, ...config.warnings], sources);
    return EXIT_USAGE;
  }
  if (!ctx.global.quiet) printDiagnostics(ctx, config.warnings, sources);
  // --dry runs nothing, so its executor records nothing. Off a terminal (a CI log), --tty has no terminal to pass
  // on: the stage runs as without it.
  const tty = opts.tty === true && ctx.io.outIsTTY === true;
  const executor = createExecutor(executorFlag ?? config.value.executor, { root, record: opts.dry !== true, slurm: config.value.slurm, tty });
  const jobs = opts.jobs === undefined && config.value.jobs === undefined && executor.defaultJobs !== undefined ? executor.defaultJobs : session.parseJobs(opts.jobs, config.value.jobs);
  if (jobs === undefined) {
    printDiagnostics(ctx, [error("usage", `invalid value for -j/--jobs: '${opts.jobs}' (expected a positive integer or 'auto')`)]);
    return EXIT_USAGE;
  }
  let addresses: string[] | undefined;
  if (targets.length > 0) {
    const r = resolveTargets(graph, targets, ctx.global.cwd, root);
    if (!r.ok) {
      printDiagnostics(ctx, r.errors, sources);
      return EXIT_USAGE;
    }
    addresses = r.value;
  }
  const { selected, forced } = planRepro(graph, addresses, opts);
  const dry = opts.dry === true;

  if (opts.tty === true && jobs > 1) {
    printDiagnostics(ctx, [error("usage", "--tty gives one stage at a time the terminal: use it with -j 1")]);
    return EXIT_USAGE;
  }
  let lock: import("../../exec/mutex.js").WriteLock | undefined;
  if (!dry) {
    const l = await session.lockProject(root, "pipe repro", { ...lockNotes(ctx, opts.wait === true), executor });
    if (!l.ok) {
      printDiagnostics(ctx, l.errors);
      return EXIT_FAILED;
    }
    lock = l.value;
  }
  // A second signal has the executor cancel everything at once, then exits here (the core never exits).
  const interrupts = session.handleInterrupts({ executor, onSecond: () => process.exit(EXIT_INTERRUPTED) });
  const [{ ReproEngine, summarise }, { createReproTextReporter }, { createReproJsonReporter }, { openWorkspace }, { LockStore }, { projectCache }, { RunCache }] =
    await Promise.all([
      import("../../exec/repro.js"),
      import("../../report/repro-text.js"),
      import("../../report/repro-json.js"),
      import("../../status/workspace.js"),
      import("../../lock/read.js"),
      import("../../storage/project-cache.js"),
      import("../../storage/runcache.js"),
    ]);
  const where = whereForPipeline(graph.pipeline, ctx.global.cwd);
  // JSON gives addresses and paths from the root, whatever the working directory (as `status --json` does).
  const reporter = opts.json === true ? createReproJsonReporter({ out: ctx.io.out }) : createReproTextReporter({
    out: ctx.io.out,
    err: ctx.io.err,
    statusLine: ctx.io.errIsTTY && !ctx.global.quiet,
    prefix: jobs > 1,
    quiet: ctx.global.quiet,
    verbose: ctx.global.verbose,
    colors: colors(ctx),
    where,
    ...(process.stderr.columns ? { columns: process.stderr.columns } : {}),
  });
  const ws = openWorkspace(root);
  try {
    if (opts.pull && !dry) {
      const { pullBeforeRepro } = await import("../transfer-run.js");
      const stop = await pullBeforeRepro(ctx, graph, selected, new LockStore(root, sources), interrupts.signal, opts.json === true);
      if (stop !== undefined) return stop;
    }
    const engine = new ReproEngine({
      graph,
      selected,
      forced,
      flags: {
        forceDownstream: opts.forceDownstream === true,
        keepGoing: opts.keepGoing === true,
        dry,
        runCache: opts.runCache !== false,
        commit: opts.commit !== false,
        jobs,
      },
      ws,
      locks: new LockStore(root, sources, { writeCache: !dry }),
      // --dry changes nothing in the cache: not the record of verified objects, not a corrupt object (reported instead).
      store: projectCache(root, dry ? { readOnly: true } : { recordVerified: true }),
      runs: new RunCache(root),
      linkTypes: config.value.cache.links,
      gitignore: config.value.gitignore,
      executor,
      emit: (e) => reporter.handle(e),
      signal: interrupts.signal,
    });
    const result = await engine.run();
    if (result.preflight.length > 0) {
      reporter.close();
      printDiagnostics(ctx, result.preflight, sources);
      return result.preflightInvalid ? EXIT_USAGE : EXIT_FAILED;
    }
    if (!dry) ws.hasher.save();
    const counts = summarise(result.results);
    if (result.interrupted) {
      reporter.handle({ type: "interrupted" });
      reporter.close();
      return EXIT_INTERRUPTED;
    }
    reporter.handle({ type: "run-summary", ...counts, durationMs: performance.now() - started, dry });
    reporter.close();
    return counts.failed > 0 ? EXIT_FAILED : EXIT_OK;
  } finally {
    reporter.close();
    interrupts.dispose();
    await lock?.release();
  }
}
