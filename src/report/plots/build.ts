/**
 * From plot definitions and their data at each side to what a page draws: one filled Vega-Lite spec per data plot
 * (every side's series overlaid), one gallery per image. The datapoints are DVC's: each record of a data file, plus
 * `rev` (the series: the side's name, and the file and field when a plot has several), `step` (the record's index,
 * the x when none is given), `filename`, `field`, and `dvc_inferred_y_value` when several y fields share one axis.
 *
 * Templates are found as DVC finds them: a path to a JSON file (relative to the stages file's directory, then to the
 * root), else `NAME.json` in `.pipe/plots/` then `.dvc/plots/`, else the built-in template of that name.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { error, type Diagnostic } from "../../core/diagnostic.js";
import type { PlotAtSide, PlotDefinition, SourceData } from "../../compare/plots.js";
import { DEFAULT_TEMPLATE, fillTemplate, templateText } from "./templates.js";

export interface VegaPlot {
  kind: "vega";
  id: string;
  /** Sides holding data for it, in the order asked. */
  revisions: string[];
  /** The template's name (or path) as the definition gives it. */
  template: string;
  spec: Record<string, unknown>;
  /** Datapoints drawn (over every side). */
  points: number;
}

export interface ImagePlot {
  kind: "image";
  id: string;
  revisions: string[];
  images: { rev: string; src: string }[];
}

export type BuiltPlot = VegaPlot | ImagePlot;

/** The template text for `name`, or undefined when no file nor built-in has that name. */
export function findTemplate(root: string, dir: string, name: string): { text: string; from: string } | undefined {
  const tryRead = (abs: string): string | undefined => {
    try {
      return readFileSync(abs, "utf8");
    } catch {
      return undefined;
    }
  };
  if (name.endsWith(".json") || name.includes("/")) {
    for (const base of [path.join(root, dir), root]) {
      const t = tryRead(path.resolve(base, name));
      if (t !== undefined) return { text: t, from: path.relative(root, path.resolve(base, name)).split(path.sep).join("/") };
    }
  }
  for (const d of [".pipe/plots", ".dvc/plots"]) {
    const file = name.endsWith(".json") ? name : `${name}.json`;
    const t = tryRead(path.join(root, d, file));
    if (t !== undefined) return { text: t, from: `${d}/${file}` };
  }
  const builtIn = templateText(name);
  return builtIn === undefined ? undefined : { text: builtIn, from: "built-in" };
}

/** The y fields of one data file: as defined, else DVC's inference (the last field of the first record). */
function yFields(d: SourceData, def: PlotDefinition): string[] {
  if (d.source.y.length > 0) return d.source.y;
  const y = def.props.y;
  if (Array.isArray(y) && y.length > 0) return y;
  if (typeof y === "string") return [y];
  const keys = Object.keys(d.records[0] ?? {});
  return keys.length > 0 ? [keys[keys.length - 1]!] : [];
}

interface Group {
  id: string;
  def: PlotDefinition;
  /** side -> data files */
  data: Map<string, SourceData[]>;
}

/** Data files of a plot that came from a directory are plots of their own (as in DVC), named by their path. */
function groupsOf(def: PlotDefinition, sides: readonly PlotAtSide[]): Group[] {
  const groups = new Map<string, Group>();
  for (const at of sides) {
    for (const d of at.data) {
      const id = d.file !== d.source.file && def.sources.length === 1 ? d.file : def.id;
      const g = groups.get(id) ?? { id, def, data: new Map<string, SourceData[]>() };
      g.data.set(at.side, [...(g.data.get(at.side) ?? []), d]);
      groups.set(id, g);
    }
  }
  return [...groups.values()];
}

