/**
 * `status` of a project without its data (a fresh clone): instead of one `deleted:` line per output, one line saying
 * how many outputs are not in the workspace and where their data is (the cache: `pipe checkout`; the default remote:
 * `pipe pull`; nowhere: `pipe repro`), and the stages whose only trouble is that absence folded into one line.
 *
 * It only applies when some absent output's data is not in the local cache (a deleted output whose object is cached
 * is a local slip that `status` reports as it always has), and either a default remote is configured (the data may
 * be there) or at least `FOLD_AT` outputs lack their data (a project without its data, whatever the reason). The remote is asked once (`hasMany`) for the objects the
 * cache lacks; a remote that cannot be asked is said, not an error (`status` stays a reader).
 */
import type { StageStatus } from "../status/types.js";
import { chooseRemote, readRemoteConfig } from "./config.js";
import { openRemote } from "./index.js";
import { holds } from "./transfer.js";
import { CacheObjects, keyOfId } from "./transfer-cache.js";

/** Absent outputs without a remote to look in from which the summary replaces the per-output lines. */
export const FOLD_AT = 10;

export interface AbsentOutput {
  stage: string;
  path: string;
  id: string;
}

export interface AbsentSummary {
  absent: AbsentOutput[];
  /** In the local cache (`pipe checkout` restores them). */
  inCache: number;
  /** Not in the cache, on the default remote (`pipe pull`). */
  onRemote: number;
  /** The default remote, when one is configured. */
  remote?: string;
  /** Why the remote could not be asked. */
  remoteProblem?: string;
  /** Stages whose only reasons are absent outputs (theirs or their upstream's): folded. */
  folded: string[];
}

/** Outputs that are `deleted` in the workspace, with their recorded object. */
function absentOf(stages: readonly StageStatus[]): AbsentOutput[] {
  const out: AbsentOutput[] = [];
  for (const s of stages) {
    for (const r of s.reasons) {
      if (r.kind !== "changed-outs") continue;
      for (const c of r.changes) if (c.change === "deleted" && c.old && c.old.hash !== "") out.push({ stage: s.address, path: c.rootPath, id: c.old.hash });
    }
  }
  return out;
}

/** Whether a stage's every reason is an absent output (its own, or an upstream one it depends on). */
function onlyAbsence(s: StageStatus, absentPaths: ReadonlySet<string>): boolean {
  if (!s.stale || s.running || s.frozen) return false;
  return s.reasons.every((r) => {
    if (r.kind === "upstream-stale") return true;
    if (r.kind === "changed-outs" || r.kind === "changed-deps") return r.changes.every((c) => c.change === "deleted" && absentPaths.has(c.rootPath));
    return false;
  });
}

/** The summary, or undefined when nothing absent lacks its data in the cache (module comment). */
export async function absentSummary(root: string, env: NodeJS.ProcessEnv, stages: readonly StageStatus[]): Promise<AbsentSummary | undefined> {
  const absent = absentOf(stages);
  if (absent.length === 0) return undefined;
  const cache = CacheObjects.open(root, { readOnly: true });
  const keys = absent.map((a) => keyOfId(a.id));
  const local = await cache.hasMany(keys);
  const inCacheSet = local.ok ? local.value : new Set<string>();
  const missing = keys.filter((k) => !holds(inCacheSet, k));
  if (missing.length === 0) return undefined;
  const absentPaths = new Set(absent.map((a) => a.path));
  const summary: AbsentSummary = {
    absent,
    inCache: keys.length - missing.length,
    onRemote: 0,
    folded: stages.filter((s) => onlyAbsence(s, absentPaths)).map((s) => s.address),
  };
  const cfg = await readRemoteConfig(root);
  if (!cfg.ok) {
    summary.remoteProblem = cfg.errors[0]!.message;
    return missing.length >= FOLD_AT ? summary : undefined;
  }
  const chosen = chooseRemote(cfg.value, undefined);
  if (!chosen.ok) return missing.length >= FOLD_AT ? summary : undefined;
  summary.remote = chosen.value.name;
  const opened = await openRemote(chosen.value, { root, env });
  if (!opened.ok) {
    summary.remoteProblem = opened.errors[0]!.message;
    return summary;
  }
  try {
    const there = await opened.value.hasMany(missing);
    if (there.ok) summary.onRemote = missing.filter((k) => holds(there.value, k)).length;
    else summary.remoteProblem = there.failure.reason;
  } finally {
    await opened.value.close();
  }
  return summary;
}
