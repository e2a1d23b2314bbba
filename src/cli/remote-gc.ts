/**
 * `gc -c [-r NAME]` with a scope (`-w -a -T -A --rev --date`): removes from the remote what no lock or `.dvc` file
 * of the scope names (`remotes/gc.ts`), after a listing (`--dry`) and a question on a terminal (`-f` elsewhere), as
 * local `gc` does. A file in scope that cannot be read, or a manifest that is corrupt, stops it before anything goes.
 */
import type { GcScope } from "../storage/gc-refs.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "./context.js";
import { findRootForCommand, lockNotes, printDiagnostics, referencesForGc } from "./load.js";

export async function remoteGc(ctx: CommandContext, scope: GcScope, opts: { remote?: string; dry?: boolean; force?: boolean; jobs?: string }): Promise<number> {
  const project = await findRootForCommand(ctx);
  if (typeof project === "number") return project;
  const root = project.root;
  const [cfg, { openRemote }, gc, { CacheObjects }, say, { failureText }, session] = await Promise.all([
    import("../remotes/config.js"),
    import("../remotes/index.js"),
    import("../remotes/gc.js"),
    import("../remotes/transfer-cache.js"),
    import("../report/remote-gc.js"),
    import("../report/transfer.js"),
    import("../exec/session.js"),
  ]);
  const conf = await cfg.readRemoteConfig(root);
  const spec = conf.ok ? cfg.chooseRemote(conf.value, opts.remote) : conf;
  if (!spec.ok) {
    printDiagnostics(ctx, spec.errors);
    return EXIT_USAGE;
  }
  const name = spec.value.name;
  // Held while the scope is read and objects go: a push finishing meanwhile would otherwise lose what it sent.
  let lock: import("../exec/mutex.js").WriteLock | undefined;
  if (!opts.dry) {
    const l = await session.lockProject(root, "pipe gc -c", lockNotes(ctx));
    if (!l.ok) {
      printDiagnostics(ctx, l.errors);
      return EXIT_FAILED;
    }
    lock = l.value;
  }
  const opened = await openRemote(spec.value, { root, env: (ctx.env ?? {}) as NodeJS.ProcessEnv });
  if (!opened.ok) {
    await lock?.release();
    printDiagnostics(ctx, opened.errors);
    return EXIT_USAGE;
  }
  const remote = opened.value;
  try {
    const named = await referencesForGc(ctx, root, scope);
    if (typeof named === "number") return named;
    const stop = (m: string): number => {
      ctx.io.err(`error: ${m}\ngc: nothing was removed from remote '${name}'\n`);
      return EXIT_FAILED;
    };
    const kept = await gc.keptKeys(named.hashes, CacheObjects.open(root, { readOnly: true }), remote);
    if (!kept.ok) return stop(kept.failure.kind === "store" ? failureText(kept.failure.failure) : `the manifest ${kept.failure.id} on ${kept.failure.where} is corrupt: what it names is unknown`);
    const planned = await gc.planRemoteGc(remote, kept.keep);
    if (!planned.ok) return stop(planned.failure.kind === "store" ? failureText(planned.failure.failure) : planned.failure.id);
    const plan = planned.plan;
    if (opts.dry) {
      if (!ctx.global.quiet) ctx.io.out(say.dryText(plan, name));
      return EXIT_OK;
    }
    if (plan.remove.length === 0) {
      if (!ctx.global.quiet) ctx.io.out(say.nothingText(plan, name));
      return EXIT_OK;
    }
    if (!opts.force) {
      if (!ctx.io.ask) {
        ctx.io.err(say.cannotAskText(plan, name));
        return EXIT_USAGE;
      }
      const answer = await ctx.io.ask(say.confirmQuestion(plan, name, named.revisions));
      if (answer === undefined || !/^\s*y(es)?\s*$/i.test(answer)) {
        ctx.io.err("gc: nothing was removed.\n");
        return EXIT_FAILED;
      }
    }
    const done = await gc.applyRemoteGc(remote, plan, remote.jobs);
    if (!ctx.global.quiet) ctx.io.out(say.removedText(plan, name, done.removed));
    if (!done.ok) return stop(failureText(done.failure));
    return EXIT_OK;
  } finally {
    await remote.close();
    await lock?.release();
  }
}
