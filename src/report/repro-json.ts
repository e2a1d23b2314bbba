/**
 * The machine reporter of `repro` (`pipe repro --json`): every event as one JSON object on its own line of stdout
 * (NDJSON), for CI and editors, as described by `schemas/repro-events.schema.json`. The stage's own output comes as
 * `stage-output` events (stdout and stderr alike), so stdout stays one object per line; there is no status line.
 *
 * Events go out as the engine emits them, with two changes: reasons take `status --json`'s form (paths relative to
 * the project root, params values as JSON), and a warning carries `message`, the text reporter's words for it, beside
 * its facts, so a consumer can show it without knowing every kind.
 */
import type { Diagnostic } from "../core/diagnostic.js";
import { stringifyJson } from "../params/format.js";
import { jsonReason } from "./status.js";
import { unreachable } from "../core/unreachable.js";
import type { ReproEvent, ReproWarning, RunReason } from "../exec/events.js";
import { AT_ROOT } from "../project/where.js";
import { failureText, type Reporter } from "./repro-text.js";
import { warningText } from "./repro-warnings.js";

function jsonRunReason(r: RunReason): unknown {
  switch (r.kind) {
    case "forced":
    case "upstream-will-run":
      return r;
    default:
      return jsonReason(r);
  }
}

/** What a consumer needs of a diagnostic: not the `related` notes of the text report's source excerpts. */
function jsonDiagnostic(d: Diagnostic): unknown {
  const l = d.location;
  return {
    severity: d.severity,
    reason: d.reason,
    message: d.message,
    ...(l ? { location: { file: l.file, line: l.line, col: l.col } } : {}),
    ...(d.hint !== undefined ? { hint: d.hint } : {}),
  };
}

function jsonWarning(w: ReproWarning): unknown {
  switch (w.kind) {
    case "diagnostics":
    case "run-cache-not-updated":
      return { ...w, diagnostics: w.diagnostics.map(jsonDiagnostic) };
    case "external-not-checked":
    case "frozen-outputs-lost":
    case "corrupt-object-removed":
    case "corrupt-object-kept":
    case "unsaved-content-saved":
    case "leftover-deleted":
    case "output-saved-before-run":
    case "cache-objects-repaired":
    case "inputs-changed-during-run":
      return w;
    default:
      return unreachable(w);
  }
}

/**
 * One event as its JSON document (before `stringifyJson`: params values may be bigints); `undefined` for an event
 * that NDJSON leaves out: an unfinished line of output, which follows as a whole `stage-output` line.
 */
export function jsonEvent(e: ReproEvent): unknown {
  switch (e.type) {
    case "stage-output-partial":
      return undefined;
    case "stage-start":
    case "stage-would-run":
      return { ...e, reasons: e.reasons.map(jsonRunReason) };
    case "stage-failed":
      // `message`: the text report's words, from the root (facts first, as the engine emits them).
      if (!("diagnostics" in e)) return { ...e, message: failureText(e, AT_ROOT) };
      return { ...e, diagnostics: e.diagnostics.map(jsonDiagnostic), message: failureText(e, AT_ROOT) };
    case "warning":
      return { type: e.type, kind: e.warning.kind, message: warningText(e.warning), ...(jsonWarning(e.warning) as object) };
    case "stage-finished":
    case "run-summary":
      // Whole milliseconds: the fraction is clock noise.
      return { ...e, durationMs: Math.round(e.durationMs) };
    case "plan":
    case "stage-command":
    case "stage-job":
    case "stage-output":
    case "stage-restored":
    case "stage-skipped":
    case "stage-not-run":
    case "stage-would-restore":
    case "progress":
    case "hash-progress":
    case "interrupted":
      return e;
    default:
      return unreachable(e);
  }
}

export function createReproJsonReporter(o: { out(text: string): void }): Reporter {
  return {
    handle(e: ReproEvent): void {
      const doc = jsonEvent(e);
      if (doc !== undefined) o.out(stringifyJson(doc, 0) + "\n");
    },
    close(): void {},
  };
}
