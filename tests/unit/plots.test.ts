/**
 * Plots in process: data files as DVC reads them, top-level plot definitions, DVC's template placeholders, and the
 * datapoints a plot draws across revisions.
 */
import { describe, expect, it } from "vitest";
import { parsePlotData, parseDelimited } from "../../src/formats/plot-data.js";
import { selectPlots, topLevelPlots, type PlotAtSide, type PlotDefinition } from "../../src/compare/plots.js";
import { escapeField, fillTemplate, TEMPLATES, templateText } from "../../src/report/plots/templates.js";
import { buildPlots, type VegaPlot } from "../../src/report/plots/build.js";

function records(file: string, text: string, opts: { header?: boolean } = {}): unknown {
  const r = parsePlotData(file, text, opts);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.value;
}

describe("plot data files", () => {
  it("reads CSV with quoted cells, CRLF and a BOM, keeping cells as strings", () => {
    expect(records("a.csv", '\ufeffx,name\r\n1,"a, ""b"""\r\n2,c\r\n')).toEqual([
      { x: "1", name: 'a, "b"' },
      { x: "2", name: "c" },
    ]);
  });
  it("reads TSV, and CSV without a header row when header is false", () => {
    expect(records("a.tsv", "x\ty\n1\t2\n")).toEqual([{ x: "1", y: "2" }]);
    expect(records("a.csv", "1,2\n3,4\n", { header: false })).toEqual([
      { "0": "1", "1": "2" },
      { "0": "3", "1": "4" },
    ]);
    expect(parseDelimited("a,b\n\n1,2", ",")).toEqual([
      ["a", "b"],
      ["1", "2"],
    ]);
  });
  it("reads JSON as a list of records, the first list below a mapping, or a mapping of columns", () => {
    expect(records("a.json", '[{"x": 1, "y": {"a": 2}}]')).toEqual([{ x: 1, "y.a": 2 }]);
    expect(records("a.json", '{"meta": 1, "train": [{"step": 0, "loss": 1.5}]}')).toEqual([{ step: 0, loss: 1.5 }]);
    expect(records("a.json", '{"epoch": [1, 2], "loss": [0.5, 0.25]}')).toEqual([
      { epoch: 1, loss: 0.5 },
      { epoch: 2, loss: 0.25 },
    ]);
  });
  it("reads YAML", () => {
    expect(records("a.yaml", "- {x: 1, y: 2}\n- {x: 2, y: 3}\n")).toEqual([
      { x: 1, y: 2 },
      { x: 2, y: 3 },
    ]);
  });
  it("says where a file does not parse or holds no records", () => {
    const bad = parsePlotData("p/a.json", "{oops");
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]!.message).toMatch(/'p\/a\.json' is not valid JSON/);
    const none = parsePlotData("a.json", '{"a": 1}');
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.errors[0]!.message).toMatch(/holds no list of records/);
    const yaml = parsePlotData("a.yaml", "a: [1\n");
    expect(yaml.ok).toBe(false);
    if (!yaml.ok) expect(yaml.errors[0]!.location?.file).toBe("a.yaml");
  });
});

