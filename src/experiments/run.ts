/**
 * Running experiments. In the workspace (`pipe exp run`): the overrides go into the params files, the pipeline is
 * reproduced there, and the result is recorded as an experiment of HEAD; the workspace keeps the experiment's state,
 * as with DVC, while the branch, the index and HEAD stay where they were.
 *
 * Queued (`exp run --queue`, then `exp run --run-all`): each experiment gets its own temporary git worktree under
 * `.pipe/tmp/exps/<id>` (checked out at the queued commit, detached), the overrides are applied there and a child
 * `pipe` reproduces it with the project's cache and run-cache (`reproduce.ts`), so stages two experiments share run
 * once and every output lands in the one cache. The child runs in a process group of its own, its output going to
 * the experiment's log; up to `jobs` run at once. A success is recorded as an experiment (the worktree's commit goes
 * into the shared repository's refs), a failure is marked failed with its log; either way the worktree goes.
 *
 * On a SLURM cluster (`executor: slurm`, or `--executor slurm` passed on to the child) the child `pipe` is each
 * experiment's coordinator on the login node: its stages are submitted as jobs from the experiment's worktree, which
 * is inside the project and so on the file system the compute nodes share. Experiments then all start at once by
 * default (the scheduler queues their jobs); `queue kill` stops the child, which cancels its jobs.
 *
 * Crash safety: the entry says `running` with the runner's pid and the child's process group. A runner that finds
 * such an entry of a dead runner stops that process group (it may still be running stages) and cancels the SLURM
 * jobs recorded in its worktree (a child killed with -9 could not), removes its worktree
 * and runs the experiment again. Only one runner works on a project's queue at a time (`.pipe/exps/runner.pid`).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import { buildGraph } from "../graph/graph.js";
import { loadPipelineCached } from "../project/load.js";
import { git, headSha } from "./git.js";
import { checkName, generateName } from "./names.js";
import { applyOverrides, expandGrid, type Override, type SetParam } from "./overrides.js";
import { listExperiments, recordExperiment, workspaceCommit, type ExpProject } from "./project.js";
import { alive, ensureExpsDir, QueueStore, WORKTREES_DIR, EXPS_DIR, type QueueEntry } from "./queue-store.js";
import type { ReproduceOutcome } from "./reproduce.js";
import { readConfig, type ExecutorName } from "../project/config.js";

/** Names taken under a baseline: recorded experiments and queued ones not yet recorded. */
export async function takenNames(p: ExpProject, baseline: string): Promise<Result<Set<string>>> {
  const exps = await listExperiments(p.g, baseline);
  if (!exps.ok) return exps;
  const taken = new Set(exps.value.map((e) => e.name));
  for (const e of await new QueueStore(p.root).list()) if (e.baseline === baseline && e.state !== "failed") taken.add(e.name);
  return ok(taken);
}

/** Names for `count` experiments: `-n NAME` (with a `-<k>` suffix for a grid), or generated. Taken or invalid: usage. */
function nameAll(given: string | undefined, count: number, taken: Set<string>): Result<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let n: string;
    if (given !== undefined) {
      const c = checkName(given);
      if (!c.ok) return c;
      n = count === 1 ? given : `${given}-${i + 1}`;
      if (taken.has(n)) return fail([error("usage", `experiment name '${n}' is taken under this baseline (choose another with -n, or 'pipe exp remove ${n}')`)]);
    } else n = generateName(taken);
    taken.add(n);
    out.push(n);
  }
  return ok(out);
}

function messageOf(name: string, overrides: readonly Override[], msg: string | undefined): string {
  const lines = [msg ?? `pipe exp: ${name}`, ""];
  for (const o of overrides) lines.push(`${o.file}:${o.key}=${o.raw}`);
  return lines.join("\n").trimEnd() + "\n";
}

export interface WorkspaceRunInput {
  p: ExpProject;
  sets: readonly SetParam[];
  name?: string;
  message?: string;
  /** Runs the pipeline in the workspace (the caller's reporter attached). */
  reproduce: () => Promise<ReproduceOutcome>;
}

