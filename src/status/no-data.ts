/**
 * `pipe status --no-data`: does the committed lock describe the pipeline as git holds it? The check a CI job can run
 * on a fresh clone, where no output and no untracked data exists (so the full check would call every output deleted).
 *
 * It judges each stage from what git holds and nothing else:
 *
 * - the stage has a lock entry, and its command is the one the lock records;
 * - its params values are the lock's (params files are read; a params file git does not track is named);
 * - each dep git tracks (a file in the index, or a directory whose files are in the index) hashes to what the lock
 *   records; a directory's hash is built from its tracked files only, so untracked files beside them never count;
 * - each dep another stage produces is recorded with the hash that the producing stage's entry records for that
 *   output (the chain is consistent from sources to leaves); a dep inside a directory output, or a directory holding
 *   outputs, cannot be compared without the data and is listed as not checked;
 * - the deps and outs the stage declares are those the lock lists (a path added or removed is named);
 * - the lock file itself is tracked by git.
 *
 * Outputs are never read, and neither is any file git does not track (a dep that is neither tracked nor produced is
 * data: listed as not checked), so the answer is the same with or without the data. Tracked files are read from the
 * work tree, which in a CI clone is the commit; locally it is what would be committed. The result is data (typed
 * issues); `report/no-data.ts` words it.
 */
import { digestBytes, type HashAlgo } from "../hash/algorithms.js";
import { serializeManifest, sortEntries, type ManifestEntry } from "../hash/manifest.js";
import { error, fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { ParamsDep, Stage, StageGraph } from "../core/model.js";
import { runGit } from "../git/git.js";
import { indexOf } from "../graph/graph.js";
import type { LockStore } from "../lock/read.js";
import { pathKey, type LockEntry, type LockFileEntry } from "../lock/types.js";
import { explainCommandChange, type CmdVarChange } from "./cmd-vars.js";
import { compareParams, lockRootPath } from "./params.js";
import { absOf, type Workspace } from "./workspace.js";
import type { HashRef, ParamChange, ParamsFileFacts } from "./types.js";

/** One way the lock does not describe the pipeline. `stage` is a root address; paths are root-relative. */
export type NoDataIssue =
  | { kind: "lock-not-in-git"; lockFile: string }
  | { kind: "no-lock-entry"; stage: string; lockFile: string }
  /** `vars`: the `${...}` whose text changed, when they account for the whole change (`explained`). */
  | { kind: "command"; stage: string; lockFile: string; locked: string | string[]; current: string | string[]; vars: CmdVarChange[]; explained: boolean }
  | ({ kind: "param"; stage: string; lockFile: string; file: string } & ParamChange)
  | { kind: "params-file"; stage: string; lockFile: string; file: string; problem: "missing" | "invalid" | "not-in-git"; message?: string }
  /** A git-tracked dep whose content is not what the lock records (`new`: declared, not in the lock; `removed`: in the lock, no longer declared). */
  | { kind: "dep"; stage: string; lockFile: string; path: string; change: "modified" | "missing" | "new" | "removed"; locked?: HashRef; current?: HashRef }
  | { kind: "out"; stage: string; lockFile: string; path: string; change: "new" | "removed" }
  /** The consumer's lock entry records `locked` for the dep; the producer's entry records `produced` for its output. */
  | { kind: "chain"; stage: string; lockFile: string; path: string; producer: string; locked: HashRef; produced: HashRef };

export type NotCheckedWhy = "not-in-git" | "inside-output" | "holds-outputs" | "external" | "different-algorithm";

export interface NoDataCheck {
  /** Stages judged. */
  stages: number;
  issues: NoDataIssue[];
  /** Deps that git alone cannot judge, by stage address. */
  notChecked: { stage: string; path: string; why: NotCheckedWhy }[];
  /** Deps compared with git's files, and deps compared with their producer's entry. */
  checked: { tracked: number; chained: number };
}

export interface NoDataInput {
  graph: StageGraph;
  ws: Workspace;
  locks: LockStore;
  /** Stages to judge, in execution order. */
  addresses: readonly string[];
}

/** The files git tracks under `root` (root-relative, POSIX), or a diagnostic when `root` is not in a git work tree. */
export async function trackedFiles(root: string): Promise<Result<Set<string>>> {
  const r = await runGit(root, ["ls-files", "-z", "--cached"]);
  if (r instanceof Error) return fail([error("io", `cannot run git: ${r.message}`)]);
  if (r.code !== 0) {
    return fail([error("usage", `--no-data judges the lock from what git holds, but ${root} is not in a git work tree (${r.stderr.trim().split("\n")[0] ?? ""})`)]);
  }
  const files = new Set<string>();
  for (const f of r.stdout.toString("utf8").split("\0")) if (f !== "") files.add(f);
  return ok(files);
}

/** Tracked files under a directory, as sorted relpaths; computed by a scan of the sorted list once per directory. */
class TrackedIndex {
  private readonly sorted: string[];
  constructor(readonly files: ReadonlySet<string>) {
    this.sorted = [...files].sort();
  }
  has(p: string): boolean {
    return this.files.has(p);
  }
  /** Files under `dir` (root-relative, no trailing slash), relative to it. */
  under(dir: string): string[] {
    const prefix = dir === "" ? "" : `${dir}/`;
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = lo; i < this.sorted.length && this.sorted[i]!.startsWith(prefix); i++) out.push(this.sorted[i]!.slice(prefix.length));
    return out;
  }
}

