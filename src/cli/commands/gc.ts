/**
 * `pipe gc [--dry]`: removes cache objects and run-cache entries that no lock file of the workspace references
 * (spec 5). Every `pipe.lock` and `dvc.lock` beside a stages file counts; one that cannot be read stops `gc` before
 * anything is removed (exit 2), since what it references is unknown. `--dry` lists what would go and how many bytes
 * that frees, and changes nothing (it does not take the project write lock).
 */
import path from "node:path";
import type { Diagnostic } from "../../config/diagnostic.js";
import type { LockEntry } from "../../lock/types.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { findRootForCommand, lockNotes, printDiagnostics } from "../load.js";

export interface GcOptions {
  dry?: boolean;
}

function plural(n: number, one: string, many = one + "s"): string {
  return `${n} ${n === 1 ? one : many}`;
}

export async function run(ctx: CommandContext, opts: GcOptions = {}): Promise<number> {
  const project = await findRootForCommand(ctx);
  if (typeof project === "number") return project;
  const root = project.root;
  const [{ discoverStagesFiles }, { readFile }, { parseLock }, { ObjectStore }, { RunCache }, gc, session] = await Promise.all([
    import("../../project/discover.js"),
    import("node:fs/promises"),
    import("../../lock/read.js"),
    import("../../cache/store.js"),
    import("../../cache/runcache.js"),
    import("../../cache/gc.js"),
    import("../../exec/session.js"),
  ]);
  const sources = new Map<string, string>();
  const found = await discoverStagesFiles(root);
  if (!found.ok) {
    printDiagnostics(ctx, found.errors, sources);
    return EXIT_USAGE;
  }
  const entries: LockEntry[] = [];
  const errors: Diagnostic[] = [];
  const dirs = [...new Set(found.value.map((f) => f.dir))].sort();
  for (const dir of dirs) {
    for (const [name, flavor] of [
      ["pipe.lock", "pipe"],
      ["dvc.lock", "dvc"],
    ] as const) {
      const rel = dir === "" ? name : `${dir}/${name}`;
      let text: string;
      try {
        text = await readFile(path.join(root, rel), "utf8");
      } catch {
        continue;
      }
      sources.set(rel, text);
      const lf = parseLock(rel, text, flavor);
      if (!lf.ok) errors.push(...lf.errors);
      else entries.push(...lf.value.stages.values());
    }
  }
  if (errors.length > 0) {
    printDiagnostics(ctx, errors, sources);
    ctx.io.err("gc: nothing was removed (a lock file that cannot be read may reference cache objects)\n");
    return EXIT_USAGE;
  }

  let lock: import("../../exec/mutex.js").WriteLock | undefined;
  if (!opts.dry) {
    const l = await session.lockProject(root, "pipe gc", lockNotes(ctx));
    if (!l.ok) {
      printDiagnostics(ctx, l.errors);
      return EXIT_FAILED;
    }
    lock = l.value;
  }
  try {
    // --dry only lists: a store that cannot change anything.
    const store = new ObjectStore(root, undefined, { readOnly: opts.dry === true });
    const runs = new RunCache(root);
    const refs = await gc.referencedObjects(store, entries);
    const plan = await gc.planGc(store, runs, refs);
    const nothing = plan.objects.length === 0 && plan.runs.length === 0 && plan.temps.length === 0;
    const what = [plural(plan.objects.length, "cache object"), plural(plan.runs.length, "run-cache entry", "run-cache entries")];
    if (plan.temps.length > 0) what.push(plural(plan.temps.length, "temporary file"));
    if (opts.dry) {
      if (!ctx.global.quiet) {
        for (const o of plan.objects) ctx.io.out(`would remove  ${o.id}  ${gc.formatBytes(o.size)}\n`);
        for (const r of plan.runs) ctx.io.out(`would remove  run ${r.key}\n`);
        for (const t of plan.temps) ctx.io.out(`would remove  ${path.relative(root, t).split(path.sep).join("/")}\n`);
        ctx.io.out(
          nothing
            ? "Nothing to remove: every cache object is referenced by a lock file.\n"
            : `Would remove ${what.join(", ")}, freeing ${gc.formatBytes(plan.bytes)}.\n`,
        );
      }
      return EXIT_OK;
    }
    await gc.applyGc(plan, store, runs);
    if (!ctx.global.quiet) {
      if (ctx.global.verbose) for (const o of plan.objects) ctx.io.out(`removed  ${o.id}  ${gc.formatBytes(o.size)}\n`);
      ctx.io.out(
        nothing
          ? "Nothing to remove: every cache object is referenced by a lock file.\n"
          : `Removed ${what.join(", ")}, freed ${gc.formatBytes(plan.bytes)}. Kept ${plural(plan.keptObjects, "object")}.\n`,
      );
    }
    return EXIT_OK;
  } finally {
    await lock?.release();
  }
}
