import { describe, expect, it } from "vitest";
import { ok } from "../../src/core/diagnostic.js";
import type { BlobAt } from "../../src/git/git.js";
import type { Side } from "../../src/git/revision.js";
import type { Pipeline, Stage } from "../../src/core/model.js";
import { diffParams, pickKeys, selectParams } from "../../src/compare/params.js";
import { MISSING } from "../../src/params/format.js";
import { addPipeline, addStagesText, emptyTracked, keyCovered } from "../../src/compare/tracked.js";

function fakeSide(name: string, files: Record<string, string>, kind: Side["kind"] = "commit"): Side {
  return {
    name,
    kind,
    async read(paths) {
      return ok(new Map(paths.map((p) => [p, (p in files ? { kind: "file", text: files[p]! } : { kind: "missing" }) as BlobAt])));
    },
    async listUnder(dir) {
      return ok(Object.keys(files).filter((f) => f.startsWith(dir + "/")).sort());
    },
    async listAll() {
      return ok(Object.keys(files).sort());
    },
  };
}

function stage(name: string, params: Stage["params"], metrics: string[] = []): Stage {
  return {
    address: name,
    name,
    file: "pipe.yaml",
    dir: "",
    wdir: "",
    cmd: "true",
    deps: [],
    outs: metrics.map((m) => ({ path: m, rootPath: m, external: false, kind: "metrics", cache: true, persist: false, flags: {} })),
    params,
    frozen: false,
    alwaysChanged: false,
    loc: { file: "pipe.yaml", line: 1, col: 1 },
  };
}

describe("tracked files from a loaded pipeline", () => {
  it("collects stage params with keys, whole files, top-level params and metrics", () => {
    const p: Pipeline = {
      root: "/x",
      files: [{ file: "sub/pipe.yaml", text: "vars:\n  - ../v.yaml:k\nstages: {}\n", flavor: "pipe" }],
      stages: [
        {
          ...stage("a", [{ file: "params.yaml", rootPath: "params.yaml", keys: ["train.lr"] }, { file: "c.json", rootPath: "conf/c.json", keys: null }], ["m.json"]),
          varsUsed: [{ file: "v.yaml", keys: ["k", "l.0"] }],
        },
        stage("b", [{ file: "params.yaml", rootPath: "params.yaml", keys: ["seed"] }]),
      ],
      params: [{ rootPath: "extra.toml", file: "pipe.yaml" }],
      metrics: [{ rootPath: "top.json", file: "pipe.yaml" }],
      plots: [],
    };
    const t = emptyTracked();
    addPipeline(t, p);
    expect(t.params.get("params.yaml")).toEqual({ listed: false, stageKeys: new Set(["train.lr", "seed"]) });
    expect(t.params.get("conf/c.json")).toEqual({ listed: false, stageKeys: null });
    expect(t.params.get("extra.toml")).toEqual({ listed: true });
    expect([...t.metrics].sort()).toEqual(["m.json", "top.json"]);
    // Vars files count by the keys stages' references read (`varsUsed`), not by what `vars:` entries name.
    expect(t.params.get("v.yaml")).toEqual({ listed: false, varKeys: new Set(["k", "l.0"]) });
  });
});

