/**
 * Restoring a stage's outputs as its lock entry records them: the one function `repro` (outputs missing, the cache
 * holding them) and `checkout` use. It says how each output went and lets the caller decide what that means: `repro`
 * stops at the first that cannot be restored (the stage is decided again and runs), `checkout` goes on and names
 * every one. Moving the bytes is `cache/checkout.ts`'s.
 */
import { lstat } from "node:fs/promises";
import type { Diagnostic } from "../core/diagnostic.js";
import { checkoutOutput, type CacheContext } from "../storage/checkout.js";
import type { LockEntry } from "../lock/types.js";
import { pathKey } from "../lock/types.js";
import type { OutEntry, Stage } from "../core/model.js";
import { absOf, type Workspace } from "../status/workspace.js";

/** A cached output and the object its lock entry records for it. */
export interface LockedOut {
  out: OutEntry;
  id: string;
}

/**
 * The stage's cached outputs (URL ones aside) with what `entry` records for them; `unrecorded`: those it has no
 * hash for (declared since the stage last ran).
 */
export function lockedOutputs(s: Stage, entry: LockEntry): { outs: LockedOut[]; unrecorded: OutEntry[] } {
  const byPath = new Map(entry.outs.map((o) => [pathKey(o.path), o]));
  const outs: LockedOut[] = [];
  const unrecorded: OutEntry[] = [];
  for (const o of s.outs) {
    if (o.external || !o.cache) continue;
    const e = byPath.get(pathKey(o.path));
    if (!e || e.algo === "none") unrecorded.push(o);
    else outs.push({ out: o, id: e.hash });
  }
  return { outs, unrecorded };
}

export type OutRestore = LockedOut &
  (
    | { kind: "done"; changed: boolean; existed: boolean; saved: readonly { path: string; id: string }[] }
    /** Objects not in the cache: the output was left as it was. */
    | { kind: "missing"; ids: readonly string[] }
    /** Objects that no longer matched their names: removed from the cache, the output left as it was. */
    | { kind: "corrupt"; ids: readonly { id: string; actual: string; source?: string }[] }
    | { kind: "error"; errors: Diagnostic[] }
  );

/**
 * Checks `outs` out of the cache in order, telling `each` how every one went; `each` returns false to stop there.
 * True when every output was restored (or already was as recorded).
 */
export async function restoreOutputs(cc: CacheContext, ws: Workspace, outs: readonly LockedOut[], each: (r: OutRestore) => boolean): Promise<boolean> {
  let all = true;
  for (const lo of outs) {
    const abs = absOf(ws.root, lo.out.rootPath);
    const existed = await lstat(abs).then(
      () => true,
      () => false,
    );
    const r = await checkoutOutput(cc, lo.out.rootPath, lo.id);
    ws.hasher.invalidate(abs);
    let res: OutRestore;
    if (!r.ok) res = { ...lo, kind: "error", errors: r.errors };
    else if (r.value.status === "missing") res = { ...lo, kind: "missing", ids: r.value.ids };
    else if (r.value.status === "corrupt") res = { ...lo, kind: "corrupt", ids: r.value.ids };
    else res = { ...lo, kind: "done", changed: r.value.status === "restored", existed, saved: r.value.saved };
    if (res.kind !== "done") all = false;
    if (!each(res)) return false;
  }
  return all;
}
