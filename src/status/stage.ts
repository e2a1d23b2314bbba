/**
 * Staleness of one stage (spec 4) as a pure function of the stage, its lock entry and the workspace facts; shared by
 * `status`, `repro --dry` and `repro`. Reasons come in the order they are cheapest to establish: no lock entry,
 * command, params, deps, outs, always changed (upstream staleness is added at the pipeline level).
 *
 * Dep and out hashes are compared with the algorithm the lock entry recorded: md5 (and DVC 2's legacy md5) for a
 * `dvc.lock`, xxh64 for `pipe.lock`. `factsNeeded` says which (path, algorithm) pairs and params files the judgement
 * will look at, so the caller hashes exactly those and nothing for a stage that has no lock entry or is frozen.
 */
import type { HashAlgo } from "../hash/algorithms.js";
import type { HashOutcome } from "../hash/hasher.js";
import type { Stage } from "../core/model.js";
import type { LockEntry, LockFileEntry } from "../lock/types.js";
import { pathKey } from "../lock/types.js";
import { explainCommandChange } from "./cmd-vars.js";
import { compareParams, getDotted, isAbsent, lockRootPath } from "./params.js";
import { factKey, type PathChange, type StageFacts, type StageStatus, type StaleReason } from "./types.js";

interface Tracked {
  path: string;
  rootPath: string;
  external: boolean;
}

function hashAlgoOf(e: LockFileEntry): HashAlgo | undefined {
  return e.algo === "none" ? undefined : e.algo;
}

const indexes = new WeakMap<readonly LockFileEntry[], Map<string, LockFileEntry>>();

function lockIndex(entries: readonly LockFileEntry[]): Map<string, LockFileEntry> {
  let m = indexes.get(entries);
  if (!m) {
    m = new Map<string, LockFileEntry>();
    for (const e of entries) m.set(pathKey(e.path), e);
    indexes.set(entries, m);
  }
  return m;
}

export interface FactsNeeded {
  /** (root path, algorithm) pairs to hash. */
  paths: { rootPath: string; algo: HashAlgo }[];
  /** Root paths of params files to read. */
  params: string[];
}

export interface FactsOptions {
  /**
   * Also hash deps and outs the lock does not have yet (`new`), with the algorithm a run would record them with, so
   * a report can show their hash (`status -v`, `--json`). Off for verdicts: a new path is a change whatever it holds.
   */
  hashNew?: boolean;
}

/** The algorithm `repro` records hashes with (`pipe.lock`), which a `new` path is shown in. */
const RECORD_ALGO: HashAlgo = "xxh64";

export function factsNeeded(stage: Stage, entry: LockEntry | undefined, opts: FactsOptions = {}): FactsNeeded {
  const out: FactsNeeded = { paths: [], params: [] };
  // A stage that never ran is stale whatever it reads; its params files only say whether it can run (`missing-params`).
  if (!entry) {
    if (!stage.frozen) out.params = [...new Set(stage.params.map((p) => p.rootPath))];
    return out;
  }
  const add = (items: readonly Tracked[], locked: readonly LockFileEntry[]): void => {
    const idx = lockIndex(locked);
    for (const it of items) {
      if (it.external) continue;
      const e = idx.get(pathKey(it.path));
      const algo = e ? hashAlgoOf(e) : opts.hashNew ? RECORD_ALGO : undefined;
      if (algo) out.paths.push({ rootPath: it.rootPath, algo });
    }
  };
  // A frozen stage is judged by nothing it reads; only whether its outputs are still what the lock records is shown.
  if (stage.frozen) {
    add(stage.outs, entry.outs);
    return out;
  }
  add(stage.deps, entry.deps);
  add(stage.outs, entry.outs);
  out.params = [...new Set(stage.params.map((p) => p.rootPath))];
  return out;
}

