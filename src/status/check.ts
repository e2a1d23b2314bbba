/**
 * The full `pipe status` check (spec 5) behind the command: judge the stages asked for, mark the ones another pipe
 * is running, and, when the whole pipeline was found up to date, write the status memo (`memo.ts`) that lets the next
 * run answer from stats alone. It prints nothing: the command renders the stages it returns.
 */
import path from "node:path";
import { fail, ok, type Result } from "../core/diagnostic.js";
import { LockStore } from "../lock/read.js";
import type { StageGraph } from "../core/model.js";
import type { HashAlgo } from "../hash/algorithms.js";
import type { FsStat } from "../hash/fs.js";
import type { HasherStats } from "../hash/hasher.js";
import { RACY_WINDOW_NS } from "../hash/state.js";
import { stampNow } from "../project/load-cache.js";
import { dropStatusMemo, recordingFs, writeStatusMemo, type MemoEntry, type MemoForm } from "./memo.js";
import { pipelineStatus } from "./pipeline.js";
import { factsNeeded } from "./stage.js";
import type { RunningNow, StageStatus } from "./types.js";
import { absOf, defaultStateFile, openWorkspace, type Workspace } from "./workspace.js";

export interface StatusCheckInput {
  graph: StageGraph;
  sources: Map<string, string>;
  /** The stages to judge, in execution order; the memo is written only for the whole pipeline (`whole`). */
  addresses: readonly string[];
  whole: boolean;
  /** What the load was a function of (`LoadedProject.key`); without it no memo is written. */
  key: { discovered: string; inputs: [string, string][] } | undefined;
  /** The stages files as discovery walked them, stamped before each read (undefined: not stamped). */
  tree: readonly [string, string | undefined][];
  /** Read the hash of a new dep or out (shown by `-v` and in `--json`). */
  hashNew: boolean;
  /** Where the report is printed from (the memo keeps the renderings for it). */
  cwd: string;
  /** The report of an all-fresh verdict in every form the memo serves (a reporter's: status prints nothing). */
  render: (stages: readonly StageStatus[]) => Record<MemoForm, string>;
  /** The stages other pipes are running now, address -> pid (passed in: the run records belong to `exec/`). */
  runningNow: (root: string) => Promise<ReadonlyMap<string, RunningNow>>;
  startedNs: bigint;
}

export interface StatusCheck {
  stages: StageStatus[];
  anyStale: boolean;
  /** What the verdict read (for `-v`). */
  stats: HasherStats;
}

export async function checkStatus(input: StatusCheckInput): Promise<Result<StatusCheck>> {
  const { graph, sources, key } = input;
  const root = graph.pipeline.root;
  // For a memo: the stamps of lock and params files before the verdict reads them, and the stats it uses.
  const memo = input.whole && key !== undefined && defaultStateFile(root) !== undefined ? memoInputs(graph) : undefined;
  const rec = memo ? recordingFs(new Set(memo.paths.map((p) => absOf(root, p)))) : undefined;
  const ws = openWorkspace(root, rec ? { fs: rec.fs } : {});
  const locks = new LockStore(root, sources);
  const r = await pipelineStatus(graph, ws, locks, input.addresses, { hashNew: input.hashNew });
  if (!r.ok) return fail(r.errors, r.warnings);

  const stages = r.value.stages;
  // Stages another pipe is running now: said as such, and a verdict taken mid-run is never memoised.
  const running = await input.runningNow(root);
  for (const s of stages) {
    const who = running.get(s.address);
    if (who !== undefined) s.running = who;
  }
  const anyStale = stages.some((s) => s.stale);
  // A stale project: the memo, if any, no longer describes it, and would only cost the next run its checks.
  if (input.whole && anyStale) dropStatusMemo(root);
  if (memo && rec && key && !anyStale && running.size === 0) {
    const entries = await verdictEntries(graph, stages, locks, ws, rec.seen);
    if (entries && memo.stamps.every(([, st]) => st !== undefined)) {
      writeStatusMemo({
        root,
        key,
        stamps: memo.stamps as [string, string][],
        // A load answered by the load cache still walked (discovery runs every time), so `tree` is complete.
        ...(input.tree.every(([, st]) => st !== undefined) ? { tree: input.tree as [string, string][] } : {}),
        entries,
        outputs: input.render(stages),
        here: path.relative(root, input.cwd).split(path.sep).join("/"),
        stages: stages.length,
        startedNs: input.startedNs,
        racyWindowNs: RACY_WINDOW_NS,
      });
    }
  }
  ws.hasher.save();
  return ok({ stages, anyStale, stats: ws.hasher.stats });
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
    if (s.dataSource) files.add(s.file);
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
    const lock = await locks.forStage(s);
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
