/**
 * Diagnostics: the value every expected failure is carried in.
 *
 * A user mistake (bad YAML, an unknown key, an undefined `${var}`, a cycle) is never thrown: the module that finds it
 * returns a `Diagnostic` with a `reason` discriminant and, where one exists, the source location of the offending YAML
 * node. `renderDiagnostic` prints it the way compilers do: `file:line:col`, the source line, and a marker under the
 * node. Thrown exceptions are bugs and are reported once, in `cli/main.ts`.
 */

export type DiagnosticReason =
  | "yaml-syntax"
  | "schema"
  | "unknown-key"
  | "wrong-type"
  | "template"
  | "undefined-variable"
  | "vars-redefined"
  | "missing-file"
  | "foreach"
  | "cycle"
  | "duplicate-out"
  | "overlapping-outs"
  | "dep-is-own-out"
  | "out-outside-root"
  | "reserved-out"
  | "lock"
  | "usage"
  | "git"
  | "io"
  /** The machine refused: a full disk, a read-only mount, a permission, a path too long (`env-error.ts`). */
  | "environment"
  | "stage-failed"
  | "missing-dep"
  | "params"
  | "project"
  /** A plot's data file, template or definition that cannot be drawn. */
  | "plots"
  | "warning";

/** A 1-based position in a file; `file` is relative to the project root (or as the user wrote it). */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
  /** Length of the marker under the source line (defaults to 1). */
  length?: number;
}

export interface RelatedInfo {
  message: string;
  location?: SourceLocation;
}

export interface Diagnostic {
  severity: "error" | "warning";
  reason: DiagnosticReason;
  message: string;
  location?: SourceLocation;
  /** Extra lines printed after the source excerpt, e.g. `did you mean 'deps'?`. */
  hint?: string;
  /** Secondary locations (each edge of a cycle, the other stage of a duplicate out). */
  related?: RelatedInfo[];
}

export type Result<T> = { ok: true; value: T; warnings: Diagnostic[] } | { ok: false; errors: Diagnostic[]; warnings: Diagnostic[] };

export function ok<T>(value: T, warnings: Diagnostic[] = []): Result<T> {
  return { ok: true, value, warnings };
}

export function fail<T = never>(errors: Diagnostic[], warnings: Diagnostic[] = []): Result<T> {
  return { ok: false, errors, warnings };
}

export function error(reason: DiagnosticReason, message: string, location?: SourceLocation, extra?: Partial<Diagnostic>): Diagnostic {
  const d: Diagnostic = { severity: "error", reason, message, ...extra };
  if (location) d.location = location;
  return d;
}

export function warning(reason: DiagnosticReason, message: string, location?: SourceLocation, extra?: Partial<Diagnostic>): Diagnostic {
  const d: Diagnostic = { severity: "warning", reason, message, ...extra };
  if (location) d.location = location;
  return d;
}

/** Source text by file, so the renderer can quote the offending line. */
export type SourceTexts = ReadonlyMap<string, string>;

function excerpt(loc: SourceLocation, sources: SourceTexts | undefined): string[] {
  const text = sources?.get(loc.file);
  if (text === undefined) return [];
  const lines = text.split(/\r?\n/);
  const src = lines[loc.line - 1];
  if (src === undefined) return [];
  const gutter = String(loc.line).length;
  const pad = " ".repeat(gutter);
  // Tabs are shown as single spaces so the marker lines up whatever the terminal's tab width.
  const shown = src.replace(/\t/g, " ");
  const len = Math.max(1, Math.min(loc.length ?? 1, Math.max(1, shown.length - (loc.col - 1))));
  return [`${pad} |`, `${loc.line} | ${shown}`, `${pad} | ${" ".repeat(Math.max(0, loc.col - 1))}${"^".repeat(len)}`];
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

/**
 * Renders one diagnostic as plain text (no colour, no trailing newline):
 *
 *     pipe.yaml:4:5: error: unknown stage key 'dep'
 *       |
 *     4 |     dep:
 *       |     ^^^
 *       = did you mean 'deps'?
 */
export function renderDiagnostic(d: Diagnostic, sources?: SourceTexts): string {
  const head = d.location ? `${formatLocation(d.location)}: ${d.severity}: ${d.message}` : `${d.severity}: ${d.message}`;
  const out = [head];
  if (d.location) out.push(...excerpt(d.location, sources));
  for (const r of d.related ?? []) {
    out.push(r.location ? `  note: ${formatLocation(r.location)}: ${r.message}` : `  note: ${r.message}`);
  }
  if (d.hint) for (const h of d.hint.split("\n")) out.push(`  = ${h}`);
  return out.join("\n");
}

export function renderDiagnostics(ds: readonly Diagnostic[], sources?: SourceTexts): string {
  return ds.map((d) => renderDiagnostic(d, sources)).join("\n\n");
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The candidates closest to `name` (distance at most a third of its length, at least 2), nearest first. */
export function nearest(name: string, candidates: Iterable<string>, max = 3): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const scored: [string, number][] = [];
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d <= limit || c.startsWith(name) || name.startsWith(c)) scored.push([c, d]);
  }
  scored.sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return scored.slice(0, max).map((s) => s[0]);
}

export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  // The word itself is no suggestion ("unknown key 'foreach', did you mean 'foreach'?"): the caller must say why.
  const n = nearest(name, [...candidates].filter((c) => c !== name), 1)[0];
  return n === undefined ? undefined : `did you mean '${n}'?`;
}