export type WorkspaceRunOutcome =
  | { kind: "recorded"; name: string; ref: string; sha: string; baseline: string }
  | { kind: "failed"; outcome: ReproduceOutcome };

/** `pipe exp run` without `--queue`: one experiment, in the workspace. */
export async function runInWorkspace(i: WorkspaceRunInput): Promise<Result<WorkspaceRunOutcome>> {
  const grid = expandGrid(i.sets);
  if (grid.length > 1) return fail([error("usage", "a grid of values (-S KEY=A,B) runs as queued experiments: add --queue, then 'pipe exp run --run-all'")]);
  const overrides = grid[0] ?? [];
  const head = await headSha(i.p.g);
  if (!head.ok) return head;
  const taken = await takenNames(i.p, head.value);
  if (!taken.ok) return taken;
  const names = nameAll(i.name, 1, taken.value);
  if (!names.ok) return names;
  const name = names.value[0]!;
  const changed = await applyOverrides(i.p.root, overrides);
  if (!changed.ok) return changed;
  const outcome = await i.reproduce();
  if (outcome.kind !== "done" || outcome.failed > 0 || outcome.interrupted) return ok({ kind: "failed", outcome });
  const rec = await recordExperiment({
    at: i.p,
    pipeline: outcome.graph.pipeline,
    params: changed.value,
    baseline: head.value,
    name,
    message: messageOf(name, overrides, i.message),
    g: i.p.g,
  });
  if (!rec.ok) return rec;
  return ok({ kind: "recorded", name, baseline: head.value, ...rec.value });
}

/** `--queue`: one entry per combination of the grid, starting from the workspace's tracked state. */
export async function queueExperiments(p: ExpProject, sets: readonly SetParam[], opts: { name?: string; message?: string; targets?: readonly string[] }): Promise<Result<QueueEntry[]>> {
  const head = await headSha(p.g);
  if (!head.ok) return head;
  const taken = await takenNames(p, head.value);
  if (!taken.ok) return taken;
  const grid = expandGrid(sets);
  const names = nameAll(opts.name, grid.length, taken.value);
  if (!names.ok) return names;
  // Overrides are checked now (key exists, file parses), on a scratch copy of the text: a typo fails at queue time.
  const { editParamsText } = await import("./overrides.js");
  for (const combo of grid) {
    for (const file of new Set(combo.map((o) => o.file))) {
      let text: string;
      try {
        text = await readFile(path.join(p.root, file), "utf8");
      } catch {
        return fail([error("usage", `params file '${file}' does not exist`)]);
      }
      const r = editParamsText(file, text, combo.filter((o) => o.file === file));
      if (!r.ok) return r;
    }
  }
  const base = await workspaceCommit(p, head.value);
  if (!base.ok) return base;
  if (base.value !== head.value) {
    // Keeps the commit alive until the experiments that start from it are done (git gc would drop it otherwise).
    const keep = await git(p.g, ["update-ref", `refs/pipe/queue/${base.value}`, base.value]);
    if (!keep.ok) return keep;
  }
  const store = new QueueStore(p.root);
  const now = new Date();
  const out: QueueEntry[] = [];
  for (const [k, combo] of grid.entries()) {
    const id = `${now.toISOString().replace(/[-:.TZ]/g, "")}-${String(k).padStart(4, "0")}-${randomBytes(3).toString("hex")}`;
    const e: QueueEntry = {
      id,
      name: names.value[k]!,
      baseline: head.value,
      base: base.value,
      overrides: combo,
      targets: [...(opts.targets ?? [])],
      ...(opts.message !== undefined ? { message: opts.message } : {}),
      queuedAt: now.toISOString(),
      state: "queued",
      log: store.logOf(id),
    };
    await store.save(e);
    out.push(e);
  }
  return ok(out);
}

/** What the queue runner reports, as facts (the reporter words them). */
export type QueueEvent =
  | { type: "exp-resumed"; name: string }
  | { type: "exp-started"; name: string; log: string }
  | { type: "exp-recorded"; name: string; ref: string; sha: string; stagesMs: number; overheadMs: number }
  | { type: "exp-failed"; name: string; log: string; reason: string };

