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
 * deleted). A stage gets a block when it is stale, frozen (with its outputs' changes, if any: it is never stale), or has URL
 * deps/outs (`external (not checked)`); the closing line lists the stages that are up to date, or says `Pipeline is
 * up to date.` when nothing is stale.
 */
import { renderValue, toJsonValue } from "../params/format.js";
import type { PathChange, StageStatus, StaleReason } from "./types.js";

export interface RenderOptions {
  /** `-v`: old and new hashes, old and new commands. */
  verbose: boolean;
  /** Stage names (headings); identity when colours are off. */
  name?: (s: string) => string;
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

function pathLines(out: string[], changes: readonly PathChange[], verbose: boolean): void {
  for (const c of changes) {
    let line = `${I2}${label(c.change)}${c.path}`;
    if (c.change === "error" && c.message) line += `  (${c.message})`;
    if (verbose && (c.old || c.new)) line += `  ${c.old?.hash || "-"} -> ${c.new?.hash || "-"}`;
    out.push(line);
  }
}

function reasonLines(out: string[], r: StaleReason, verbose: boolean): void {
  switch (r.kind) {
    case "no-lock-entry":
      out.push(`${I1}no lock entry`);
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
          out.push(`${I2}${f.file}: cannot read (${f.error})`);
          continue;
        }
        out.push(`${I2}${f.file}:`);
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
      pathLines(out, r.changes, verbose);
      return;
    case "always-changed":
      out.push(`${I1}always changed`);
      return;
    case "upstream-stale":
      out.push(`${I1}upstream stale: ${r.chain.join(" -> ")}`);
      return;
  }
}

/** The human report; ends with a newline. */
export function renderStatusText(stages: readonly StageStatus[], o: RenderOptions): string {
  const name = o.name ?? ((s: string) => s);
  const out: string[] = [];
  const upToDate: string[] = [];
  // Up-to-date stages with URL deps or outs: said after the verdict, so a clean pipeline does not open with headings
  // that read like problems.
  const notChecked: string[] = [];
  let anyStale = false;
  for (const s of stages) {
    const body: string[] = [];
    // Mid-run, its outputs look deleted or half-written: what is true is that a pipe is making them.
    if (s.running) body.push(`${I1}running in pipe ${s.running.pid}`);
    else if (s.stale) for (const r of s.reasons) reasonLines(body, r, o.verbose);
    if (s.frozen) {
      body.push(`${I1}frozen`);
      // Its outputs as the lock records them, or not (a frozen stage's reasons are only ever these).
      for (const r of s.reasons) reasonLines(body, r, o.verbose);
    }
    if (s.stale || s.frozen) for (const e of s.external) body.push(`${I1}external (not checked): ${e}`);
    else for (const e of s.external) notChecked.push(`${name(s.address)}: ${e}`);
    if (s.stale) anyStale = true;
    else if (!s.frozen) upToDate.push(s.address);
    if (body.length > 0) out.push(`${name(s.address)}:`, ...body);
  }
  if (anyStale) {
    if (upToDate.length > 0) out.push(`Up to date: ${upToDate.join(", ")}`);
  } else {
    out.push("Pipeline is up to date.");
  }
  if (notChecked.length > 0) out.push("External (not checked):", ...notChecked.map((l) => `${I1}${l}`));
  return out.join("\n") + "\n";
}

function jsonReason(r: StaleReason): unknown {
  switch (r.kind) {
    case "changed-params":
      return {
        kind: r.kind,
        files: r.files.map((f) => ({
          file: f.file,
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
      return r;
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
