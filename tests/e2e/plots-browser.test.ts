/**
 * The pages `pipe report` and `pipe plots show/diff` write, opened in a real headless Chromium: every plot draws its
 * marks (points and bars counted against known data files), the DAG has one node per stage and one edge per graph
 * edge with the stale stage in the stale colour, groups collapse without script, the page works with JavaScript off
 * (all but the plots) and at a phone's width, and no page logs an error or makes a request.
 *
 * Screenshots of the example's report and of a plots diff are saved to `test-artifacts/` (git-ignored) for people to
 * look at; the README's `docs/report.png` is one of them.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launch, openPage, plotsSettled } from "../helpers/browser.js";
import { gitCommitAll, gitInit, makeProject, read, REPO_ROOT, runPipe, writeFiles } from "../helpers/project.js";

const ARTIFACTS = path.join(REPO_ROOT, "test-artifacts");
const EXAMPLE = path.join(REPO_ROOT, "examples", "classifier");
const RUN_STATE = new Set([".pipe", "pipe.lock", "eval", "model.json", "train_loss.csv", "data/prepared", "data/features"]);

/** The example as a project of one's own: its run state (lock, metrics, plots) committed, as its .gitignore advises. */
function exampleProject(): string {
  // Named as the example is, so the report's title (the project's directory) reads as it would.
  const dir = path.join(makeProject(), "classifier");
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !RUN_STATE.has(path.relative(EXAMPLE, src).split(path.sep).join("/")) });
  writeFiles(dir, { ".gitignore": read(dir, ".gitignore").replace(/^\/pipe\.lock\n|^\/eval\/\n/gm, "") });
  gitInit(dir);
  expect(runPipe(dir, ["repro"]).code).toBe(0);
  gitCommitAll(dir, "baseline");
  return dir;
}

function graphOf(dir: string): { nodes: string[]; edges: [string, string][] } {
  const r = runPipe(dir, ["dag", "--json", "--expand"]);
  const doc = JSON.parse(r.stdout) as { nodes: { id: string }[]; edges: { from: string; to: string }[] };
  return { nodes: doc.nodes.map((n) => n.id).sort(), edges: doc.edges.map((e) => [e.from, e.to] as [string, string]).sort() };
}