describe("tracked files from a stages file's text at a revision", () => {
  it("reads stage params (bare keys, files with keys, whole files), wdir, foreach bodies, top-level lists", () => {
    const t = emptyTracked();
    addStagesText(
      t,
      "sub/dvc.yaml",
      [
        "params: [global.yaml]",
        "metrics: [top/m.json]",
        "stages:",
        "  train:",
        "    cmd: python train.py",
        "    wdir: ..",
        "    params:",
        "      - lr",
        "      - cfg/train.json:",
        "          - opt.beta",
        "      - cfg/whole.yaml:",
        "      - ${file}:",
        "    metrics:",
        "      - eval/metrics.json:",
        "          cache: false",
        "  build:",
        "    foreach: [a, b]",
        "    do:",
        "      cmd: echo ${item}",
        "      params: [seed]",
        '      metrics: ["out/${item}.json", fixed.csv]',
        "  templated:",
        "    cmd: x",
        "    wdir: ${dir}",
        "    params: [ignored]",
      ].join("\n"),
    );
    expect(Object.fromEntries([...t.params].map(([f, e]) => [f, { listed: e.listed, keys: e.stageKeys === null ? null : e.stageKeys ? [...e.stageKeys].sort() : undefined }]))).toEqual({
      "sub/global.yaml": { listed: true, keys: undefined },
      "params.yaml": { listed: false, keys: ["lr"] },
      "cfg/train.json": { listed: false, keys: ["opt.beta"] },
      "cfg/whole.yaml": { listed: false, keys: null },
      "sub/params.yaml": { listed: false, keys: ["seed"] },
    });
    expect([...t.metrics].sort()).toEqual(["eval/metrics.json", "sub/fixed.csv", "sub/top/m.json"]);
  });

  it("without templating, vars files are unknown: nothing is recorded for them", () => {
    const t = emptyTracked();
    addStagesText(t, "sub/dvc.yaml", ["vars:", "  - conf/all.yaml", "  - conf/some.yaml:a,b.c", "stages:", "  s:", "    cmd: echo ${a}", "    vars: [local.yaml]", ""].join("\n"));
    expect(t.params.size).toBe(0);
  });

  it("ignores text that is not a stages file and paths that leave the root", () => {
    const t = emptyTracked();
    addStagesText(t, "dvc.yaml", "stages: [unclosed");
    addStagesText(t, "dvc.yaml", "- a list");
    addStagesText(t, "dvc.yaml", "params: [../outside.yaml, /abs.yaml]\nmetrics: [https://x/m.json]");
    expect(t.params.size).toBe(0);
    expect(t.metrics.size).toBe(0);
  });

  it("a tracked key covers itself and its subtree only", () => {
    const keys = new Set(["train", "opt.beta"]);
    expect(keyCovered("train", keys)).toBe(true);
    expect(keyCovered("train.lr", keys)).toBe(true);
    expect(keyCovered("trainer", keys)).toBe(false);
    expect(keyCovered("opt.beta", keys)).toBe(true);
    expect(keyCovered("opt.beta1", keys)).toBe(false);
    expect(keyCovered("opt", keys)).toBe(false);
  });
});

