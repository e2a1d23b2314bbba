/**
 * `pipe queue start|status|logs|remove|kill`, as DVC names them: `start` runs the queue in the background (a detached
 * `pipe exp run --run-all`, its output in `.pipe/exps/runner.log`), `status` lists the entries and their state,
 * `logs` prints an experiment's output, `remove` drops entries, `kill` stops running experiments (the runner then
 * records them as failed). On SLURM, `status` adds each running experiment's jobs, `logs` has its jobs' ids and
 * output as its `pipe` reported them, and `kill` makes that `pipe` cancel them.
 */
import { spawn } from "node:child_process";
import { open } from "node:fs/promises";
import path from "node:path";
import type { Diagnostic } from "../../core/diagnostic.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { printDiagnostics } from "../load.js";
import { execRunCommand, openExpForCommand } from "../exp-common.js";

interface QueueOptions {
  jobs?: string;
  executor?: string;
  all?: boolean;
  queued?: boolean;
  success?: boolean;
  failed?: boolean;
}

function failed(ctx: CommandContext, ds: readonly Diagnostic[]): number {
  printDiagnostics(ctx, ds);
  return ds.some((d) => d.reason === "usage") ? EXIT_USAGE : EXIT_FAILED;
}

export async function run(ctx: CommandContext, sub: string, args: unknown[], opts: QueueOptions): Promise<number> {
  const p = await openExpForCommand(ctx);
  if (typeof p === "number") return p;
  const [run, manage, { QueueStore, ensureExpsDir }] = await Promise.all([
    import("../../experiments/run.js"),
    import("../../experiments/manage.js"),
    import("../../experiments/queue-store.js"),
  ]);
  switch (sub) {
    case "start": {
      const logFile = path.join(await ensureExpsDir(p.root), "runner.log");
      const log = await open(logFile, "a");
      const [node, bin] = execRunCommand();
      const flags = [...(opts.jobs !== undefined ? ["-j", opts.jobs] : []), ...(opts.executor !== undefined ? ["--executor", opts.executor] : [])];
      const child = spawn(node!, [bin!, "exp", "run", "--run-all", ...flags], { cwd: p.root, detached: true, stdio: ["ignore", log.fd, log.fd] });
      child.unref();
      await log.close();
      ctx.io.out(`Started the queue runner (pid ${child.pid ?? "?"}); its output goes to ${path.relative(ctx.global.cwd, logFile)}\n`);
      return EXIT_OK;
    }
    case "status": {
      const entries = await new QueueStore(p.root).list();
      const { renderTable } = await import("../../report/table.js");
      if (entries.length === 0) {
        ctx.io.out("No experiments in the queue.\n");
        return EXIT_OK;
      }
      // A running experiment's SLURM jobs (its stages queued or running on the cluster), when there are any.
      const jobs = await run.jobsOfRunning(p, entries);
      const rows = entries.map((e) => [e.sha?.slice(0, 7) ?? "-", e.name, e.queuedAt.replace("T", " ").slice(0, 19), e.state[0]!.toUpperCase() + e.state.slice(1), ...(jobs.size > 0 ? [(jobs.get(e.id) ?? []).map((j) => `${j.stage} ${j.state} (job ${j.jobId})`).join(", ") || "-"] : [])]);
      ctx.io.out(renderTable({ headers: ["Task", "Name", "Created", "Status", ...(jobs.size > 0 ? ["SLURM jobs"] : [])], rows }, "plain"));
      return EXIT_OK;
    }
    case "logs": {
      const r = await manage.queueLog(p, args[0] as string);
      if (!r.ok) return failed(ctx, r.errors);
      ctx.io.out(r.value);
      return EXIT_OK;
    }
    case "remove": {
      const all = opts.all === true;
      const r = await run.removeQueued(p, { names: (args[0] as string[] | undefined) ?? [], queued: all || opts.queued === true, finished: all || opts.success === true || opts.failed === true });
      if (!r.ok) return failed(ctx, r.errors);
      ctx.io.out(r.value.length === 0 ? "Nothing removed.\n" : `Removed: ${r.value.join(", ")}\n`);
      return EXIT_OK;
    }
    case "kill": {
      const r = await run.killQueued(p, args[0] as string[]);
      if (!r.ok) return failed(ctx, r.errors);
      ctx.io.out(`Stopped: ${r.value.join(", ")}\n`);
      return EXIT_OK;
    }
    default:
      throw new Error(`unknown queue subcommand ${sub}`);
  }
}