describe.runIf(hasChromium())("generated pages in a browser", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch();
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("the example's report: a node per stage, an edge per graph edge, the stale stage in red, plots across HEAD and the workspace", async () => {
    const dir = exampleProject();
    // A new learning rate, run; then a threshold changed but not run: evaluate is stale.
    writeFiles(dir, { "params.yaml": read(dir, "params.yaml").replace(/lr: [\d.]+/, "lr: 0.05") });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFiles(dir, { "params.yaml": read(dir, "params.yaml").replace(/threshold: [\d.]+/, "threshold: 0.6") });
    const r = runPipe(dir, ["report", "-o", "report.html"]);
    expect(r.code, r.stderr).toBe(0);
    const { page, errors, requests } = await openPage(browser, path.join(dir, "report.html"));
    await plotsSettled(page);

    const want = graphOf(dir);
    const nodes = await page.$$eval(".dag-expanded g.node", (gs) => gs.map((g) => g.getAttribute("data-id")!).sort());
    expect(nodes).toEqual(want.nodes);
    const edges = await page.$$eval(".dag-expanded path.edge", (ps) => ps.map((p) => [p.getAttribute("data-from")!, p.getAttribute("data-to")!]).sort());
    expect(edges).toEqual(want.edges);
    const fills = Object.fromEntries(await page.$$eval(".dag-expanded g.node", (gs) => gs.map((g) => [g.getAttribute("data-id")!, getComputedStyle(g.querySelector("rect")!).fill])));
    expect(fills["evaluate"]).toBe("rgb(255, 235, 233)");
    expect(fills["train"]).toBe("rgb(218, 251, 225)");
    expect(await page.textContent('[data-stage="evaluate"]')).toMatch(/evaluate\.threshold\s+0\.5 -> 0\.6/);

    // Both plots drawn, one line per revision.
    expect(await page.getAttribute("body", "data-plots")).toBe("2/2");
    for (const id of ["train_loss.csv", "eval/roc.csv"]) {
      const lines = await page.$$eval(`section.plot[data-id="${id}"] svg g.mark-line.role-mark path`, (ps) => ps.length);
      expect(lines, id).toBe(2);
    }
    // The params that changed are marked.
    expect(await page.$$eval("table.params td.changed", (tds) => tds.map((t) => t.textContent))).toEqual(["0.6", "0.05"]);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, "report-example.png"), fullPage: true });

    // A phone: nothing wider than the screen; the DAG and tables scroll in their own boxes.
    const phone = await openPage(browser, path.join(dir, "report.html"), { viewport: { width: 390, height: 800 }, isMobile: true });
    await plotsSettled(phone.page);
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await phone.page.screenshot({ path: path.join(ARTIFACTS, "report-phone.png"), fullPage: true });

    // No JavaScript: the DAG, reasons and tables are all there; the plots say why they are not.
    const noJs = await openPage(browser, path.join(dir, "report.html"), { javaScriptEnabled: false });
    expect(await noJs.page.$$eval(".dag-expanded g.node", (gs) => gs.length)).toBe(want.nodes.length);
    expect(await noJs.page.$$eval("table.metrics tbody tr", (trs) => trs.length)).toBeGreaterThan(0);
    expect(await noJs.page.$$eval(".plot svg", (s) => s.length)).toBe(0);
    expect(await noJs.page.textContent("#plots")).toContain("Plots are drawn by JavaScript, which is off.");
    expect(noJs.requests).toEqual([]);
    // Two runs of the example's Python and three page loads: more than the default minute on a busy machine.
  }, 240_000);

  it("plots diff: points and bars counted against their data files, one series per revision", async () => {
    const dir = makeProject({
      "pipe.yaml": [
        "plots:",
        "  - points.csv:",
        "      template: scatter",
        "      x: a",
        "      y: b",
        "  - bars.json:",
        "      template: bar_horizontal",
        "      x: count",
        "      y: name",
        "  - cm.csv:",
        "      template: confusion",
        "      x: actual",
        "      y: predicted",
        "  - loss.tsv:",
        "      template: smooth",
        "",
      ].join("\n"),
      "points.csv": "a,b\n1,2\n2,3\n3,5\n4,1\n5,4\n",
      "bars.json": JSON.stringify([{ name: "cat", count: 3 }, { name: "dog", count: 5 }, { name: "emu", count: 1 }]),
      "cm.csv": "actual,predicted\na,a\na,b\nb,b\nb,b\n",
      "loss.tsv": "step\tloss\n0\t1\n1\t0.7\n2\t0.5\n3\t0.45\n",
    });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    writeFiles(dir, { "points.csv": "a,b\n1,1\n2,2\n3,3\n", "bars.json": JSON.stringify([{ name: "cat", count: 4 }, { name: "dog", count: 2 }]) });
    const r = runPipe(dir, ["plots", "diff", "-o", "out"]);
    expect(r.code, r.stderr).toBe(0);
    const { page, errors, requests } = await openPage(browser, path.join(dir, "out", "index.html"));
    await plotsSettled(page);
    expect(await page.getAttribute("body", "data-plots")).toBe("4/4");
    // 5 points at HEAD + 3 in the workspace; 3 bars + 2.
    expect(await page.$$eval('section[data-id="points.csv"] svg g.mark-symbol.role-mark path', (ps) => ps.length)).toBe(8);
    expect(await page.$$eval('section[data-id="bars.json"] svg g.mark-rect.role-mark path', (ps) => ps.length)).toBe(5);
    // Confusion: a 2x2 matrix per revision, facetted; both revisions hold the same file.
    const cells = await page.$$eval('section[data-id="cm.csv"] svg g.mark-rect.role-mark path', (ps) => ps.length);
    expect(cells).toBe(8);
    expect(await page.$$eval('section[data-id="loss.tsv"] svg g.mark-line.role-mark path', (ps) => ps.length)).toBe(4);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, "plots-diff.png"), fullPage: true });
  });

  it("foreach groups collapse to one node with a checkbox, no script needed", async () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  make:",
        "    foreach: [a, b, c]",
        "    do:",
        "      cmd: echo ${item} > ${item}.txt",
        "      outs:",
        "        - ${item}.txt",
        "  join:",
        "    cmd: cat a.txt b.txt c.txt > all.txt",
        "    deps: [a.txt, b.txt, c.txt]",
        "    outs: [all.txt]",
        "",
      ].join("\n"),
    });
    const r = runPipe(dir, ["report", "-o", "r.html"]);
    expect(r.code, r.stderr).toBe(0);
    const { page, errors, requests } = await openPage(browser, path.join(dir, "r.html"), { javaScriptEnabled: false });
    expect(await page.isVisible(".dag-expanded")).toBe(true);
    expect(await page.isVisible(".dag-collapsed")).toBe(false);
    expect(await page.$$eval(".dag-expanded g.node", (gs) => gs.map((g) => g.getAttribute("data-status")))).toEqual(["never", "never", "never", "never"]);
    await page.click("label[for=dag-collapse]");
    expect(await page.isVisible(".dag-collapsed")).toBe(true);
    expect(await page.$$eval(".dag-collapsed g.node", (gs) => gs.map((g) => [g.getAttribute("data-id"), g.getAttribute("data-members")]))).toEqual([
      ["group:pipe.yaml:make", "3"],
      ["join", null],
    ]);
    expect(await page.$$eval(".dag-collapsed path.edge", (ps) => ps.length)).toBe(1);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    writeFileSync(path.join(ARTIFACTS, ".gitkeep"), "");
  });
});
