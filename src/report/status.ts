/**
 * `pipe status` output: the text layout of spec 5 (DVC's, plus the cause chain) and the `--json` document described
 * by `schemas/status.schema.json`.
 *
 *     prepare:
 *         changed deps:
 *             modified:   data/data.xml
 *     train:
 *         changed params:
 *             params.yaml:
 *                 modified:   train.lr  0.1 -> 0.2
 *         upstream stale: prepare
 *     Up to date: featurize, evaluate
 *
 * A stage another `pipe` is running now gets `running in pipe <pid>` instead of its reasons (mid-run, its outputs look
 * deleted).
 * A stage gets a block when it is stale, frozen with outputs that differ from the lock (it is never stale), or has
 * URL deps/outs (`external (not checked)`); the closing line lists the stages that are up to date, or says `Pipeline
 * is up to date.` when nothing is stale. Frozen stages whose outputs match the lock are named once, after that, on a
 * line of their own (`Frozen, outputs match the lock: train`). When only frozen stages are reported, what is said of
 * them is the whole report, without the verdict (`'train' is frozen; its outputs match the lock.` for one).
 *
 * Paths and addresses in the text are relative to the working directory (`project/where.ts`); in JSON they are
 * root-relative, the same from anywhere.
 */
import pc from "picocolors";
import { renderValue, stringifyJson, toJsonValue } from "../params/format.js";
import { AT_ROOT, type Where } from "../project/where.js";
import { unreachable } from "../core/unreachable.js";
import type { MemoForm } from "../status/memo.js";
import type { PathChange, StageStatus, StaleReason } from "../status/types.js";

export interface RenderOptions {
  /** `-v`: old and new hashes, old and new commands. */
  verbose: boolean;
  /** Stage names (headings); identity when colours are off. */
  name?: (s: string) => string;
  /** Where paths and addresses are shown from (default: the root). */
  where?: Where;
}

const I1 = "    ";
const I2 = I1 + I1;
const I3 = I2 + I1;

function label(kind: string): string {
  return `${kind}:`.padEnd(12);
}

function cmdText(c: string | string[]): string {
  return Array.isArray(c) ? c.join(" && ") : c;
}

function pathLines(out: string[], changes: readonly PathChange[], verbose: boolean, where: Where): void {
  for (const c of changes) {
    let line = `${I2}${label(c.change)}${where.path(c.rootPath)}`;
    if (c.change === "error" && c.message) line += `  (${c.message})`;
    if (verbose && (c.old || c.new)) line += `  ${c.old?.hash || "-"} -> ${c.new?.hash || "-"}`;
    out.push(line);
  }
}

function reasonLines(out: string[], r: StaleReason, verbose: boolean, where: Where): void {
  switch (r.kind) {
    case "no-lock-entry":
      out.push(`${I1}no lock entry`);
      return;
    case "missing-params":
      // What `repro` would stop on, named now rather than after a run is attempted.
      if (r.keys.length === 0) out.push(`${I1}missing params file: ${where.path(r.rootPath)}`);
      else out.push(`${I1}missing params in ${where.path(r.rootPath)}: ${r.keys.join(", ")}`);
      return;
    case "changed-command": {
      const vars = r.vars.map((v) => `\${${v.name}} ${v.old} -> ${v.new}`).join(", ");
      out.push(`${I1}changed command${vars ? `: ${vars}` : ""}`);
      // The commands themselves whenever the variables do not tell the whole story (the literal text changed too).
      if (verbose || !r.explained) {
        out.push(`${I2}${label("old")}${cmdText(r.old)}`);
        out.push(`${I2}${label("new")}${cmdText(r.new)}`);
      }
      return;
    }
    case "changed-params":
      out.push(`${I1}changed params:`);
      for (const f of r.files) {
        if (f.error !== undefined) {
          out.push(`${I2}${where.path(f.rootPath)}: cannot read (${f.error})`);
          continue;
        }
        out.push(`${I2}${where.path(f.rootPath)}:`);
        for (const c of f.changes) {
          let tail: string;
          if (c.change === "modified") tail = `  ${renderValue(c.old)} -> ${renderValue(c.new)}`;
          else if (c.change === "new") tail = `  ${renderValue(c.new)}`;
          else tail = "old" in c ? `  (was ${renderValue(c.old)})` : "";
          out.push(`${I3}${label(c.change)}${c.key}${tail}`);
        }
      }
      return;
    case "changed-deps":
    case "changed-outs":
      out.push(`${I1}${r.kind === "changed-deps" ? "changed deps" : "changed outs"}:`);
      pathLines(out, r.changes, verbose, where);
      return;
    case "always-changed":
      out.push(`${I1}always changed`);
      return;
    case "upstream-stale":
      out.push(`${I1}upstream stale: ${r.chain.map((a) => where.address(a)).join(" -> ")}`);
      return;
    default:
      return unreachable(r);
  }
}

