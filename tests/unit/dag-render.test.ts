/**
 * Golden outputs of every `pipe dag` format for small pipelines (reviewed by eye), the JSON against its schema, and
 * the text drawing's grid mapping (box columns from dagre's coordinates, rows, spacing; edges read back).
 */
import Ajv from "ajv";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../src/graph/graph.js";
import type { StageGraph } from "../../src/core/model.js";
import { dagJson, renderDot, renderMermaid } from "../../src/report/dag/formats.js";
import { oneLine, stageJson } from "../../src/report/dag/stage-json.js";
import { boxColumns, firstRowCount, renderText, wrapLabel } from "../../src/report/dag/text.js";
import { buildView } from "../../src/report/dag/view.js";
import { REPO_ROOT } from "../helpers/project.js";
import { makePipeline, type StageSpec } from "../helpers/stages.js";
import { drawingProblems, gridProblems } from "./dag-trace.js";

function graphOf(specs: StageSpec[]): StageGraph {
  const r = buildGraph(makePipeline(specs).pipeline);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("\n"));
  return r.value;
}

/** DVC's example-get-started shape, a stage in another stages file, and a lone stage. */
const getStarted = graphOf([
  { name: "prepare", deps: ["data/data.xml"], outs: ["data/prepared"], desc: "Split the data" },
  { name: "featurize", deps: ["data/prepared"], outs: ["data/features"] },
  { name: "train", deps: ["data/features"], outs: ["model.pkl"] },
  { name: "evaluate", deps: ["model.pkl", "data/features"], metrics: ["eval/metrics.json"] },
  { name: "report", file: "docs/dvc.yaml", deps: ["../eval/metrics.json"], outs: ["report.md"] },
  { name: "lint" },
]);

/** A foreach fan-out and fan-in, and an edge skipping a level. */
const fan = graphOf([
  { name: "fetch", outs: ["src.txt"] },
  ...["alpha", "beta", "gamma"].map((k) => ({ name: `build@${k}`, group: "build", deps: ["src.txt"], outs: [`${k}.bin`] })),
  { name: "pack", deps: ["alpha.bin", "beta.bin", "gamma.bin"], outs: ["pack.tar"] },
  { name: "publish", deps: ["pack.tar", "src.txt"] },
]);

/** One source fanning out to 8 independent stages (not a group), all feeding one sink. */
const wide = graphOf([
  { name: "fetch", outs: ["src.txt"] },
  ...Array.from({ length: 8 }, (_, i) => ({ name: `model_variant_${i}`, deps: ["src.txt"], outs: [`m${i}.bin`] })),
  { name: "compare", deps: Array.from({ length: 8 }, (_, i) => `m${i}.bin`), outs: ["report.md"] },
]);

const TEXT_STALE = [
    "       +---------+        +------+",
    "       | prepare |        | lint |",
    "       +---------+        +------+",
    "            |",
    "            v",
    "      +-----------+",
    "      | featurize |",
    "      +-----------+",
    "            |",
    "            +-------+",
    "            v       |",
    "       +---------+  |",
    "       | train * |  |",
    "       +---------+  |",
    "            |       |",
    "            +---+---+",
    "                v",
    "     +------------+",
    "     | evaluate * |",
    "     +------------+",
    "            |",
    "            v",
    "+----------------------+",
    "| docs/dvc.yaml:report |",
    "+----------------------+",
    "",
    "* stale",
  ].join("\n") + "\n";

const DOT = [
    "digraph pipe {",
    "\tnode [shape=box];",
    "\t\"prepare\";",
    "\t\"featurize\";",
    "\t\"train\" [style=filled, fillcolor=\"#ffd7d7\", color=\"#c00000\"];",
    "\t\"evaluate\" [style=filled, fillcolor=\"#ffd7d7\", color=\"#c00000\"];",
    "\t\"docs/dvc.yaml:report\";",
    "\t\"lint\";",
    "\t\"prepare\" -> \"featurize\";",
    "\t\"featurize\" -> \"train\";",
    "\t\"featurize\" -> \"evaluate\";",
    "\t\"train\" -> \"evaluate\";",
    "\t\"evaluate\" -> \"docs/dvc.yaml:report\";",
    "}",
  ].join("\n") + "\n";

