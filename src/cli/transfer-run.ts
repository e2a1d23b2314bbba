/**
 * What `push`, `fetch` and `pull` share: their flags as a request, the project loaded and its write lock held (a
 * fetch writes the cache; a push records what it verified), progress on stderr while objects move, the summary and
 * the exit code. `pull` adds a checkout after the fetch (`commands/pull.ts`).
 *
 * Exit codes: 0 when everything asked for is where it should be; 1 when an object is missing or corrupt, or the
 * remote failed (what did arrive stays: running the command again finishes the rest); 2 for a bad flag or an
 * unknown remote.
 */
import type { GcScope } from "../storage/gc-refs.js";
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, type CommandContext } from "./context.js";
import { loadForCommand, printDiagnostics } from "./load.js";
import { openStageWriter, withWriteLock } from "./stage-writer.js";

export interface TransferFlags {
  remote?: string;
  jobs?: string;
  runCache?: boolean;
  allBranches?: boolean;
  allTags?: boolean;
  allCommits?: boolean;
  rev?: string;
  json?: boolean;
}

/** `-j N` as a number, undefined when not given, or a usage message. */
export function jobsFlag(raw: string | undefined): number | undefined | string {
  if (raw === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(raw.trim())) return `-j/--jobs takes a positive number of transfers at once, not '${raw}'`;
  return Number(raw);
}

function scopeOf(f: TransferFlags): GcScope {
  return {
    allBranches: f.allBranches === true,
    allTags: f.allTags === true,
    allCommits: f.allCommits === true,
    ...(f.rev !== undefined ? { rev: f.rev } : {}),
  };
}

/**
 * Where `pull --json` leaves its document until the checkout has run: `json(restored)` gives it with the outputs the
 * checkout put back, so stdout holds one document that says both.
 */
export interface DeferredJson {
  json?: (restored: string[]) => string;
}

/** Runs the transfer; with `deferred` (pull), `--json`'s document is handed back rather than printed. */
export async function transferCommand(ctx: CommandContext, verb: "push" | "fetch" | "pull", targets: string[], flags: TransferFlags, deferred?: DeferredJson): Promise<number> {
  const jobs = jobsFlag(flags.jobs);
  if (typeof jobs === "string") {
    ctx.io.err(`error: ${jobs}\n`);
    return EXIT_USAGE;
  }
  const loaded = await loadForCommand(ctx);
  if (typeof loaded === "number") return loaded;
  const root = loaded.graph.pipeline.root;
  const w = await openStageWriter(ctx, loaded, targets);
  if (typeof w === "number") return w;
  // Named targets move their own outputs (as DVC's); no target: every stage's.
  const stages = targets.length === 0 ? w.chosen : [...w.named];
  const [session, say] = await Promise.all([import("../remotes/transfer-session.js"), import("../report/transfer.js")]);
  return withWriteLock(ctx, root, `pipe ${verb}`, async (signal) => {
    const progress = new say.TransferProgress(verb, ctx.io, ctx.global.quiet || flags.json === true);
    const req = {
      root,
      env: (ctx.env ?? {}) as NodeJS.ProcessEnv,
      graph: loaded.graph,
      stages,
      locks: w.locks,
      scope: scopeOf(flags),
      ...(flags.remote !== undefined ? { remote: flags.remote } : {}),
      ...(jobs !== undefined ? { jobs } : {}),
      runCache: flags.runCache === true,
      on: (e: import("../remotes/transfer.js").TransferEvent) => progress.on(e),
      signal,
    };
    const r = verb === "push" ? await session.pushData(req) : await session.fetchData(req);
    progress.stop();
    if (!r.ok) {
      printDiagnostics(ctx, r.errors, loaded.sources);
      return EXIT_USAGE;
    }
    const c = r.value.counts;
    if (flags.json && deferred) deferred.json = (restored) => say.transferJson(verb, r.value.remotes, c, { restored: [...restored].sort() });
    else if (flags.json) ctx.io.out(say.transferJson(verb, r.value.remotes, c));
    else {
      ctx.io.err(say.problemsText(verb, c, r.value.named));
      if (!ctx.global.quiet) ctx.io.out(say.summaryText(verb, c));
    }
    if (signal.aborted) {
      ctx.io.err("Interrupted: what arrived is complete; run the command again to finish.\n");
      return EXIT_INTERRUPTED;
    }
    // Push: an object missing from the cache is a warning (DVC's), as the remote lacks nothing pipe could send.
    const missingFails = verb !== "push" && c.missing.length > 0;
    return c.fatal || c.failed.length > 0 || missingFails ? EXIT_FAILED : EXIT_OK;
  });
}

/**
 * `repro --pull` (the CI pattern): before anything is decided, the selected stages' outputs the cache lacks and the
 * remote's run-cache entries are fetched, so a stage whose outputs exist anywhere is restored rather than run. What
 * the remote does not have is not an error (running makes it); a remote that fails is (exit 1), so a broken remote
 * does not silently turn into a full re-run. Called with the write lock held. Returns an exit code to stop with, or
 * undefined to go on.
 */
