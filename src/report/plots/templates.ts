/**
 * DVC's plot templates, as Vega-Lite specs with DVC's placeholders, and the filling of a template (built in or a
 * project's own) with a plot's data and props.
 *
 * A template is JSON text in which placeholders stand as JSON strings: `"<DVC_METRIC_DATA>"`, `"<DVC_METRIC_X>"`,
 * `"<DVC_METRIC_Y>"`, `"<DVC_METRIC_TITLE>"`, `"<DVC_METRIC_X_LABEL>"`, `"<DVC_METRIC_Y_LABEL>"`, and those of newer
 * DVC templates (`<DVC_METRIC_COLOR>`, `<DVC_METRIC_PLOT_WIDTH>`, `<DVC_METRIC_GROUP_BY>`, ...). Filling replaces each
 * quoted placeholder by the JSON of its value, as dvc-render does, so a template written for DVC (in `.dvc/plots/`)
 * works unchanged. Every datapoint carries `rev`, the series it belongs to: the templates colour, group and facet by
 * it, which is how several revisions overlay on one plot.
 */
import { error, fail, ok, type Result } from "../../core/diagnostic.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const X = "<DVC_METRIC_X>";
const Y = "<DVC_METRIC_Y>";
const BASE = { $schema: SCHEMA, data: { values: "<DVC_METRIC_DATA>" }, title: "<DVC_METRIC_TITLE>", width: 300, height: 300 };
const xQ = { field: X, type: "quantitative", title: "<DVC_METRIC_X_LABEL>" };
const yQ = { field: Y, type: "quantitative", title: "<DVC_METRIC_Y_LABEL>", scale: { zero: false } };
const color = { field: "rev", type: "nominal", title: null };

function confusion(normalized: boolean): unknown {
  const value = normalized ? "percent_of_y" : "xy_count";
  return {
    $schema: SCHEMA,
    data: { values: "<DVC_METRIC_DATA>" },
    title: "<DVC_METRIC_TITLE>",
    facet: { field: "rev", type: "nominal", title: null },
    spec: {
      transform: [
        { aggregate: [{ op: "count", as: "xy_count" }], groupby: ["rev", Y, X] },
        { impute: "xy_count", groupby: ["rev", Y], key: X, value: 0 },
        { impute: "xy_count", groupby: ["rev", X], key: Y, value: 0 },
        normalized
          ? { joinaggregate: [{ op: "sum", field: "xy_count", as: "sum_y" }], groupby: ["rev", Y] }
          : { joinaggregate: [{ op: "max", field: "xy_count", as: "max_count" }], groupby: [] },
        normalized ? { calculate: "datum.xy_count / datum.sum_y", as: "percent_of_y" } : { calculate: "datum.xy_count / datum.max_count", as: "percent_of_max" },
      ],
      width: 300,
      height: 300,
      encoding: {
        x: { field: X, type: "nominal", sort: "ascending", title: "<DVC_METRIC_X_LABEL>" },
        y: { field: Y, type: "nominal", sort: "ascending", title: "<DVC_METRIC_Y_LABEL>" },
      },
      layer: [
        {
          mark: { type: "rect", tooltip: true },
          encoding: { color: { field: value, type: "quantitative", title: "", scale: normalized ? { domain: [0, 1] } : { domainMin: 0, nice: true } } },
        },
        {
          mark: "text",
          encoding: {
            text: { field: value, type: "quantitative", ...(normalized ? { format: ".2f" } : {}) },
            color: { condition: { test: `datum.${normalized ? "percent_of_y" : "percent_of_max"} > 0.5`, value: "white" }, value: "black" },
          },
        },
      ],
    },
  };
}

function bar(sorted: boolean): unknown {
  return {
    ...BASE,
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: { field: X, type: "quantitative", title: "<DVC_METRIC_X_LABEL>", scale: { zero: false } },
      y: { field: Y, type: "nominal", title: "<DVC_METRIC_Y_LABEL>", ...(sorted ? { sort: "-x" } : {}) },
      yOffset: { field: "rev" },
      color,
    },
  };
}

