/**
 * The English of `repro`'s warnings (`warning: ...` on stderr): one text per `ReproWarning` kind, made from its
 * facts. The engine emits only the facts (`events.ts`); these words are the ones it used to build itself, unchanged.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import { unreachable } from "../core/unreachable.js";
import type { ReproWarning } from "../exec/events.js";

/** A diagnostic's message; an environment error's advice (free space, make it writable) comes with it. */
function withAdvice(d: Diagnostic, message = d.message): string {
  return d.reason === "environment" && d.hint !== undefined ? `${message}\n  = ${d.hint}` : message;
}

/**
 * Each message on its own line (an environment error's advice after it), saying which stage it is about (unless it
 * already does). For warnings and for failures pipe finds itself.
 */
export function diagnosticsText(ds: readonly Diagnostic[], stage?: string): string {
  return ds
    .map((d) => withAdvice(d, stage === undefined || d.message.includes(`stage '${stage}'`) ? d.message : `stage '${stage}': ${d.message}`))
    .join("\n");
}

/** `object`/`objects`, `was`/`were`...: the word for one or for many. */
function n(many: boolean, one: string, several: string): string {
  return many ? several : one;
}

/** The text after `warning: ` (may span lines). */
export function warningText(w: ReproWarning): string {
  switch (w.kind) {
    case "diagnostics":
      return diagnosticsText(w.diagnostics, w.stage);
    case "external-not-checked": {
      const p = w.paths;
      return `external dependencies and outputs are not checked or cached: ${p.slice(0, 5).join(", ")}${p.length > 5 ? `, and ${p.length - 5} more` : ""}`;
    }
    case "frozen-outputs-lost":
      return `frozen stage '${w.stage}': ${w.paths.map((p) => `'${p}'`).join(", ")} ${n(w.paths.length > 1, "is", "are")} missing and cannot be restored from the cache; 'pipe repro -f ${w.stage}' runs it`;
    case "corrupt-object-removed": {
      const many = w.ids.length > 1;
      if (w.instead?.from === "run-cache") {
        return `run-cache: corrupt cache object${n(many, "", "s")} ${w.ids.join(", ")} removed; running '${w.instead.stage}' instead`;
      }
      const text =
        w.keptIn !== undefined
          ? `cache object${n(many, "", "s")} ${w.ids.join(", ")} of '${w.out}' in ${w.keptIn} ${n(many, "is", "are")} corrupt and ${n(many, "was", "were")} not used`
          : `cache object${n(many, "", "s")} ${w.ids.join(", ")} of '${w.out}' ${n(many, "was", "were")} corrupt and ${n(many, "has", "have")} been removed`;
      return w.instead ? `${text}; running '${w.instead.stage}' instead` : text;
    }
    case "corrupt-object-kept":
      return `cache object ${w.id} of '${w.out}' is corrupt and cannot be restored (a real run removes it)`;
    case "unsaved-content-saved":
      return `'${w.path}' had content that was not in the cache; it was saved there as ${w.id} before being replaced`;
    case "leftover-deleted":
      return `'${w.path}' is what a failed run of '${w.stage}' left; it is deleted, not saved in the cache`;
    case "output-saved-before-run":
      return w.recorded
        ? `'${w.path}' was changed since '${w.stage}' last ran; that content was saved in the cache as ${w.id} before the re-run`
        : `'${w.path}' was already there and '${w.stage}' has no record of producing it; that content was saved in the cache as ${w.id} before the run`;
    case "cache-objects-repaired": {
      const many = w.ids.length > 1;
      const ids = `${w.ids.slice(0, 5).join(", ")}${many && w.ids.length > 5 ? ` and ${w.ids.length - 5} more` : ""}`;
      return `cache object${n(many, "", "s")} ${ids} of '${w.out}' (stage '${w.stage}') no longer matched ${n(many, "its name", "their names")} (edited through a hardlink or symlink?) and ${n(many, "was", "were")} replaced by what the stage produced`;
    }
    case "run-cache-not-updated":
      return `run-cache not updated: ${diagnosticsText(w.diagnostics)}`;
    case "inputs-changed-during-run": {
      const what = [...w.deps.map((d) => `'${d}'`), ...w.params.map((f) => `params in '${f}'`)];
      const one = what.length === 1;
      return `${what.join(", ")} changed while '${w.stage}' ran; the lock records ${n(!one, "it", "them")} as ${n(!one, "it was", "they were")} when the command started, so '${w.stage}' is stale ('pipe repro' runs it again)`;
    }
    default:
      return unreachable(w);
  }
}
