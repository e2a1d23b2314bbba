/**
 * `pipe status [TARGET...]`: which stages are stale and why (spec 5). A reader: it never blocks on a running
 * `repro` and writes nothing but the stat cache (`.pipe/state`), the load cache (`.pipe/tmp/load-cache`) and the
 * status memo (`.pipe/tmp/status-memo`), only when `.pipe/` exists.
 *
 * A report on the whole pipeline is first asked of the status memo (`status/from-memo.ts`). Only when the memo does
 * not answer is the full check (`status/check.ts`: load, lock files, graph, judging each stage) imported and run, so a
 * no-op does not even load that code.
 *
 * Exit codes: 0; 1 with `-q` or `--check` when anything is stale; 2 for an invalid project, an unknown target or a
 * damaged lock file.
 */
import { STATUS_MEMO_FILE, type MemoForm } from "../../status/memo.js";
import type { RunningNow } from "../../status/types.js";
import { statusFromMemo } from "../../status/from-memo.js";
import { colors, EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";

export interface StatusOptions {
  json?: boolean;
  check?: boolean;
  /** `-c`: compare the cache with a remote instead (`cli/transfer-run.ts`). */
  cloud?: boolean;
  remote?: string;
  /** false with `--no-data`: judge the lock from git alone (`status-no-data.ts`). */
  data?: boolean;
}

function memoForm(ctx: CommandContext, opts: StatusOptions): MemoForm {
  if (opts.json) return "json";
  return `${ctx.global.color ? "color" : "text"}${ctx.global.verbose ? "-v" : ""}` as MemoForm;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The stages other pipes or cluster jobs are running now (their records are the executors', loaded only when asked). */
async function runningNow(root: string): Promise<ReadonlyMap<string, RunningNow>> {
  const [{ stagesRunningNow }, { stagesInFlight }] = await Promise.all([import("../../executors/local-groups.js"), import("../../executors/slurm-records.js")]);
  const out = new Map<string, RunningNow>();
  for (const [stage, pid] of await stagesRunningNow(root)) out.set(stage, { pid });
  for (const [stage, j] of await stagesInFlight(root)) out.set(stage, { job: j.jobId, state: j.state });
  return out;
}

export async function run(ctx: CommandContext, targets: string[], opts: StatusOptions): Promise<number> {
  if (opts.data === false) return (await import("../status-no-data.js")).run(ctx, targets, opts);
  const startedNs = BigInt(Date.now()) * 1_000_000n;
  if (opts.cloud || opts.remote !== undefined) return (await import("../transfer-run.js")).cloudStatusCommand(ctx, targets, opts);
  if (targets.length === 0) {
    const hit = await statusFromMemo(ctx.global.cwd, memoForm(ctx, opts), runningNow);
    if (hit) {
      if (!ctx.global.quiet) {
        ctx.io.out(hit.output);
        if (ctx.global.verbose) ctx.io.err(`Checked ${plural(hit.stages, "stage")} from ${STATUS_MEMO_FILE}: ${plural(hit.checked, "path")} unchanged since the last full check\n`);
      }
      return EXIT_OK;
    }
  }
  return fullReport(ctx, targets, opts, startedNs);
}

async function fullReport(ctx: CommandContext, targets: string[], opts: StatusOptions, startedNs: bigint): Promise<number> {
  const [{ loadForCommand, printDiagnostics }, { executionOrder, resolveTargets }, { checkStatus }, { renderStatusText, statusJson, statusMemoOutputs }, { stringifyJson }, { dirStampNow, stampNow }, { whereForPipeline }] =
    await Promise.all([
      import("../load.js"),
      import("../../graph/select.js"),
      import("../../status/check.js"),
      import("../../report/status.js"),
      import("../../params/format.js"),
      import("../../project/load-cache.js"),
      import("../../project/where.js"),
    ]);
  const whole = targets.length === 0;
  // What discovery walked, stamped before each read: lets the memo tell the stages files unchanged without a walk.
  const tree: [string, string | undefined][] = [];
  const observeDiscovery = (rel: string, abs: string, kind: "dir" | "file"): void => void tree.push([rel, kind === "dir" ? dirStampNow(abs) : stampNow(abs)]);
  const loaded = await loadForCommand(ctx, whole ? { observeDiscovery } : {});
  if (typeof loaded === "number") return loaded;
  const { graph, sources } = loaded;
  let addresses: readonly string[] = graph.order;
  if (!whole) {
    const selected = resolveTargets(graph, targets, ctx.global.cwd, graph.pipeline.root);
    if (!selected.ok) {
      printDiagnostics(ctx, selected.errors, sources);
      return EXIT_USAGE;
    }
    addresses = executionOrder(graph, selected.value);
  }
  const where = whereForPipeline(graph.pipeline, ctx.global.cwd);
  // The hash of a new dep or out is shown by `-v` and in `--json`; a plain report does not read it.
  const hashNew = !ctx.global.quiet && (ctx.global.verbose || opts.json === true);
  const r = await checkStatus({ graph, sources, addresses, whole, key: loaded.key, tree, hashNew, cwd: ctx.global.cwd, render: (st) => statusMemoOutputs(st, where), runningNow, startedNs });
  if (!r.ok) {
    printDiagnostics(ctx, r.errors, sources);
    return EXIT_USAGE;
  }
  const { stages, anyStale, stats } = r.value;
  if (!ctx.global.quiet) {
    // stringifyJson: a params value may be an integer beyond 2^53 (a bigint), which JSON.stringify cannot print.
    if (opts.json) ctx.io.out(stringifyJson(statusJson(stages)) + "\n");
    else {
      const c = colors(ctx);
      // A project without its data (a fresh clone): one line on where the data is, the stages waiting for it folded.
      const { absentFirst } = await import("../transfer-run.js");
      const shown = await absentFirst(ctx, graph.pipeline.root, stages, where);
      // An empty answer after a summary means the summary said it all; with no summary (the same array back), the
      // report is printed even for no stages ("Pipeline is up to date.").
      if (shown === stages || shown.length > 0) ctx.io.out(renderStatusText(shown, { verbose: ctx.global.verbose, name: (s) => c.bold(s), where }));
    }
    if (ctx.global.verbose) {
      ctx.io.err(`Checked ${plural(stages.length, "stage")}: read ${stats.bytesRead} bytes of ${plural(stats.filesRead, "file")}, ${stats.statCacheHits} from the stat cache\n`);
    }
  }
  if (ctx.global.quiet || opts.check) return anyStale ? EXIT_FAILED : EXIT_OK;
  return EXIT_OK;
}
