/**
 * `pipe lock merge BASE OURS THEIRS [PATH]`: git's merge driver for `pipe.lock` (`lock/merge.ts`), called by git with
 * `%O %A %B %P`; writes the merged lock over OURS and says on stderr which entries it dropped. Exit 0 merged (git
 * takes it as resolved), 1 a version did not parse (OURS left as it was: git reports a conflict).
 *
 * `pipe lock install-driver [--command CMD]`: adds `pipe.lock merge=pipe-lock` to the project's `.gitattributes` and
 * sets `merge.pipe-lock.driver` in this clone's git config, and prints what it did.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { findRootForCommand, printDiagnostics } from "../load.js";

export async function runMerge(ctx: CommandContext, base: string, ours: string, theirs: string, shown: string | undefined): Promise<number> {
  const [{ mergeLocks }, { writeFileAtomic }] = await Promise.all([import("../../lock/merge.js"), import("../../lock/write.js")]);
  const at = (p: string): string => path.resolve(ctx.global.cwd, p);
  const file = shown ?? path.basename(ours);
  const texts = await Promise.all([base, ours, theirs].map((p) => readFile(at(p), "utf8").catch(() => "")));
  const r = mergeLocks(file, texts[0]!, texts[1]!, texts[2]!);
  if (!r.ok) {
    printDiagnostics(ctx, r.errors);
    ctx.io.err(`pipe lock merge: ${file} left as our side had it; resolve it by hand (or take one side and run 'pipe repro')\n`);
    return EXIT_FAILED;
  }
  await writeFileAtomic(at(ours), r.value.text);
  const dir = path.posix.dirname(file);
  for (const name of r.value.dropped) {
    const target = dir === "." ? name : `${dir}:${name}`;
    ctx.io.err(`pipe lock merge: ${file}: '${name}' was changed differently on both sides; its entry is dropped: run 'pipe repro ${target}' and commit ${file}\n`);
  }
  return EXIT_OK;
}

/** The command line that runs this `pipe`: this node and this package's `bin/pipe.js`, each quoted for sh. */
function thisPipe(): string {
  const bin = fileURLToPath(new URL("../../../bin/pipe.js", import.meta.url));
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `${q(process.execPath)} ${q(bin)}`;
}

export async function runInstall(ctx: CommandContext, opts: { command?: string }): Promise<number> {
  const project = await findRootForCommand(ctx);
  if (typeof project === "number") return project;
  const { installMergeDriver } = await import("../../lock/merge-driver.js");
  const r = await installMergeDriver(project.root, opts.command ?? thisPipe());
  if (!r.ok) {
    printDiagnostics(ctx, r.errors);
    return EXIT_USAGE;
  }
  const { attributes, driver } = r.value;
  if (!ctx.global.quiet) {
    const rel = path.relative(ctx.global.cwd, path.join(project.root, attributes.file)) || attributes.file;
    ctx.io.out(attributes.added ? `Added 'pipe.lock merge=pipe-lock' to ${rel} (commit it, so every clone routes pipe.lock to the driver)\n` : `${rel} already routes pipe.lock to the driver\n`);
    const was = driver.previous === undefined ? "" : driver.previous === driver.command ? " (unchanged)" : ` (was: ${driver.previous})`;
    ctx.io.out(`Set merge.pipe-lock.driver in this clone's .git/config: ${driver.command}${was}\n`);
  }
  return EXIT_OK;
}