function sameCmd(a: string | string[], b: string | string[]): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function comparePaths(items: readonly Tracked[], locked: readonly LockFileEntry[], facts: StageFacts, wdir: string): PathChange[] {
  const idx = lockIndex(locked);
  const changes: PathChange[] = [];
  const present = new Set<string>();
  for (const it of items) {
    const key = pathKey(it.path);
    present.add(key);
    if (it.external) continue;
    const e = idx.get(key);
    if (!e) {
      // Its hash, when the caller gathered it (`hashNew`).
      const o = facts.paths.get(factKey(RECORD_ALGO, it.rootPath));
      changes.push(o?.kind === "file" || o?.kind === "dir" ? { path: it.path, rootPath: it.rootPath, change: "new", new: { algo: RECORD_ALGO, hash: o.hash } } : { path: it.path, rootPath: it.rootPath, change: "new" });
      continue;
    }
    const old = { algo: e.algo, hash: e.hash };
    const algo = hashAlgoOf(e);
    if (!algo) {
      // A local path recorded without a content hash cannot be verified: it must be recomputed.
      changes.push({ path: it.path, rootPath: it.rootPath, change: "modified", old });
      continue;
    }
    const o: HashOutcome | undefined = facts.paths.get(factKey(algo, it.rootPath));
    if (!o) continue; // not gathered: the caller chose not to look (never the case for `status`)
    if (o.kind === "missing") changes.push({ path: it.path, rootPath: it.rootPath, change: "deleted", old });
    else if (o.kind === "error") changes.push({ path: it.path, rootPath: it.rootPath, change: "error", old, message: o.message });
    else if (o.hash !== e.hash) changes.push({ path: it.path, rootPath: it.rootPath, change: "modified", old, new: { algo: e.algo, hash: o.hash } });
  }
  for (const e of locked) {
    if (!present.has(pathKey(e.path))) changes.push({ path: e.path, rootPath: lockRootPath(wdir, e.path), change: "removed", old: { algo: e.algo, hash: e.hash } });
  }
  return changes;
}

/**
 * What a stage without a lock entry lacks to run: params files that do not exist and keys they do not hold (what
 * `repro` would stop on), so `status` names them instead of only `no lock entry`. A file that cannot be parsed is
 * left to `repro`'s message.
 */
function missingParams(stage: Stage, facts: StageFacts): StaleReason[] {
  const out: StaleReason[] = [];
  for (const p of stage.params) {
    const f = facts.params.get(p.rootPath);
    if (f === undefined) continue;
    if (f.kind === "missing") out.push({ kind: "missing-params", file: p.file, rootPath: p.rootPath, keys: [] });
    else if (f.kind === "ok") {
      const keys = (p.keys ?? []).filter((k) => isAbsent(getDotted(f.value, k)));
      if (keys.length > 0) out.push({ kind: "missing-params", file: p.file, rootPath: p.rootPath, keys });
    }
  }
  return out;
}

/** The stage's staleness against its lock entry, without upstream reasons. */
export function stageStatus(stage: Stage, entry: LockEntry | undefined, facts: StageFacts): StageStatus {
  const external = [...stage.deps, ...stage.outs].filter((x) => x.external).map((x) => x.path);
  const st: StageStatus = { address: stage.address, stale: false, frozen: stage.frozen, reasons: [], external };
  if (stage.frozen) {
    // Never stale (spec 4), but an output deleted or edited since the lock was written is said: `repro` and
    // `checkout` restore a deleted one from the cache, and DVC's status lists them for a frozen stage too.
    // One that never ran has no outputs to compare: said as such, so a report does not read as "all as locked".
    if (!entry) st.reasons = [{ kind: "no-lock-entry" }];
    const outs = entry ? comparePaths(stage.outs, entry.outs, facts, stage.wdir) : [];
    if (outs.length > 0) st.reasons = [{ kind: "changed-outs", changes: outs }];
    return st;
  }
  const reasons: StaleReason[] = [];
  if (!entry) {
    reasons.push({ kind: "no-lock-entry" });
    reasons.push(...missingParams(stage, facts));
  } else {
    if (!sameCmd(entry.cmd, stage.cmd)) {
      const { vars, explained } = explainCommandChange(entry.cmd, stage.cmd, stage.cmdTemplate);
      reasons.push({ kind: "changed-command", old: entry.cmd, new: stage.cmd, vars, explained });
    }
    const params = compareParams(stage.params, entry.params, facts.params, stage.wdir);
    if (params.length > 0) reasons.push({ kind: "changed-params", files: params });
    const deps = comparePaths(stage.deps, entry.deps, facts, stage.wdir);
    if (deps.length > 0) reasons.push({ kind: "changed-deps", changes: deps });
    const outs = comparePaths(stage.outs, entry.outs, facts, stage.wdir);
    if (outs.length > 0) reasons.push({ kind: "changed-outs", changes: outs });
  }
  if (stage.alwaysChanged) reasons.push({ kind: "always-changed" });
  st.reasons = reasons;
  st.stale = reasons.length > 0;
  return st;
}
