/**
 * The words of `pipe watch` (`exec/watch.ts` emits the facts), on stderr beside `repro`'s own report: what it waits
 * for, what changed, an edit queued during a run, and the stop.
 *
 *     Watching 4 paths for changes: params.yaml, pipe.yaml, src/prepare.py, src/train.py (Ctrl-C to stop)
 *     Changed: params.yaml; running repro
 */
import type { WatchEvent } from "../exec/watch.js";
import { AT_ROOT, type Where } from "../project/where.js";
import { unreachable } from "../core/unreachable.js";

/** At most this many paths are named on a line; the rest are counted. */
const NAMED = 8;

function list(paths: readonly string[], where: Where): string {
  const shown = paths.slice(0, NAMED).map((p) => where.path(p));
  return paths.length > NAMED ? `${shown.join(", ")} and ${paths.length - NAMED} more` : shown.join(", ");
}

export function watchLine(e: WatchEvent, where: Where = AT_ROOT): string {
  switch (e.type) {
    case "watch-waiting":
      return `Watching ${e.paths.length} path${e.paths.length === 1 ? "" : "s"} for changes: ${list(e.paths, where)} (Ctrl-C to stop)\n`;
    case "watch-changed":
      return `Changed: ${list(e.paths, where)}; running repro\n`;
    case "watch-queued":
      return `Changed during the run: ${list(e.paths, where)}; one more run follows\n`;
    case "watch-forced":
      return `Running ${e.stages.map((a) => `'${where.address(a)}'`).join(", ")} again: ${e.stages.length === 1 ? "it" : "they"} may have read ${list(e.paths, where)} before the change\n`;
    case "watch-stopped":
      return "Stopped watching.\n";
    default:
      return unreachable(e);
  }
}