describe("params diff selection and comparison", () => {
  function tracked() {
    const t = emptyTracked();
    addStagesText(t, "dvc.yaml", "params: [top.yaml]\nstages:\n  s:\n    cmd: x\n    params: [train.lr, {c.json: [b]}]\n");
    return t;
  }

  it("by default: params.yaml and top-level params whole, other files by the keys stages track; --deps only tracked keys", () => {
    expect(selectParams(tracked(), { deps: false })).toEqual([
      { file: "top.yaml" },
      { file: "params.yaml" },
      { file: "c.json", keys: new Set(["b"]) },
    ]);
    const deps = selectParams(tracked(), { deps: true });
    expect(deps.map((s) => [s.file, [...(s.keys ?? [])]])).toEqual([
      ["params.yaml", ["train.lr"]],
      ["c.json", ["b"]],
    ]);
    expect(selectParams(tracked(), { deps: false, targets: ["other.yaml"] })).toEqual([{ file: "other.yaml" }]);
    expect(selectParams(tracked(), { deps: true, targets: ["other.yaml", "c.json"] })).toEqual([{ file: "c.json", keys: new Set(["b"]) }]);
  });

  it("diffs two sides, with warnings for a file present on one side only", async () => {
    const a = fakeSide("HEAD", { "params.yaml": "train:\n  lr: 0.1\n  epochs: 3\nseed: 1\n", "c.json": '{"a": 1, "b": [1, 2]}' });
    const b = fakeSide("workspace", { "params.yaml": "train:\n  lr: 0.2\n  epochs: 3\nseed: 1\n", "c.json": '{"a": 2, "b": [1, 2, 3]}', "top.yaml": "k: v\n" }, "workspace");
    const r = await diffParams(a, b, tracked(), { all: false, deps: false, display: (f) => f });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.fromEntries([...r.value.diff].map(([f, m]) => [f, Object.fromEntries(m)]))).toEqual({
      "c.json": { b: { old: [1, 2], new: [1, 2, 3] } },
      "params.yaml": { "train.lr": { old: 0.1, new: 0.2, diff: 0.1 } },
      "top.yaml": { k: { old: MISSING, new: "v" } },
    });
    expect(r.value.warnings.map((w) => w.message)).toEqual(["params file 'top.yaml' does not exist in HEAD"]);

    const d = await diffParams(a, b, tracked(), { all: false, deps: true, display: (f) => f });
    expect(d.ok && Object.fromEntries([...d.value.diff].map(([f, m]) => [f, [...m.keys()]]))).toEqual({ "c.json": ["b"], "params.yaml": ["train.lr"] });
  });

  it("an unparsable file on one side is a warning with its location, and shows as missing there", async () => {
    const a = fakeSide("HEAD", { "params.yaml": "a: 1\n" });
    const b = fakeSide("workspace", { "params.yaml": "a: [1\n" }, "workspace");
    const r = await diffParams(a, b, emptyTracked(), { all: false, deps: false, display: (f) => f });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.warnings).toHaveLength(1);
    expect(r.value.warnings[0]?.severity).toBe("warning");
    expect(r.value.warnings[0]?.message).toMatch(/^cannot read params file 'params.yaml' in workspace: '\[' is not closed/);
    expect(r.value.warnings[0]?.location?.file).toBe("params.yaml");
    expect(r.value.diff.get("params.yaml")?.get("a")).toEqual({ old: 1, new: MISSING });
  });

  it("a revision without commits holds nothing and says nothing", async () => {
    const a = fakeSide("HEAD", {}, "empty");
    const b = fakeSide("workspace", { "params.yaml": "a: 1\n" }, "workspace");
    const r = await diffParams(a, b, emptyTracked(), { all: false, deps: false, display: (f) => f });
    expect(r.ok && r.value.warnings).toEqual([]);
    expect(r.ok && r.value.diff.get("params.yaml")?.get("a")).toEqual({ old: MISSING, new: 1 });
  });

  it("vars keys count for files nothing else selects, with --deps too, never with --targets (DVC's rules)", () => {
    const t = tracked();
    t.params.get("params.yaml")!.varKeys = new Set(["seed"]);
    t.params.get("c.json")!.varKeys = new Set(["a"]);
    t.params.set("v.yaml", { listed: false, varKeys: new Set(["model.size", "layers.0"]) });
    expect(selectParams(t, { deps: false })).toEqual([
      { file: "top.yaml" },
      { file: "params.yaml" },
      // A file a stage tracks keys of: its vars keys are not added (as DVC).
      { file: "c.json", keys: new Set(["b"]) },
      { file: "v.yaml", keys: new Set(["model.size", "layers.0"]) },
    ]);
    expect(selectParams(t, { deps: true })).toEqual([
      { file: "params.yaml", keys: new Set(["train.lr"]) },
      { file: "c.json", keys: new Set(["b"]) },
      { file: "v.yaml", keys: new Set(["model.size", "layers.0"]) },
    ]);
    expect(selectParams(t, { deps: false, targets: ["v.yaml"] })).toEqual([{ file: "v.yaml" }]);
  });

  it("keys select themselves, their subtree, and list elements by index", () => {
    const flat = { "train.lr": 0.1, "train.epochs": 3, layers: [8, 16, 32], models: [{ lr: 1, opt: { b: 2 } }], name: "x" };
    expect(pickKeys(flat, new Set(["train", "layers.1", "layers.-1", "models.0.opt", "layers.9", "name.0", "missing"]))).toEqual({
      "train.lr": 0.1,
      "train.epochs": 3,
      "layers.1": 16,
      "layers.-1": 32,
      "models.0.opt.b": 2,
    });
    expect(pickKeys(flat, undefined)).toBe(flat);
  });
});