export async function pullBeforeRepro(
  ctx: CommandContext,
  graph: import("../core/model.js").StageGraph,
  stages: readonly string[],
  locks: import("../lock/read.js").LockStore,
  signal: AbortSignal,
  quiet: boolean,
): Promise<number | undefined> {
  const [session, say] = await Promise.all([import("../remotes/transfer-session.js"), import("../report/transfer.js")]);
  const progress = new say.TransferProgress("fetch", ctx.io, quiet || ctx.global.quiet);
  const root = graph.pipeline.root;
  const r = await session.fetchData({ root, env: (ctx.env ?? {}) as NodeJS.ProcessEnv, graph, stages, locks, runCache: true, allOptional: true, on: (e) => progress.on(e), signal });
  progress.stop();
  if (!r.ok) {
    printDiagnostics(ctx, r.errors);
    return EXIT_USAGE;
  }
  const c = r.value.counts;
  ctx.io.err(say.problemsText("fetch", c, r.value.named));
  if (!quiet && !ctx.global.quiet) ctx.io.err(`pull: ${say.summaryText("fetch", c)}`);
  return c.fatal || c.failed.length > 0 ? EXIT_FAILED : undefined;
}

/**
 * `status --cloud [-r NAME] [--json]`: per output of the targets, whether the cache and the remote hold it. Exit 1
 * with `--check` or `-q` when any is out of sync, 2 for an unknown remote.
 */
export async function cloudStatusCommand(ctx: CommandContext, targets: string[], opts: { json?: boolean; check?: boolean; remote?: string }): Promise<number> {
  const loaded = await loadForCommand(ctx, { writeLoadCache: false });
  if (typeof loaded === "number") return loaded;
  const [{ resolveTargets }, { LockStore }, session, say, { whereForPipeline }] = await Promise.all([
    import("../graph/select.js"),
    import("../lock/read.js"),
    import("../remotes/transfer-session.js"),
    import("../report/cloud-status.js"),
    import("../project/where.js"),
  ]);
  const { graph, sources } = loaded;
  const root = graph.pipeline.root;
  let stages: readonly string[] = graph.order;
  if (targets.length > 0) {
    const sel = resolveTargets(graph, targets, ctx.global.cwd, root);
    if (!sel.ok) {
      printDiagnostics(ctx, sel.errors, sources);
      return EXIT_USAGE;
    }
    stages = sel.value;
  }
  const r = await session.cloudStatusOf({ root, env: (ctx.env ?? {}) as NodeJS.ProcessEnv, graph, stages, locks: new LockStore(root, sources), ...(opts.remote !== undefined ? { remote: opts.remote } : {}) });
  if (!r.ok) {
    printDiagnostics(ctx, r.errors, sources);
    return EXIT_USAGE;
  }
  if (r.value.problems.length > 0) {
    printDiagnostics(ctx, r.value.problems);
    return EXIT_FAILED;
  }
  const { entries } = r.value;
  if (!ctx.global.quiet) ctx.io.out(opts.json ? say.cloudStatusJson(entries) : say.cloudStatusText(entries, [], whereForPipeline(graph.pipeline, ctx.global.cwd)));
  const off = entries.some((e) => e.state !== "ok");
  return (opts.check || ctx.global.quiet) && off ? EXIT_FAILED : EXIT_OK;
}

/**
 * For `status`: when outputs are absent and their data is not in the cache, prints the one-line summary (and the
 * folded stages) and returns the stages still to be reported in full (`-v`: all of them). Otherwise all of them.
 */
export async function absentFirst(
  ctx: CommandContext,
  root: string,
  stages: readonly import("../status/types.js").StageStatus[],
  where: import("../project/where.js").Where,
): Promise<readonly import("../status/types.js").StageStatus[]> {
  if (!stages.some((s) => s.stale && s.reasons.some((r) => r.kind === "changed-outs" && r.changes.some((c) => c.change === "deleted")))) return stages;
  const [{ absentSummary }, say] = await Promise.all([import("../remotes/absent.js"), import("../report/cloud-status.js")]);
  const s = await absentSummary(root, (ctx.env ?? {}) as NodeJS.ProcessEnv, stages);
  if (!s) return stages;
  if (ctx.global.verbose) s.folded = [];
  ctx.io.out(say.absentSummaryText(s, where));
  const folded = new Set(s.folded);
  const rest = stages.filter((st) => !folded.has(st.address));
  // Only folded and up-to-date stages: the summary is the whole report.
  return rest.some((st) => st.stale || st.frozen) ? rest : [];
}

/**
 * `exp push` / `exp pull` with a data remote configured: after the experiment refs moved through git, the cached
 * outputs each experiment commit names go to (push) or come from (fetch) the default remote, as `pipe push --rev`
 * and `pipe fetch --rev` move them. Without a data remote only the refs move, and nothing is said: that is what the
 * user set up. Returns the exit code (the worst of the transfers).
 */
export async function experimentData(ctx: CommandContext, root: string, verb: "push" | "fetch", commits: readonly string[]): Promise<number> {
  if (commits.length === 0) return EXIT_OK;
  const { readRemoteConfig } = await import("../remotes/config.js");
  const config = await readRemoteConfig(root);
  if (!config.ok || config.value.defaultRemote === undefined) return EXIT_OK;
  let code = EXIT_OK;
  for (const sha of commits) {
    const c = await transferCommand(ctx, verb, [], { rev: sha });
    if (c !== EXIT_OK && code === EXIT_OK) code = c;
  }
  return code;
}
