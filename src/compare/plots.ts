/**
 * Plots as DVC 3 defines them, and their data at each compared side (the workspace or a git revision).
 *
 * Definitions come from two places, as in DVC (`dvc/repo/plots/__init__.py`):
 * - stage outputs under `plots:`, with their props (`x`, `y`, `template`, `title`, `x_label`, `y_label`, `header`);
 *   the plot's id is the output's path, a directory output gives one plot per file in it;
 * - the top-level `plots:` list of each stages file: a bare path (a file, or a directory of images or data files), or
 *   a mapping `id: props`, where `y` (and `x`) may map data files to fields (`y: {a.csv: loss, b.csv: [acc, f1]}`);
 *   without such a mapping the id is the data file.
 * Top-level definitions are read from the stages files' text (already validated by the load): their values are
 * literal in practice, and an entry that holds `${...}` is skipped rather than guessed.
 *
 * Data is read per side through `Side.read`; a file a revision's tree does not hold (a cached plots output) is read
 * through the revision's lock and the cache, as metrics are (`metrics-cached.ts`). Paths are root-relative.
 */
import path from "node:path";
import { warning, type Diagnostic, type SourceLocation } from "../core/diagnostic.js";
import type { Pipeline } from "../core/model.js";
import { isPlotData, isPlotImage, parsePlotData, type PlotRecord } from "../formats/plot-data.js";
import { nodeLocation, parseYaml, toPlain } from "../formats/yaml.js";
import type { Side } from "../git/revision.js";

/** The props DVC reads on a plot (`PLOT_PROPS` and the top-level definition's keys). */
export interface PlotProps {
  x?: string;
  y?: string | string[];
  template?: string;
  title?: string;
  x_label?: string;
  y_label?: string;
  header?: boolean;
}

/** One data file of a plot and the fields it contributes. */
export interface PlotSource {
  /** Root-relative; may be a directory (its files are listed per side). */
  file: string;
  /** Y fields from this file; empty: the definition's `y`, else inferred (the last field of a record). */
  y: string[];
  /** This file's x field, when a top-level `x` maps files to fields. */
  x?: string;
}

