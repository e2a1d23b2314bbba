/**
 * `pipe plots show/diff/templates` and `pipe report` end to end, without a browser (the browser checks are in
 * `plots-browser.test.ts`): definitions, data read from the workspace, git and the cache, templates found as DVC
 * finds them, experiments by name, the pages' self-containment.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { git, gitCommitAll, gitInit, makeProject, read, REPO_ROOT, runPipe, runPipeIn, writeFiles } from "../helpers/project.js";

const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas", "plots.schema.json"), "utf8")) as object;
const validate = new Ajv({ strict: false }).compile(schema);

interface PlotJson {
  id: string;
  type: string;
  revisions: string[];
  datapoints?: number;
  template?: string;
  content?: { data: { values: Record<string, unknown>[] }; mark?: unknown; encoding?: Record<string, { field?: string }> };
  images?: { revision: string; url: string }[];
}

function plotsOf(stdout: string): PlotJson[] {
  const doc = JSON.parse(stdout) as { plots: PlotJson[] };
  expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
  return doc.plots;
}

// A 1x1 PNG.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");

function project(): string {
  const dir = makeProject({
    "pipe.yaml": [
      "stages:",
      "  train:",
      "    cmd: printf 'epoch,loss\\n1,0.9\\n2,0.5\\n' > loss.csv",
      "    plots:",
      "      - loss.csv:",
      "          x: epoch",
      "          y: loss",
      "plots:",
      "  - ROC:",
      "      x: fpr",
      "      y:",
      "        eval/a.json: tpr",
      "        eval/b.json: tpr",
      "  - points.csv:",
      "      template: scatter",
      "      x: a",
      "      y: b",
      "  - custom.tsv:",
      "      template: mine",
      "  - img",
      "",
    ].join("\n"),
    "eval/a.json": JSON.stringify({ roc: [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }] }),
    "eval/b.json": JSON.stringify([{ fpr: 0, tpr: 0.5 }, { fpr: 0.5, tpr: 0.75 }, { fpr: 1, tpr: 1 }]),
    "points.csv": "a,b\n1,2\n2,3\n3,5\n4,1\n5,4\n",
    "custom.tsv": "k\tv\nx\t1\ny\t2\n",
    ".dvc/plots/mine.json": JSON.stringify({ data: { values: "<DVC_METRIC_DATA>" }, mark: "bar", encoding: { x: { field: "<DVC_METRIC_X>" }, y: { field: "<DVC_METRIC_Y>", type: "quantitative" } } }),
  });
  writeFileSync(path.join(dir, "img.png"), PNG);
  writeFiles(dir, {});
  return dir;
}

describe("pipe plots show", () => {
  it("--json gives every plot's filled spec, as the schema describes it", async () => {
    const dir = project();
    // The plot under a directory: its files are plots of their own.
    writeFiles(dir, { "img/.keep": "" });
    writeFileSync(path.join(dir, "img", "a.png"), PNG);
    runPipe(dir, ["repro"]);
    const r = await runPipeIn(dir, ["plots", "show", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const plots = plotsOf(r.stdout);
    expect(plots.map((p) => p.id)).toEqual(["loss.csv", "ROC", "points.csv", "custom.tsv", "img/a.png"]);
    const [loss, roc, points, custom, img] = plots as [PlotJson, PlotJson, PlotJson, PlotJson, PlotJson];
    expect(loss.datapoints).toBe(2);
    expect(loss.content!.encoding!["x"]!.field).toBe("epoch");
    // Two files on one y axis: one series per file, DVC's inferred y field.
    expect(roc.datapoints).toBe(5);
    expect(new Set(roc.content!.data.values.map((v) => v["rev"]))).toEqual(new Set(["eval/a.json::tpr", "eval/b.json::tpr"]));
    expect(roc.content!.encoding!["y"]!.field).toBe("dvc_inferred_y_value");
    expect(points.template).toBe("scatter");
    expect(points.content!.mark).toMatchObject({ type: "point" });
    // The project's template in .dvc/plots, x defaulting to the record index and y to the last field.
    expect(custom.content!.mark).toBe("bar");
    expect(custom.content!.encoding!["y"]!.field).toBe("v");
    expect(img.type).toBe("image");
    expect(img.images![0]!.url).toMatch(/^data:image\/png;base64,/);
  });

  it("a template in .pipe/plots wins over .dvc/plots; an unknown template is a located error, the other plots still drawn", async () => {
    const dir = project();
    writeFiles(dir, { ".pipe/plots/mine.json": JSON.stringify({ data: { values: "<DVC_METRIC_DATA>" }, mark: "tick", encoding: { x: { field: "<DVC_METRIC_X>" } } }) });
    const r = await runPipeIn(dir, ["plots", "show", "--json", "custom.tsv"]);
    expect(plotsOf(r.stdout)[0]!.content!.mark).toBe("tick");
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("template: scatter", "template: nosuch") });
    const bad = await runPipeIn(dir, ["plots", "show", "--json"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/pipe\.yaml:14:\d+.*plot 'points\.csv': template 'nosuch' not found/s);
    expect(plotsOf(bad.stdout).map((p) => p.id)).toContain("ROC");
  });

  it("draws a target file that no definition names, as DVC does", async () => {
    const dir = project();
    writeFiles(dir, { "other.json": JSON.stringify([{ x: 1, y: 2 }]) });
    const r = await runPipeIn(dir, ["plots", "show", "--json", "other.json"]);
    expect(r.code).toBe(0);
    expect(plotsOf(r.stdout).map((p) => [p.id, p.datapoints])).toEqual([["other.json", 1]]);
  });

  it("writes one self-contained page that loads nothing from the network", async () => {
    const dir = project();
    runPipe(dir, ["repro"]);
    const r = await runPipeIn(dir, ["plots", "show", "-o", "out"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`file://${path.join(dir, "out", "index.html")}`);
    const html = read(dir, "out/index.html");
    expect(html).toMatch(/\/\* vega-lite \d+\.\d+\.\d+ \*\//);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(https?:)?\/\//);
    expect(html.match(/data-plot="/g)?.length).toBe(4);
  });
});

describe("pipe plots diff", () => {
  it("draws HEAD beside the workspace, reading a cached plots output of HEAD through its lock and the cache", async () => {
    const dir = project();
    gitInit(dir);
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    gitCommitAll(dir, "v1");
    // loss.csv is a cached output: git holds only the lock's hash of it.
    expect(git(dir, ["ls-files", "loss.csv"]).trim()).toBe("");
    writeFiles(dir, { "loss.csv": "epoch,loss\n1,0.8\n2,0.4\n3,0.2\n" });
    const r = await runPipeIn(dir, ["plots", "diff", "--json", "--targets", "loss.csv"]);
    expect(r.code, r.stderr).toBe(0);
    const [loss] = plotsOf(r.stdout);
    expect(loss!.revisions).toEqual(["HEAD", "workspace"]);
    const byRev = (rev: string): unknown[] => loss!.content!.data.values.filter((v) => v["rev"] === rev).map((v) => v["loss"]);
    expect(byRev("HEAD")).toEqual(["0.9", "0.5"]);
    expect(byRev("workspace")).toEqual(["0.8", "0.4", "0.2"]);
  });

  it("shows an image output of HEAD from the cache beside the workspace's", async () => {
    const dir = makeProject({ "pipe.yaml": "stages:\n  draw:\n    cmd: cp src.png out.png\n    deps: [src.png]\n    plots: [out.png]\n" });
    writeFileSync(path.join(dir, "src.png"), PNG);
    gitInit(dir);
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    gitCommitAll(dir, "v1");
    expect(git(dir, ["ls-files", "out.png"]).trim()).toBe("");
    const other = Buffer.concat([PNG, Buffer.from([0])]);
    writeFileSync(path.join(dir, "out.png"), other);
    const r = await runPipeIn(dir, ["plots", "diff", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const [img] = plotsOf(r.stdout);
    expect(img!.images).toEqual([
      { revision: "HEAD", url: `data:image/png;base64,${PNG.toString("base64")}` },
      { revision: "workspace", url: `data:image/png;base64,${other.toString("base64")}` },
    ]);
  });

  it("takes experiments by name (refs/exps), and says so when a name is unknown", async () => {
    const dir = project();
    gitInit(dir);
    gitCommitAll(dir, "v1");
    writeFiles(dir, { "points.csv": "a,b\n1,1\n" });
    gitCommitAll(dir, "exp");
    const base = git(dir, ["rev-parse", "HEAD~1"]).trim();
    git(dir, ["update-ref", `refs/exps/${base.slice(0, 2)}/${base.slice(2)}/bright-lamp`, "HEAD"]);
    git(dir, ["reset", "-q", "--hard", "HEAD~1"]);
    const r = await runPipeIn(dir, ["plots", "diff", "--json", "--exp", "bright-lamp", "--targets", "points.csv"]);
    expect(r.code, r.stderr).toBe(0);
    const [p] = plotsOf(r.stdout);
    expect(p!.revisions).toEqual(["bright-lamp", "workspace"]);
    expect(p!.content!.data.values.filter((v) => v["rev"] === "bright-lamp")).toHaveLength(1);
    const bad = await runPipeIn(dir, ["plots", "diff", "--exp", "nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/'nope' is not an experiment/);
  });
  it("of two experiments of one name, --exp NAME and a revision NAME both take the one on HEAD's baseline, even when it is older", async () => {
    const dir = project();
    gitInit(dir);
    gitCommitAll(dir, "A");
    const a = git(dir, ["rev-parse", "HEAD"]).trim();
    writeFiles(dir, { "points.csv": "a,b\n2,2\n" });
    gitCommitAll(dir, "B");
    const b = git(dir, ["rev-parse", "HEAD"]).trim();
    // An experiment on B (older), then one of the same name on A (newer): commit objects made by hand, dated apart.
    const mk = (parent: string, csv: string, date: string): string => {
      writeFiles(dir, { "points.csv": csv });
      git(dir, ["add", "points.csv"]);
      const tree = git(dir, ["write-tree"]).trim();
      return execFileSync("git", ["commit-tree", tree, "-p", parent, "-m", "exp"], { cwd: dir, env: { ...process.env, GIT_COMMITTER_DATE: date, GIT_AUTHOR_DATE: date } }).toString().trim();
    };
    const onB = mk(b, "a,b\n3,3\n", "2026-01-01T00:00:00Z");
    const onA = mk(a, "a,b\n4,4\n", "2026-06-01T00:00:00Z");
    git(dir, ["update-ref", `refs/exps/${b.slice(0, 2)}/${b.slice(2)}/same`, onB]);
    git(dir, ["update-ref", `refs/exps/${a.slice(0, 2)}/${a.slice(2)}/same`, onA]);
    git(dir, ["reset", "-q", "--hard", "HEAD"]);
    for (const pick of [["--exp", "same"], ["same"]]) {
      const r = await runPipeIn(dir, ["plots", "diff", "--json", ...pick, "--targets", "points.csv"]);
      expect(r.code, r.stderr).toBe(0);
      const [p] = plotsOf(r.stdout);
      expect(p!.content!.data.values.filter((v) => v["rev"] === "same").map((v) => v["a"])).toEqual(["3"]);
    }
  });
});

describe("pipe plots templates", () => {
  it("writes DVC's eight templates to .pipe/plots, and never overwrites one the user edited", async () => {
    const dir = project();
    const r = await runPipeIn(dir, ["plots", "templates"]);
    expect(r.code).toBe(0);
    expect(readdirSync(path.join(dir, ".pipe", "plots")).sort()).toEqual(
      ["bar_horizontal", "bar_horizontal_sorted", "confusion", "confusion_normalized", "linear", "scatter", "simple", "smooth"].map((n) => `${n}.json`),
    );
    expect(read(dir, ".pipe/plots/confusion.json")).toContain('"<DVC_METRIC_DATA>"');
    // Again: the same content, written again without complaint.
    expect((await runPipeIn(dir, ["plots", "templates"])).code).toBe(0);
    writeFiles(dir, { ".pipe/plots/linear.json": "{}" });
    const again = await runPipeIn(dir, ["plots", "templates", "linear"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/linear\.json' already exists and differs/);
    expect(read(dir, ".pipe/plots/linear.json")).toBe("{}");
    const one = await runPipeIn(dir, ["plots", "templates", "scatter", "-o", "t"]);
    expect(one.stdout.trim()).toBe(path.join("t", "scatter.json"));
    expect((await runPipeIn(dir, ["plots", "templates", "pie"])).stderr).toMatch(/no template named 'pie'/);
  });
});

describe("pipe report", () => {
  it("writes one page: a node per stage coloured by status, params side by side with changes marked, provenance", async () => {
    const dir = makeProject({
      "params.yaml": "lr: 0.1\nepochs: 3\n",
      "pipe.yaml": [
        "stages:",
        "  prep:",
        "    cmd: echo prep > prep.txt",
        "    outs: [prep.txt]",
        "  train:",
        "    cmd: echo ${lr} > model.txt",
        "    deps: [prep.txt]",
        "    params: [lr]",
        "    outs: [model.txt]",
        "",
      ].join("\n"),
    });
    gitInit(dir);
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    gitCommitAll(dir, "v1");
    writeFiles(dir, { "params.yaml": "lr: 0.2\nepochs: 3\n" });
    const r = await runPipeIn(dir, ["report", "-o", "r.html"]);
    expect(r.code, r.stderr).toBe(0);
    const html = read(dir, "r.html");
    expect(html.match(/<g class="node stage status-(\w+)" data-id="(\w+)"/g)).toEqual(['<g class="node stage status-fresh" data-id="prep"', '<g class="node stage status-stale" data-id="train"']);
    expect(html.match(/<path class="edge" data-from="prep" data-to="train"/g)).toHaveLength(1);
    expect(html).toMatch(/<tr class="diff"><td>params.yaml<\/td><td>lr<\/td><td class="num">0.1<\/td><td class="num changed">0.2<\/td><\/tr>/);
    expect(html).toMatch(/<tr><td>params.yaml<\/td><td>epochs<\/td>/);
    const head = git(dir, ["rev-parse", "HEAD"]).trim();
    expect(html).toContain(`commit <code>${head.slice(0, 12)}</code>`);
    expect(html).toMatch(/with pipe \d+\.\d+\.\d+/);
    expect(html).toContain("changed params");
    // No plots: no Vega libraries either.
    expect(html).not.toContain("vega-embed");
    // No clock time: HEAD's commit date instead, and a second report of the same project is the same bytes.
    const date = git(dir, ["show", "-s", "--format=%cI", "HEAD"]).trim();
    expect(html).toContain(`of ${date.replace("T", " ")}`);
    expect((await runPipeIn(dir, ["report", "-o", "r2.html"])).code).toBe(0);
    expect(read(dir, "r2.html")).toBe(html);
  });
});