function algoOf(e: LockFileEntry): HashAlgo | undefined {
  return e.algo === "none" ? undefined : e.algo;
}

function lockFileOf(stage: Stage, flavorFile: string | undefined): string {
  return flavorFile ?? (stage.dir === "" ? "pipe.lock" : `${stage.dir}/pipe.lock`);
}

function sameCmd(a: string | string[], b: string | string[]): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The hash of a git-held dep with `algo`: a tracked file, or a directory built from its tracked files. */
async function gitHash(ws: Workspace, tracked: TrackedIndex, rootPath: string, algo: HashAlgo): Promise<HashRef | "missing"> {
  if (tracked.has(rootPath)) {
    const abs = absOf(ws.root, rootPath);
    // A stat-cache hit is answered synchronously: no promise per file on a repeated check.
    const o = ws.hasher.peek(abs, algo) ?? (await ws.hasher.hashPath(abs, algo));
    if (o.kind === "file") return { algo, hash: o.hash };
    return "missing";
  }
  const files = tracked.under(rootPath);
  const entries: ManifestEntry[] = [];
  for (const rel of files) {
    const o = await ws.hasher.hashPath(absOf(ws.root, rootPath === "" ? rel : `${rootPath}/${rel}`), algo);
    if (o.kind !== "file") return "missing";
    entries.push({ relpath: rel, hash: o.hash, size: o.size });
  }
  const bytes = serializeManifest(algo, sortEntries(entries));
  return { algo, hash: `${await digestBytes(algo, bytes)}.dir` };
}

/**
 * Judges `addresses` against their lock entries from git alone. Fails only when git cannot list the files (not a
 * work tree) or a lock file cannot be parsed.
 */