export interface RunQueueInput {
  p: ExpProject;
  /**
   * Experiments at once. Default: 1, or every queued experiment when their stages go to SLURM (each experiment's
   * `pipe` only submits and follows jobs: the cluster's scheduler is the limit, as for `repro -j`).
   */
  jobs?: number;
  /** What runs the experiments' stages (default: the config's `executor:`), passed on to each child `pipe`. */
  executor?: ExecutorName;
  /** The command line of a child `pipe exp exec-run` (node, script, arguments); cwd and cache root are added. */
  execRun: readonly string[];
  emit: (e: QueueEvent) => void;
  signal?: AbortSignal;
}

/** `--run-all` / `queue start`: runs every queued experiment, up to `jobs` at once. Returns how many failed. */
export async function runQueue(i: RunQueueInput): Promise<Result<{ recorded: number; failed: number }>> {
  const store = new QueueStore(i.p.root);
  const lock = await takeRunner(i.p.root);
  if (!lock.ok) return lock;
  try {
    await recoverDead(i.p, store, i.emit);
    const todo = (await store.list()).filter((e) => e.state === "queued");
    const configured = await readConfig(i.p.root);
    const executor = i.executor ?? (configured.ok ? configured.value.executor : "local");
    const jobs = i.jobs ?? (executor === "slurm" ? Math.max(1, todo.length) : 1);
    let next = 0;
    let recorded = 0;
    let failed = 0;
    // Stages no override of the run touches are shared: the first experiment runs them alone first (a warm-up), the
    // others start once they are in the run-cache, so experiments started together do not compute them twice.
    const warm = jobs > 1 && todo.length > 1 ? await sharedStages(i.p, todo) : [];
    let release = (): void => undefined;
    const warmed = new Promise<void>((r) => (release = r));
    if (warm.length === 0) release();
    const worker = async (k: number): Promise<void> => {
      if (k > 0) await warmed;
      while (next < todo.length && i.signal?.aborted !== true) {
        const e = todo[next++]!;
        const r = await runOne(i, store, e, k === 0 && next === 1 ? { targets: warm, done: release } : undefined);
        release(); // in case the first experiment failed before its warm-up
        if (r) recorded++;
        else failed++;
      }
      release();
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, todo.length)) }, (_, k) => worker(k)));
    await pruneWorktrees(i.p);
    // A queued commit of the workspace's changes is kept alive only while an experiment may still start from it.
    const left = await store.list();
    for (const base of new Set(todo.map((e) => e.base))) {
      if (base !== todo.find((e) => e.base === base)?.baseline && !left.some((e) => e.base === base && e.state !== "success")) {
        await git(i.p.g, ["update-ref", "-d", `refs/pipe/queue/${base}`]);
      }
    }
    return ok({ recorded, failed });
  } finally {
    await rm(path.join(i.p.root, EXPS_DIR, "runner.pid"), { force: true });
  }
}

async function takeRunner(root: string): Promise<Result<void>> {
  const file = path.join(await ensureExpsDir(root), "runner.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: "wx" });
      return ok(undefined);
    } catch {
      const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (pid !== process.pid && alive(pid)) return fail([error("project", `the queue is being run by pipe process ${pid}; wait for it, or 'pipe queue status'`)]);
      await rm(file, { force: true });
    }
  }
  return fail([error("project", "cannot take the queue runner's pid file")]);
}

/** Entries a dead runner left `running`: their stages stopped, their worktree removed, queued again. */
async function recoverDead(p: ExpProject, store: QueueStore, emit: (e: QueueEvent) => void): Promise<void> {
  for (const e of await store.list()) {
    if (e.state !== "running" || alive(e.runnerPid)) continue;
    if (e.pgid !== undefined) await stopGroup(e.pgid);
    // A child killed with -9 cancelled nothing: its SLURM jobs would go on writing into a worktree that is gone.
    await cancelRecordedJobs(projectIn(p, worktreeOf(p, e)));
    await removeWorktree(p, worktreeOf(p, e));
    await pruneWorktrees(p);
    const { runnerPid: _r, pgid: _g, startedAt: _s, ...rest } = e;
    await store.save({ ...rest, state: "queued" });
    emit({ type: "exp-resumed", name: e.name });
  }
}

