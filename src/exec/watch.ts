/**
 * `pipe watch`'s loop: run `repro`, then wait for a change of what the selected stages read (their deps that no
 * stage produces, their params files, the stages files and every vars file the load read), debounce a burst of
 * changes, and run `repro` again, which runs only what became stale. Until interrupted.
 *
 * - What is watched is recomputed after every run from a fresh load (`watchPlan`), so a stage added to the stages file
 *   or a new dep is watched from the next wait on. A project that does not load (a typo being fixed) keeps its stages
 *   and vars files watched, and the next save runs again.
 * - Outputs never trigger: a path that a stage produces is not watched, and an event under any declared output (a
 *   dep directory holding outputs, `.pipe/`) is ignored. So a running stage writing its outputs starts nothing.
 * - An edit during a run queues exactly one more run, started as soon as the current one ends. That run first runs,
 *   even if they look fresh, the stages that read an edited path (`stagesReading`): a stage may have read the old
 *   content while its lock entry records the hashes its deps have when it is recorded, after the edit, which would
 *   make a stale output look up to date.
 * - The interrupt is the caller's `signal`: while waiting, it ends the loop; during a run, `repro`'s own handling
 *   stops the stages and records nothing of theirs, and the loop ends with its code (130).
 *
 * The file watcher is `chokidar` (editors' atomic saves, renames and recreated files are one `change` to it). The
 * loop emits facts (`WatchEvent`); `report/watch.ts` words them.
 */
import path from "node:path";
import { watch as chokidarWatch, type FSWatcher } from "chokidar";
import type { StageGraph } from "../core/model.js";
import { indexOf } from "../graph/graph.js";
import { withUpstream } from "../status/pipeline.js";
import { forgetKnownDirs } from "../storage/fs.js";

/** What to watch: root-relative paths, sorted. */
export interface WatchPlan {
  paths: string[];
  /** Root-relative outputs: events at or under them are ignored. */
  outputs: string[];
}

export type WatchEvent =
  | { type: "watch-waiting"; paths: string[] }
  | { type: "watch-changed"; paths: string[] }
  /** An edit arrived during a run: one more run follows it. */
  | { type: "watch-queued"; paths: string[] }
  /** The queued run re-runs these stages first: they read `paths`, edited while they may have been running. */
  | { type: "watch-forced"; stages: string[]; paths: string[] }
  | { type: "watch-stopped" };

/**
 * The paths `addresses` (and everything upstream of them) read that no stage writes: source deps, params files, plus
 * `loadInputs` (stages and vars files the load read). URL deps are not watched.
 */
export function watchPlan(graph: StageGraph | undefined, addresses: readonly string[] | undefined, loadInputs: Iterable<string>): WatchPlan {
  const paths = new Set<string>(loadInputs);
  const outputs = new Set<string>();
  if (graph) {
    const outs = indexOf(graph);
    for (const s of graph.stages.values()) for (const o of s.outs) if (!o.external) outputs.add(o.rootPath);
    for (const a of withUpstream(graph, addresses ?? graph.order)) {
      const s = graph.stages.get(a)!;
      for (const d of s.deps) {
        if (d.external || d.outside) continue;
        if (outs.producersOf(d).some((p) => p.relation !== "contains")) continue;
        paths.add(d.rootPath);
      }
      for (const p of s.params) paths.add(p.rootPath);
    }
  }
  for (const o of outputs) paths.delete(o);
  const sorted = (s: Set<string>): string[] => [...s].sort();
  return { paths: sorted(paths), outputs: sorted(outputs) };
}

/**
 * The stages of `addresses` (and upstream) that read one of `paths` (root-relative): a dep or params file equal to,
 * inside or holding one of them. In execution order.
 */
export function stagesReading(graph: StageGraph, addresses: readonly string[] | undefined, paths: readonly string[]): string[] {
  const hit = (p: string): boolean => paths.some((q) => isUnder(q, p) || isUnder(p, q));
  return withUpstream(graph, addresses ?? graph.order).filter((a) => {
    const s = graph.stages.get(a)!;
    return s.deps.some((d) => !d.external && hit(d.rootPath)) || s.params.some((p) => hit(p.rootPath));
  });
}