const MERMAID = [
    "flowchart TD",
    "\tn1[\"prepare\"]",
    "\tn2[\"featurize\"]",
    "\tn3[\"train\"]",
    "\tn4[\"evaluate\"]",
    "\tn5[\"docs/dvc.yaml:report\"]",
    "\tn6[\"lint\"]",
    "\tn1-->n2",
    "\tn2-->n3",
    "\tn2-->n4",
    "\tn3-->n4",
    "\tn4-->n5",
    "\tclassDef stale fill:#ffd7d7,stroke:#c00000",
    "\tclass n3,n4 stale",
  ].join("\n") + "\n";

const MD = [
    "```mermaid",
    "flowchart TD",
    "\tn1[\"prepare\"]",
    "\tn2[\"featurize\"]",
    "\tn3[\"train\"]",
    "\tn4[\"evaluate\"]",
    "\tn5[\"docs/dvc.yaml:report\"]",
    "\tn6[\"lint\"]",
    "\tn1-->n2",
    "\tn2-->n3",
    "\tn2-->n4",
    "\tn3-->n4",
    "\tn4-->n5",
    "```",
  ].join("\n") + "\n";

const TEXT_OUTS = [
    "  +---------------+",
    "  | data/prepared |",
    "  +---------------+",
    "          |",
    "          v",
    "  +---------------+",
    "  | data/features |",
    "  +---------------+",
    "          |",
    "          +--------+",
    "          v        |",
    "    +-----------+  |",
    "    | model.pkl |  |",
    "    +-----------+  |",
    "          |        |",
    "          +----+---+",
    "               v",
    "+-------------------+",
    "| eval/metrics.json |",
    "+-------------------+",
    "          |",
    "          v",
    "  +----------------+",
    "  | docs/report.md |",
    "  +----------------+",
  ].join("\n") + "\n";

const TEXT_FAN = [
    "                    +-------+",
    "                    | fetch |",
    "                    +-------+",
    "                        |",
    "             +----------+---------+---------------+",
    "             v          v         v               |",
    "+-------------+  +------------+  +-------------+  |",
    "| build@alpha |  | build@beta |  | build@gamma |  |",
    "+-------------+  +------------+  +-------------+  |",
    "       |                |               |         |",
    "       +----------------+---------------+         |",
    "                        v                         |",
    "                    +------+                      |",
    "                    | pack |                      |",
    "                    +------+                      |",
    "                        |                         |",
    "                        +---+---------------------+",
    "                            v",
    "                   +---------+",
    "                   | publish |",
    "                   +---------+",
  ].join("\n") + "\n";

/** Eight independent stages (not a group) between one source and one sink: rows, the lines on lanes. */
const TEXT_WIDE = [
    "                             +-------+",
    "                             | fetch |",
    "                             +-------+",
    "                                 |",
    "                    +------------+------------+-------------------+",
    "                    v            v            v                   |",
    "   +-----------------+  +-----------------+  +-----------------+  |",
    "   | model_variant_0 |  | model_variant_1 |  | model_variant_2 |  |",
    "   +-----------------+  +-----------------+  +-----------------+  |",
    "            |                    |                    |           |",
    "+-----------+--------------------+--------------------+           |",
    "|                   +--------------------+--------------------+---+",
    "|                   v                    v                    v   |",
    "|  +-----------------+  +-----------------+  +-----------------+  |",
    "|  | model_variant_3 |  | model_variant_4 |  | model_variant_5 |  |",
    "|  +-----------------+  +-----------------+  +-----------------+  |",
    "|           |                    |                    |           |",
    "+-----------+--------------------+--------------------+           |",
    "|                              +--------------------+-------------+",
    "|                              v                    v",
    "|             +-----------------+  +-----------------+",
    "|             | model_variant_6 |  | model_variant_7 |",
    "|             +-----------------+  +-----------------+",
    "|                      |                    |",
    "+----------------------+-----+--------------+",
    "                             v",
    "                            +---------+",
    "                            | compare |",
    "                            +---------+",
  ].join("\n") + "\n";