export async function checkNoData(input: NoDataInput): Promise<Result<NoDataCheck>> {
  const { graph, ws, locks } = input;
  const root = graph.pipeline.root;
  const t = await trackedFiles(root);
  if (!t.ok) return t;
  const tracked = new TrackedIndex(t.value);
  const outs = indexOf(graph);
  const issues: NoDataIssue[] = [];
  const notChecked: NoDataCheck["notChecked"] = [];
  const checked = { tracked: 0, chained: 0 };

  // Lock entries of every stage (a consumer's producer may lie outside `addresses`).
  const entries = new Map<string, { entry: LockEntry | undefined; lockFile: string }>();
  const lockErrors: Diagnostic[] = [];
  const lockFiles = new Set<string>();
  for (const s of graph.stages.values()) {
    const r = await locks.forDir(s.dir);
    if (!r.ok) {
      lockErrors.push(...r.errors);
      continue;
    }
    if (r.value) lockFiles.add(r.value.file);
    entries.set(s.address, { entry: r.value?.stages.get(s.name), lockFile: lockFileOf(s, r.value?.file) });
  }
  if (lockErrors.length > 0) return fail(lockErrors);
  const asked = new Set(input.addresses);
  for (const f of [...lockFiles].sort()) {
    const dirOf = f.includes("/") ? f.slice(0, f.lastIndexOf("/")) : "";
    const concerned = [...asked].some((a) => graph.stages.get(a)?.dir === dirOf);
    if (concerned && !tracked.has(f)) issues.push({ kind: "lock-not-in-git", lockFile: f });
  }

  // Stages are judged concurrently (hashing overlaps I/O); each collects its own lines, joined in stage order.
  const judge = async (address: string, issues: NoDataIssue[], notChecked: NoDataCheck["notChecked"]): Promise<void> => {
      const stage = graph.stages.get(address)!;
      const { entry, lockFile } = entries.get(address)!;
      if (!entry) {
        issues.push({ kind: "no-lock-entry", stage: address, lockFile });
        return;
      }
      // A frozen stage is never re-run: what it records is what it is. Its outputs still anchor the chain below it.
      if (stage.frozen) return;
      const base = { stage: address, lockFile };
      let command: NoDataIssue | undefined;
      if (!sameCmd(entry.cmd, stage.cmd)) {
        const { vars, explained } = explainCommandChange(entry.cmd, stage.cmd, stage.cmdTemplate);
        command = { kind: "command", ...base, locked: entry.cmd, current: stage.cmd, vars, explained };
        issues.push(command);
      }
      const paramsFrom = issues.length;

      // Params: untracked params files are data to git; a file produced by a stage is judged by the chain, not here.
      const paramsFacts = new Map<string, ParamsFileFacts>();
      const judged: ParamsDep[] = [];
      for (const p of stage.params) {
        if (!tracked.has(p.rootPath)) {
          if (outs.producersOf({ rootPath: p.rootPath, external: false }).length === 0) {
            issues.push({ kind: "params-file", ...base, file: p.rootPath, problem: "not-in-git" });
          }
          continue;
        }
        judged.push(p);
        paramsFacts.set(p.rootPath, await ws.params.read(p.rootPath, absOf(root, p.rootPath)));
      }
      for (const pf of compareParams(judged, pickParams(entry.params, judged), paramsFacts, stage.wdir)) {
        if (pf.error !== undefined) {
          issues.push({ kind: "params-file", ...base, file: pf.rootPath, problem: "invalid", message: pf.error });
          continue;
        }
        for (const c of pf.changes) issues.push({ kind: "param", ...base, file: pf.rootPath, ...c });
      }
      // A command changed only by params named just above says nothing more: one line per cause.
      if (command?.kind === "command" && command.explained) {
        const keys = new Set(issues.slice(paramsFrom).flatMap((i) => (i.kind === "param" ? [i.key] : [])));
        if (command.vars.every((v) => keys.has(v.name))) issues.splice(issues.indexOf(command), 1);
      }
      // Lock params files no longer named by the stage at all.
      const named = new Set(stage.params.map((p) => pathKey(p.file)));
      for (const [f, vals] of Object.entries(entry.params)) {
        if (named.has(pathKey(f))) continue;
        for (const [key, old] of Object.entries(vals)) issues.push({ kind: "param", ...base, file: f, key, change: "removed", old });
      }

      // Deps.
      const lockDeps = new Map(entry.deps.map((e) => [pathKey(e.path), e]));
      const declared = new Set<string>();
      for (const d of stage.deps) {
        const key = pathKey(d.path);
        declared.add(key);
        if (d.external) {
          notChecked.push({ stage: address, path: d.rootPath, why: "external" });
          continue;
        }
        const locked = lockDeps.get(key);
        if (!locked) {
          issues.push({ kind: "dep", ...base, path: d.rootPath, change: "new" });
          continue;
        }
        const algo = algoOf(locked);
        const lockedRef = { algo: locked.algo, hash: locked.hash };
        const producers = outs.producersOf(d);
        if (producers.length > 0) {
          const only = producers.length === 1 ? producers[0]! : undefined;
          if (!only || only.relation !== "equal") {
            notChecked.push({ stage: address, path: d.rootPath, why: only?.relation === "inside" ? "inside-output" : "holds-outputs" });
            continue;
          }
          const producer = entries.get(only.stage.address);
          const pEntry = producer?.entry;
          // A producer without an entry is reported on its own line; nothing to compare with.
          if (!pEntry) continue;
          const out = pEntry.outs.find((o) => pathKey(o.path) === pathKey(only.out.path));
          if (!out) continue; // reported as the producer's `out new`
          if (out.algo !== locked.algo) {
            notChecked.push({ stage: address, path: d.rootPath, why: "different-algorithm" });
            continue;
          }
          checked.chained++;
          if (out.hash !== locked.hash) {
            issues.push({ kind: "chain", ...base, path: d.rootPath, producer: only.stage.address, locked: lockedRef, produced: { algo: out.algo, hash: out.hash } });
          }
          continue;
        }
        if (!tracked.has(d.rootPath) && tracked.under(d.rootPath).length === 0) {
          notChecked.push({ stage: address, path: d.rootPath, why: "not-in-git" });
          continue;
        }
        if (!algo) continue;
        checked.tracked++;
        const now = await gitHash(ws, tracked, d.rootPath, algo);
        if (now === "missing") issues.push({ kind: "dep", ...base, path: d.rootPath, change: "missing", locked: lockedRef });
        else if (now.hash !== locked.hash) issues.push({ kind: "dep", ...base, path: d.rootPath, change: "modified", locked: lockedRef, current: now });
      }
      for (const e of entry.deps) {
        if (!declared.has(pathKey(e.path))) issues.push({ kind: "dep", ...base, path: lockRootOf(stage, e.path), change: "removed", locked: { algo: e.algo, hash: e.hash } });
      }

      // Outs: only the list is compared (their content is data).
      const lockOuts = new Set(entry.outs.map((e) => pathKey(e.path)));
      const declaredOuts = new Set<string>();
      for (const o of stage.outs) {
        declaredOuts.add(pathKey(o.path));
        if (!lockOuts.has(pathKey(o.path))) issues.push({ kind: "out", ...base, path: o.rootPath, change: "new" });
      }
      for (const e of entry.outs) if (!declaredOuts.has(pathKey(e.path))) issues.push({ kind: "out", ...base, path: lockRootOf(stage, e.path), change: "removed" });
  };
  const perStage = await Promise.all(
    input.addresses.map(async (a) => {
      const mine = { issues: [] as NoDataIssue[], notChecked: [] as NoDataCheck["notChecked"] };
      await judge(a, mine.issues, mine.notChecked);
      return mine;
    }),
  );
  for (const m of perStage) {
    issues.push(...m.issues);
    notChecked.push(...m.notChecked);
  }
  ws.hasher.save();
  return ok({ stages: input.addresses.length, issues, notChecked, checked });
}

function lockRootOf(stage: Stage, p: string): string {
  return lockRootPath(stage.wdir, p);
}

/**
 * The lock's params restricted to the files judged here: a params file skipped (untracked, produced) must not read as
 * `removed`; files the stage no longer names are reported separately.
 */
function pickParams(lock: Readonly<Record<string, Record<string, unknown>>>, judged: readonly { file: string }[]): Record<string, Record<string, unknown>> {
  const keep = new Set(judged.map((p) => pathKey(p.file)));
  const out: Record<string, Record<string, unknown>> = {};
  for (const [f, v] of Object.entries(lock)) if (keep.has(pathKey(f))) out[f] = v;
  return out;
}
