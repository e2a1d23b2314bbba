/**
 * What `pipe init` makes of a directory: `.pipe/` with `config.yaml` (the defaults, commented) and a `.gitignore` for
 * what must not be committed (cache, state, runs, tmp), the same lines every writing command puts there when it
 * creates `.pipe/` itself. Idempotent: an existing config is never touched, a missing file is restored, missing
 * ignore lines are appended. Inside a project whose root is a parent directory it refuses: a second `.pipe/` would
 * split that project in two.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { GITIGNORE_LINES } from "./root.js";

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

export interface Initialised {
  pipeDir: string;
  /** `.pipe/` was there before. */
  existed: boolean;
  /** The files written (`.pipe/config.yaml`, `.pipe/.gitignore`), root-relative. */
  created: string[];
  /** A DVC project (`.dvc/` or `dvc.yaml` here), whose dvc.yaml files pipe uses as they are. */
  dvc: boolean;
}

export async function initProject(dir: string): Promise<Result<Initialised>> {
  if ((await kind(dir)) !== "dir") return fail([error("project", `cannot initialise ${dir}: no such directory`)]);
  const pipeDir = path.join(dir, ".pipe");
  const existing = await kind(pipeDir);
  if (existing === "file") return fail([error("project", `cannot initialise: ${pipeDir} exists and is not a directory`)]);
  if (existing === undefined) {
    const outer = await enclosingProject(dir);
    if (outer !== undefined) {
      return fail([
        error("project", `${dir} is inside the project at ${outer}`, undefined, {
          hint: `run 'pipe init' in ${outer} (a second .pipe/ here would make this directory a separate project)`,
        }),
      ]);
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
    return fail([error("io", `cannot initialise ${pipeDir}: ${e instanceof Error ? e.message : String(e)}`)]);
  }
  const dvc = (await kind(path.join(dir, ".dvc"))) === "dir" || (await kind(path.join(dir, "dvc.yaml"))) === "file";
  return ok({ pipeDir, existed: existing === "dir", created, dvc });
}
