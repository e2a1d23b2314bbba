/**
 * The words of `pipe status --no-data` (`status/no-data.ts` judges): one line per inconsistency, naming the stage,
 * the path or key, the two values and what to do, then a verdict line; and the `--json` document
 * (`schemas/status-no-data.schema.json`), whose issues carry the same line as `message` beside their facts.
 *
 *     train: params.yaml:train.lr is 0.3 but pipe.lock recorded 0.5: run 'pipe repro train' and commit pipe.lock
 *     pipe.lock does not describe the pipeline: 1 problem in 1 of 4 stages
 *
 * Text shows paths and addresses from the working directory; JSON keeps root addresses and root-relative paths.
 */
import { renderValue, toJsonValue } from "../params/format.js";
import { AT_ROOT, type Where } from "../project/where.js";
import { unreachable } from "../core/unreachable.js";
import type { NoDataCheck, NoDataIssue, NotCheckedWhy } from "../status/no-data.js";
import type { HashRef } from "../status/types.js";

function cmdText(c: string | string[]): string {
  return Array.isArray(c) ? c.join(" && ") : c;
}

function hashText(h: HashRef | undefined): string {
  return h === undefined || h.hash === "" ? "-" : `${h.algo}:${h.hash}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The sentence of one issue, without what to do. */
function what(i: NoDataIssue, w: Where): string {
  switch (i.kind) {
    case "lock-not-in-git":
      return `${w.path(i.lockFile)} is not in git`;
    case "no-lock-entry":
      return `${w.address(i.stage)}: no entry in ${w.path(i.lockFile)}`;
    case "command":
      if (i.explained && i.vars.length > 0) {
        const vars = i.vars.map((v) => `\${${v.name}} is ${v.new}`).join(", ");
        const old = i.vars.map((v) => v.old).join(", ");
        return `${w.address(i.stage)}: in its command ${vars} but ${w.path(i.lockFile)} recorded ${old}`;
      }
      return `${w.address(i.stage)}: command is '${cmdText(i.current)}' but ${w.path(i.lockFile)} recorded '${cmdText(i.locked)}'`;
    case "param": {
      const at = `${w.path(i.file)}:${i.key}`;
      const lock = w.path(i.lockFile);
      switch (i.change) {
        case "modified":
          return `${w.address(i.stage)}: ${at} is ${renderValue(i.new)} but ${lock} recorded ${renderValue(i.old)}`;
        case "new":
          return `${w.address(i.stage)}: ${at} is ${renderValue(i.new)} but ${lock} recorded no value for it`;
        case "deleted":
          return `${w.address(i.stage)}: ${at} is not in the file but ${lock} recorded ${i.old === undefined ? "it" : renderValue(i.old)}`;
        case "removed":
          return `${w.address(i.stage)}: ${at} is no longer a param of the stage but ${lock} recorded ${renderValue(i.old)}`;
        default:
          return unreachable(i);
      }
    }
    case "params-file":
      if (i.problem === "not-in-git") return `${w.address(i.stage)}: params file ${w.path(i.file)} is not in git`;
      if (i.problem === "missing") return `${w.address(i.stage)}: params file ${w.path(i.file)} does not exist`;
      return `${w.address(i.stage)}: params file ${w.path(i.file)} cannot be read (${i.message ?? "invalid"})`;
    case "dep": {
      const lock = w.path(i.lockFile);
      const p = w.path(i.path);
      switch (i.change) {
        case "modified":
          return `${w.address(i.stage)}: ${p} hashes to ${hashText(i.current)} but ${lock} recorded ${hashText(i.locked)}`;
        case "missing":
          return `${w.address(i.stage)}: ${p} is tracked by git but missing from the work tree; ${lock} recorded ${hashText(i.locked)}`;
        case "new":
          return `${w.address(i.stage)}: dep ${p} is declared but ${lock} does not record it`;
        case "removed":
          return `${w.address(i.stage)}: ${lock} records dep ${p}, which the stage no longer declares`;
        default:
          return unreachable(i);
      }
    }
    case "out":
      return i.change === "new"
        ? `${w.address(i.stage)}: output ${w.path(i.path)} is declared but ${w.path(i.lockFile)} does not record it`
        : `${w.address(i.stage)}: ${w.path(i.lockFile)} records output ${w.path(i.path)}, which the stage no longer declares`;
    case "chain":
      return `${w.address(i.stage)}: ${w.path(i.path)} is recorded as ${hashText(i.locked)} but '${w.address(i.producer)}' recorded its output as ${hashText(i.produced)}`;
    default:
      return unreachable(i);
  }
}

/** What to do about one issue. */
function fix(i: NoDataIssue, w: Where): string {
  if (i.kind === "lock-not-in-git") return `run 'git add ${w.path(i.lockFile)}' and commit it`;
  if (i.kind === "params-file" && i.problem === "not-in-git") return `run 'git add ${w.path(i.file)}' and commit it, or stop depending on it`;
  if (i.kind === "params-file" && i.problem === "invalid") return `fix the file, then run 'pipe repro ${w.address(i.stage)}' and commit ${w.path(written(i.lockFile))}`;
  return `run 'pipe repro ${w.address(i.stage)}' and commit ${w.path(written(i.lockFile))}`;
}

/** The lock `repro` writes beside the one read: `pipe.lock`, also where a `dvc.lock` was read (it is never modified). */
function written(lockFile: string): string {
  return lockFile.replace(/(^|\/)dvc\.lock$/, "$1pipe.lock");
}

export function issueLine(i: NoDataIssue, w: Where = AT_ROOT): string {
  return `${what(i, w)}: ${fix(i, w)}`;
}

const WHY: Record<NotCheckedWhy, string> = {
  "not-in-git": "not in git (data)",
  "inside-output": "inside another stage's output directory",
  "holds-outputs": "a directory holding other stages' outputs",
  external: "external (not checked)",
  "different-algorithm": "recorded with another hash algorithm than its producer's",
};

/** The text report: issues, then the verdict; with `verbose`, the deps git alone could not judge. */
export function renderNoDataText(r: NoDataCheck, opts: { verbose: boolean; where?: Where }): string {
  const w = opts.where ?? AT_ROOT;
  const lines = r.issues.map((i) => issueLine(i, w));
  if (opts.verbose && r.notChecked.length > 0) {
    lines.push("Not checked without data:");
    for (const n of r.notChecked) lines.push(`    ${w.address(n.stage)}: ${w.path(n.path)}: ${WHY[n.why]}`);
  }
  const stagesWith = new Set(r.issues.map((i) => ("stage" in i ? i.stage : i.lockFile))).size;
  const checkedText = `${plural(r.checked.tracked, "dep")} checked against git, ${plural(r.checked.chained, "dep")} against their producers`;
  if (r.issues.length === 0) lines.push(`The lock describes the pipeline: ${plural(r.stages, "stage")}, ${checkedText}.`);
  else lines.push(`The lock does not describe the pipeline: ${plural(r.issues.length, "problem")} in ${stagesWith} of ${plural(r.stages, "stage")} (${checkedText}).`);
  return lines.join("\n") + "\n";
}

/** The `--json` document (values as JSON values; integers beyond 2^53 stay bigints for `stringifyJson`). */
export function noDataJson(r: NoDataCheck): unknown {
  return {
    consistent: r.issues.length === 0,
    stages: r.stages,
    checked: r.checked,
    issues: r.issues.map((i) => {
      const o: Record<string, unknown> = { ...i, message: issueLine(i) };
      if (i.kind === "param") {
        if ("old" in i) o["old"] = toJsonValue(i.old);
        if ("new" in i) o["new"] = toJsonValue(i.new);
      }
      return o;
    }),
    notChecked: r.notChecked,
  };
}
