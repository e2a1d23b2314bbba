/**
 * What `push`, `fetch`, `pull` and `status --cloud` move or compare: the cached outputs of the chosen stages with
 * the object their lock entry records, and the per-output `push:` and `remote:` flags. This is the one place that
 * turns a loaded pipeline and its locks into objects to transfer; data sources of the graph (a `.dvc` file is a
 * stage without a command, as DVC loads it) come through it the same way, as their lock entry is their `.dvc` file.
 *
 * For revisions other than the workspace (`-a`, `-T`, `-A`, `--rev`) the hashes come from the lock and `.dvc` files
 * at those revisions (`storage/gc-refs.ts`, the reader `gc` uses); those carry no flags, and some are deps that were
 * never cached, so their absence anywhere is not an error (`optional`).
 */
import type { StageGraph } from "../core/model.js";
import type { LockStore } from "../lock/read.js";
import { pathKey } from "../lock/types.js";
import type { ObjectKey } from "../storage/object-store.js";

export interface TrackedOutput {
  /** The stage address (`train`, `sub/pipe.yaml:prep`), or `''` for an output named only at a revision. */
  stage: string;
  /** Root-relative path, or `''` at a revision. */
  path: string;
  key: ObjectKey;
  /** `push: false` outputs are neither pushed nor compared by `status --cloud` (DVC 3's). */
  push: boolean;
  /** The output's own `remote:`, when it names one. */
  remote?: string;
}

/** The key of a lock hash: md5 for DVC's (both layouts), xxh64 for pipe's. */
export function keyOfLockHash(algo: "xxh64" | "md5" | "legacy-md5", hash: string): ObjectKey {
  return { algo: algo === "xxh64" ? "xxh64" : "md5", id: hash };
}

/**
 * The cached outputs of `stages` (addresses of `graph`) that their lock entries record, in stage order. Stages
 * without a lock entry, outputs with `cache: false` and URL outputs have nothing to transfer.
 */
export async function trackedOutputs(graph: StageGraph, stages: readonly string[], locks: LockStore): Promise<TrackedOutput[]> {
  const out: TrackedOutput[] = [];
  for (const a of stages) {
    const s = graph.stages.get(a);
    if (!s) continue;
    // A `.dvc` file's record is the file itself (`forStage`), a stage's its lock.
    const lf = await locks.forStage(s);
    const entry = lf.ok ? lf.value?.stages.get(s.name) : undefined;
    if (!entry) continue;
    const byPath = new Map(entry.outs.map((o) => [pathKey(o.path), o]));
    for (const o of s.outs) {
      if (o.external || !o.cache) continue;
      const e = byPath.get(pathKey(o.path));
      if (!e || e.algo === "none" || e.hash === "") continue;
      const remote = typeof o.flags["remote"] === "string" ? o.flags["remote"] : undefined;
      out.push({
        stage: a,
        path: o.rootPath,
        key: keyOfLockHash(e.algo, e.hash),
        push: o.flags["push"] !== false,
        ...(remote !== undefined ? { remote } : {}),
      });
    }
  }
  return out;
}

/** Hashes named at revisions (from `collectReferences`) as outputs without a stage. */
export function revisionOutputs(hashes: Iterable<string>): TrackedOutput[] {
  const out: TrackedOutput[] = [];
  for (const h of [...hashes].sort()) {
    const hex = h.endsWith(".dir") ? h.slice(0, -4) : h;
    if (!/^[0-9a-f]{16}$|^[0-9a-f]{32}$/.test(hex)) continue;
    out.push({ stage: "", path: "", key: { algo: hex.length === 32 ? "md5" : "xxh64", id: h }, push: true });
  }
  return out;
}
