/**
 * Recording a stage: hash its current deps, params and outs into a lock entry (xxh64, the `pipe.lock` algorithm).
 * This is THE function `repro` calls after a stage succeeds (and `commit` for outputs produced by hand); tests use it
 * too instead of writing hashes by hand, so a recorded entry is by construction what `status` compares against.
 *
 * It returns the hashed outputs (directory manifests included) so the cache can store exactly what was recorded.
 * Writing the entry is a separate step (`writeLockEntry` in `lock/write.ts`) so the caller decides when the lock
 * changes (after the cache has the objects).
 */
import { error, fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { HashedPath } from "../hash/hasher.js";
import type { LockEntry, LockFileEntry } from "../lock/types.js";
import type { OutEntry, Stage } from "../core/model.js";
import { currentParamValues, unresolvedParams } from "./params.js";
import { absOf, type Workspace } from "./workspace.js";

export interface RecordedOut {
  out: OutEntry;
  /** Undefined for URL outputs (not hashed, not cached). */
  hashed?: HashedPath;
}

export interface RecordedStage {
  entry: LockEntry;
  outs: RecordedOut[];
}

function fileEntry(p: string, h: HashedPath): LockFileEntry {
  const e: LockFileEntry = { path: p, algo: "xxh64", hash: h.hash, size: h.size };
  if (h.kind === "dir") e.nfiles = h.nfiles;
  return e;
}

/**
 * Hashes `stage`'s deps, params and outs as they are now. Outputs are re-hashed even if hashed before in this
 * process (the stage just wrote them). Fails, naming the stage and the path, when a dep, params file or key, or an
 * out is missing or unreadable.
 */
export async function recordStage(ws: Workspace, stage: Stage): Promise<Result<RecordedStage>> {
  const errors: Diagnostic[] = [];
  const where = stage.loc;
  for (const o of stage.outs) if (!o.external) ws.hasher.invalidate(absOf(ws.root, o.rootPath));

  const deps: LockFileEntry[] = [];
  const depResults = await Promise.all(stage.deps.map((d) => (d.external ? undefined : ws.hasher.hashPath(absOf(ws.root, d.rootPath), "xxh64"))));
  stage.deps.forEach((d, i) => {
    const r = depResults[i];
    if (d.external || r === undefined) {
      deps.push({ path: d.path, algo: "none", hash: "" });
      return;
    }
    if (r.kind === "missing") errors.push(error("missing-dep", `stage '${stage.address}': dependency '${d.path}' does not exist`, d.loc ?? where));
    else if (r.kind === "error") errors.push(error("io", `stage '${stage.address}': cannot hash dependency '${d.path}': ${r.message}`, d.loc ?? where));
    else deps.push(fileEntry(d.path, r));
  });

  const params: Record<string, Record<string, unknown>> = {};
  for (const p of stage.params) {
    const facts = await ws.params.read(p.rootPath, absOf(ws.root, p.rootPath));
    if (facts.kind === "missing") {
      errors.push(error("params", `stage '${stage.address}': params file '${p.file}' does not exist`, p.loc ?? where));
      continue;
    }
    if (facts.kind === "invalid") {
      errors.push(error("params", `stage '${stage.address}': cannot read params file '${p.file}': ${facts.message}`, p.loc ?? where));
      continue;
    }
    const unresolved = unresolvedParams(p, facts.value);
    if (unresolved !== undefined) {
      errors.push(error("params", `stage '${stage.address}': ${unresolved}`, p.loc ?? where));
      continue;
    }
    params[p.file] = { ...(params[p.file] ?? {}), ...currentParamValues(p, facts) };
  }

  const outs: LockFileEntry[] = [];
  const recordedOuts: RecordedOut[] = [];
  const outResults = await Promise.all(stage.outs.map((o) => (o.external ? undefined : ws.hasher.hashPath(absOf(ws.root, o.rootPath), "xxh64"))));
  stage.outs.forEach((o, i) => {
    const r = outResults[i];
    if (o.external || r === undefined) {
      outs.push({ path: o.path, algo: "none", hash: "" });
      recordedOuts.push({ out: o });
      return;
    }
    if (r.kind === "missing") errors.push(error("stage-failed", `stage '${stage.address}' did not create its output '${o.path}'`, o.loc ?? where));
    else if (r.kind === "error") errors.push(error("io", `stage '${stage.address}': cannot hash output '${o.path}': ${r.message}`, o.loc ?? where));
    else {
      outs.push(fileEntry(o.path, r));
      recordedOuts.push({ out: o, hashed: r });
    }
  });

  if (errors.length > 0) return fail(errors);
  const cmd = Array.isArray(stage.cmd) ? [...stage.cmd] : stage.cmd;
  return ok({ entry: { cmd, deps, params, outs }, outs: recordedOuts });
}