/**
 * Stops the child `pipe` of an experiment a dead runner left: SIGTERM first, so it cancels its stages through its
 * executor (they run in process groups of their own, which a signal to its group does not reach), then SIGKILL
 * after a grace period.
 */
async function stopGroup(pgid: number): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // gone meanwhile
    }
  };
  if (!alive(pgid)) return;
  signal("SIGTERM");
  for (let waited = 0; waited < 10_000 && alive(pgid); waited += 100) await new Promise((r) => setTimeout(r, 100));
  if (alive(pgid)) signal("SIGKILL");
}

function worktreeOf(p: ExpProject, e: QueueEntry): string {
  return path.join(p.root, WORKTREES_DIR, e.id);
}

/** The project's root inside a worktree of its repository (the project may be a subdirectory of the repository). */
function projectIn(p: ExpProject, wt: string): string {
  return p.rel === "" ? wt : path.join(wt, p.rel);
}

/**
 * Cancels the SLURM jobs an experiment's `pipe` recorded in its worktree (`.pipe/tmp/slurm`), each only if SLURM
 * still knows that id as the job recorded (its comment, name and directory).
 */
async function cancelRecordedJobs(root: string): Promise<void> {
  const { isRecordedJob, readJobRecords, slurmCommand } = await import("../executors/slurm-records.js");
  const ids: string[] = [];
  for (const rec of readJobRecords(root)) if ((await isRecordedJob(rec)) === true) ids.push(rec.jobId);
  if (ids.length > 0) await slurmCommand("scancel", ids);
}

/** The SLURM jobs of each running experiment that are queued or running now, by entry id (`queue status`). */
export async function jobsOfRunning(p: ExpProject, entries: readonly QueueEntry[]): Promise<Map<string, { stage: string; jobId: string; state: "queued" | "running" }[]>> {
  const { stagesInFlight } = await import("../executors/slurm-records.js");
  const out = new Map<string, { stage: string; jobId: string; state: "queued" | "running" }[]>();
  for (const e of entries) {
    if (e.state !== "running") continue;
    const jobs = [...(await stagesInFlight(projectIn(p, worktreeOf(p, e))))].map(([stage, j]) => ({ stage, ...j }));
    if (jobs.length > 0) out.set(e.id, jobs);
  }
  return out;
}

/** Worktree changes one at a time: git takes a lock on the repository's worktree records for each. */
let worktreeChain: Promise<unknown> = Promise.resolve();
function serial<T>(f: () => Promise<T>): Promise<T> {
  const r = worktreeChain.then(f, f);
  worktreeChain = r.catch(() => undefined);
  return r;
}

/**
 * The worktree's files go at once; git's record of it (`.git/worktrees/<id>`) is pruned once the run ends
 * (`pruneWorktrees`): one `git worktree prune` per run instead of a `git worktree remove` per experiment.
 */
async function removeWorktree(_p: ExpProject, dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 2 });
}

function pruneWorktrees(p: ExpProject): Promise<unknown> {
  return serial(() => git(p.g, ["worktree", "prune"]));
}

/** Whether a stage's params key and an override's key name overlapping values (`null`: the whole file). */
function touches(file: string, keys: readonly string[] | null, o: Override): boolean {
  if (file !== o.file) return false;
  if (keys === null) return true;
  return keys.some((k) => k === o.key || o.key.startsWith(k + ".") || k.startsWith(o.key + "."));
}

/**
 * Addresses of the stages of the project's pipeline that no override of `entries` reaches, directly (its params or
 * the vars its command reads) or through an upstream stage; empty when the entries start from different commits
 * (their pipelines may differ) or the pipeline cannot be loaded.
 */
