/**
 * The words of `gc -c -r NAME`: what would go from the remote (`--dry`), the question, what went. The plan is
 * `remotes/gc.ts`'s.
 */
import type { RemoteGcPlan } from "../remotes/gc.js";
import { formatBytes } from "../storage/gc.js";
import { keyString } from "../storage/object-store.js";
import { plural } from "./gc.js";

function what(plan: RemoteGcPlan, remote: string): string {
  const size = plan.remove.some((o) => o.size !== undefined) ? ` (${formatBytes(plan.bytes)})` : "";
  return `${plural(plan.remove.length, "object")}${size} from remote '${remote}'`;
}

export function nothingText(plan: RemoteGcPlan, remote: string): string {
  return `Nothing to remove from remote '${remote}': the scope names all of its ${plural(plan.kept, "object")}.\n`;
}

export function dryText(plan: RemoteGcPlan, remote: string): string {
  if (plan.remove.length === 0) return nothingText(plan, remote);
  let out = "";
  for (const o of plan.remove) out += `would remove  ${keyString(o.key)}${o.size !== undefined ? `  ${formatBytes(o.size)}` : ""}\n`;
  return out + `Would remove ${what(plan, remote)}, keeping ${plural(plan.kept, "object")}.\n`;
}

export function confirmQuestion(plan: RemoteGcPlan, remote: string, revisions: number): string {
  const kept = revisions === 0 ? "the workspace names" : `the workspace and ${plural(revisions, "git revision")} name`;
  return `Remove ${what(plan, remote)}, keeping what ${kept}? Other clones cannot pull what goes. [y/N] `;
}

export function cannotAskText(plan: RemoteGcPlan, remote: string): string {
  return `error: gc would remove ${what(plan, remote)} and cannot ask first (not a terminal): pass -f to remove them, or --dry to list them\n`;
}

export function removedText(plan: RemoteGcPlan, remote: string, removed: number): string {
  return `Removed ${plural(removed, "object")} from remote '${remote}'${removed === plan.remove.length ? "" : ` (of ${plan.remove.length})`}. Kept ${plural(plan.kept, "object")}.\n`;
}