describe("top-level plot definitions", () => {
  const text = [
    "plots:",
    "  - eval/importance.png",
    "  - ROC:",
    "      template: simple",
    "      x: fpr",
    "      y:",
    "        eval/train/roc.json: tpr",
    "        eval/test/roc.json: [tpr, tnr]",
    "  - logs/loss.csv:",
    "      x: step",
    "      y: loss",
    "      title: Loss",
    "  - Mixed x:",
    "      x: {a.csv: t, b.csv: u}",
    "      y: {a.csv: v, b.csv: w}",
    "",
  ].join("\n");
  const defs = topLevelPlots("sub/dvc.yaml", text);

  it("reads a bare path, an id mapping files to fields, and a file with props, paths from the stages file's directory", () => {
    expect(defs.map((d) => d.id)).toEqual(["sub/eval/importance.png", "ROC", "sub/logs/loss.csv", "Mixed x"]);
    expect(defs[1]!.sources).toEqual([
      { file: "sub/eval/train/roc.json", y: ["tpr"] },
      { file: "sub/eval/test/roc.json", y: ["tpr", "tnr"] },
    ]);
    expect(defs[1]!.props).toEqual({ template: "simple", x: "fpr" });
    expect(defs[2]!.props).toEqual({ x: "step", y: "loss", title: "Loss" });
    expect(defs[3]!.sources).toEqual([
      { file: "sub/a.csv", y: ["v"], x: "t" },
      { file: "sub/b.csv", y: ["w"], x: "u" },
    ]);
    expect(defs[1]!.loc).toMatchObject({ file: "sub/dvc.yaml", line: 3 });
  });
  it("selects plots by id, by file, and by a directory holding their files", () => {
    expect(selectPlots(defs, ["ROC"]).map((d) => d.id)).toEqual(["ROC"]);
    expect(selectPlots(defs, ["sub/eval/test/roc.json"]).map((d) => d.id)).toEqual(["ROC"]);
    expect(selectPlots(defs, ["sub/eval"]).map((d) => d.id)).toEqual(["sub/eval/importance.png", "ROC"]);
  });
});

describe("templates", () => {
  it("has DVC's eight templates, each with DVC's placeholders", () => {
    expect(Object.keys(TEMPLATES)).toEqual(["linear", "simple", "scatter", "smooth", "confusion", "confusion_normalized", "bar_horizontal", "bar_horizontal_sorted"]);
    for (const name of Object.keys(TEMPLATES)) {
      const t = templateText(name)!;
      for (const anchor of ["DATA", "X", "Y", "TITLE", "X_LABEL", "Y_LABEL"]) expect(t, `${name} ${anchor}`).toContain(`"<DVC_METRIC_${anchor}>"`);
    }
  });
  it("fills placeholders with JSON, escaping dots and brackets in field names", () => {
    const r = fillTemplate("linear", templateText("linear")!, { data: [{ "a.b": 1, y: 2, rev: "w" }], x: "a.b", y: "y", title: "T", xLabel: "a.b", yLabel: "y" });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const enc = r.value["encoding"] as Record<string, { field: string; title: string }>;
    expect(enc["x"]).toMatchObject({ field: "a\\.b", title: "a.b" });
    expect(r.value["title"]).toBe("T");
    expect((r.value["data"] as { values: unknown[] }).values).toEqual([{ "a.b": 1, y: 2, rev: "w" }]);
    expect(escapeField("m[0].x")).toBe("m\\[0\\]\\.x");
  });
  it("fills a template written for DVC, with DVC's newer placeholders too", () => {
    const custom = JSON.stringify({
      data: { values: "<DVC_METRIC_DATA>" },
      width: "<DVC_METRIC_PLOT_WIDTH>",
      mark: "bar",
      encoding: { x: { field: "<DVC_METRIC_X>" }, y: { field: "<DVC_METRIC_Y>" }, color: "<DVC_METRIC_COLOR>" },
    });
    const r = fillTemplate(".dvc/plots/mine.json", custom, { data: [], x: "a", y: "b", title: "", xLabel: "a", yLabel: "b" });
    expect(r.ok && r.value).toMatchObject({ width: 300, encoding: { x: { field: "a" }, color: { field: "rev" } } });
  });
  it("refuses a template without the data placeholder or with one it does not know", () => {
    const f = { data: [], x: "a", y: "b", title: "", xLabel: "", yLabel: "" };
    const a = fillTemplate("t", '{"mark": "line"}', f);
    expect(!a.ok && a.errors[0]!.message).toMatch(/does not use the "<DVC_METRIC_DATA>" placeholder/);
    const b = fillTemplate("t", '{"data": {"values": "<DVC_METRIC_DATA>"}, "x": "<DVC_METRIC_NOPE>"}', f);
    expect(!b.ok && b.errors[0]!.message).toMatch(/<DVC_METRIC_NOPE>/);
  });
});

