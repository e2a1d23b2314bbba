/**
 * The words of `pipe gc`: the scopes it offers, what it keeps, what it would remove (`--dry`), the question it asks
 * and what it removed. The plan itself is `cache/gc.ts`'s.
 */
import path from "node:path";
import { formatBytes, type GcPlan } from "../storage/gc.js";

/** The scopes, as listed when none is given. */
export const GC_SCOPES = [
  "  -w, --workspace         what the workspace names (kept by every scope, as in DVC)",
  "  -a, --all-branches      ... and the tip of every git branch",
  "  -T, --all-tags          ... and every git tag",
  "  -A, --all-commits       ... and every git commit",
  "  --rev <commit> [-n N]   ... and that commit (and the N-1 before it along first parents)",
  "  --date <YYYY-MM-DD>     ... and every commit made on or after that day",
].join("\n");

export function plural(n: number, one: string, many = one + "s"): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `-v`: what the scope keeps. */
export function keepingText(named: { revisions: number; files: number; hashes: ReadonlySet<string> }): string {
  const where = named.revisions === 0 ? "the workspace" : `the workspace and ${plural(named.revisions, "git revision")}`;
  return `gc: keeping what ${plural(named.files, "lock or .dvc file", "lock and .dvc files")} of ${where} name (${plural(named.hashes.size, "hash", "hashes")})\n`;
}

export const NOTHING_TO_REMOVE = "Nothing to remove: every cache object is referenced by a lock file.\n";

export function isEmptyPlan(plan: GcPlan): boolean {
  return plan.objects.length === 0 && plan.runs.length === 0 && plan.temps.length === 0;
}

/** "N cache objects, M run-cache entries[, K temporary files]". */
export function planWhat(plan: GcPlan): string {
  const what = [plural(plan.objects.length, "cache object"), plural(plan.runs.length, "run-cache entry", "run-cache entries")];
  if (plan.temps.length > 0) what.push(plural(plan.temps.length, "temporary file"));
  return what.join(", ");
}

/** `--dry`: one line per thing that would go, then the total. */
export function dryText(plan: GcPlan, root: string): string {
  let out = "";
  for (const o of plan.objects) out += `would remove  ${o.id}  ${formatBytes(o.size)}\n`;
  for (const r of plan.runs) out += `would remove  run ${r.key}\n`;
  for (const t of plan.temps) out += `would remove  ${path.relative(root, t).split(path.sep).join("/")}\n`;
  return out + (isEmptyPlan(plan) ? NOTHING_TO_REMOVE : `Would remove ${planWhat(plan)}, freeing ${formatBytes(plan.bytes)}.\n`);
}

/** The question asked on a terminal before removing. */
export function confirmQuestion(plan: GcPlan, revisions: number): string {
  const kept = revisions === 0 ? "the workspace" : `the workspace and ${plural(revisions, "git revision")}`;
  return `Remove ${planWhat(plan)} (${formatBytes(plan.bytes)}), keeping what ${kept} name${revisions === 0 ? "s" : ""}? [y/N] `;
}

export function cannotAskText(plan: GcPlan): string {
  return `error: gc would remove ${planWhat(plan)} (${formatBytes(plan.bytes)}) and cannot ask first (not a terminal): pass -f to remove them, or --dry to list them\n`;
}

/** After removing (`verbose`: each object too). */
export function removedText(plan: GcPlan, verbose: boolean): string {
  let out = "";
  if (verbose) for (const o of plan.objects) out += `removed  ${o.id}  ${formatBytes(o.size)}\n`;
  return out + `Removed ${planWhat(plan)}, freed ${formatBytes(plan.bytes)}. Kept ${plural(plan.keptObjects, "object")}.\n`;
}
