/**
 * The words of `status --cloud` (per output: `new`, `deleted`, `missing`, as DVC 3's `dvc status -c` says them,
 * or that the cache and the remote are in sync) and of the summary `status` gives a project without its data.
 * `--json` of `status --cloud` is described by `schemas/status-cloud.schema.json`.
 */
import type { AbsentSummary } from "../remotes/absent.js";
import type { CloudEntry } from "../remotes/sync.js";
import { AT_ROOT, type Where } from "../project/where.js";

const are = (n: number): string => (n === 1 ? "is" : "are");

/** `14 outputs are not in the workspace; 14 are in the cache of remote 'storage': run 'pipe pull'`. */
export function absentSummaryText(s: AbsentSummary, where: Where = AT_ROOT): string {
  const n = s.absent.length;
  let line = `${n} output${n === 1 ? " is" : "s are"} not in the workspace`;
  if (s.onRemote > 0) line += `; ${s.onRemote} ${are(s.onRemote)} in the cache of remote '${s.remote!}': run 'pipe pull'`;
  if (s.inCache > 0) line += `; ${s.inCache} ${are(s.inCache)} in the local cache: run 'pipe checkout'`;
  const nowhere = n - s.onRemote - s.inCache;
  if (nowhere > 0) {
    const remote =
      s.remoteProblem !== undefined
        ? ` (remote${s.remote ? ` '${s.remote}'` : ""} could not be asked: ${s.remoteProblem})`
        : s.remote !== undefined
          ? ` nor on remote '${s.remote}'`
          : " (no remote is configured: 'pipe remote add -d NAME URL')";
    line += `; ${nowhere} ${are(nowhere)} not in the cache${remote}: 'pipe repro' makes ${nowhere === 1 ? "it" : "them"}`;
  }
  let out = line + "\n";
  if (s.folded.length > 0) out += `Waiting for their data: ${s.folded.map((a) => where.address(a)).join(", ")} ('pipe status -v' lists each output)\n`;
  return out;
}

const STATE_WORD: Record<CloudEntry["state"], string> = { ok: "", new: "new", deleted: "deleted", missing: "missing" };

/** DVC's layout: a tab, the state padded, the path; `Cache and remote 'x' are in sync.` when every output is. */
export function cloudStatusText(entries: readonly CloudEntry[], remotes: readonly string[], where: Where = AT_ROOT): string {
  const off = entries.filter((e) => e.state !== "ok");
  if (off.length === 0) {
    const names = remotes.length > 0 ? remotes : [...new Set(entries.map((e) => e.remote))];
    return names.length <= 1 ? `Cache and remote '${names[0] ?? ""}' are in sync.\n` : `Cache and remotes ${names.map((n) => `'${n}'`).join(", ")} are in sync.\n`;
  }
  let out = "";
  for (const e of off) out += `\t${`${STATE_WORD[e.state]}:`.padEnd(20)}${e.path === "" ? e.id : where.path(e.path)}\n`;
  // The legend: what each word asks of the user.
  const seen = new Set(off.map((e) => e.state));
  if (seen.has("new")) out += "new: in the cache, not on the remote ('pipe push' sends it)\n";
  if (seen.has("deleted")) out += "deleted: on the remote only ('pipe pull' brings it)\n";
  if (seen.has("missing")) out += "missing: in neither ('pipe repro' makes it)\n";
  return out;
}

export function cloudStatusJson(entries: readonly CloudEntry[]): string {
  const outputs = entries.map((e) => ({ stage: e.stage, path: e.path, object: e.id, remote: e.remote, status: e.state === "ok" ? "in-sync" : e.state }));
  return JSON.stringify({ outputs }, null, 2) + "\n";
}
