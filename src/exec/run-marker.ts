/**
 * Markers of stage runs that started and were not recorded: `.pipe/tmp/unrecorded/<digest of the stage address>`.
 *
 * Before a stage runs, `repro` deletes its outputs, saving in the cache first any content the lock does not record
 * (it may be a user's only copy). But what a failed run of the stage itself left there (a partial model, half a
 * file written when the disk filled up) is nobody's data, and saving it is harmful: on a full disk every retry
 * would try to store the partial output first, and fail again for lack of space. So a run is marked when it starts
 * (after the old outputs are gone) and the mark is removed when the stage is recorded; an output of a marked stage
 * whose content is not what the lock records is the failed run's leftover and is deleted without being saved.
 *
 * The marker holds the stage, its outputs and a digest of the stage's lock entry when the run started: once the
 * entry changes (`pipe commit` recorded what the failed run left, say) the marker no longer speaks for the outputs.
 * Anything that makes the outputs what the lock records without running (`checkout`, a restore) clears it, so a
 * later hand edit is saved as any other. A marker that cannot be read counts as absent (content is then saved).
 */
import { createHash } from "node:crypto";
import { readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { ok, type Result } from "../core/diagnostic.js";
import { envErrorOf, envFailure } from "../core/env-error.js";
import { ensureDirInside, errnoOf } from "../storage/fs.js";
import type { LockEntry } from "../lock/types.js";
import { serializeLockEntry } from "../lock/write.js";

export const RUN_MARKER_DIR = ".pipe/tmp/unrecorded";

export interface RunMarker {
  stage: string;
  /** Root paths of the outputs the run was going to write. */
  outs: string[];
  /** `entryStamp` of the stage's lock entry when the run started. */
  entry: string;
}

function markerRel(address: string): string {
  return `${RUN_MARKER_DIR}/${createHash("sha256").update(address).digest("hex").slice(0, 32)}`;
}

/** A digest of a lock entry ("" for none), to tell whether the stage was recorded since a marker was written. */
export function entryStamp(entry: LockEntry | undefined): string {
  return entry === undefined ? "" : createHash("sha256").update(serializeLockEntry(entry)).digest("hex").slice(0, 32);
}

/** Marks a run of `address` as started. A failure (a full disk) is returned: the stage must not run unmarked. */
export async function writeRunMarker(root: string, marker: RunMarker): Promise<Result<void>> {
  const doing = `marking the start of '${marker.stage}' in ${RUN_MARKER_DIR}`;
  try {
    const dir = await ensureDirInside(root, RUN_MARKER_DIR);
    if (!dir.ok) return dir;
    // Written in place, not through a temp file: it costs a stage run one write, and a torn marker does not parse,
    // so it counts as absent and the outputs are saved, as without it.
    await writeFile(path.join(root, markerRel(marker.stage)), JSON.stringify(marker) + "\n");
  } catch (e) {
    const f = envFailure<void>(e, { doing, root, path: path.join(root, markerRel(marker.stage)) });
    if (f) return f;
    throw e;
  }
  return ok(undefined);
}

/** The marker of `address`, or undefined (none, unreadable, or not one of ours). */
export async function readRunMarker(root: string, address: string): Promise<RunMarker | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(root, markerRel(address)), "utf8");
  } catch {
    return undefined;
  }
  try {
    const o = JSON.parse(text) as Partial<RunMarker>;
    if (o.stage !== address || typeof o.entry !== "string" || !Array.isArray(o.outs) || !o.outs.every((x) => typeof x === "string")) {
      return undefined;
    }
    return { stage: o.stage, outs: o.outs, entry: o.entry };
  } catch {
    return undefined;
  }
}

/**
 * Removes the marker of `address` (the stage was recorded, or its outputs restored as the lock records them). Where
 * it cannot be removed (a read-only project) it stays; its lock-entry stamp still limits what it speaks for.
 */
export async function clearRunMarker(root: string, address: string): Promise<void> {
  try {
    await unlink(path.join(root, markerRel(address)));
  } catch (e) {
    if (errnoOf(e) === "ENOENT" || errnoOf(e) === "ENOTDIR" || envErrorOf(e)) return;
    throw e;
  }
}