function vegaPlot(root: string, g: Group, sideNames: readonly string[], problems: Diagnostic[]): VegaPlot | undefined {
  const def = g.def;
  const revisions = sideNames.filter((s) => g.data.has(s));
  // Series: (side, file, field); several per side -> each is named by file and field too.
  const perSide = Math.max(...revisions.map((s) => (g.data.get(s) ?? []).reduce((n, d) => n + yFields(d, def).length, 0)));
  const several = perSide > 1;
  // Several files each with their own x field: one x axis reads the value each file names.
  const xs = new Set<string>();
  for (const side of revisions) for (const d of g.data.get(side) ?? []) xs.add(d.source.x ?? def.props.x ?? "step");
  const x = xs.size > 1 ? "dvc_inferred_x_value" : ([...xs][0] ?? "step");
  const rows: Record<string, unknown>[] = [];
  let yName = "";
  for (const side of revisions) {
    for (const d of g.data.get(side) ?? []) {
      const fileX = d.source.x ?? def.props.x ?? "step";
      for (const field of yFields(d, def)) {
        yName = field;
        const series = several ? [revisions.length > 1 ? side : undefined, d.file, field].filter((p) => p !== undefined).join("::") : side;
        d.records.forEach((r, i) => {
          const row: Record<string, unknown> = { step: i, ...r, rev: series, filename: d.file, field };
          if (several) row["dvc_inferred_y_value"] = r[field];
          if (xs.size > 1) row["dvc_inferred_x_value"] = row[fileX];
          rows.push(row);
        });
      }
    }
  }
  const y = several ? "dvc_inferred_y_value" : yName;
  const templateName = def.props.template ?? DEFAULT_TEMPLATE;
  const t = findTemplate(root, def.dir, templateName);
  if (!t) {
    problems.push(error("plots", `plot '${g.id}': template '${templateName}' not found (a JSON file, .pipe/plots/${templateName}.json, .dvc/plots/${templateName}.json, or a built-in name)`, def.loc));
    return undefined;
  }
  for (const f of [def.props.x, ...(several ? [] : [y])]) {
    if (f !== undefined && f !== "step" && !rows.some((r) => r[f] !== undefined)) {
      problems.push(error("plots", `plot '${g.id}': field '${f}' does not exist in its data`, def.loc));
      return undefined;
    }
  }
  const filled = fillTemplate(t.from === "built-in" ? templateName : t.from, t.text, {
    data: rows,
    x,
    y,
    title: def.props.title ?? "",
    xLabel: def.props.x_label ?? (xs.size > 1 ? "x" : x),
    yLabel: def.props.y_label ?? (several ? "y" : y),
  });
  if (!filled.ok) {
    problems.push(...filled.errors.map((e) => ({ ...e, message: `plot '${g.id}': ${e.message}`, ...(def.loc ? { location: def.loc } : {}) })));
    return undefined;
  }
  return { kind: "vega", id: g.id, revisions, template: templateName, spec: filled.value, points: rows.length };
}

/**
 * Every plot of `defs` at `sides` (their data keyed by plot id, one map per side, in the order of `sideNames`).
 * Problems (an unknown template, a field absent from the data) leave that plot out and are returned.
 */
export function buildPlots(root: string, defs: readonly PlotDefinition[], sideNames: readonly string[], atSides: readonly ReadonlyMap<string, PlotAtSide>[]): { plots: BuiltPlot[]; problems: Diagnostic[] } {
  const plots: BuiltPlot[] = [];
  const problems: Diagnostic[] = [];
  for (const def of defs) {
    const sides = atSides.map((m) => m.get(def.id)).filter((x): x is PlotAtSide => x !== undefined);
    for (const g of groupsOf(def, sides)) {
      const p = vegaPlot(root, g, sideNames, problems);
      if (p) plots.push(p);
    }
    const images = new Map<string, ImagePlot>();
    for (const at of sides) {
      for (const img of at.images) {
        const p = images.get(img.file) ?? { kind: "image" as const, id: img.file, revisions: [], images: [] };
        p.revisions.push(at.side);
        p.images.push({ rev: at.side, src: `data:${img.mime};base64,${img.bytes.toString("base64")}` });
        images.set(img.file, p);
      }
    }
    plots.push(...images.values());
  }
  return { plots, problems };
}
