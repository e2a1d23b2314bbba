import { describe, expect, it } from "vitest";
import { ok } from "../../src/config/diagnostic.js";
import type { BlobAt } from "../../src/git/git.js";
import type { Side } from "../../src/git/revision.js";
import type { Pipeline, Stage } from "../../src/model.js";
import { diffParams, selectParams } from "../../src/params/compare.js";
import { MISSING } from "../../src/params/format.js";
import { addPipeline, addStagesText, emptyTracked, keyCovered, stagesFilesOf } from "../../src/params/tracked.js";

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
    cmdVars: [],
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
        stage("a", [{ file: "params.yaml", rootPath: "params.yaml", keys: ["train.lr"] }, { file: "c.json", rootPath: "conf/c.json", keys: null }], ["m.json"]),
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
    expect(t.params.get("v.yaml")).toEqual({ listed: false, varKeys: new Set(["k"]) });
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

  it("records vars files (whole, or for named keys) and compares them by default, never with --deps", () => {
    const t = emptyTracked();
    addStagesText(
      t,
      "sub/dvc.yaml",
      ["vars:", "  - conf/all.yaml", "  - conf/some.yaml:a,b.c", "  - {inline: 1}", "stages:", "  s:", "    cmd: echo ${a}", "    wdir: w", "    vars: [local.yaml]", ""].join("\n"),
    );
    expect(t.params.get("sub/conf/all.yaml")).toEqual({ listed: false, varKeys: null });
    expect(t.params.get("sub/conf/some.yaml")).toEqual({ listed: false, varKeys: new Set(["a", "b.c"]) });
    expect(t.params.get("sub/w/local.yaml")).toEqual({ listed: false, varKeys: null });
    expect(selectParams(t, { deps: false })).toEqual([
      { file: "sub/conf/all.yaml" },
      { file: "sub/conf/some.yaml", keys: new Set(["a", "b.c"]) },
      { file: "sub/w/local.yaml" },
      { file: "params.yaml" },
    ]);
    expect(selectParams(t, { deps: true })).toEqual([]);
  });

  it("ignores text that is not a stages file and paths that leave the root", () => {
    const t = emptyTracked();
    addStagesText(t, "dvc.yaml", "stages: [unclosed");
    addStagesText(t, "dvc.yaml", "- a list");
    addStagesText(t, "dvc.yaml", "params: [../outside.yaml, /abs.yaml]\nmetrics: [https://x/m.json]");
    expect(t.params.size).toBe(0);
    expect(t.metrics.size).toBe(0);
  });

  it("finds stages files, pipe.yaml winning over dvc.yaml in one directory", () => {
    expect(stagesFilesOf(["dvc.yaml", "pipe.yaml", "a/dvc.yaml", "b/x/pipe.yaml", "c/dvc.yml", ".pipe/pipe.yaml", "node_modules/p/dvc.yaml", "dvc.yaml.bak"])).toEqual([
      "a/dvc.yaml",
      "b/x/pipe.yaml",
      "pipe.yaml",
    ]);
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

  it("by default compares whole files: stage deps, top-level params and params.yaml; --deps only tracked keys", () => {
    expect(selectParams(tracked(), { deps: false }).map((s) => s.file).sort()).toEqual(["c.json", "params.yaml", "top.yaml"]);
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
      "c.json": { a: { old: 1, new: 2, diff: 1 }, b: { old: [1, 2], new: [1, 2, 3] } },
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
});
