/**
 * The scheduler: runs `work(id)` for every node of an execution order, up to `jobs` at once, never before all of the
 * node's upstream nodes are done (spec 4).
 *
 * How it works: each node keeps a count of unfinished upstream nodes (only upstream nodes that are part of the
 * order count; anything else is taken as already done). Nodes whose count is zero wait in a min-heap keyed by their
 * position in the order, so among ready nodes the earliest in the order always starts first, and with `jobs = 1`
 * the run follows the order exactly. When a node finishes, its downstream counts drop. Every node and edge is
 * touched a constant number of times: O((V + E) log V).
 *
 * Release: `work` may call its `release` before it settles, saying the node's downstream nodes may start now (a
 * cluster executor queues a stage's job with a dependency on its upstream jobs). A released node still counts
 * towards `jobs` until it settles; its failure then blocks only downstream nodes that have not started.
 *
 * Failure: by default nothing new starts after the first failure (running nodes finish); with `keepGoing`, only the
 * nodes downstream of a failure are skipped (`blocked`) and everything else still runs. An aborted `signal` stops
 * starting nodes at once; the running ones get the signal through `work` (the engine cancels them through their
 * executor) and their outcome is whatever `work` returns.
 */

/** What `work` says about a node. `skipped` (nothing to do, e.g. up to date) counts as success for its downstream. */
export type WorkStatus = "ok" | "skipped" | "failed";

/** The final state of every node. */
export type NodeOutcome =
  | WorkStatus
  /** Not run: an upstream node failed (keep-going). */
  | "blocked"
  /** Not started: the run stopped (first failure without keep-going, or interrupt). */
  | "not-started";

export interface ScheduleOptions<Id> {
  /** Every node to run, in execution order (upstream nodes first). */
  order: readonly Id[];
  /** Direct upstream nodes of a node (nodes outside `order` are ignored). */
  upstream: (id: Id) => readonly Id[];
  /** Concurrent nodes, at least 1. */
  jobs: number;
  keepGoing?: boolean;
  signal?: AbortSignal;
  work: (id: Id, signal: AbortSignal | undefined, release: () => void) => Promise<WorkStatus>;
  /** Called when a node will not run because `upstream` (a failed or blocked node) will not. */
  onBlocked?: (id: Id, failedUpstream: Id) => void;
  /** Called whenever the set of running nodes changes (for a live status line). */
  onProgress?: (running: readonly Id[], finished: number, total: number) => void;
}

export interface ScheduleResult<Id> {
  outcomes: Map<Id, NodeOutcome>;
  /** The run stopped because `signal` was aborted. */
  interrupted: boolean;
  /** Order in which nodes started (for tests and reports). */
  started: Id[];
}

/** Binary min-heap of order positions. */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): number | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]! < a[l]! ? r : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

export async function schedule<Id>(opts: ScheduleOptions<Id>): Promise<ScheduleResult<Id>> {
  const { order, keepGoing = false, signal } = opts;
  const jobs = Math.max(1, Math.floor(opts.jobs));
  const n = order.length;
  const index = new Map<Id, number>();
  order.forEach((id, i) => {
    if (index.has(id)) throw new Error(`schedule: node ${String(id)} appears twice in the order`);
    index.set(id, i);
  });
  const pending = new Array<number>(n).fill(0);
  const down: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    const seen = new Set<number>();
    for (const u of opts.upstream(order[i]!)) {
      const j = index.get(u);
      if (j === undefined || seen.has(j)) continue;
      seen.add(j);
      pending[i]!++;
      down[j]!.push(i);
    }
  }

  const outcomes = new Map<Id, NodeOutcome>();
  const state = new Array<"waiting" | "running" | "done">(n).fill("waiting");
  const released = new Array<boolean>(n).fill(false);
  const ready = new MinHeap();
  for (let i = 0; i < n; i++) if (pending[i] === 0) ready.push(i);
  const running = new Set<number>();
  const started: Id[] = [];
  let finished = 0;
  let stopped = false;
  let interrupted = false;
  let bug: unknown;
  let hasBug = false;

  const progress = (): void => opts.onProgress?.([...running].sort((a, b) => a - b).map((i) => order[i]!), finished, n);

  /** Marks everything downstream of `from` as blocked (iteratively: chains can be long). */
  const block = (from: number): void => {
    const stack = [from];
    while (stack.length) {
      const i = stack.pop()!;
      for (const d of down[i]!) {
        if (state[d] !== "waiting") continue;
        state[d] = "done";
        finished++;
        outcomes.set(order[d]!, "blocked");
        opts.onBlocked?.(order[d]!, order[i]!);
        stack.push(d);
      }
    }
  };

  await new Promise<void>((resolveAll) => {
    const onAbort = (): void => {
      interrupted = true;
      stopped = true;
      if (running.size === 0) resolveAll();
    };
    if (signal?.aborted) {
      interrupted = true;
      stopped = true;
    } else signal?.addEventListener("abort", onAbort, { once: true });

    const pump = (): void => {
      while (!stopped && running.size < jobs) {
        const i = ready.pop();
        if (i === undefined) break;
        if (state[i] !== "waiting") continue;
        state[i] = "running";
        running.add(i);
        started.push(order[i]!);
        const id = order[i]!;
        let p: Promise<WorkStatus>;
        try {
          p = opts.work(id, signal, () => release(i));
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then(
          (status) => settle(i, status),
          (e: unknown) => {
            if (!hasBug) {
              hasBug = true;
              bug = e;
            }
            stopped = true;
            settle(i, "failed");
          },
        );
      }
      if (running.size === 0) {
        signal?.removeEventListener("abort", onAbort);
        resolveAll();
      } else progress();
    };

    /** Downstream nodes of `i` stop waiting for it (once: at its release or its success). */
    const unblock = (i: number): void => {
      if (released[i]) return;
      released[i] = true;
      for (const d of down[i]!) if (--pending[d]! === 0 && state[d] === "waiting") ready.push(d);
    };

    const release = (i: number): void => {
      if (state[i] !== "running" || released[i]) return;
      unblock(i);
      pump();
    };

    const settle = (i: number, status: WorkStatus): void => {
      running.delete(i);
      state[i] = "done";
      finished++;
      outcomes.set(order[i]!, status);
      if (status === "failed") {
        if (keepGoing) block(i);
        else stopped = true;
      } else unblock(i);
      pump();
    };

    pump();
  });

  for (let i = 0; i < n; i++) if (!outcomes.has(order[i]!)) outcomes.set(order[i]!, "not-started");
  if (hasBug) throw bug;
  return { outcomes, interrupted, started };
}
