/**
 * What the `exp` and `queue` command files share: finding the experiment project from the working directory, the
 * `-S` flags parsed, and the command line of the child `pipe exp exec-run` the queue runner starts.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ExpProject } from "../experiments/project.js";
import { parseSetParam, type SetParam } from "../experiments/overrides.js";
import { EXIT_USAGE, type CommandContext } from "./context.js";
import { printDiagnostics } from "./load.js";

export async function openExpForCommand(ctx: CommandContext): Promise<ExpProject | number> {
  const { openExpProject } = await import("../experiments/project.js");
  const r = await openExpProject(ctx.global.cwd);
  if (!r.ok) {
    printDiagnostics(ctx, r.errors);
    return EXIT_USAGE;
  }
  return r.value;
}

export function parseSets(ctx: CommandContext, args: readonly string[]): SetParam[] | number {
  const out: SetParam[] = [];
  for (const a of args) {
    const r = parseSetParam(a);
    if (!r.ok) {
      printDiagnostics(ctx, r.errors);
      return EXIT_USAGE;
    }
    out.push(r.value);
  }
  return out;
}

/** `node <this package's bin/pipe.js> exp exec-run`: the same `pipe` as the one running. */
export function execRunCommand(): string[] {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/pipe.js");
  return [process.execPath, bin, "exp", "exec-run"];
}