export interface WatchLoopInput {
  root: string;
  /**
   * One `repro` of the targets; resolves to its exit code (130: interrupted). `editedDuringRun`: the paths edited while
   * the previous run ran (empty for the first run and after a wait).
   */
  runOnce: (editedDuringRun: readonly string[]) => Promise<number>;
  /** What to watch now (after a run). */
  plan: () => Promise<WatchPlan>;
  emit: (e: WatchEvent) => void;
  /** Aborted by the interrupt. */
  signal: AbortSignal;
  /** Quiet time after the last change before a run starts. */
  debounceMs?: number;
}

function isUnder(rel: string, dir: string): boolean {
  return rel === dir || rel.startsWith(dir + "/");
}

/** Runs until interrupted; returns the exit code (130). */
export async function watchLoop(input: WatchLoopInput): Promise<number> {
  const debounceMs = input.debounceMs ?? 300;
  let plan: WatchPlan = { paths: [], outputs: [] };
  let watcher: FSWatcher | undefined;
  let running = false;
  let changed = new Set<string>();
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  const onEvent = (abs: string): void => {
    const rel = path.relative(input.root, abs).split(path.sep).join("/");
    if (rel.startsWith("..") || isUnder(rel, ".pipe") || isUnder(rel, ".git")) return;
    if (plan.outputs.some((o) => isUnder(rel, o))) return;
    const first = changed.size === 0;
    changed.add(rel);
    if (running) {
      if (first) input.emit({ type: "watch-queued", paths: [rel] });
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(() => wake?.(), debounceMs);
  };

  const rewatch = async (next: WatchPlan): Promise<void> => {
    const old = new Set(plan.paths);
    plan = next;
    const abs = (p: string): string => path.join(input.root, p);
    if (!watcher) {
      watcher = chokidarWatch(next.paths.map(abs), { ignoreInitial: true, persistent: true });
      watcher.on("all", (_event, p) => onEvent(p));
      await new Promise<void>((resolve) => watcher!.once("ready", () => resolve()));
      return;
    }
    const now = new Set(next.paths);
    const gone = [...old].filter((p) => !now.has(p));
    const added = next.paths.filter((p) => !old.has(p));
    if (gone.length > 0) watcher.unwatch(gone.map(abs));
    if (added.length > 0) {
      watcher.add(added.map(abs));
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
    }
  };

  const waitForChange = (): Promise<"changed" | "aborted"> =>
    new Promise((resolve) => {
      if (input.signal.aborted) return resolve("aborted");
      const onAbort = (): void => {
        wake = undefined;
        resolve("aborted");
      };
      input.signal.addEventListener("abort", onAbort, { once: true });
      wake = () => {
        wake = undefined;
        input.signal.removeEventListener("abort", onAbort);
        resolve("changed");
      };
    });

  try {
    // The watcher is up before the first run, so an edit made while it runs queues the next one.
    await rewatch(await input.plan());
    let editedDuringRun: string[] = [];
    for (;;) {
      changed = new Set();
      // Directories this process checked stay checked only for one run: between runs anything may remove them.
      forgetKnownDirs();
      running = true;
      const code = await input.runOnce(editedDuringRun);
      running = false;
      editedDuringRun = [];
      if (code === 130 || input.signal.aborted) return 130;
      await rewatch(await input.plan());
      if (changed.size > 0) {
        editedDuringRun = [...changed].sort();
        input.emit({ type: "watch-changed", paths: editedDuringRun });
        continue;
      }
      input.emit({ type: "watch-waiting", paths: plan.paths });
      if ((await waitForChange()) === "aborted") return 130;
      input.emit({ type: "watch-changed", paths: [...changed].sort() });
    }
  } finally {
    clearTimeout(timer);
    await watcher?.close();
    input.emit({ type: "watch-stopped" });
  }
}
