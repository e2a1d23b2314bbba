import { describe, expect, it } from "vitest";
import { ok } from "../../src/core/diagnostic.js";
import type { BlobAt } from "../../src/git/git.js";
import type { Side } from "../../src/git/revision.js";
import { diffMetrics, showMetrics } from "../../src/compare/metrics.js";
import { parseDelimited, parseMetricsText } from "../../src/formats/metrics.js";
import { MISSING } from "../../src/params/format.js";
import { emptyTracked } from "../../src/compare/tracked.js";
import { showTable } from "../../src/report/metrics.js";
import type { MetricsShowOutcome } from "../../src/compare/metrics.js";
import { renderTable } from "../../src/report/table.js";

function runShowTable(outcome: MetricsShowOutcome, withRevision: boolean): string {
  return renderTable(showTable(outcome, withRevision, 5), "plain");
}

function fakeSide(name: string, files: Record<string, string>, kind: Side["kind"] = "commit"): Side {
  const dirs = new Set(Object.keys(files).flatMap((f) => f.split("/").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("/"))));
  return {
    name,
    kind,
    async read(paths) {
      return ok(new Map(paths.map((p) => [p, (p in files ? { kind: "file", text: files[p]! } : dirs.has(p) ? { kind: "dir" } : { kind: "missing" }) as BlobAt])));
    },
    async listUnder(dir) {
      return ok(Object.keys(files).filter((f) => f.startsWith(dir + "/")).sort());
    },
    async listAll() {
      return ok(Object.keys(files).sort());
    },
  };
}

function flat(file: string, text: string): Record<string, unknown> {
  const r = parseMetricsText(file, text);
  if (!r.ok) throw new Error(r.errors[0]?.message);
  return r.value;
}

describe("metrics readers", () => {
  it("flattens JSON, YAML and TOML, keeping only scalar leaves", () => {
    expect(flat("m.json", '{"acc": 0.9, "loss": {"train": 0.1, "val": 0.2}, "cm": [[1, 2]], "none": null, "ok": true, "e": {}}')).toEqual({
      acc: 0.9,
      "loss.train": 0.1,
      "loss.val": 0.2,
      ok: true,
    });
    expect(flat("m.yaml", "acc: 0.5\nnested:\n  f1: 0.25\n")).toEqual({ acc: 0.5, "nested.f1": 0.25 });
    expect(flat("m.toml", "acc = 0.75\n[per_class]\ncat = 0.5\n")).toEqual({ acc: 0.75, "per_class.cat": 0.5 });
    expect(flat("m.json", "0.93")).toEqual({ "": 0.93 });
    expect(flat("m.yaml", "")).toEqual({});
  });

  it("reads CSV and TSV by header and last row, numbers as numbers", () => {
    expect(flat("log.csv", "epoch,acc,name\n1,0.5,a\n2,0.75,\"b, c\"\n")).toEqual({ epoch: 2, acc: 0.75, name: "b, c" });
    expect(flat("log.tsv", "epoch\tloss\r\n1\t0.9\r\n2\t1e-5\r\n")).toEqual({ epoch: 2, loss: 0.00001 });
    expect(flat("empty.csv", "")).toEqual({});
    expect(flat("head.csv", "a,b\n")).toEqual({});
    expect(parseDelimited('a,"say ""hi""",\n\n1,2,3', ",")).toEqual([
      ["a", 'say "hi"', ""],
      ["1", "2", "3"],
    ]);
  });

  it("rejects a list at the top and reports parse errors", () => {
    expect(parseMetricsText("m.json", "[1, 2]").ok).toBe(false);
    const bad = parseMetricsText("m.json", '{"a": }');
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors[0]?.message).toBe("invalid JSON: expected a value, found '}'");
      expect(bad.errors[0]?.location).toEqual({ file: "m.json", line: 1, col: 7 });
    }
  });
});

describe("metrics diff and show", () => {
  const tracked = emptyTracked();
  tracked.metrics.add("metrics.json");
  tracked.metrics.add("eval");
  tracked.metrics.add("log.csv");

  const head = fakeSide("HEAD", { "metrics.json": '{"acc": 0.8, "loss": 0.5}', "eval/a.json": '{"f1": 0.1}' });
  const work = fakeSide(
    "workspace",
    { "metrics.json": '{"acc": 0.85, "loss": 0.5, "new": 1}', "eval/a.json": '{"f1": 0.2}', "eval/b.json": '{"f1": 0.3}', "log.csv": "step,acc\n1,0.5\n" },
    "workspace",
  );

  it("diffs files, directories expanded, and warns for a file missing on one side", async () => {
    const r = await diffMetrics(head, work, tracked, { all: false, display: (f) => f });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.fromEntries([...r.value.diff].map(([f, m]) => [f, Object.fromEntries(m)]))).toEqual({
      "eval/a.json": { f1: { old: 0.1, new: 0.2, diff: 0.1 } },
      "eval/b.json": { f1: { old: MISSING, new: 0.3 } },
      "log.csv": { acc: { old: MISSING, new: 0.5 }, step: { old: MISSING, new: 1 } },
      "metrics.json": { acc: { old: 0.8, new: 0.85, diff: 0.05 }, new: { old: MISSING, new: 1 } },
    });
    expect(r.value.warnings.map((w) => w.message)).toEqual(["metrics file 'eval/b.json' does not exist in HEAD", "metrics file 'log.csv' does not exist in HEAD"]);
  });

  it("shows one row per side and file, and one warning per missing file listing the sides", async () => {
    const r = await showMetrics([work, head], tracked, { display: (f) => f });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.rows.map((x) => [x.side, x.file])).toEqual([
      ["workspace", "eval/a.json"],
      ["workspace", "eval/b.json"],
      ["workspace", "log.csv"],
      ["workspace", "metrics.json"],
      ["HEAD", "eval/a.json"],
      ["HEAD", "metrics.json"],
    ]);
    expect(r.value.warnings.map((w) => w.message)).toEqual(["metrics file 'eval/b.json' does not exist in HEAD", "metrics file 'log.csv' does not exist in HEAD"]);
    expect(runShowTable(r.value, true)).toBe(
      [
        "Revision    Path          acc    f1    loss    new    step",
        "workspace   eval/a.json   -      0.2   -       -      -",
        "workspace   eval/b.json   -      0.3   -       -      -",
        "workspace   log.csv       0.5    -     -       -      1",
        "workspace   metrics.json  0.85   -     0.5     1      -",
        "HEAD        eval/a.json   -      0.1   -       -      -",
        "HEAD        metrics.json  0.8    -     0.5     -      -",
        "",
      ].join("\n"),
    );
  });
});