async function sharedStages(p: ExpProject, entries: readonly QueueEntry[]): Promise<string[]> {
  if (new Set(entries.map((e) => e.base)).size !== 1) return [];
  const loaded = await loadPipelineCached(p.root, new Map());
  if (!loaded.result.ok) return [];
  const g = buildGraph(loaded.result.value);
  if (!g.ok) return [];
  const overrides = entries.flatMap((e) => e.overrides);
  const affected = new Set<string>();
  for (const a of g.value.order) {
    const s = g.value.stages.get(a)!;
    const direct = overrides.some((o) => s.params.some((d) => touches(d.rootPath, d.keys, o)) || (s.varsUsed ?? []).some((v) => touches(v.file, v.keys, o)));
    if (direct || s.alwaysChanged || (g.value.upstream.get(a) ?? []).some((u) => affected.has(u))) affected.add(a);
  }
  const shared = g.value.order.filter((a) => !affected.has(a));
  return shared.length === g.value.order.length ? [] : shared;
}

interface WarmUp {
  /** Stage addresses to run first, alone. */
  targets: readonly string[];
  /** Told when they are done (or could not run): the other workers start. */
  done: () => void;
}

/** Runs one queued experiment; true when it was recorded. */
async function runOne(i: RunQueueInput, store: QueueStore, queued: QueueEntry, warm?: WarmUp): Promise<boolean> {
  const p = i.p;
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  let tp = t0;
  const phase = (name: string): void => {
    const now = performance.now();
    phases[name] = (phases[name] ?? 0) + (now - tp);
    tp = now;
  };
  let e: QueueEntry = { ...queued, state: "running", runnerPid: process.pid, startedAt: new Date().toISOString() };
  await store.save(e);
  const wt = worktreeOf(p, e);
  const fail1 = async (reason: string, ds: readonly Diagnostic[] = []): Promise<false> => {
    const extra = ds.map((d) => d.message).join("\n");
    await writeFile(e.log, `${reason}${extra ? `\n${extra}` : ""}\n`, { flag: "a" }).catch(() => undefined);
    const { runnerPid: _r, pgid: _g, ...rest } = e;
    e = { ...rest, state: "failed", endedAt: new Date().toISOString(), error: reason };
    await store.save(e);
    await removeWorktree(p, wt);
    i.emit({ type: "exp-failed", name: e.name, log: e.log, reason });
    return false;
  };
  await rm(wt, { recursive: true, force: true });
  const add = await serial(() => git(p.g, ["worktree", "add", "--detach", "--quiet", wt, e.base]));
  if (!add.ok) return fail1("cannot create its worktree", add.errors);
  const at = { top: wt, rel: p.rel, root: projectIn(p, wt) };
  // The worktree's project is set up as the workspace's: its config, a `.pipe/` of its own for locks and state.
  await mkdir(path.join(at.root, ".pipe"), { recursive: true });
  for (const f of ["config.yaml", "config.local.yaml", ".gitignore"]) {
    await copyFile(path.join(p.root, ".pipe", f), path.join(at.root, ".pipe", f)).catch(() => undefined);
  }
  phase("worktree");
  const changed = await applyOverrides(at.root, e.overrides);
  if (!changed.ok) return fail1("its overrides could not be applied", changed.errors);
  phase("overrides");
  const tStages = performance.now();
  const logFd = await open(e.log, "a");
  const [cmd, ...args] = i.execRun;
  const runChild = (targets: readonly string[]): Promise<number> => new Promise<number>((resolve) => {
    const child = spawn(cmd!, [...args, "--cache-root", p.root, ...(i.executor ? ["--executor", i.executor] : []), ...targets], {
      cwd: at.root,
      detached: true,
      stdio: ["ignore", logFd.fd, logFd.fd],
      env: { ...process.env, NO_COLOR: "1" },
    });
    child.on("error", () => resolve(127));
    child.on("exit", (c, sig) => resolve(c ?? (sig ? 128 : 1)));
    if (child.pid !== undefined) {
      e = { ...e, pgid: child.pid };
      void store.save(e);
    }
  });
  i.emit({ type: "exp-started", name: e.name, log: e.log });
  if (warm && warm.targets.length > 0) {
    // Its failure is not the experiment's: the full run below reports whatever is wrong.
    await runChild(warm.targets).finally(() => warm.done());
  }
  const code = await runChild(e.targets);
  await logFd.close();
  const stagesMs = performance.now() - tStages;
  tp = performance.now();
  if (code !== 0) return fail1(code === 130 || code >= 128 ? "interrupted or killed" : `its pipeline failed (exit ${code})`);
  const sources = new Map<string, string>();
  const loaded = await loadPipelineCached(at.root, sources);
  const graph = loaded.result.ok ? buildGraph(loaded.result.value) : undefined;
  if (!graph?.ok) return fail1("its pipeline could not be loaded after the run");
  phase("load");
  const rec = await recordExperiment({
    at,
    pipeline: graph.value.pipeline,
    params: changed.value,
    baseline: e.baseline,
    name: e.name,
    message: messageOf(e.name, e.overrides, e.message),
    g: p.g,
  });
  if (!rec.ok) return fail1("it could not be recorded", rec.errors);
  phase("record");
  await removeWorktree(p, wt);
  phase("remove");
  const overheadMs = performance.now() - t0 - stagesMs;
  const { runnerPid: _r, pgid: _g, ...rest } = e;
  e = { ...rest, state: "success", endedAt: new Date().toISOString(), ref: rec.value.ref, sha: rec.value.sha, stagesMs, overheadMs, phases };
  await store.save(e);
  i.emit({ type: "exp-recorded", name: e.name, ref: rec.value.ref, sha: rec.value.sha, stagesMs, overheadMs });
  return true;
}

