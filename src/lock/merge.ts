/**
 * Three-way merge of a lock file, stage entry by stage entry: what git's `merge=pipe-lock` driver runs
 * (`pipe lock merge BASE OURS THEIRS [PATH]`), so two branches that each ran different stages merge without
 * conflict markers in `pipe.lock`.
 *
 * For each stage name in any of the three versions, entries are compared as their canonical text:
 *
 * - the same on both sides (changed alike, or untouched, or removed on both): that;
 * - changed (or added, or removed) on one side only: that side's;
 * - changed on both sides differently: dropped, and reported. A lock entry is a claim that the stage's outputs are
 *   those hashes for those inputs; neither branch's claim holds for the merged inputs, and an entry mixing them would
 *   be a lie. Without it `status` shows the stage as never run and `repro` runs it.
 *
 * The result is the canonical lock text (`write.ts`), in our order with their new stages after; never conflict
 * markers. A version that does not parse is a failure: the driver then leaves our file as it was and exits 1, so git
 * reports a conflict rather than a lock with lost entries.
 */
import { fail, ok, type Result } from "../core/diagnostic.js";
import { parseLock } from "./read.js";
import type { LockEntry } from "./types.js";
import { serializeLock, serializeLockEntry } from "./write.js";

export interface LockMerge {
  /** The merged lock's canonical text. */
  text: string;
  /** Stages changed differently on both sides: their entries are not in `text`. */
  dropped: string[];
  /** Stages whose entry came from the other side (`theirs`), including removals. */
  takenFromTheirs: string[];
}

function entriesOf(file: string, text: string, side: string): Result<Map<string, LockEntry>> {
  // A lock that did not exist on a side (added on both branches, say) is an empty one.
  if (text.trim() === "") return ok(new Map());
  const r = parseLock(file, text, "pipe");
  if (!r.ok) return fail(r.errors.map((d) => ({ ...d, message: `${side} version: ${d.message}` })), r.warnings);
  return ok(r.value.stages);
}

function canon(e: LockEntry | undefined): string | undefined {
  return e === undefined ? undefined : serializeLockEntry(e);
}

/** Merges three versions of the lock `file` (text as git hands them to a driver). */
export function mergeLocks(file: string, base: string, ours: string, theirs: string): Result<LockMerge> {
  const b = entriesOf(file, base, "common ancestor's");
  const o = entriesOf(file, ours, "our");
  const t = entriesOf(file, theirs, "their");
  for (const r of [b, o, t]) if (!r.ok) return fail(r.errors);
  if (!b.ok || !o.ok || !t.ok) return fail([]);
  const names: string[] = [...o.value.keys()];
  for (const n of t.value.keys()) if (!o.value.has(n)) names.push(n);
  for (const n of b.value.keys()) if (!o.value.has(n) && !t.value.has(n)) names.push(n);
  const merged: [string, LockEntry][] = [];
  const dropped: string[] = [];
  const takenFromTheirs: string[] = [];
  for (const name of names) {
    const be = b.value.get(name);
    const oe = o.value.get(name);
    const te = t.value.get(name);
    const [bc, oc, tc] = [canon(be), canon(oe), canon(te)];
    let pick: LockEntry | undefined;
    if (oc === tc) pick = oe;
    else if (oc === bc) {
      pick = te;
      takenFromTheirs.push(name);
    } else if (tc === bc) pick = oe;
    else {
      dropped.push(name);
      continue;
    }
    if (pick) merged.push([name, pick]);
  }
  return ok({ text: serializeLock(merged), dropped, takenFromTheirs });
}
