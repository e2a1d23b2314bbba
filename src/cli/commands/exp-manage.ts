/**
 * `pipe exp apply|branch|remove|list|clean|push|pull`: one call each into `experiments/manage.ts` (or `run.ts` for
 * clean) and a line or two of words. `apply` then checks the applied lock's outputs out of the cache, as
 * `pipe checkout` does, so the workspace is up to date without running anything.
 */
import type { Diagnostic } from "../../core/diagnostic.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { printDiagnostics } from "../load.js";
import { openExpForCommand } from "../exp-common.js";

interface ManageOptions {
  force?: boolean;
  all?: boolean;
  queue?: boolean;
  rev?: string;
  nameOnly?: boolean;
}

function failed(ctx: CommandContext, ds: readonly Diagnostic[]): number {
  printDiagnostics(ctx, ds);
  return ds.some((d) => d.reason === "usage") ? EXIT_USAGE : EXIT_FAILED;
}

export async function run(ctx: CommandContext, sub: string, args: unknown[], opts: ManageOptions): Promise<number> {
  const p = await openExpForCommand(ctx);
  if (typeof p === "number") return p;
  const m = await import("../../experiments/manage.js");
  const out = (t: string): void => ctx.io.out(t);
  switch (sub) {
    case "apply": {
      const r = await m.applyExperiment(p, args[0] as string, opts.force === true);
      if (!r.ok) return failed(ctx, r.errors);
      const { checkoutWorkspace } = await import("../checkout-run.js");
      const code = await checkoutWorkspace(ctx, []);
      if (!ctx.global.quiet) out(`Applied experiment '${r.value.exp.name}' (${r.value.exp.sha.slice(0, 7)}) to the workspace.\n`);
      return code;
    }
    case "branch": {
      const r = await m.branchExperiment(p, args[0] as string, args[1] as string);
      if (!r.ok) return failed(ctx, r.errors);
      out(`Git branch '${r.value.branch}' has been created from experiment '${r.value.exp.name}'.\nTo switch to the new branch run:\n\n\tgit checkout ${r.value.branch}\n`);
      return EXIT_OK;
    }
    case "remove": {
      const names = (args[0] as string[] | undefined) ?? [];
      const r = await m.removeExperiments(p, { names, all: opts.all === true, queue: opts.queue === true, ...(opts.rev !== undefined ? { rev: opts.rev } : {}) });
      if (!r.ok) return failed(ctx, r.errors);
      if (!ctx.global.quiet) out(r.value.length === 0 ? "No experiments to remove.\n" : `Removed experiments: ${r.value.join(", ")}\n`);
      return EXIT_OK;
    }
    case "list": {
      const r = await m.listByBaseline(p, opts.all === true);
      if (!r.ok) return failed(ctx, r.errors);
      for (const b of r.value) {
        if (opts.nameOnly === true) for (const e of b.experiments) out(`${e.name}\n`);
        else out(`${b.label}:\n${b.experiments.map((e) => `\t${e.name}\n`).join("")}`);
      }
      return EXIT_OK;
    }
    case "clean": {
      const { cleanWorktrees } = await import("../../experiments/run.js");
      const removed = await cleanWorktrees(p);
      if (!ctx.global.quiet) out(removed.length === 0 ? "Nothing to clean.\n" : `Removed ${removed.length} stale worktree(s).\n`);
      return EXIT_OK;
    }
    case "push": {
      const r = await m.pushExperiments(p, args[0] as string, (args[1] as string[] | undefined) ?? []);
      if (!r.ok) return failed(ctx, r.errors);
      out(r.value.length === 0 ? "No experiments to push.\n" : `Pushed experiments to '${args[0] as string}': ${r.value.map((e) => e.name).join(", ")}\n`);
      return (await import("../transfer-run.js")).experimentData(ctx, p.root, "push", r.value.map((e) => e.sha));
    }
    case "pull": {
      const r = await m.pullExperiments(p, args[0] as string, (args[1] as string[] | undefined) ?? []);
      if (!r.ok) return failed(ctx, r.errors);
      out(r.value.length === 0 ? "No experiments to pull.\n" : `Pulled experiments from '${args[0] as string}': ${r.value.map((e) => e.name).join(", ")}\n`);
      return (await import("../transfer-run.js")).experimentData(ctx, p.root, "fetch", r.value.map((e) => e.sha));
    }
    default:
      throw new Error(`unknown exp subcommand ${sub}`);
  }
}
