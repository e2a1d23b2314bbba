/**
 * `commit`'s library: records the workspace state of the chosen stages through the one record path (`record.ts`)
 * without running anything, for outputs produced by hand (spec 5). What to do with each stage is the repro decision's
 * in its `commit` mode (`plan/decide.ts`): record it. A stage whose deps, params or outputs are missing,
 * or whose outputs cannot be stored, is not recorded; the problems are returned, the other stages go on.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import type { LinkType } from "../storage/link.js";
import type { RunCache } from "../storage/runcache.js";
import type { LocalCache } from "../storage/store.js";
import type { LockStore } from "../lock/read.js";
import { LockWriter } from "../lock/store.js";
import type { StageGraph } from "../core/model.js";
import type { EventSink } from "./events.js";
import type { Workspace } from "../status/workspace.js";
import { cacheContextOf, recordAndStore, type Recorder } from "./record.js";
import { decideWithoutRunning } from "../plan/decide.js";

export interface CommitInput {
  graph: StageGraph;
  /** The stages to record, in execution order. */
  chosen: readonly string[];
  locks: LockStore;
  ws: Workspace;
  store: LocalCache;
  runs: RunCache;
  linkTypes: readonly LinkType[];
  /** Warnings on the way (a cache object that no longer matched its name). */
  emit: EventSink;
  /** A stage's lock entry changed. */
  onCommitted: (address: string) => void;
  signal: AbortSignal;
}

export interface CommitResult {
  problems: Diagnostic[];
  committed: number;
  /** Stages files with a stage recorded (their `.gitignore` is brought up to date). */
  files: Set<string>;
  interrupted: boolean;
}

export async function commitStages(input: CommitInput): Promise<CommitResult> {
  const { graph, ws, locks } = input;
  const recorder: Recorder = { ws, cc: cacheContextOf(ws, input.store, input.linkTypes), runs: input.runs, emit: input.emit };
  const problems: Diagnostic[] = [];
  let committed = 0;
  const files = new Set<string>();
  // One writer for the whole command, as `repro` has: each lock is read once and rebuilt from its entries' text, not
  // re-read and re-serialised per stage (O(n^2): 3,000 stages took minutes, nearly all in the lock's parse and print).
  const writer = new LockWriter(graph.pipeline);
  for (const a of input.chosen) {
    if (input.signal.aborted) break;
    const s = graph.stages.get(a)!;
    const lf = await locks.forStage(s);
    const d = decideWithoutRunning(s, lf.ok ? lf.value?.stages.get(s.name) : undefined, "commit");
    if (d.kind !== "re-record") throw new Error(`commit cannot apply '${d.kind}'`);
    const rec = await recordAndStore(recorder, s, {
      store: true,
      runCache: true,
      previous: lf.ok && lf.value?.flavor === "pipe" ? lf.value.stages.get(s.name) : undefined,
      write: (entry) => writer.write(s, entry),
    });
    if (!rec.ok) {
      problems.push(...rec.failure.errors);
      continue;
    }
    // Unlike `repro` (where it is a warning beside a run that succeeded), a run-cache entry `commit` was asked to
    // write and could not is a failure of the command.
    problems.push(...rec.value.runCacheErrors);
    if (rec.value.written) {
      committed++;
      input.onCommitted(a);
    }
    files.add(s.file);
  }
  return { problems, committed, files, interrupted: input.signal.aborted };
}