/** The built-in templates by name, in DVC's order. */
export const TEMPLATES: Readonly<Record<string, unknown>> = {
  linear: {
    ...BASE,
    params: [{ name: "grid", select: "interval", bind: "scales" }],
    mark: { type: "line", tooltip: true },
    encoding: { x: xQ, y: yQ, color },
  },
  simple: { ...BASE, mark: "line", encoding: { x: xQ, y: yQ, color } },
  scatter: { ...BASE, mark: { type: "point", tooltip: true }, encoding: { x: xQ, y: yQ, color } },
  smooth: {
    ...BASE,
    // The slider sets the loess bandwidth: Vega's loess takes a signal there, which Vega-Lite passes through.
    params: [{ name: "smooth", value: 0.3, bind: { input: "range", min: 0.01, max: 1, step: 0.01 } }],
    encoding: { x: xQ, y: yQ, color },
    layer: [
      { mark: { type: "line", opacity: 0.2 } },
      { transform: [{ loess: Y, on: X, groupby: ["rev"], bandwidth: { signal: "smooth" } }], mark: "line" },
    ],
  },
  confusion: confusion(false),
  confusion_normalized: confusion(true),
  bar_horizontal: bar(false),
  bar_horizontal_sorted: bar(true),
};

export const DEFAULT_TEMPLATE = "linear";

/** The text of a built-in template as `pipe plots templates` writes it (4-space JSON, as DVC writes its own). */
export function templateText(name: string): string | undefined {
  const t = TEMPLATES[name];
  return t === undefined ? undefined : JSON.stringify(t, null, 4) + "\n";
}

/** What fills a template. */
export interface Fill {
  data: readonly Record<string, unknown>[];
  x: string;
  y: string;
  title: string;
  xLabel: string;
  yLabel: string;
}

/** A field name as Vega-Lite reads it literally: `.`, `[` and `]` escaped (dvc-render does the same). */
export function escapeField(name: string): string {
  return name.replace(/[.[\]]/g, (c) => `\\${c}`);
}

/**
 * The spec a template's text gives for `fill`; `name` names the template in errors. A template without the data
 * placeholder, one that is not JSON once filled, or one using a placeholder this version does not know is an error.
 */
export function fillTemplate(name: string, text: string, fill: Fill): Result<Record<string, unknown>> {
  if (!text.includes('"<DVC_METRIC_DATA>"')) return fail([error("plots", `template '${name}' does not use the "<DVC_METRIC_DATA>" placeholder`)]);
  const x = escapeField(fill.x);
  const y = escapeField(fill.y);
  const values: Record<string, unknown> = {
    TITLE: fill.title,
    X: x,
    Y: y,
    X_LABEL: fill.xLabel,
    Y_LABEL: fill.yLabel,
    COLOR: color,
    STROKE_DASH: {},
    SHAPE: {},
    PLOT_WIDTH: 300,
    PLOT_HEIGHT: 300,
    ZOOM_AND_PAN: { name: "grid", select: "interval", bind: "scales" },
    GROUP_BY: ["rev"],
    GROUP_BY_X: ["rev", x],
    GROUP_BY_Y: ["rev", y],
    PIVOT_FIELD: "datum.rev",
  };
  let out = text;
  for (const [k, v] of Object.entries(values)) out = out.split(`"<DVC_METRIC_${k}>"`).join(JSON.stringify(v));
  const unknown = /"<DVC_METRIC_([A-Z_]+)>"/.exec(out.replace('"<DVC_METRIC_DATA>"', ""));
  if (unknown) return fail([error("plots", `template '${name}' uses the placeholder <DVC_METRIC_${unknown[1]!}>, which pipe does not fill`)]);
  out = out.split('"<DVC_METRIC_DATA>"').join(JSON.stringify(fill.data));
  try {
    const spec = JSON.parse(out) as unknown;
    if (spec === null || typeof spec !== "object" || Array.isArray(spec)) return fail([error("plots", `template '${name}' is not a JSON object`)]);
    return ok(spec as Record<string, unknown>);
  } catch (e) {
    return fail([error("plots", `template '${name}' is not valid JSON once filled: ${e instanceof Error ? e.message : String(e)}`)]);
  }
}