/** Stops a running queued experiment (its process group); the runner then marks it failed. */
export async function killQueued(p: ExpProject, names: readonly string[]): Promise<Result<string[]>> {
  const store = new QueueStore(p.root);
  const all = await store.list();
  const killed: string[] = [];
  for (const n of names) {
    const e = all.find((x) => x.name === n && x.state === "running");
    if (!e?.pgid) return fail([error("usage", `'${n}' is not a running experiment (see 'pipe queue status')`)]);
    try {
      process.kill(-e.pgid, "SIGTERM");
    } catch {
      // ended meanwhile
    }
    killed.push(n);
  }
  return ok(killed);
}

/** Removes queue entries: by name, or every queued (not running) one with `queued`, or every finished one. */
export async function removeQueued(p: ExpProject, sel: { names?: readonly string[]; queued?: boolean; finished?: boolean }): Promise<Result<string[]>> {
  const store = new QueueStore(p.root);
  const all = await store.list();
  const gone: string[] = [];
  for (const n of sel.names ?? []) {
    const e = all.find((x) => x.name === n && x.state !== "running");
    if (!e) return fail([error("usage", `'${n}' is not a queued or finished entry of the queue`)]);
  }
  for (const e of all) {
    const pick = (sel.names?.includes(e.name) ?? false) || (sel.queued === true && e.state === "queued") || (sel.finished === true && (e.state === "success" || e.state === "failed"));
    if (!pick || e.state === "running") continue;
    await store.remove(e);
    if (e.base !== e.baseline && !all.some((x) => x !== e && x.base === e.base && x.state !== "success")) {
      await git(p.g, ["update-ref", "-d", `refs/pipe/queue/${e.base}`]);
    }
    gone.push(e.name);
  }
  return ok(gone);
}

/** `exp clean`: worktrees no experiment marked running owns, and git's records of them. */
export async function cleanWorktrees(p: ExpProject): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  const store = new QueueStore(p.root);
  // An entry still marked running is left to the queue runner (the next `--run-all` stops what a dead runner left
  // running before removing its worktree): cleaning under a live stage process would pull files from under it.
  const live = new Set((await store.list()).filter((e) => e.state === "running").map((e) => e.id));
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = await readdir(path.join(p.root, WORKTREES_DIR));
  } catch {
    // none
  }
  for (const n of names) {
    if (live.has(n)) continue;
    await removeWorktree(p, path.join(p.root, WORKTREES_DIR, n));
    removed.push(n);
  }
  await pruneWorktrees(p);
  return removed;
}
