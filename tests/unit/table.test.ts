import { describe, expect, it } from "vitest";
import { renderTable } from "../../src/report/table.js";

const diff = {
  headers: ["Path", "Metric", "HEAD", "workspace", "Change"],
  rows: [
    ["metrics.yaml", "a.b.c", "1", "2", "1"],
    ["metrics.yaml", "a.d.e", "3", "4", "1"],
    ["metrics.yaml", "x.b", "5", "6", "-"],
  ],
};

describe("tables laid out as DVC lays them out", () => {
  it("plain: DVC's test_diff_default, byte for byte", () => {
    expect(renderTable(diff, "plain")).toBe(
      [
        "Path          Metric    HEAD    workspace    Change",
        "metrics.yaml  a.b.c     1       2            1",
        "metrics.yaml  a.d.e     3       4            1",
        "metrics.yaml  x.b       5       6            -",
        "",
      ].join("\n"),
    );
  });

  it("markdown: DVC's test_metrics_diff_md, byte for byte (a blank line ends it)", () => {
    expect(renderTable(diff, "markdown")).toBe(
      [
        "| Path         | Metric   | HEAD   | workspace   | Change   |",
        "|--------------|----------|--------|-------------|----------|",
        "| metrics.yaml | a.b.c    | 1      | 2           | 1        |",
        "| metrics.yaml | a.d.e    | 3      | 4           | 1        |",
        "| metrics.yaml | x.b      | 5      | 6           | -        |",
        "",
        "",
      ].join("\n"),
    );
  });

  it("plain: DVC's test_metrics_show_default layout", () => {
    const t = {
      headers: ["Revision", "Path", "a", "b.ad", "b.bc", "c"],
      rows: [
        ["branch_1", "metrics.json", "-", "1", "2", "4"],
        ["branch_2", "metrics.json", "1", "3", "4", "-"],
      ],
    };
    expect(renderTable(t, "plain")).toBe(
      ["Revision    Path          a    b.ad    b.bc    c", "branch_1    metrics.json  -    1       2       4", "branch_2    metrics.json  1    3       4       -", ""].join("\n"),
    );
  });

  it("widens a column to its longest cell, never leaves trailing spaces, keeps cells on one line", () => {
    const t = { headers: ["Path", "Param"], rows: [["p.yaml", "a very long key name"], ["p.yaml", "multi\nline\ttab"]] };
    const out = renderTable(t, "plain");
    expect(out).toBe(["Path    Param", "p.yaml  a very long key name", "p.yaml  multi\\nline\\ttab", ""].join("\n"));
    for (const line of out.split("\n")) expect(line).toBe(line.trimEnd());
  });

  it("escapes pipes in markdown cells and measures display columns: an emoji or a CJK character takes two", () => {
    const t = { headers: ["k"], rows: [["a|b"], ["😀"]] };
    expect(renderTable(t, "markdown")).toBe(["| k    |", "|------|", "| a\\|b |", "| 😀   |", "", ""].join("\n"));
    const cjk = { headers: ["Path", "Param", "HEAD"], rows: [["p.yaml", "名前", "学習"], ["p.yaml", "e\u0301", "x"]] };
    // Every column starts at the same display column on every line, whatever the characters before it.
    expect(renderTable(cjk, "plain")).toBe(["Path    Param    HEAD", "p.yaml  名前     学習", "p.yaml  e\u0301        x", ""].join("\n"));
  });
});