export interface PlotDefinition {
  /** The id DVC shows: the output path (root-relative), or the top-level plot's id. */
  id: string;
  sources: PlotSource[];
  props: PlotProps;
  /** The stages file's directory (root-relative), against which a template path is resolved. */
  dir: string;
  loc?: SourceLocation;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const PROP_KEYS = ["x", "y", "template", "title", "x_label", "y_label", "header"] as const;

/** The props among a flags or definition mapping; non-string values of string props are ignored. */
function propsOf(m: Record<string, unknown>): PlotProps {
  const p: PlotProps = {};
  for (const k of PROP_KEYS) {
    const v = m[k];
    if (v === undefined || v === null) continue;
    if (k === "header") {
      if (typeof v === "boolean") p.header = v;
    } else if (k === "y" && Array.isArray(v)) p.y = v.map(String);
    else if (typeof v === "string" || typeof v === "number") p[k] = String(v);
  }
  return p;
}

function join(dir: string, rel: string): string {
  const p = path.posix.normalize(path.posix.join(dir, rel));
  return p === "." ? "" : p.replace(/\/$/, "");
}

/** Top-level plot definitions of one stages file (`file`, root-relative, with its text). */
export function topLevelPlots(file: string, text: string): PlotDefinition[] {
  const parsed = parseYaml(file, text);
  if (parsed.doc.errors.length > 0) return [];
  const plain = toPlain(parsed);
  if (!plain.ok || !isRecord(plain.value) || !Array.isArray(plain.value["plots"])) return [];
  const dir = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
  const seq = parsed.doc.getIn(["plots"], true) as { items?: unknown[] } | undefined;
  const out: PlotDefinition[] = [];
  plain.value["plots"].forEach((entry: unknown, i) => {
    const loc = seq?.items?.[i] !== undefined ? nodeLocation(parsed, seq.items[i]) : undefined;
    const withLoc = <T extends object>(d: T): T & { loc?: SourceLocation } => (loc ? { ...d, loc } : d);
    if (typeof entry === "string") {
      if (entry.includes("${")) return;
      const f = join(dir, entry);
      out.push(withLoc({ id: f, sources: [{ file: f, y: [] }], props: {}, dir }));
      return;
    }
    if (!isRecord(entry)) return;
    for (const [id, rawDef] of Object.entries(entry)) {
      if (id.includes("${") || JSON.stringify(rawDef ?? null).includes("${")) continue;
      const def = isRecord(rawDef) ? rawDef : {};
      const props = propsOf(def);
      const sources: PlotSource[] = [];
      const xMap = isRecord(def["x"]) ? def["x"] : undefined;
      const yMap = isRecord(def["y"]) ? def["y"] : undefined;
      if (yMap) {
        delete props.y;
        for (const [f, fields] of Object.entries(yMap)) {
          const ys = Array.isArray(fields) ? fields.map(String) : fields === null || fields === undefined ? [] : [String(fields)];
          const xf = xMap?.[f];
          sources.push({ file: join(dir, f), y: ys, ...(typeof xf === "string" ? { x: xf } : {}) });
        }
      }
      if (xMap) {
        delete props.x;
        // One x field for every file, as DVC requires when x maps a single file.
        const only = Object.values(xMap);
        if (only.length === 1 && typeof only[0] === "string") {
          for (const s of sources) s.x ??= only[0];
        }
      }
      if (sources.length === 0) sources.push({ file: join(dir, id), y: [] });
      out.push(withLoc({ id: yMap ? id : join(dir, id), sources, props, dir }));
    }
  });
  return out;
}

/** Every plot a pipeline defines: stage outputs under `plots:` first (in stage order), then top-level definitions. */
export function plotDefinitions(p: Pipeline): PlotDefinition[] {
  const out: PlotDefinition[] = [];
  for (const s of p.stages) {
    for (const o of s.outs) {
      if (o.kind !== "plots" || o.external) continue;
      out.push({ id: o.rootPath, sources: [{ file: o.rootPath, y: [] }], props: propsOf(o.flags), dir: s.dir, ...(o.loc ? { loc: o.loc } : {}) });
    }
  }
  for (const f of p.files) out.push(...topLevelPlots(f.file, f.text));
  return out;
}

/** The definitions that `targets` (root-relative paths or plot ids) select: a plot named, or one with a file at or under a target. */
export function selectPlots(defs: readonly PlotDefinition[], targets: readonly string[] | undefined): PlotDefinition[] {
  if (!targets || targets.length === 0) return [...defs];
  const under = (f: string, t: string): boolean => f === t || f.startsWith(t + "/") || t.startsWith(f + "/");
  return defs.filter((d) => targets.some((t) => d.id === t || d.sources.some((s) => under(s.file, t))));
}

/** One data file's records at one side. */
export interface SourceData {
  file: string;
  records: PlotRecord[];
  source: PlotSource;
}

/** An image at one side. */
export interface ImageData {
  file: string;
  mime: string;
  bytes: Buffer;
}

/** What one plot holds at one side. */
export interface PlotAtSide {
  side: string;
  data: SourceData[];
  images: ImageData[];
}

/** Reads files missing from a revision's tree through its lock and the cache (bytes, by root path). */
export type CachedPlotReader = (side: Side, files: readonly string[]) => Promise<Map<string, Buffer>>;

const MIME: Record<string, string> = { ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml", ".gif": "image/gif" };

function mimeOf(file: string): string {
  const ext = file.slice(file.lastIndexOf(".")).toLowerCase();
  return MIME[ext] ?? "application/octet-stream";
}

/**
 * The data of `defs` at one side. Problems (a file absent at this side, a file that does not parse) are warnings:
 * the other plots and sides are still drawn.
 */
export async function readPlotsAt(side: Side, defs: readonly PlotDefinition[], cached?: CachedPlotReader): Promise<{ plots: Map<string, PlotAtSide>; warnings: Diagnostic[] }> {
  const warnings: Diagnostic[] = [];
  // Expand directories: a source that is a directory at this side stands for the plot files under it.
  const wanted = [...new Set(defs.flatMap((d) => d.sources.map((s) => s.file)))];
  const first = await side.read(wanted);
  const blobs = new Map(first.ok ? first.value : []);
  const expanded = new Map<string, string[]>();
  const more: string[] = [];
  for (const f of wanted) {
    const b = blobs.get(f);
    if (b?.kind === "dir") {
      const listed = await side.listUnder(f);
      const files = listed.ok ? listed.value.filter((x) => isPlotData(x) || isPlotImage(x)) : [];
      expanded.set(f, files);
      more.push(...files);
    } else expanded.set(f, [f]);
  }
  if (more.length > 0) {
    const r = await side.read(more);
    if (r.ok) for (const [k, v] of r.value) blobs.set(k, v);
  }
  const missing = [...blobs].filter(([, b]) => b.kind === "missing").map(([f]) => f);
  if (cached && missing.length > 0 && side.kind === "commit") {
    for (const [f, bytes] of await cached(side, missing)) blobs.set(f, { kind: "file", text: bytes.toString("utf8"), bytes });
  }
  const plots = new Map<string, PlotAtSide>();
  const absent: string[] = [];
  for (const d of defs) {
    const at: PlotAtSide = { side: side.name, data: [], images: [] };
    for (const s of d.sources) {
      for (const f of expanded.get(s.file) ?? []) {
        const b = blobs.get(f);
        if (b?.kind !== "file") {
          if (side.kind !== "empty") absent.push(f);
          continue;
        }
        if (isPlotImage(f)) {
          at.images.push({ file: f, mime: mimeOf(f), bytes: b.bytes ?? Buffer.from(b.text, "utf8") });
          continue;
        }
        const r = parsePlotData(f, b.text, d.props.header === false ? { header: false } : {});
        if (!r.ok) {
          warnings.push(...r.errors.map((e) => warning("plots", `${e.message} at ${side.name}`, e.location)));
          continue;
        }
        at.data.push({ file: f, records: r.value, source: s });
      }
    }
    plots.set(d.id, at);
  }
  const uniq = [...new Set(absent)];
  if (uniq.length > 0) {
    const list = uniq.length > 5 ? `${uniq.slice(0, 5).join(", ")} and ${uniq.length - 5} more` : uniq.join(", ");
    warnings.push(warning("missing-file", `plot data not found at ${side.name}: ${list}`));
  }
  return { plots, warnings };
}
