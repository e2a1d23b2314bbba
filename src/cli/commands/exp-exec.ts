/**
 * `pipe exp exec-run --cache-root DIR [--executor NAME] [TARGETS]` (hidden): what the queue runner starts in a queued experiment's
 * worktree. It reproduces the pipeline there with the project's cache and run-cache (`experiments/reproduce.ts`),
 * printing as `repro` does to its log; the runner records the result. Exit 0 done, 1 failed, 2 invalid, 130
 * interrupted.
 */
import { colors, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { printDiagnostics } from "../load.js";

export async function run(ctx: CommandContext, targets: string[], opts: { cacheRoot: string; executor?: string }): Promise<number> {
  const [{ reproduce }, { createReproTextReporter }, session] = await Promise.all([
    import("../../experiments/reproduce.js"),
    import("../../report/repro-text.js"),
    import("../../exec/session.js"),
  ]);
  const reporter = createReproTextReporter({ out: ctx.io.out, err: ctx.io.err, statusLine: false, prefix: false, quiet: false, verbose: ctx.global.verbose, colors: colors(ctx) });
  const interrupts = session.handleInterrupts({ onSecond: () => process.exit(EXIT_INTERRUPTED) });
  try {
    const { executorNamed } = await import("../../project/config.js");
    // The runner checked the name; an unknown one here is the config's to report.
    const executor = opts.executor === undefined ? undefined : executorNamed(opts.executor);
    const o = await reproduce({ dir: ctx.global.cwd, cacheRoot: opts.cacheRoot, targets, ...(executor ? { executor } : {}), emit: (e) => reporter.handle(e), signal: interrupts.signal, onDiagnostics: (ds, s) => printDiagnostics(ctx, ds, s) });
    reporter.close();
    if (o.kind !== "done") {
      printDiagnostics(ctx, o.errors, o.sources);
      return o.kind === "invalid" ? EXIT_USAGE : EXIT_FAILED;
    }
    if (o.interrupted) return EXIT_INTERRUPTED;
    return o.failed > 0 ? EXIT_FAILED : EXIT_OK;
  } finally {
    reporter.close();
    interrupts.dispose();
  }
}
