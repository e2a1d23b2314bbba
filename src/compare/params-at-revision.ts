/**
 * What a git revision's pipeline declares, for `params diff` and `metrics show/diff`. DVC treats the workspace as one
 * revision among others: each revision's params and metrics are those of the pipeline that revision holds. So here:
 * the revision's stages files are found in its listing by the workspace's discovery rules (`discoverInListing`:
 * `.pipeignore`/`.dvcignore`, nested projects), and loaded by the workspace's loader, with every file (stages files,
 * `params.yaml`, `vars` files) read from the revision. Nothing is read from the disk.
 *
 * A revision whose pipeline does not load (an undefined variable, a file git does not hold) is not a failure of the
 * comparison: its stages files are read as plain YAML instead (`addStagesText`), and the caller warns.
 */
import { ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { Side } from "../git/revision.js";
import { discoverInListing } from "../project/discover.js";
import type { TextRead } from "../template/vars.js";
import { addPipeline, addStagesText, type Tracked } from "./tracked.js";

export interface RevisionProject {
  /** The revision's stages files (root-relative) with their texts. */
  stagesFiles: Map<string, string>;
  /** Why its pipeline did not load; empty when it loaded. */
  errors: Diagnostic[];
}

/** Adds to `tracked` what the pipeline of `side` (a commit, or a repository without commits) declares. */
export async function trackRevision(root: string, side: Side, tracked: Tracked): Promise<Result<RevisionProject>> {
  const stagesFiles = new Map<string, string>();
  const all = await side.listAll();
  if (all === undefined) return ok({ stagesFiles, errors: [] });
  if (!all.ok) return all;
  let gitFailure: Result<never> | undefined;
  const reads = new Map<string, Promise<TextRead>>();
  const readMany = async (files: readonly string[]): Promise<Map<string, TextRead>> => {
    const todo = files.filter((f) => !reads.has(f));
    if (todo.length > 0) {
      const batch = side.read(todo);
      for (const f of todo) {
        reads.set(
          f,
          batch.then((r): TextRead => {
            if (!r.ok) {
              gitFailure ??= r;
              return { kind: "unreadable", why: r.errors.map((d) => d.message).join("; ") };
            }
            const b = r.value.get(f);
            return b?.kind === "file" ? { kind: "file", text: b.text } : b?.kind === "dir" ? { kind: "dir" } : { kind: "missing" };
          }),
        );
      }
    }
    return new Map(await Promise.all(files.map(async (f) => [f, await reads.get(f)!] as const)));
  };
  const found = await discoverInListing(all.value, async (paths) => {
    const texts = new Map<string, string>();
    for (const [f, r] of await readMany(paths)) if (r.kind === "file") texts.set(f, r.text);
    return texts;
  });
  for (const [f, r] of await readMany(found.map((f) => f.file))) if (r.kind === "file") stagesFiles.set(f, r.text);
  if (gitFailure) return gitFailure;

  const { loadPipelineFrom } = await import("../project/load.js");
  const loaded = await loadPipelineFrom(root, found, async (rel) => (await readMany([rel])).get(rel)!, new Map());
  if (gitFailure) return gitFailure;
  if (loaded.ok) {
    addPipeline(tracked, loaded.value);
    return ok({ stagesFiles, errors: [] });
  }
  for (const [f, text] of stagesFiles) addStagesText(tracked, f, text);
  return ok({ stagesFiles, errors: loaded.errors });
}
