/**
 * `pipe init`: creates `.pipe/` in the current directory with `config.yaml` (the defaults, commented) and a
 * `.gitignore` for what must not be committed (cache, state, runs, tmp). Idempotent: an existing config is never
 * touched, a missing file is restored, missing ignore lines are appended.
 *
 * In a DVC project it says that the `dvc.yaml` files will be used as they are. Inside a project whose root is a
 * parent directory it refuses (exit 2): a second `.pipe/` would split that project in two.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { error } from "../../core/diagnostic.js";
import { GITIGNORE_LINES } from "../../project/root.js";
import { EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { printDiagnostics } from "../load.js";

export const CONFIG_TEXT = `# pipe project settings. Commit this file.
cache:
  # How outputs are materialised from the cache: a preference list of reflink, copy, hardlink, symlink.
  type: reflink,copy
# Default for 'pipe repro -j' (a number, or auto = one per CPU).
# jobs: auto
# Add cached outputs to a .gitignore beside their stages file.
gitignore: true
`;

async function kind(p: string): Promise<"dir" | "file" | undefined> {
  try {
    return (await stat(p)).isDirectory() ? "dir" : "file";
  } catch {
    return undefined;
  }
}

/** The nearest parent directory (up to the filesystem root or a git root) holding `.pipe/` or `.dvc/`. */
async function enclosingProject(dir: string): Promise<string | undefined> {
  // A git root or a DVC root of its own is a project boundary.
  if ((await kind(path.join(dir, ".git"))) !== undefined || (await kind(path.join(dir, ".dvc"))) === "dir") return undefined;
  for (let d = path.dirname(dir); ; ) {
    if ((await kind(path.join(d, ".pipe"))) === "dir" || (await kind(path.join(d, ".dvc"))) === "dir") return d;
    if ((await kind(path.join(d, ".git"))) !== undefined) return undefined;
    const parent = path.dirname(d);
    if (parent === d) return undefined;
    d = parent;
  }
}

export async function run(ctx: CommandContext, _opts: Record<string, unknown> = {}): Promise<number> {
  const dir = ctx.global.cwd;
  const say = (t: string): void => {
    if (!ctx.global.quiet) ctx.io.out(t + "\n");
  };
  if ((await kind(dir)) !== "dir") {
    printDiagnostics(ctx, [error("project", `cannot initialise ${dir}: no such directory`)]);
    return EXIT_USAGE;
  }
  const pipeDir = path.join(dir, ".pipe");
  const existing = await kind(pipeDir);
  if (existing === "file") {
    printDiagnostics(ctx, [error("project", `cannot initialise: ${pipeDir} exists and is not a directory`)]);
    return EXIT_USAGE;
  }
  if (existing === undefined) {
    const outer = await enclosingProject(dir);
    if (outer !== undefined) {
      printDiagnostics(ctx, [
        error("project", `${dir} is inside the project at ${outer}`, undefined, {
          hint: `run 'pipe init' in ${outer} (a second .pipe/ here would make this directory a separate project)`,
        }),
      ]);
      return EXIT_USAGE;
    }
  }

  const created: string[] = [];
  try {
    await mkdir(pipeDir, { recursive: true });
    const config = path.join(pipeDir, "config.yaml");
    if ((await kind(config)) === undefined) {
      await writeFile(config, CONFIG_TEXT, { flag: "wx" });
      created.push(".pipe/config.yaml");
    }
    const gi = path.join(pipeDir, ".gitignore");
    let text = "";
    try {
      text = await readFile(gi, "utf8");
    } catch {
      text = "";
    }
    const have = new Set(text.split(/\r?\n/).map((l) => l.trim()));
    const missing = GITIGNORE_LINES.filter((l) => !have.has(l));
    if (missing.length > 0) {
      const prefix = text === "" || text.endsWith("\n") ? text : text + "\n";
      await writeFile(gi, prefix + missing.join("\n") + "\n");
      created.push(".pipe/.gitignore");
    }
  } catch (e) {
    printDiagnostics(ctx, [error("io", `cannot initialise ${pipeDir}: ${e instanceof Error ? e.message : String(e)}`)]);
    return EXIT_USAGE;
  }

  if (existing === "dir" && created.length === 0) say(`pipe is already initialised in ${pipeDir}`);
  else if (existing === "dir") say(`pipe is already initialised in ${pipeDir}; restored ${created.join(", ")}`);
  else say(`Initialised pipe in ${pipeDir} (config.yaml, .gitignore): commit them.`);

  const dvcDir = (await kind(path.join(dir, ".dvc"))) === "dir";
  const dvcYaml = (await kind(path.join(dir, "dvc.yaml"))) === "file";
  if (dvcDir || dvcYaml) {
    say(
      "This is a DVC project: pipe uses its dvc.yaml files as they are (a pipe.yaml beside one takes precedence), " +
        "reads dvc.lock until it writes pipe.lock beside it, and never modifies .dvc/.",
    );
  }
  return EXIT_OK;
}
