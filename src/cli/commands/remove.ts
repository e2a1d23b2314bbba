/**
 * `pipe remove X.dvc...`: stops tracking what `.dvc` files track, as `dvc remove` does for them: the `.dvc` file and
 * its `.gitignore` lines go, the data and its cache objects stay (`exec/add.ts`). A target that is not a loaded
 * `.dvc` file is exit 2, and nothing is removed.
 */
import path from "node:path";
import { error, type Diagnostic } from "../../core/diagnostic.js";
import type { Stage } from "../../core/model.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { loadWithWhere, printDiagnostics } from "../load.js";
import { withWriteLock } from "../stage-writer.js";

export async function run(ctx: CommandContext, targets: string[], _opts: Record<string, unknown> = {}): Promise<number> {
  const loaded = await loadWithWhere(ctx);
  if (typeof loaded === "number") return loaded;
  const { graph, sources, root, where } = loaded;
  const errors: Diagnostic[] = [];
  const chosen: Stage[] = [];
  for (const t of targets) {
    const rel = path.relative(root, path.resolve(ctx.global.cwd, t)).split(path.sep).join("/");
    const s = graph.pipeline.stages.find((x) => x.dataSource && x.file === rel);
    if (!s) errors.push(error("usage", `'${t}' is not a .dvc file of this project`, undefined, { hint: "'pipe remove' takes the .dvc files 'pipe add' wrote (data.xml.dvc)" }));
    else if (!chosen.includes(s)) chosen.push(s);
  }
  if (errors.length > 0) {
    printDiagnostics(ctx, errors, sources);
    return EXIT_USAGE;
  }
  const { removeDvcFile } = await import("../../exec/add.js");
  return withWriteLock(ctx, root, "pipe remove", async () => {
    for (const s of chosen) {
      const r = await removeDvcFile(root, s);
      if (!r.ok) {
        printDiagnostics(ctx, r.errors, sources);
        return EXIT_FAILED;
      }
      if (!ctx.global.quiet) ctx.io.out(`Removed '${where.path(s.file)}' (the data stays in the workspace and the cache)\n`);
    }
    return EXIT_OK;
  });
}
