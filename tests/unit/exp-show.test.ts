/**
 * `exp show`'s rendering: DVC's layout (rules, a tree under the baseline), numbers right-aligned, the best value of
 * the sorted column marked among experiments, columns left out to fit a terminal (the sorted one kept), and the
 * `--only-changed`, `--drop`/`--keep`, markdown and CSV forms.
 */
import { describe, expect, it } from "vitest";
import type { ShowData } from "../../src/experiments/show.js";
import { renderShowCsv, renderShowMarkdown, renderShowText, selectColumns } from "../../src/report/exp-show.js";

const M = "eval/metrics.json";
const P = "params.yaml";
const data: ShowData = {
  columns: [
    { kind: "metric", file: M, key: "acc", label: "acc" },
    { kind: "metric", file: M, key: "loss", label: "loss" },
    { kind: "param", file: P, key: "train.lr", label: "train.lr" },
    { kind: "param", file: P, key: "seed", label: "seed" },
  ],
  rows: [
    { kind: "workspace", name: "workspace", metrics: { [M]: { acc: 0.5, loss: 2 } }, params: { [P]: { "train.lr": 0.1, seed: 1 } } },
    { kind: "baseline", name: "main", rev: "a".repeat(40), metrics: { [M]: { acc: 0.5, loss: 2 } }, params: { [P]: { "train.lr": 0.1, seed: 1 } } },
    { kind: "experiment", name: "big", rev: "b".repeat(40), baseline: "a".repeat(40), metrics: { [M]: { acc: 0.75, loss: 1.25 } }, params: { [P]: { "train.lr": 0.5, seed: 1 } } },
    { kind: "experiment", name: "small", rev: "c".repeat(40), baseline: "a".repeat(40), metrics: { [M]: { acc: 0.625, loss: 1.5 } }, params: { [P]: { "train.lr": 0.01, seed: 1 } } },
    { kind: "queued", name: "later", baseline: "a".repeat(40), metrics: {}, params: { [P]: { "train.lr": 1, seed: 1 } } },
  ],
};

describe("exp show rendering", () => {
  it("draws DVC's table: rules, a tree, a State column when something is queued, numbers right-aligned, the best marked", () => {
    const { text, hidden } = renderShowText(data, { sortBy: "acc", sortOrder: "desc" });
    expect(hidden).toBe(0);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^ ─+$/);
    expect(lines[1]).toMatch(/^ {2}Experiment\s+Created\s+State\s+acc\s+loss\s+train\.lr\s+seed$/);
    expect(text).toContain("├── bbbbbbb [big]");
    expect(text).toContain("└── [later]");
    expect(text).toMatch(/\[big\].*0\.75\*/);
    expect(text).not.toMatch(/\[small\].*0\.625\*/);
    expect(text).toMatch(/\[later\].*Queued/);
    // right-aligned: the numbers of a column end at the same place
    const big = lines.find((l) => l.includes("[big]"))!;
    const small = lines.find((l) => l.includes("[small]"))!;
    expect(big.indexOf("0.75") + 4).toBe(small.indexOf("0.625") + 5);
    expect(big.indexOf("1.25") + 4).toBe(small.indexOf("1.5") + 3);
  });

  it("cuts to the terminal width, keeping the sorted column first", () => {
    const full = renderShowText(data, {}).text.split("\n")[1]!.length;
    const { text, hidden } = renderShowText(data, { sortBy: "seed", width: full - 8 });
    expect(hidden).toBeGreaterThan(0);
    expect(text.split("\n")[1]).toContain("seed");
    for (const l of text.split("\n")) expect(l.length).toBeLessThanOrEqual(full - 8 + 2);
  });

  it("only-changed, drop and keep choose columns", () => {
    expect(selectColumns(data, { onlyChanged: true }).map((c) => c.label)).toEqual(["acc", "loss", "train.lr"]);
    expect(selectColumns(data, { drop: /^(acc|seed)$/ }).map((c) => c.label)).toEqual(["loss", "train.lr"]);
    expect(selectColumns(data, { drop: /.*/, keep: /lr/ }).map((c) => c.label)).toEqual(["train.lr"]);
  });

  it("markdown and CSV", () => {
    const md = renderShowMarkdown(data, {});
    expect(md.split("\n")[0]).toMatch(/^\| Experiment\s+\| Created\s+\| State\s+\| acc/);
    expect(md).toContain("| bbbbbbb [big]");
    const csv = renderShowCsv(data, {}).split("\n");
    expect(csv[0]).toBe("Experiment,rev,typ,Created,parent,State,acc,loss,train.lr,seed");
    expect(csv[3]).toBe(`big,${"b".repeat(40)},branch_commit,,aaaaaaa,Success,0.75,1.25,0.5,1`);
  });
});
