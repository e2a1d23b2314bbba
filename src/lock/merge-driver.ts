/**
 * Installing the lock merge driver in a clone: the `.gitattributes` line that routes `pipe.lock` to the driver
 * named `pipe-lock`, and that driver's command in the clone's own git config (`git config --local`: a driver is a
 * command git runs, so git never takes one from a repository; each clone installs it once). Idempotent: what is
 * already in place is left and said so.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { runGit } from "../git/git.js";
import { writeFileAtomic } from "./write.js";

export const DRIVER_NAME = "pipe-lock";
export const ATTRIBUTE_LINE = `pipe.lock merge=${DRIVER_NAME}`;

export interface DriverInstall {
  /** The `.gitattributes` file written (root-relative), and whether the line was added or already there. */
  attributes: { file: string; added: boolean };
  /** The driver command set in the clone's config, and what it was before (undefined: unset). */
  driver: { command: string; previous: string | undefined };
}

async function gitOk(cwd: string, args: string[]): Promise<Result<string>> {
  const r = await runGit(cwd, args);
  if (r instanceof Error) return fail([error("io", `cannot run git: ${r.message}`)]);
  if (r.code !== 0) return fail([error("usage", `git ${args.join(" ")} failed: ${r.stderr.trim()}`)]);
  return ok(r.stdout.toString("utf8").trim());
}

/** Installs the driver for the project at `root`; `pipe` is the command line that runs pipe (quoted for sh). */
export async function installMergeDriver(root: string, pipe: string): Promise<Result<DriverInstall>> {
  const top = await gitOk(root, ["rev-parse", "--show-toplevel"]);
  if (!top.ok) return fail([error("usage", `the lock merge driver is installed in a git clone, but ${root} is not in one`)]);
  const file = path.join(root, ".gitattributes");
  let text = "";
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const has = text.split(/\r?\n/).some((l) => l.trim().split(/\s+/).join(" ") === ATTRIBUTE_LINE);
  if (!has) await writeFileAtomic(file, `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${ATTRIBUTE_LINE}\n`);
  const command = `${pipe} lock merge %O %A %B %P`;
  const prev = await runGit(root, ["config", "--local", "--get", `merge.${DRIVER_NAME}.driver`]);
  const previous = prev instanceof Error || prev.code !== 0 ? undefined : prev.stdout.toString("utf8").trim();
  for (const args of [
    ["config", "--local", `merge.${DRIVER_NAME}.name`, "pipe: merge pipe.lock entry by entry"],
    ["config", "--local", `merge.${DRIVER_NAME}.driver`, command],
  ]) {
    const r = await gitOk(root, args);
    if (!r.ok) return r;
  }
  return ok({ attributes: { file: path.relative(root, file) || ".gitattributes", added: !has }, driver: { command, previous } });
}