const TEXT_NARROW = [
    "+---------+",
    "| prepare |",
    "+---------+",
    "     |",
    "     v",
    "+-----------+",
    "| featurize |",
    "+-----------+",
    "      |",
    "      +-----+",
    "      v     |",
    " +-------+  |",
    " | train |  |",
    " +-------+  |",
    "     |      |",
    "     +---+--+",
    "         v",
    "+----------+",
    "| evaluate |",
    "+----------+",
    "      |",
    "      v",
    "+-----------+",
    "| docs/dvc. |",
    "| yaml:     |",
    "| report    |",
    "+-----------+",
    "",
    "+------+",
    "| lint |",
    "+------+",
    "",
    "(13 columns wide: no layout fits 10; nothing is left out)",
  ].join("\n") + "\n";

const stale = new Set(["train", "evaluate"]);

describe("text drawing", () => {
  it("boxes layered top to bottom, stale stages marked, a lone stage beside", () => {
    expect(renderText(buildView(getStarted, { stale }))).toBe(TEXT_STALE);
  });
  it("outputs instead of stages", () => {
    expect(renderText(buildView(getStarted, { outs: true }))).toBe(TEXT_OUTS);
  });
  it("fan-out and fan-in of a foreach group, siblings in definition order, a bus into one consumer", () => {
    expect(renderText(buildView(fan))).toBe(TEXT_FAN);
  });
  it("is the same bytes every time", () => {
    expect(renderText(buildView(fan))).toBe(renderText(buildView(fan)));
  });
  it("an empty pipeline draws nothing", () => {
    expect(renderText(buildView(graphOf([])))).toBe("");
  });
  it("wraps long labels at separators, and breaks only very long words (between small and capital letters if it can)", () => {
    expect(wrapLabel("experiments/baselines:baseline_ncnn@pncnn_exp", 16)).toEqual(["experiments/", "baselines:", "baseline_ncnn@", "pncnn_exp"]);
    expect(wrapLabel("short", 16)).toEqual(["short"]);
    expect(wrapLabel("GloVeVectorizer", 14)).toEqual(["GloVeVectorizer"]);
    expect(wrapLabel("a".repeat(30), 10)).toEqual(["a".repeat(10), "a".repeat(10), "a".repeat(10)]);
    expect(wrapLabel("prepare_data@SKCountVectorizer", 10)).toEqual(["prepare_", "data@", "SKCount", "Vectorizer"]);
  });
  it("a part whose stages all live in one stages file below the root is captioned with it", () => {
    const g = graphOf([
      { name: "a", file: "sub/dvc.yaml", outs: ["a.txt"] },
      { name: "b", file: "sub/dvc.yaml", deps: ["a.txt"] },
      { name: "c", file: "other/dvc.yaml" },
    ]);
    expect(renderText(buildView(g))).toBe(
      ["sub/dvc.yaml  +------------------+", "+---+         | other/dvc.yaml:c |", "| a |         +------------------+", "+---+", "  |", "  v", "+---+", "| b |", "+---+", ""].join("\n"),
    );
  });
  it("fits a wide fan-out into the width by wrapping labels", () => {
    const specs: StageSpec[] = [{ name: "source", outs: ["s"] }];
    for (const k of ["first_long_member_name", "second_long_member_name", "third_long_member_name"]) {
      specs.push({ name: `evaluate_model@${k}`, group: "evaluate_model", deps: ["s"], outs: [k] });
    }
    const text = renderText(buildView(graphOf(specs)));
    expect(Math.max(...text.split("\n").map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(text).toContain("| evaluate_model@ ");
  });
});

describe("dot and mermaid", () => {
  it("dot: nodes in execution order, edges producer -> consumer, stale nodes filled", () => {
    expect(renderDot(buildView(getStarted, { stale }))).toBe(DOT);
  });
  it("mermaid, with a stale class", () => {
    expect(renderMermaid(buildView(getStarted, { stale }))).toBe(MERMAID);
  });
  it("--md: mermaid in a markdown fence", () => {
    expect(renderMermaid(buildView(getStarted), true)).toBe(MD);
  });
  it("labels are quoted for each language", () => {
    const g = graphOf([{ name: 'say"hi"', outs: ["a"] }]);
    expect(renderDot(buildView(g))).toContain('"say\\"hi\\"";');
    expect(renderMermaid(buildView(g))).toContain('n1["say#quot;hi#quot;"]');
    // Angle brackets would be read as an HTML tag and dropped.
    const h = graphOf([{ name: "train@<b>", outs: ["a"] }]);
    expect(renderMermaid(buildView(h))).toContain('n1["train@#lt;b#gt;"]');
  });
});

describe("JSON", () => {
  const schema = (name: string): object => JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas", name), "utf8")) as object;
  const validateDag = new Ajv({ allErrors: true }).compile(schema("dag.schema.json"));
  const validateList = new Ajv({ allErrors: true }).compile(schema("stage-list.schema.json"));

  it("nodes carry the stage fields, desc and meta; edges are producer -> consumer", () => {
    const j = dagJson(getStarted, buildView(getStarted, { targets: ["featurize"] }));
    expect(j.edges).toEqual([{ from: "prepare", to: "featurize" }]);
    expect(j.nodes[0]).toEqual({
      id: "prepare",
      kind: "stage",
      label: "prepare",
      stage: {
        address: "prepare",
        name: "prepare",
        file: "pipe.yaml",
        wdir: ".",
        cmd: "run prepare",
        deps: ["data/data.xml"],
        outs: ["data/prepared"],
        metrics: [],
        plots: [],
        params: {},
        frozen: false,
        always_changed: false,
        desc: "Split the data",
        meta: null,
      },
    });
    expect(validateDag(j), JSON.stringify(validateDag.errors)).toBe(true);
  });
  it("groups, outputs and stale marks validate too", () => {
    const specs: StageSpec[] = [{ name: "src", outs: ["s"] }];
    for (let i = 0; i < 9; i++) specs.push({ name: `m@${i}`, group: "m", deps: ["s"], outs: [`o${i}`], flags: { [`o${i}`]: { cache: false, desc: "x" } } });
    const g = graphOf(specs);
    for (const v of [buildView(g, { stale: new Set(["m@1"]) }), buildView(g, { outs: true }), buildView(g, { outs: true, expand: true })]) {
      const j = dagJson(g, v);
      expect(validateDag(j), JSON.stringify(validateDag.errors)).toBe(true);
    }
    const groups = dagJson(g, buildView(g, { stale: new Set(["m@1"]) }));
    expect(groups.nodes[1]).toMatchObject({ kind: "group", label: "m@{9}", stale: true, members: Array.from({ length: 9 }, (_, i) => `m@${i}`) });
    const outs = dagJson(g, buildView(g, { outs: true, expand: true }));
    expect(outs.nodes[1]).toEqual({ id: "out:o0", kind: "out", label: "o0", stage: "m@0", path: "o0", type: "outs", cache: false, persist: false, flags: { desc: "x" } });
  });
  it("one-line descriptions as dvc stage list writes them", () => {
    const g = graphOf([
      { name: "a", desc: "\n  First line.  \nSecond.", outs: ["x"] },
      { name: "b", outs: ["o1", "o2"], metrics: ["m.json"], plots: ["p.csv"] },
      { name: "c", metrics: ["only.json"] },
      { name: "d", deps: ["x", "y"] },
      { name: "e" },
      { name: "f", desc: "w".repeat(100) },
    ]);
    expect(g.order.map((a) => oneLine(g.stages.get(a)!))).toEqual([
      "First line.",
      "Outputs o1, o2; Reports m.json, p.csv",
      "Reports only.json",
      "Depends on x, y",
      "No outputs or dependencies",
      `${"w".repeat(79)}…`,
    ]);
  });
  it("stage list objects validate against their schema", () => {
    const g = graphOf([
      { name: "a", file: "sub/pipe.yaml", wdir: "..", cmd: ["one", "two"], deps: ["x"], outs: ["y"], metrics: ["m.json"], plots: ["p.csv"], params: { "params.yaml": ["lr"], "cfg.toml": null }, frozen: true },
    ]);
    const list = g.order.map((a) => stageJson(g.stages.get(a)!));
    expect(list[0]).toMatchObject({ address: "sub/pipe.yaml:a", file: "sub/pipe.yaml", wdir: ".", cmd: ["one", "two"], params: { "params.yaml": ["lr"], "cfg.toml": null }, frozen: true, desc: null });
    expect(validateList(list), JSON.stringify(validateList.errors)).toBe(true);
  });
});

describe("text drawing of a part too wide for one row", () => {
  it("wraps the layer into even rows, the long edges on lanes beside them", () => {
    expect(renderText(buildView(wide))).toBe(TEXT_WIDE);
  });

  it("keeps the layer in one row when the terminal is wide enough", () => {
    const text = renderText(buildView(wide), { width: 200 });
    const row = text.split("\n").find((l) => l.includes("| model_variant_0 |"))!;
    for (let i = 1; i < 8; i++) expect(row).toContain(`| model_variant_${i} |`);
    expect(Math.max(...text.split("\n").map((l) => l.length))).toBeLessThanOrEqual(200);
  });

  it("draws what no layout fits anyway, and says so", () => {
    expect(renderText(buildView(getStarted), { width: 10 })).toBe(TEXT_NARROW);
  });
});

describe("grid mapping", () => {
  it("a box's columns: its left side rounded, so boxes dagre keeps two apart are two columns apart", () => {
    expect(boxColumns(10, 5)).toEqual({ left: 8, center: 10, right: 12 });
    expect(boxColumns(10.5, 6)).toEqual({ left: 8, center: 11, right: 13 });
    for (const x of [0, 0.5, 3, 7.5]) {
      for (let wa = 3; wa <= 9; wa++) {
        for (let wb = 3; wb <= 9; wb++) {
          const a = boxColumns(x, wa);
          const b = boxColumns(x + wa / 2 + 2 + wb / 2, wb);
          expect(b.left - a.right - 1, `${x} ${wa} ${wb}`).toBe(2);
          expect(a.right - a.left + 1).toBe(wa);
        }
      }
    }
  });

  it("rows are made even", () => {
    expect(firstRowCount([10, 10, 10, 10, 10], 38)).toBe(3);
    expect(firstRowCount([10, 10, 10, 10], 38)).toBe(2);
    expect(firstRowCount([30, 30], 20)).toBe(1);
    expect(firstRowCount([5, 5, 5], 80)).toBe(3);
  });

  it("boxes of a row are two blank columns apart, lines one clear of boxes; every edge reads back", () => {
    const fanOut = graphOf([
      { name: "organise", outs: ["d"] },
      ...Array.from({ length: 40 }, (_, i) => ({ name: `features-${["in", "pc"][i % 2]!}-L${i}-diagram`, deps: ["d"], outs: [`f${i}`] })),
      { name: "train-all", deps: Array.from({ length: 20 }, (_, i) => `f${2 * i}`), outs: ["m1"] },
      { name: "train-alt", deps: Array.from({ length: 20 }, (_, i) => `f${2 * i + 1}`), outs: ["m2"] },
      { name: "report", deps: ["m1", "m2", "d"] },
    ]);
    for (const view of [buildView(getStarted, { stale }), buildView(getStarted, { outs: true }), buildView(fan), buildView(wide), buildView(fanOut)]) {
      const text = renderText(view);
      expect(gridProblems(text), text).toEqual([]);
      expect(drawingProblems(text, view), text).toEqual([]);
      expect(Math.max(...text.split("\n").map((l) => l.length))).toBeLessThanOrEqual(80);
    }
  });
});