describe("datapoints across revisions", () => {
  const def = (props: PlotDefinition["props"], sources: PlotDefinition["sources"] = [{ file: "loss.csv", y: [] }]): PlotDefinition => ({ id: "loss.csv", sources, props, dir: "" });
  const at = (side: string, records: Record<string, unknown>[], file = "loss.csv", d: PlotDefinition): PlotAtSide => ({ side, data: [{ file, records, source: d.sources[0]! }], images: [] });

  it("gives one series per revision, named by the revision, x defaulting to the record's index", () => {
    const d = def({ y: "loss" });
    const rows = [{ loss: "0.5" }, { loss: "0.25" }];
    const { plots, problems } = buildPlots("/nonexistent", [d], ["HEAD", "workspace"], [new Map([["loss.csv", at("HEAD", rows, "loss.csv", d)]]), new Map([["loss.csv", at("workspace", rows, "loss.csv", d)]])]);
    expect(problems).toEqual([]);
    const p = plots[0] as VegaPlot;
    expect(p.revisions).toEqual(["HEAD", "workspace"]);
    expect(p.points).toBe(4);
    const values = (p.spec["data"] as { values: Record<string, unknown>[] }).values;
    expect(values.map((v) => [v["rev"], v["step"]])).toEqual([
      ["HEAD", 0],
      ["HEAD", 1],
      ["workspace", 0],
      ["workspace", 1],
    ]);
    expect((p.spec["encoding"] as { x: { field: string } }).x.field).toBe("step");
  });
  it("puts several y fields on one axis as dvc_inferred_y_value, one series per field", () => {
    const d = def({ x: "epoch", y: ["loss", "acc"] });
    const { plots } = buildPlots("/nonexistent", [d], ["workspace"], [new Map([["loss.csv", at("workspace", [{ epoch: 1, loss: 2, acc: 3 }], "loss.csv", d)]])]);
    const values = ((plots[0] as VegaPlot).spec["data"] as { values: Record<string, unknown>[] }).values;
    expect(values.map((v) => [v["rev"], v["dvc_inferred_y_value"]])).toEqual([
      ["loss.csv::loss", 2],
      ["loss.csv::acc", 3],
    ]);
  });
  it("infers y as the last field, and names an unknown template or field as a problem", () => {
    const d = def({});
    const ok = buildPlots("/nonexistent", [d], ["w"], [new Map([["loss.csv", at("w", [{ a: 1, b: 2 }], "loss.csv", d)]])]);
    expect(((ok.plots[0] as VegaPlot).spec["encoding"] as { y: { field: string } }).y.field).toBe("b");
    const bad = buildPlots("/nonexistent", [def({ template: "nope" })], ["w"], [new Map([["loss.csv", at("w", [{ a: 1 }], "loss.csv", d)]])]);
    expect(bad.problems[0]!.message).toMatch(/template 'nope' not found/);
    const noField = buildPlots("/nonexistent", [def({ x: "zz" })], ["w"], [new Map([["loss.csv", at("w", [{ a: 1 }], "loss.csv", d)]])]);
    expect(noField.problems[0]!.message).toMatch(/field 'zz' does not exist/);
  });
});

describe("plots in a page", () => {
  it("keeps data that looks like markup inside its JSON block, and ids and labels escaped", async () => {
    const { plotsHtml } = await import("../../src/report/plots/page.js");
    const html = plotsHtml([{ kind: "vega", id: "a<b>.csv", revisions: ["<w>"], template: "linear", points: 1, spec: { data: { values: [{ x: "</script><script>alert(1)</script>" }] } } }]);
    expect(html).not.toContain("</script><script>alert");
    expect(html).toContain("\\u003c/script>");
    expect(html).toContain("<h3>a&lt;b&gt;.csv</h3>");
    expect(html).toContain("&lt;w&gt;");
  });
});
