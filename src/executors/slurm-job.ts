/**
 * What one stage's SLURM job is: its files under `.pipe/tmp/logs`, its batch script and its `sbatch` flags. Pure
 * functions, so the shape of a job can be tested without a cluster.
 *
 * The batch script gives a stage the local executor's shell semantics (`local.ts`): it changes to the stage's `wdir`,
 * exports `PIPE_STAGE` and `PIPE_ROOT`, and runs a string `cmd` as one `sh -e -c` (a list item by item, stopping at the
 * first failure). Around each command it appends a line to the job's marker file (`<stage>.meta`): `cmd I OUT ERR`
 * before (the sizes of the stdout and stderr logs then, so the coordinator can announce the command exactly between
 * the lines that came before and after it) and `end I STATUS TIME` after (`start TIME` opens the file). A job that SLURM stopped (time, memory, `scancel`)
 * has no `end` line: its state in `squeue` says what happened. Stdout goes to `<stage>.log`, stderr to
 * `<stage>.err`, both on the shared file system the coordinator tails them from.
 */
import path from "node:path";
import { mergeResources, type Resources } from "../core/resources.js";
import type { SlurmSettings } from "../project/config.js";

export const LOG_DIR = ".pipe/tmp/logs";

/** A stage address as a file name: `/`, `:` and other unusual characters become `%XX`, `%` itself included. */
export function fileNameOf(stage: string): string {
  return stage.replace(/[^A-Za-z0-9._@+=,-]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"));
}

export interface JobFiles {
  log: string;
  err: string;
  meta: string;
}

export function jobFiles(root: string, stage: string): JobFiles {
  const base = path.join(root, LOG_DIR, fileNameOf(stage));
  return { log: base + ".log", err: base + ".err", meta: base + ".meta" };
}

/** Single-quoted for `sh`. */
export function shQuote(s: string): string {
  return "'" + s.replace(/'/g, `'\\''`) + "'";
}

export function batchScript(job: { stage: string; cmd: string | readonly string[]; wdir: string; root: string }, files: JobFiles): string {
  const cmds = typeof job.cmd === "string" ? [job.cmd] : job.cmd;
  const lines = [
    "#!/bin/sh",
    `# pipe: stage ${job.stage.replace(/\n/g, " ")}`,
    `M=${shQuote(files.meta)}`,
    `O=${shQuote(files.log)}`,
    `E=${shQuote(files.err)}`,
    `cd ${shQuote(job.wdir)} || { echo nowdir >> "$M"; exit 1; }`,
    `PIPE_STAGE=${shQuote(job.stage)}; PIPE_ROOT=${shQuote(job.root)}; export PIPE_STAGE PIPE_ROOT`,
    // The time the job started, for the benchmark's hand-off figures (`bench/slurm.mjs`).
    `echo "start $(date +%s.%N)" >> "$M"`,
  ];
  cmds.forEach((c, i) => {
    lines.push(`echo "cmd ${i} $(wc -c < "$O") $(wc -c < "$E")" >> "$M"`, `sh -e -c ${shQuote(c)}`, `rc=$?`, `echo "end ${i} $rc $(date +%s.%N)" >> "$M"`, `[ $rc = 0 ] || exit $rc`);
  });
  lines.push("exit 0", "");
  return lines.join("\n");
}

/** Glob of `*` and `?` against a whole stage address (or its name, for a stage of a nested stages file). */
function matches(pattern: string, stage: string): boolean {
  const re = new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  const name = stage.slice(stage.lastIndexOf(":") + 1);
  return re.test(stage) || re.test(name);
}

/**
 * The resources of a stage: the config's defaults, then the stage's own `resources:` (pipe.yaml), then the config's
 * entries that match it in file order, an exact name last (the site's configuration has the last word).
 */
export function resourcesFor(settings: Pick<SlurmSettings, "resources" | "stages">, stage: string, own: Resources | undefined): Resources {
  let r = mergeResources(settings.resources, own ?? {});
  const name = stage.slice(stage.lastIndexOf(":") + 1);
  const exact = settings.stages.filter((e) => e.pattern === stage || e.pattern === name);
  for (const e of settings.stages) if (!exact.includes(e) && matches(e.pattern, stage)) r = mergeResources(r, e.resources);
  for (const e of exact) r = mergeResources(r, e.resources);
  return r;
}

export function resourceFlags(r: Resources): string[] {
  const f: string[] = [];
  if (r.partition !== undefined) f.push(`--partition=${r.partition}`);
  if (r.time !== undefined) f.push(`--time=${r.time}`);
  if (r.cpus !== undefined) f.push(`--cpus-per-task=${r.cpus}`);
  if (r.mem !== undefined) f.push(`--mem=${r.mem}`);
  if (r.gpus !== undefined) f.push(`--gpus=${r.gpus}`);
  if (r.account !== undefined) f.push(`--account=${r.account}`);
  if (r.qos !== undefined) f.push(`--qos=${r.qos}`);
  if (r.constraint !== undefined) f.push(`--constraint=${r.constraint}`);
  return [...f, ...(r.sbatch ?? [])];
}

/** `sbatch`'s file-name patterns take `%` as special: a literal one is `%%`. */
const sbatchPath = (p: string): string => p.replace(/%/g, "%%");

/** A stage's job name (what `squeue` shows). */
export function jobNameOf(stage: string): string {
  return stage.replace(/\s/g, "_").slice(0, 120);
}

/** The full `sbatch` argument list; the script goes on its stdin. `token` goes into the job's comment. */
export function sbatchArgs(job: { stage: string; wdir: string }, files: JobFiles, resources: Resources, afterIds: readonly string[], token?: string): string[] {
  const args = [
    "--parsable",
    `--job-name=${jobNameOf(job.stage)}`,
    ...(token !== undefined ? [`--comment=pipe:${token}`] : []),
    `--output=${sbatchPath(files.log)}`,
    `--error=${sbatchPath(files.err)}`,
    `--chdir=${job.wdir}`,
    "--export=ALL",
    "--kill-on-invalid-dep=yes",
  ];
  if (afterIds.length > 0) args.push(`--dependency=afterok:${afterIds.join(":")}`);
  return [...args, ...resourceFlags(resources)];
}
