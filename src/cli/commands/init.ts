/**
 * `pipe init`: creates `.pipe/` in the current directory (`project/init.ts` says what goes in it) and says what it
 * did. In a DVC project it says that the `dvc.yaml` files will be used as they are. Inside a project whose root is a
 * parent directory it refuses (exit 2).
 */
import { initProject } from "../../project/init.js";
import { EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { printDiagnostics } from "../load.js";

export async function run(ctx: CommandContext, _opts: Record<string, unknown> = {}): Promise<number> {
  const say = (t: string): void => {
    if (!ctx.global.quiet) ctx.io.out(t + "\n");
  };
  const r = await initProject(ctx.global.cwd);
  if (!r.ok) {
    printDiagnostics(ctx, r.errors);
    return EXIT_USAGE;
  }
  const { pipeDir, existed, created, dvc } = r.value;
  if (existed && created.length === 0) say(`pipe is already initialised in ${pipeDir}`);
  else if (existed) say(`pipe is already initialised in ${pipeDir}; restored ${created.join(", ")}`);
  else say(`Initialised pipe in ${pipeDir} (config.yaml, .gitignore): commit them.`);
  if (dvc) {
    say(
      "This is a DVC project: pipe uses its dvc.yaml files as they are (a pipe.yaml beside one takes precedence), " +
        "reads dvc.lock until it writes pipe.lock beside it, and never modifies .dvc/.",
    );
  }
  return EXIT_OK;
}
