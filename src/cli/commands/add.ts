/**
 * `pipe add PATH... [--glob]`: tracks files and directories no stage produces, as `dvc add` does: each goes into the
 * cache (linked back per `cache.type`), gets a `PATH.dvc` record and a line in the `.gitignore` beside it. Every path
 * is checked before anything is written (`exec/add.ts`: a bad one is exit 2, nothing written). With `--glob` the
 * arguments are patterns, expanded with fast-glob from the working directory.
 */
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { loadWithWhere, printDiagnostics } from "../load.js";
import { error } from "../../core/diagnostic.js";
import { withWriteLock } from "../stage-writer.js";
import type { ReproEvent } from "../../exec/events.js";

export async function run(ctx: CommandContext, args: string[], opts: { glob?: boolean } = {}): Promise<number> {
  const loaded = await loadWithWhere(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources, root, where } = loaded;
  let paths = args;
  if (opts.glob) {
    const { default: fg } = await import("fast-glob");
    paths = [];
    for (const pattern of args) {
      const found = (await fg(pattern, { cwd: ctx.global.cwd, onlyFiles: false, dot: false, markDirectories: false, ignore: ["**/.git/**", "**/.pipe/**", "**/.dvc/**", "**/*.dvc"] })).sort();
      if (found.length === 0) {
        printDiagnostics(ctx, [error("usage", `the pattern '${pattern}' matches nothing`)]);
        return EXIT_USAGE;
      }
      paths.push(...found);
    }
  }
  const [{ planAdd, addPaths }, { readConfig }, { LockStore }, { projectCache }, { RunCache }, { openWorkspace }, { cacheContextOf }, { warningText }] = await Promise.all([
    import("../../exec/add.js"),
    import("../../project/config.js"),
    import("../../lock/read.js"),
    import("../../storage/project-cache.js"),
    import("../../storage/runcache.js"),
    import("../../status/workspace.js"),
    import("../../exec/record.js"),
    import("../../report/repro-warnings.js"),
  ]);
  const config = await readConfig(root, sources);
  if (!config.ok) {
    printDiagnostics(ctx, [...config.errors, ...config.warnings], sources);
    return EXIT_USAGE;
  }
  const plan = await planAdd(graph, ctx.global.cwd, paths);
  if (!plan.ok) {
    printDiagnostics(ctx, plan.errors, sources);
    return EXIT_USAGE;
  }
  return withWriteLock(ctx, root, "pipe add", async (signal) => {
    const ws = openWorkspace(root);
    const store = projectCache(root, { recordVerified: true });
    const recorder = {
      ws,
      cc: cacheContextOf(ws, store, config.value.cache.links),
      runs: new RunCache(root),
      emit: (e: ReproEvent) => {
        if (e.type === "warning") ctx.io.err(`warning: ${warningText(e.warning)}\n`);
      },
    };
    const toGit = new Set<string>();
    const r = await addPaths({ recorder, locks: new LockStore(root, sources), gitignore: config.value.gitignore, signal }, plan.value, (a) => {
      if (a.convertedFromDvc) ctx.io.err(`note: ${where.path(a.dvcFile)} was written by DVC (md5): rewritten in pipe's form (xxh64)\n`);
      if (!ctx.global.quiet) ctx.io.out(a.written ? `Added '${where.path(a.rootPath)}'\n` : `'${where.path(a.rootPath)}' is unchanged: ${where.path(a.dvcFile)} records it already\n`);
      if (a.written) toGit.add(a.dvcFile);
      for (const g of a.gitignores) toGit.add(g);
    });
    ws.hasher.save();
    if (!r.ok) {
      printDiagnostics(ctx, r.errors, sources);
      return EXIT_FAILED;
    }
    if (signal.aborted) {
      ctx.io.err("Interrupted.\n");
      return 130;
    }
    if (!ctx.global.quiet && toGit.size > 0) {
      ctx.io.out(`\nTo track the changes with git, run:\n\n\tgit add ${[...toGit].sort().map((f) => where.path(f)).join(" ")}\n`);
    }
    return EXIT_OK;
  });
}
