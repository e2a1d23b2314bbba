/**
 * The full `pipe status` (spec 5): load the pipeline, judge the stages asked for, print the report, and, when the
 * whole pipeline was found up to date, write the status memo (`status/memo.ts`) that lets the next run answer from
 * stats alone. `status.ts` asks that memo first and loads this module only when it does not answer.
 *
 * Exit codes: 0; 1 with `-q` or `--check` when anything is stale; 2 for an invalid project, an unknown target or a
 * damaged lock file.
 */
import path from "node:path";
import pc from "picocolors";
import { colors, EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { loadForCommand, printDiagnostics } from "../load.js";
import { executionOrder, resolveTargets } from "../../graph/select.js";
import { LockStore } from "../../lock/read.js";
import type { StageGraph } from "../../model.js";
import type { HashAlgo } from "../../hash/algorithms.js";
import { RACY_WINDOW_NS } from "../../hash/state.js";
import { dirStampNow, stampNow } from "../../project/load-cache.js";
import { dropStatusMemo, recordingFs, writeStatusMemo, type MemoEntry, type MemoForm } from "../../status/memo.js";
import { stagesRunningNow } from "../../exec/running.js";
import { pipelineStatus } from "../../status/pipeline.js";
import { renderStatusText, statusJson } from "../../report/status.js";
import { factsNeeded } from "../../status/stage.js";
import type { StageStatus } from "../../status/types.js";
import { absOf, defaultStateFile, openWorkspace, type Workspace } from "../../status/workspace.js";
import type { FsStat } from "../../hash/fs.js";
import { stringifyJson } from "../../params/format.js";
import { whereForPipeline, type Where } from "../../project/where.js";

import type { StatusOptions } from "./status.js";

export async function run(ctx: CommandContext, targets: string[], opts: StatusOptions, startedNs: bigint): Promise<number> {
  const memoEligible = targets.length === 0;
  // What discovery walked, stamped before each read: lets the memo tell the stages files unchanged without a walk.
  const tree: [string, string | undefined][] = [];
  const observeDiscovery = (rel: string, abs: string, kind: "dir" | "file"): void => void tree.push([rel, kind === "dir" ? dirStampNow(abs) : stampNow(abs)]);
  const loaded = await loadForCommand(ctx, memoEligible ? { observeDiscovery } : {});
  if (typeof loaded === "number") return loaded;
  const { graph, sources } = loaded;
  const root = graph.pipeline.root;
  const where = whereForPipeline(graph.pipeline, ctx.global.cwd);

  let addresses: readonly string[] = graph.order;
  if (targets.length > 0) {
    const selected = resolveTargets(graph, targets, ctx.global.cwd, root);
    if (!selected.ok) {
      printDiagnostics(ctx, selected.errors, sources);
      return EXIT_USAGE;
    }
    addresses = executionOrder(graph, selected.value);
  }

  // For a memo: the stamps of lock and params files before the verdict reads them, and the stats it uses.
  const memo = memoEligible && loaded.key !== undefined && defaultStateFile(root) !== undefined ? memoInputs(graph) : undefined;
  const rec = memo ? recordingFs(new Set(memo.paths.map((p) => absOf(root, p)))) : undefined;
  const ws = openWorkspace(root, rec ? { fs: rec.fs } : {});
  const locks = new LockStore(root, sources);
  // The hash of a new dep or out is shown by `-v` and in `--json`; a plain report does not read it.
  const r = await pipelineStatus(graph, ws, locks, addresses, { hashNew: !ctx.global.quiet && (ctx.global.verbose || opts.json === true) });
  if (!r.ok) {
    printDiagnostics(ctx, r.errors, sources);
    return EXIT_USAGE;
  }

  const stages = r.value.stages;
  // Stages another pipe is running now: said as such, and a verdict taken mid-run is never memoised.
  const running = await stagesRunningNow(root);
  for (const s of stages) {
    const pid = running.get(s.address);
    if (pid !== undefined) s.running = { pid };
  }
  const anyStale = stages.some((s) => s.stale);
  // A stale project: the memo, if any, no longer describes it, and would only cost the next run its checks.
  if (memoEligible && anyStale) dropStatusMemo(root);
  if (memo && rec && loaded.key && !anyStale && running.size === 0) {
    const entries = await verdictEntries(graph, stages, locks, ws, rec.seen);
    if (entries && memo.stamps.every(([, st]) => st !== undefined)) {
      writeStatusMemo({
        root,
        key: loaded.key,
        stamps: memo.stamps as [string, string][],
        // A load answered by the load cache still walked (discovery runs every time), so `tree` is complete.
        ...(tree.every(([, st]) => st !== undefined) ? { tree: tree as [string, string][] } : {}),
        entries,
        outputs: renderAll(stages, where),
        here: path.relative(root, ctx.global.cwd).split(path.sep).join("/"),
        stages: stages.length,
        startedNs,
        racyWindowNs: RACY_WINDOW_NS,
      });
    }
  }
  ws.hasher.save();
  if (!ctx.global.quiet) {
    // stringifyJson: a params value may be an integer beyond 2^53 (a bigint), which JSON.stringify cannot print.
    if (opts.json) ctx.io.out(stringifyJson(statusJson(stages)) + "\n");
    else {
      const c = colors(ctx);
      ctx.io.out(renderStatusText(stages, { verbose: ctx.global.verbose, name: (s) => c.bold(s), where }));
    }
    if (ctx.global.verbose) {
      const st = ws.hasher.stats;
      ctx.io.err(`Checked ${stages.length} stage${stages.length === 1 ? "" : "s"}: read ${st.bytesRead} bytes of ${st.filesRead} file${st.filesRead === 1 ? "" : "s"}, ${st.statCacheHits} from the stat cache\n`);
    }
  }
  if (ctx.global.quiet || opts.check) return anyStale ? EXIT_FAILED : EXIT_OK;
  return EXIT_OK;
}

/**
 * What a memo of this verdict must record besides the load's key, taken before the verdict reads anything: the
 * stamp of every lock file a stage's lock entry may come from and of every params file a stage depends on, and the
 * root paths of the deps and outs (URL ones are never checked), whose stats the verdict will take.
 */
function memoInputs(graph: StageGraph): { stamps: [string, string | undefined][]; paths: string[] } {
  const root = graph.pipeline.root;
  const files = new Set<string>();
  const paths = new Set<string>();
  for (const s of graph.stages.values()) {
    const dir = s.dir === "" ? "" : `${s.dir}/`;
    files.add(`${dir}pipe.lock`);
    files.add(`${dir}dvc.lock`);
    for (const p of s.params) files.add(p.rootPath);
    for (const d of [...s.deps, ...s.outs]) if (!d.external) paths.add(d.rootPath);
  }
  const stamps: [string, string | undefined][] = [...files].sort().map((f) => [f, stampNow(absOf(root, f))]);
  return { stamps, paths: [...paths] };
}

/**
 * Every dep and out a fresh verdict hashed, with the algorithm it used (md5 for a dvc.lock entry) and what it saw:
 * the stat of a file (as `seen` recorded it during the verdict), the hash of a directory (memoised in the hasher:
 * the outcome the verdict used). What a stage's lock entry lists is, for a fresh stage, every one of its deps and
 * outs (`factsNeeded`). Undefined when one of them was not seen as expected (nothing to memoise safely).
 */
async function verdictEntries(
  graph: StageGraph,
  stages: readonly StageStatus[],
  locks: LockStore,
  ws: Workspace,
  seen: ReadonlyMap<string, FsStat | undefined>,
): Promise<MemoEntry[] | undefined> {
  const root = graph.pipeline.root;
  const needed = new Map<string, { rootPath: string; algo: HashAlgo }>();
  for (const st of stages) {
    const s = graph.stages.get(st.address)!;
    const lock = await locks.forDir(s.dir);
    const entry = lock.ok ? lock.value?.stages.get(s.name) : undefined;
    for (const p of factsNeeded(s, entry).paths) needed.set(`${p.algo}\0${p.rootPath}`, p);
  }
  const entries: MemoEntry[] = [];
  for (const p of needed.values()) {
    const abs = absOf(root, p.rootPath);
    if (!seen.has(abs)) return undefined;
    const st = seen.get(abs);
    // A fresh verdict saw every path exist; one gone now (removed while it ran) is nothing to memoise.
    if (st === undefined) return undefined;
    if (st.kind === "file") entries.push({ kind: "file", rootPath: p.rootPath, st });
    else {
      const o = await ws.hasher.hashPath(abs, p.algo);
      if (o.kind !== "dir") return undefined;
      entries.push({ kind: "dir", rootPath: p.rootPath, algo: p.algo, hash: o.hash });
    }
  }
  return entries;
}

/** The report of an all-fresh verdict in every form the memo serves. */
function renderAll(stages: readonly StageStatus[], where: Where): Record<MemoForm, string> {
  const bold = pc.createColors(true).bold;
  return {
    text: renderStatusText(stages, { verbose: false, where }),
    color: renderStatusText(stages, { verbose: false, name: (s) => bold(s), where }),
    "text-v": renderStatusText(stages, { verbose: true, where }),
    "color-v": renderStatusText(stages, { verbose: true, name: (s) => bold(s), where }),
    json: stringifyJson(statusJson(stages)) + "\n",
  };
}