/** The human report; ends with a newline. */
export function renderStatusText(stages: readonly StageStatus[], o: RenderOptions): string {
  const name = o.name ?? ((s: string) => s);
  const where = o.where ?? AT_ROOT;
  const out: string[] = [];
  const upToDate: string[] = [];
  // Frozen stages whose outputs are as the lock records them: nothing to report but that they are frozen.
  const frozenClean: string[] = [];
  // Up-to-date stages with URL deps or outs: said after the verdict, so a clean pipeline does not open with headings
  // that read like problems.
  const notChecked: string[] = [];
  let anyStale = false;
  for (const s of stages) {
    const shown = where.address(s.address);
    const body: string[] = [];
    // Mid-run, its outputs look deleted or half-written: what is true is that a pipe is making them.
    if (s.running) body.push("pid" in s.running ? `${I1}running in pipe ${s.running.pid}` : `${I1}${s.running.state} as SLURM job ${s.running.job}`);
    else if (s.stale) for (const r of s.reasons) reasonLines(body, r, o.verbose, where);
    if (s.frozen && s.reasons.some((r) => r.kind === "no-lock-entry")) body.push(`${I1}frozen, never run (no lock entry)`);
    else if (s.frozen && s.reasons.length > 0) {
      // Its outputs differ from the lock (a frozen stage's other reasons are only ever these); it is still not stale.
      body.push(`${I1}frozen, outputs differ from the lock:`);
      for (const r of s.reasons) reasonLines(body, r, o.verbose, where);
    }
    if (body.length > 0) for (const e of s.external) body.push(`${I1}external (not checked): ${e}`);
    else for (const e of s.external) notChecked.push(`${name(shown)}: ${e}`);
    if (s.stale) anyStale = true;
    else if (!s.frozen) upToDate.push(shown);
    else if (s.reasons.length === 0) frozenClean.push(shown);
    if (body.length > 0) out.push(`${name(shown)}:`, ...body);
  }
  if (anyStale) {
    if (upToDate.length > 0) out.push(`Up to date: ${upToDate.join(", ")}`);
  } else if (upToDate.length === 0 && stages.length > 0 && stages.every((s) => s.frozen)) {
    // Only frozen stages were asked about: what is said of them is the whole report, with no "up to date" verdict
    // beside a stage that never ran or whose outputs differ from the lock.
    if (out.length === 0 && frozenClean.length === 1) out.push(`'${frozenClean[0]!}' is frozen; its outputs match the lock.`);
    else if (frozenClean.length > 0) out.push(`Frozen, outputs match the lock: ${frozenClean.join(", ")}`);
    frozenClean.length = 0;
  } else {
    out.push("Pipeline is up to date.");
  }
  if (frozenClean.length > 0) out.push(`Frozen, outputs match the lock: ${frozenClean.join(", ")}`);
  if (notChecked.length > 0) out.push("External (not checked):", ...notChecked.map((l) => `${I1}${l}`));
  return out.join("\n") + "\n";
}

/** A reason as `--json` gives it (`status --json`, `repro --json`): paths relative to the project root. */
export function jsonReason(r: StaleReason): unknown {
  switch (r.kind) {
    case "no-lock-entry":
    case "changed-command":
    case "always-changed":
    case "upstream-stale":
      return r;
    case "missing-params":
      return { kind: r.kind, file: r.rootPath, keys: r.keys };
    case "changed-deps":
    case "changed-outs":
      return { kind: r.kind, changes: r.changes.map(({ rootPath, ...c }) => ({ ...c, path: rootPath })) };
    case "changed-params":
      return {
        kind: r.kind,
        files: r.files.map((f) => ({
          file: f.rootPath,
          ...(f.error !== undefined ? { error: f.error } : {}),
          changes: f.changes.map((c) => ({
            key: c.key,
            change: c.change,
            ...("old" in c ? { old: toJsonValue(c.old) } : {}),
            ...("new" in c ? { new: toJsonValue(c.new) } : {}),
          })),
        })),
      };
    default:
      return unreachable(r);
  }
}

/**
 * `{stages: {address: {stale, frozen, reasons, external, running?}}}`, in execution order, for `stringifyJson`: a Map, since an
 * object would list stages named like array indexes (`1`, `2`) first.
 */
export function statusJson(stages: readonly StageStatus[]): unknown {
  const out = new Map<string, unknown>();
  for (const s of stages) {
    out.set(s.address, {
      stale: s.stale,
      frozen: s.frozen,
      reasons: s.reasons.map(jsonReason),
      external: s.external,
      ...(s.running ? { running: s.running } : {}),
    });
  }
  return { stages: out };
}

/** The report of an all-fresh verdict in every form the status memo serves (`status/memo.ts`). */
export function statusMemoOutputs(stages: readonly StageStatus[], where: Where): Record<MemoForm, string> {
  const bold = pc.createColors(true).bold;
  return {
    text: renderStatusText(stages, { verbose: false, where }),
    color: renderStatusText(stages, { verbose: false, name: (s) => bold(s), where }),
    "text-v": renderStatusText(stages, { verbose: true, where }),
    "color-v": renderStatusText(stages, { verbose: true, name: (s) => bold(s), where }),
    json: stringifyJson(statusJson(stages)) + "\n",
  };
}
