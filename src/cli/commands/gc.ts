/**
 * `pipe gc -w|-a|-T|-A|--rev R [-n N]|--date D [-f] [--dry]`: removes cache objects and run-cache entries that no
 * lock or `.dvc` file of the scope names (DVC 3's `dvc gc`; `storage/gc-refs.ts` says what a scope keeps, `storage/gc.ts`
 * plans and deletes). Without a scope it refuses, listing the scopes, as DVC does. A file in scope that cannot be
 * read stops it before anything is removed (exit 2). Before removing, it asks on a terminal; elsewhere `-f` is
 * required (exit 2 without it). `--dry` lists what would go and changes nothing (it does not take the write lock).
 */
import type { GcScope } from "../../storage/gc-refs.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { findRootForCommand, lockNotes, printDiagnostics, referencesForGc } from "../load.js";

export interface GcOptions {
  workspace?: boolean;
  allBranches?: boolean;
  allTags?: boolean;
  allCommits?: boolean;
  allExperiments?: boolean;
  rev?: string;
  num?: string;
  date?: string;
  skipFailed?: boolean;
  force?: boolean;
  dry?: boolean;
  /** `-c`: the remote's objects instead of the cache's (`cli/remote-gc.ts`). */
  cloud?: boolean;
  remote?: string;
}

/** The flags as a scope, or a usage message. */
function scopeOf(opts: GcOptions, dayStart: (d: string) => number | undefined): GcScope | string {
  const scope: GcScope = {
    workspace: opts.workspace === true,
    allBranches: opts.allBranches === true,
    allTags: opts.allTags === true,
    allCommits: opts.allCommits === true,
    allExperiments: opts.allExperiments === true,
    skipFailed: opts.skipFailed === true,
  };
  if (opts.num !== undefined) {
    if (opts.rev === undefined) return "-n/--num can only be used with --rev";
    if (!/^[1-9][0-9]*$/.test(opts.num)) return `-n/--num takes a positive number of commits, not '${opts.num}'`;
    scope.num = Number(opts.num);
  }
  if (opts.rev !== undefined) scope.rev = opts.rev;
  if (opts.date !== undefined) {
    if (dayStart(opts.date) === undefined) return `--date takes a day as YYYY-MM-DD, not '${opts.date}'`;
    scope.date = opts.date;
  }
  return scope;
}

export async function run(ctx: CommandContext, opts: GcOptions = {}): Promise<number> {
  const [refs, gc, { dayStart }, say] = await Promise.all([
    import("../../storage/gc-refs.js"),
    import("../../storage/gc.js"),
    import("../../git/history.js"),
    import("../../report/gc.js"),
  ]);
  const scope = scopeOf(opts, dayStart);
  if (typeof scope === "string") {
    ctx.io.err(`error: ${scope}\n`);
    return EXIT_USAGE;
  }
  if (!refs.hasScope(scope)) {
    ctx.io.err(`error: gc needs a scope: which revisions' outputs to keep (everything else in the cache is removed). Pass one or more of:\n${say.GC_SCOPES}\n`);
    return EXIT_USAGE;
  }
  if (opts.remote !== undefined && !opts.cloud) {
    ctx.io.err("error: -r/--remote names the remote of -c/--cloud: pass both to collect garbage on a remote\n");
    return EXIT_USAGE;
  }
  if (opts.cloud) return (await import("../remote-gc.js")).remoteGc(ctx, scope, opts);
  const project = await findRootForCommand(ctx);
  if (typeof project === "number") return project;
  const root = project.root;
  const [{ LocalCache }, { RunCache }, session] = await Promise.all([import("../../storage/store.js"), import("../../storage/runcache.js"), import("../../exec/session.js")]);

  // The write lock comes first: a `repro` finishing between reading the locks and deleting would otherwise lose
  // the objects its new lock names.
  const lock = opts.dry ? undefined : await session.lockProject(root, "pipe gc", lockNotes(ctx));
  if (lock?.ok === false) {
    printDiagnostics(ctx, lock.errors);
    return EXIT_FAILED;
  }
  try {
    const named = await referencesForGc(ctx, root, scope);
    if (typeof named === "number") return named;
    if (ctx.global.verbose) ctx.io.err(say.keepingText(named));
    // --dry only lists: a store that cannot change anything.
    const store = new LocalCache(root, undefined, { readOnly: opts.dry === true });
    const runs = new RunCache(root);
    const plan = await gc.planGc(store, runs, await gc.referencedIds(store, named.hashes));
    if (opts.dry) {
      if (!ctx.global.quiet) ctx.io.out(say.dryText(plan, root));
      return EXIT_OK;
    }
    if (say.isEmptyPlan(plan)) {
      if (!ctx.global.quiet) ctx.io.out(say.NOTHING_TO_REMOVE);
      return EXIT_OK;
    }
    if (!opts.force) {
      if (!ctx.io.ask) {
        ctx.io.err(say.cannotAskText(plan));
        return EXIT_USAGE;
      }
      const answer = await ctx.io.ask(say.confirmQuestion(plan, named.revisions));
      if (answer === undefined || !/^\s*y(es)?\s*$/i.test(answer)) {
        ctx.io.err("gc: nothing was removed.\n");
        return EXIT_FAILED;
      }
    }
    await gc.applyGc(plan, store, runs);
    if (!ctx.global.quiet) ctx.io.out(say.removedText(plan, ctx.global.verbose));
    return EXIT_OK;
  } finally {
    if (lock?.ok) await lock.value.release();
  }
}
