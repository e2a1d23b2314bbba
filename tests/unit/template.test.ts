/**
 * Expansion of a stages file (spec 2.1-2.3): the template context, interpolation, foreach/matrix, normalised stages,
 * and the exact messages of bad templates (the golden fixtures under fixtures/bad/ render these same texts).
 */
import { cpSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderDiagnostics, type Diagnostic } from "../../src/core/diagnostic.js";
import { validateStagesFile } from "../../src/schema/validate.js";
import { parseYaml } from "../../src/formats/yaml.js";
import type { Stage } from "../../src/core/model.js";
import { expandStagesFile, reservedOutput, type ExpandedFile, type ParsingConfig } from "../../src/template/expand.js";
import { makeProject, REPO_ROOT, writeFiles } from "../helpers/project.js";

interface Expanded {
  root: string;
  sources: Map<string, string>;
  value?: ExpandedFile;
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

async function expandIn(root: string, file: string, parsing?: ParsingConfig, validate = true): Promise<Expanded> {
  const text = readFileSync(path.join(root, file), "utf8");
  const p = parseYaml(file, text);
  const sources = new Map([[file, text]]);
  const check = validateStagesFile(p);
  if (validate) expect(check.errors, renderDiagnostics(check.errors, sources)).toEqual([]);
  const r = await expandStagesFile({ root, file, text, doc: p.doc, lineCounter: p.lineCounter, sources, ...(parsing ? { parsing } : {}) });
  return r.ok ? { root, sources, value: r.value, errors: [], warnings: r.warnings } : { root, sources, errors: r.errors, warnings: r.warnings };
}

async function expand(files: Record<string, string>, file = "pipe.yaml", parsing?: ParsingConfig): Promise<Expanded> {
  return expandIn(makeProject(files), file, parsing);
}

async function stages(files: Record<string, string>, file = "pipe.yaml"): Promise<Stage[]> {
  const r = await expand(files, file);
  expect(r.errors.map((d) => d.message)).toEqual([]);
  return r.value!.stages;
}

function cmds(ss: Stage[]): Record<string, string | string[]> {
  return Object.fromEntries(ss.map((s) => [s.name, s.cmd]));
}

function rendered(r: Expanded): string {
  return renderDiagnostics(r.errors, r.sources);
}

describe("interpolation", () => {
  it("records the vars-file keys each stage's references read (DVC's tracked vars), per file, foreach and matrix items included", async () => {
    const ss = await stages({
      "params.yaml": "train:\n  lr: 0.1\n  epochs: 3\n  opt: {beta: 0.9}\nlayers: [8, 16]\nunused: 1\n",
      "conf/models.yaml": "models:\n  a: {size: 1}\n  b: {size: 2}\nlrs: [0.1, 0.2]\nother: 5\n",
      "pipe.yaml": [
        "vars:",
        "  - conf/models.yaml",
        "  - inline: 7",
        "stages:",
        "  train:",
        "    cmd: python t.py ${train.lr} ${layers[1]} ${inline} ${train.opt}",
        "    deps:",
        "      - data/${train.epochs}",
        "  each:",
        "    foreach: ${models}",
        "    do:",
        "      cmd: echo ${item.size} ${key}",
        "  grid:",
        "    matrix:",
        "      lr: ${lrs}",
        "      k: [x, y]",
        "    cmd: echo ${item.lr} ${item.k}",
        "  plain:",
        "    cmd: echo hi",
        "",
      ].join("\n"),
    });
    const used = Object.fromEntries(ss.map((s) => [s.name, s.varsUsed]));
    expect(used["train"]).toEqual([{ file: "params.yaml", keys: ["layers.1", "train.epochs", "train.lr", "train.opt"] }]);
    expect(used["each@a"]).toEqual([{ file: "conf/models.yaml", keys: ["models.a.size"] }]);
    expect(used["each@b"]).toEqual([{ file: "conf/models.yaml", keys: ["models.b.size"] }]);
    expect(used["grid@0.2-y"]).toEqual([{ file: "conf/models.yaml", keys: ["lrs.1"] }]);
    expect(used["plain"]).toBeUndefined();
  });

  it("reads params.yaml beside the stages file, prints numbers as Python and booleans as DVC", async () => {
    const ss = await stages({
      "params.yaml": "train:\n  lr: 1.0e-5\n  epochs: 10\n  momentum: 100.0\n  decay: 0.1\n  fast: true\n  name: None\nlayers: [8, 16]\n",
      "pipe.yaml": "stages:\n  train:\n    cmd: python t.py ${train.lr} ${train.epochs} ${train.momentum} ${train.decay} ${train.fast} ${train.name} ${layers[1]} ${layers.0}\n",
    });
    expect(ss[0]!.cmd).toBe("python t.py 1e-05 10 100.0 0.1 true None 16 8");
  });

  it("records the variables cmd used, in order of use, each with the text it put into the command", async () => {
    const ss = await stages({
      "params.yaml": "train:\n  lr: 0.1\n  opt: {beta: 0.9}\n",
      "pipe.yaml": "stages:\n  train:\n    cmd: python t.py --lr ${train.lr} ${ train.opt } --again ${train.lr}\n",
    });
    expect(ss[0]!.cmd).toBe("python t.py --lr 0.1 --beta 0.9 --again 0.1");
    // `cmdTemplate` is what status names changed variables from: every use is a piece of its own, in order.
    const used = (ss[0]!.cmdTemplate ?? []).flat().filter((p) => typeof p !== "string");
    expect(used).toEqual([
      { v: "train.lr", text: "0.1" },
      { v: "train.opt", text: "--beta 0.9" },
      { v: "train.lr", text: "0.1" },
    ]);
  });

  it("records how cmd was built: literal pieces and the text of each ${...}, per command", async () => {
    const ss = await stages({
      "params.yaml": "train:\n  lr: 0.1\n  opt: {beta: 0.9}\nf: a.txt\n",
      "pipe.yaml":
        "stages:\n  train:\n    cmd: python t.py --lr ${train.lr} ${ train.opt } \\${HOME}\n  copy:\n    cmd:\n    - cp ${f} out/${f}\n    - ${train.opt}\n    - echo done\n",
    });
    expect(ss[0]!.cmdTemplate).toEqual([["python t.py --lr ", { v: "train.lr", text: "0.1" }, " ", { v: "train.opt", text: "--beta 0.9" }, " ${HOME}"]]);
    expect(ss[1]!.cmdTemplate).toEqual([["cp ", { v: "f", text: "a.txt" }, " out/", { v: "f", text: "a.txt" }, ""], [{ v: "train.opt", text: "--beta 0.9" }], ["echo done"]]);
  });

  it("unescapes \\${ and leaves ${ without a closing brace alone", async () => {
    const ss = await stages({ "pipe.yaml": "stages:\n  a:\n    cmd: echo \\${HOME} ${unclosed\n" });
    expect(ss[0]!.cmd).toBe("echo ${HOME} ${unclosed");
  });

  it("unpacks a mapping into flags in cmd, honouring DVC's parsing settings", async () => {
    const files = {
      "params.yaml": "args:\n  lr: 0.1\n  epochs: 2\n  fast: true\n  slow: false\n  layers: [1, 2]\n  name: spaced string\n  opt:\n    beta: 0.9\n",
      "pipe.yaml": "stages:\n  a:\n    cmd: python t.py ${args}\n  b:\n    cmd:\n      - ${args}\n",
    };
    const ss = await stages(files);
    expect(ss[0]!.cmd).toBe("python t.py --lr 0.1 --epochs 2 --fast --layers 1 2 --name 'spaced string' --opt.beta 0.9");
    expect(ss[1]!.cmd).toEqual(["--lr 0.1 --epochs 2 --fast --layers 1 2 --name 'spaced string' --opt.beta 0.9"]);
    const r = await expand(files, "pipe.yaml", { bool: "boolean_optional", list: "append" });
    expect(r.value!.stages[0]!.cmd).toBe("python t.py --lr 0.1 --epochs 2 --fast --no-slow --layers 1 --layers 2 --name 'spaced string' --opt.beta 0.9");
  });

  it("interpolates wdir, paths, params files and keys, and out flags", async () => {
    const ss = await stages({
      "params.yaml": "dir: sub\nmodel: cnn\nfile: conf.yaml\nkey: lr\nkeep: true\n",
      "pipe.yaml": [
        "stages:",
        "  train:",
        "    wdir: ${dir}",
        "    cmd: python train.py",
        "    deps:",
        "      - data/${model}.csv",
        "    params:",
        "      - ${file}:",
        "          - ${key}",
        "      - ${model}.depth",
        "    outs:",
        "      - models/${model}.pkl:",
        "          desc: the ${model} model",
        "          cache: false",
        "",
      ].join("\n"),
    });
    const s = ss[0]!;
    expect(s.wdir).toBe("sub");
    expect(s.wdirRaw).toBe("sub");
    expect(s.deps.map((d) => [d.path, d.rootPath])).toEqual([["data/cnn.csv", "sub/data/cnn.csv"]]);
    expect(s.params.map((p) => [p.file, p.rootPath, p.keys])).toEqual([
      ["conf.yaml", "sub/conf.yaml", ["lr"]],
      ["params.yaml", "sub/params.yaml", ["cnn.depth"]],
    ]);
    expect(s.outs[0]).toMatchObject({ path: "models/cnn.pkl", rootPath: "sub/models/cnn.pkl", cache: false, persist: false, flags: { desc: "the cnn model" } });
  });
});

describe("DVC's own parsing tests", () => {
  it("tests/func/parsing: TEMPLATED_DVC_YAML_DATA resolves to RESOLVED_DVC_YAML_DATA", async () => {
    // DVC resolves `frozen: ${freeze}` although its schema types `frozen` as a boolean; expand it the same way.
    const root = makeProject({
      "params.yaml": "dict: {foo: foo, bar: bar}\nlist: [param1, param2]\nfreeze: true\n",
      "dvc.yaml": [
        "stages:",
        "  stage1:",
        "    cmd: python script.py ${dict.foo} --out ${dict.bar}",
        "    outs: ['${dict.bar}']",
        "    deps: ['${dict.foo}']",
        "    frozen: ${freeze}",
        "  stage2:",
        "    cmd: echo ${dict.foo} ${dict.bar}",
        "",
      ].join("\n"),
    });
    const r = await expandIn(root, "dvc.yaml", undefined, false);
    expect(r.errors).toEqual([]);
    const [s1, s2] = r.value!.stages;
    expect([s1!.cmd, s1!.outs.map((o) => o.path), s1!.deps.map((d) => d.path), s1!.frozen]).toEqual(["python script.py foo --out bar", ["bar"], ["foo"], true]);
    expect(s2!.cmd).toBe("echo foo bar");
  });

  it("test_matrix.py::test_matrix_interpolated", async () => {
    const params = "os: [win, linux]\npyv: [3.7, 3.8]\ndict: [{arg1: 1}, {arg2: 2}]\nlist: [[out1, out11], [out2, out22]]\n";
    for (const matrix of ["{os: [win, linux], pyv: [3.7, 3.8], dict: [{arg1: 1}, {arg2: 2}], list: [[out1, out11], [out2, out22]]}", "{os: '${os}', pyv: '${pyv}', dict: '${dict}', list: '${list}'}"]) {
      const ss = await stages({
        "params.yaml": params,
        "dvc.yaml": `stages:\n  build:\n    matrix: ${matrix}\n    cmd: echo \${item.os} \${item.pyv} \${item.dict} -- \${item.list.0} \${item.list.1}\n`,
      }, "dvc.yaml");
      const expected: Record<string, string> = {};
      for (const os of ["win", "linux"]) {
        for (const pyv of ["3.7", "3.8"]) {
          for (const d of [0, 1]) {
            for (const l of [0, 1]) {
              expected[`build@${os}-${pyv}-dict${d}-list${l}`] = `echo ${os} ${pyv} --arg${d + 1} ${d + 1} -- out${l + 1} out${l + 1}${l + 1}`;
            }
          }
        }
      }
      expect(cmds(ss)).toEqual(expected);
    }
  });

  it("test_foreach.py: dict with non-string keys, composite lists, item[key] access", async () => {
    const ss = await stages({
      "dvc.yaml": [
        "stages:",
        "  build:",
        "    foreach: {2021: {thresh: foo}, 2022: {thresh: bar}}",
        "    do:",
        "      cmd: echo ${key} ${item.thresh}",
        "  comp:",
        "    foreach: [{thresh: foo}, {thresh: bar}]",
        "    do:",
        "      cmd: echo ${item[thresh]}",
        "",
      ].join("\n"),
    }, "dvc.yaml");
    expect(cmds(ss)).toEqual({ "build@2021": "echo 2021 foo", "build@2022": "echo 2022 bar", "comp@0": "echo foo", "comp@1": "echo bar" });
  });
});

describe("the context", () => {
  it("loads vars files (whole and by key) and inline mappings after params.yaml; stage vars are relative to wdir", async () => {
    const ss = await stages({
      "params.yaml": "a: 1\n",
      "conf/b.yaml": "b: 2\nunused: {x: 1}\n",
      "conf/c.json": '{"c": 3.0}',
      "conf/d.toml": "d = 4.5\n",
      "conf/e.py": "E = 5\nclass Train:\n    lr = 0.25\n",
      "sub/local.yaml": "l: local\n",
      "pipe.yaml": [
        "vars:",
        "  - params.yaml",
        "  - conf/b.yaml:b",
        "  - conf/c.json",
        "  - conf/d.toml",
        "  - conf/e.py",
        "  - inline: {x: [1, 2]}",
        "stages:",
        "  s:",
        "    wdir: sub",
        "    vars:",
        "      - local.yaml",
        "      - here: h",
        "    cmd: echo ${a} ${b} ${c} ${d} ${E} ${Train.lr} ${inline.x[1]} ${l} ${here}",
        "",
      ].join("\n"),
    });
    expect(ss[0]!.cmd).toBe("echo 1 2 3.0 4.5 5 0.25 2 local h");
  });

  it("puts the text of every vars file read into sources", async () => {
    const r = await expand({ "params.yaml": "a: 1\n", "v.yaml": "b: 2\n", "pipe.yaml": "vars: [v.yaml]\nstages:\n  s:\n    cmd: echo ${a}${b}\n" });
    expect([...r.sources.keys()].sort()).toEqual(["params.yaml", "pipe.yaml", "v.yaml"]);
  });

  it("merges mappings of different files but not a variable defined twice", async () => {
    const ok = await stages({
      "a.yaml": "train:\n  lr: 0.1\n",
      "b.yaml": "train:\n  epochs: 2\n",
      "pipe.yaml": "vars: [a.yaml, b.yaml]\nstages:\n  s:\n    cmd: echo ${train.lr} ${train.epochs}\n",
    });
    expect(ok[0]!.cmd).toBe("echo 0.1 2");
    const r = await expand({ "params.yaml": "lr: 0.1\n", "pipe.yaml": "vars:\n  - lr: 0.2\nstages:\n  s:\n    cmd: echo ${lr}\n" });
    expect(rendered(r)).toBe(
      [
        "pipe.yaml:2:5: error: variable 'lr' is defined in both params.yaml and the vars of pipe.yaml",
        "  |",
        "2 |   - lr: 0.2",
        "  |     ^^",
        "  note: params.yaml:1:1: first defined here",
        "  = a variable can be defined only once: rename or remove one of them",
      ].join("\n"),
    );
    expect(r.errors[0]!.reason).toBe("vars-redefined");
  });

  it("allows a whole file twice (params.yaml is often listed), not partly and whole", async () => {
    await stages({ "params.yaml": "a: 1\n", "pipe.yaml": "vars: [params.yaml, params.yaml]\nstages:\n  s:\n    cmd: echo ${a}\n" });
    const r = await expand({ "p.yaml": "a: 1\nb: 2\n", "pipe.yaml": "vars: ['p.yaml:a', p.yaml]\nstages:\n  s:\n    cmd: echo ${a}\n" });
    expect(r.errors.map((d) => d.message)).toEqual(["'p.yaml' cannot be loaded whole: some of its keys are already loaded (a)"]);
    const k = await expand({ "p.yaml": "a: 1\n", "pipe.yaml": "vars: ['p.yaml:b']\nstages:\n  s:\n    cmd: echo\n" });
    expect(k.errors.map((d) => [d.message, d.location?.line])).toEqual([["vars file 'p.yaml' has no key 'b'", 1]]);
  });

  it("stage vars cannot redefine item or key", async () => {
    const r = await expand({ "pipe.yaml": "stages:\n  b:\n    foreach: {x: 1}\n    do:\n      vars:\n        - item: 3\n      cmd: echo ${item}\n" });
    expect(r.errors.map((d) => [d.message, d.location?.line, d.location?.col])).toEqual([["stage vars cannot redefine 'item'", 6, 11]]);
  });

  it("a vars file that holds no mapping, or is broken, is an error in that file", async () => {
    const r = await expand({ "l.yaml": "- a\n- b\n", "bad.yaml": "a: [1\n", "pipe.yaml": "vars: [l.yaml, bad.yaml]\nstages:\n  s:\n    cmd: echo\n" });
    expect(r.errors.map((d) => `${d.location?.file}:${d.location?.line}: ${d.reason}: ${d.message}`)).toEqual([
      "bad.yaml:1: yaml-syntax: '[' is not closed: a flow sequence must end with ']'",
      "pipe.yaml:1: params: vars file 'l.yaml' must hold a mapping of variables, but it holds a list",
    ]);
  });
});

describe("foreach and matrix", () => {
  it("names members by scalar item, by index as soon as one item is a list or mapping, by key for mappings", async () => {
    const ss = await stages({
      "params.yaml": "years: [2021, 2022]\nrates: [0.1, 1.0e-3, true]\nmodels:\n  cnn: {depth: 3}\n  2020: {depth: 1}\n",
      "pipe.yaml": [
        "stages:",
        "  build:",
        "    foreach: ${years}",
        "    do:",
        "      cmd: echo ${item}",
        "  rate:",
        "    foreach: ${rates}",
        "    do:",
        "      cmd: echo ${item}",
        "  mixed:",
        "    foreach:",
        "      - a",
        "      - {x: 1}",
        "    do:",
        "      cmd: echo ${item}",
        "  model:",
        "    foreach: ${models}",
        "    do:",
        "      cmd: echo ${key} ${item.depth}",
        "",
      ].join("\n"),
    });
    expect(cmds(ss)).toEqual({
      "build@2021": "echo 2021",
      "build@2022": "echo 2022",
      "rate@0.1": "echo 0.1",
      "rate@0.001": "echo 0.001",
      "rate@true": "echo true",
      "mixed@0": "echo a",
      "mixed@1": "echo --x 1",
      "model@cnn": "echo cnn 3",
      "model@2020": "echo 2020 1",
    });
    expect(ss.map((s) => s.group)).toEqual(["build", "build", "rate", "rate", "rate", "mixed", "mixed", "model", "model"]);
  });

  it("expands a matrix in axis order; mapping and list values are named <axis><index>", async () => {
    const ss = await stages({
      "params.yaml": "lrs: [0.1, 0.01]\n",
      "pipe.yaml": [
        "stages:",
        "  train:",
        "    matrix:",
        "      lr: ${lrs}",
        "      model: [cnn, rnn]",
        "      cfg:",
        "        - {depth: 3}",
        "    cmd: train ${item.lr} ${item.model} ${item.cfg.depth} ${key}",
        "    outs:",
        "      - out/${item.model}-${item.lr}",
        "",
      ].join("\n"),
    });
    expect(cmds(ss)).toEqual({
      "train@0.1-cnn-cfg0": "train 0.1 cnn 3 0.1-cnn-cfg0",
      "train@0.1-rnn-cfg0": "train 0.1 rnn 3 0.1-rnn-cfg0",
      "train@0.01-cnn-cfg0": "train 0.01 cnn 3 0.01-cnn-cfg0",
      "train@0.01-rnn-cfg0": "train 0.01 rnn 3 0.01-rnn-cfg0",
    });
    expect(ss[0]!.outs[0]!.rootPath).toBe("out/cnn-0.1");
  });

  it("reports the same problem once, naming the members only when some have it", async () => {
    const r = await expand({ "pipe.yaml": "stages:\n  b:\n    foreach:\n      - {t: 1}\n      - {}\n    do:\n      cmd: echo ${item.t} ${nope}\n" });
    expect(r.errors.map((d) => d.message)).toEqual([
      "undefined variable 'item.t' in '${item.t}' (in stage 'b@1')",
      "undefined variable 'nope' in '${nope}'",
    ]);
    expect(r.errors[0]!.hint).toBe("'item' is an empty mapping");
  });

  it("warns when item or key shadow a variable", async () => {
    const r = await expand({ "params.yaml": "item: 1\n", "pipe.yaml": "stages:\n  b:\n    foreach: [x]\n    do:\n      cmd: echo ${item}\n" });
    expect(r.value!.stages[0]!.cmd).toBe("echo x");
    expect(r.warnings.map((d) => d.message)).toEqual(["'item' is already defined (in params.yaml); in the stages generated from 'b' it names the current item instead"]);
  });

  it("a matrix axis must be a list", async () => {
    const r = await expand({ "params.yaml": "m: {a: 1}\n", "pipe.yaml": "stages:\n  t:\n    matrix:\n      x: ${m}\n    cmd: echo\n" });
    expect(r.errors.map((d) => [d.reason, d.message])).toEqual([["foreach", "matrix axis 'x' must be a list, but '${m}' is a mapping"]]);
  });
});

describe("stages", () => {
  it("addresses stages by name in the root file and by file:name elsewhere", async () => {
    const root = makeProject({ "sub/dvc.yaml": "stages:\n  train:\n    cmd: echo\n    wdir: ..\n    outs: [m.pkl]\n" });
    const r = await expandIn(root, "sub/dvc.yaml");
    const s = r.value!.stages[0]!;
    expect([s.address, s.name, s.file, s.dir, s.wdir, s.wdirRaw]).toEqual(["sub/dvc.yaml:train", "train", "sub/dvc.yaml", "sub", "", ".."]);
    expect(s.outs[0]!.rootPath).toBe("m.pkl");
    writeFiles(root, { "dvc.yaml": "stages:\n  train:\n    cmd: echo\n" });
    expect((await expandIn(root, "dvc.yaml")).value!.stages[0]!.address).toBe("train");
  });

  it("normalises deps and outs: URLs external, deps outside the root allowed, outs outside the root an error", async () => {
    const root = makeProject({
      "sub/pipe.yaml": [
        "stages:",
        "  s:",
        "    cmd: echo",
        "    deps: [./data/, ../../shared/x.csv, https://example.com/a.zip, /abs/elsewhere]",
        "    outs:",
        "      - s3://bucket/out",
        "      - ../../etc/passwd",
        "    metrics: [{m.json: {cache: false}}]",
        "    plots: [{p.csv: {x: step, persist: true}}]",
        "",
      ].join("\n"),
    });
    const r = await expandIn(root, "sub/pipe.yaml");
    expect(rendered(r)).toBe(
      [
        "sub/pipe.yaml:7:9: error: output '../../etc/passwd' is outside the project root (it resolves to ../etc/passwd)",
        "  |",
        "7 |       - ../../etc/passwd",
        "  |         ^^^^^^^^^^^^^^^^",
        "  = outputs must lie inside the project, which pipe never writes outside of; a stage may read files outside it (deps)",
      ].join("\n"),
    );
    expect(r.errors[0]!.reason).toBe("out-outside-root");
    writeFiles(root, { "sub/pipe.yaml": readFileSync(path.join(root, "sub/pipe.yaml"), "utf8").replace("      - ../../etc/passwd\n", "") });
    const s = (await expandIn(root, "sub/pipe.yaml")).value!.stages[0]!;
    expect(s.deps.map((d) => [d.rootPath, d.external, d.outside])).toEqual([
      ["sub/data", false, false],
      ["../shared/x.csv", false, true],
      ["https://example.com/a.zip", true, false],
      ["/abs/elsewhere", false, true],
    ]);
    expect(s.outs.map((o) => [o.kind, o.rootPath, o.external, o.cache, o.persist, o.flags])).toEqual([
      ["outs", "s3://bucket/out", true, true, false, {}],
      ["metrics", "sub/m.json", false, false, false, {}],
      ["plots", "sub/p.csv", false, true, true, { x: "step" }],
    ]);
    expect(s.deps[0]!.loc).toEqual({ file: "sub/pipe.yaml", line: 4, col: 12, length: 7 });
  });

  it("merges params per file: bare keys go to params.yaml, a whole file drops its keys, keys sorted once", async () => {
    const ss = await stages({
      "pipe.yaml": [
        "stages:",
        "  s:",
        "    cmd: echo",
        "    params:",
        "      - train.lr",
        "      - a.yaml: [z, b]",
        "      - train.lr",
        "      - a.yaml: [b, c]",
        "      - ./params.yaml: [evaluate]",
        "      - whole.yaml:",
        "      - whole.yaml: [k]",
        "      - empty.toml: []",
        "",
      ].join("\n"),
    });
    expect(ss[0]!.params.map((p) => [p.file, p.rootPath, p.keys])).toEqual([
      ["params.yaml", "params.yaml", ["evaluate", "train.lr"]],
      ["a.yaml", "a.yaml", ["b", "c", "z"]],
      ["whole.yaml", "whole.yaml", null],
      ["empty.toml", "empty.toml", null],
    ]);
  });

  it("keeps frozen, always_changed, desc and meta, and top-level params/metrics/plots files", async () => {
    const r = await expand({
      "sub/params.yaml": "n: 3\n",
      "sub/dvc.yaml": [
        "params: [p2.yaml]",
        "metrics:",
        "  - m${n}.json",
        "plots:",
        "  - acc.csv",
        "  - roc: {x: fpr, y: {eval/a.json: tpr, eval/b.json: tpr}}",
        "  - loss.png:",
        "stages:",
        "  s:",
        "    cmd: echo",
        "    frozen: true",
        "    always_changed: true",
        "    desc: takes ${n}",
        "    meta: {owner: me, n: 2.5}",
        "",
      ].join("\n"),
    }, "sub/dvc.yaml");
    expect(rendered(r)).toBe("");
    const v = r.value!;
    const s = v.stages[0]!;
    expect([s.frozen, s.alwaysChanged, s.desc, s.meta]).toEqual([true, true, "takes 3", { owner: "me", n: 2.5 }]);
    expect(v.params.map((f) => f.rootPath)).toEqual(["sub/p2.yaml"]);
    expect(v.metrics.map((f) => f.rootPath)).toEqual(["sub/m3.json"]);
    expect(v.plots.map((f) => f.rootPath)).toEqual(["sub/acc.csv", "sub/eval/a.json", "sub/eval/b.json", "sub/loss.png"]);
  });
});

describe("bad templates", () => {
  it("undefined variables name the nearest defined ones, or what is defined", async () => {
    const r = await expand({
      "params.yaml": "train:\n  lr: 0.1\nlayers: [1, 2]\nmode: fast\n",
      "pipe.yaml": "stages:\n  s:\n    cmd: echo ${train.lrr} ${layers[5]} ${mode.x} ${zzz} ${item}\n",
    });
    expect(r.errors.map((d) => [d.message, d.hint])).toEqual([
      ["undefined variable 'train.lrr' in '${train.lrr}'", "did you mean 'train.lr'?"],
      ["undefined variable 'layers.5' in '${layers[5]}'", "'layers' is a list of 2 (indexes 0 to 1)"],
      ["undefined variable 'mode.x' in '${mode.x}'", "'mode' is fast, not a mapping or a list"],
      ["undefined variable 'zzz' in '${zzz}'", "defined: train, layers, mode"],
      ["undefined variable 'item' in '${item}'", "'item' is set only in the stages that foreach/do or matrix generate"],
    ]);
    expect(r.errors.map((d) => d.location?.col)).toEqual([15, 28, 41, 51, 58]);
  });

  it("locates a reference inside a folded or quoted scalar", async () => {
    const r = await expand({ "pipe.yaml": 'stages:\n  s:\n    cmd: >-\n      python x.py\n      --a ${nope}\n    desc: "say \\"hi\\" ${nope2}"\n' });
    expect(r.errors.map((d) => `${d.location?.line}:${d.location?.col}`)).toEqual(["5:11", "6:23"]);
  });

  it("an alias inside the collection it names is an error, not a crash", async () => {
    const text = "stages:\n  a:\n    cmd: echo\n    meta: &x {k: [1, *x]}\n";
    const want = [["this alias refers to a collection that contains it, which has no value", 4, 22]];
    // Reading the YAML finds it first; the expander, given such a document anyway, says the same.
    expect(validateStagesFile(parseYaml("pipe.yaml", text)).errors.map((d) => [d.message, d.location?.line, d.location?.col])).toEqual(want);
    const r = await expandIn(makeProject({ "pipe.yaml": text }), "pipe.yaml", undefined, false);
    expect(r.errors.map((d) => [d.message, d.location?.line, d.location?.col])).toEqual(want);
  });

  it("invalid references, lists in strings, a ${} foreach source that is no list", async () => {
    const r = await expand({
      "params.yaml": "xs: [1, 2]\nname: n\n",
      "pipe.yaml": "stages:\n  s:\n    cmd: echo ${a..b} ${xs}\n  f:\n    foreach: ${name}\n    do:\n      cmd: echo\n",
    });
    expect(r.errors.map((d) => [d.reason, d.message])).toEqual([
      ["template", "invalid reference '${a..b}': expected a name after '.', found '.'"],
      ["template", "cannot interpolate a list into a string: '${xs}' is [1, 2]"],
      ["foreach", "foreach needs a list or a mapping, but '${name}' is a string ('n')"],
    ]);
  });
});

describe("vars files as DVC reads them", () => {
  it("Python floats interpolate as Python prints them", async () => {
    const ss = await stages({ "p2.py": "X = 2.0\nY = 1e5\nW = -2.0\n", "pipe.yaml": "vars: [p2.py]\nstages:\n  s:\n    cmd: echo ${X} ${Y} ${W}\n" });
    expect(ss[0]!.cmd).toBe("echo 2.0 100000.0 -2.0");
  });

  it("an integer past 2^53 interpolates exactly, from params.yaml, the stages file and a foreach item", async () => {
    const ss = await stages({
      "params.yaml": "big: 12345678901234567890\n",
      "pipe.yaml": "stages:\n  s:\n    foreach: [98765432109876543210]\n    do:\n      cmd: echo ${big} ${item}\n",
    });
    expect(cmds(ss)).toEqual({ "s@98765432109876543210": "echo 12345678901234567890 98765432109876543210" });
  });

  it("merge keys in params.yaml and in the stages file", async () => {
    const s2 = await stages({
      "params.yaml": "base: &b {lr: 0.1, epochs: 2}\ntrain:\n  <<: *b\n  epochs: 5\n",
      "pipe.yaml": "stages:\n  a: &a\n    cmd: echo ${train}\n    deps: [d.txt]\n  b:\n    <<: *a\n    cmd: echo b\n",
    });
    expect(cmds(s2)).toEqual({ a: "echo --lr 0.1 --epochs 5", b: "echo b" });
    expect(s2[1]!.deps.map((d) => d.path)).toEqual(["d.txt"]);
  });

  it("every broken vars file is reported at once, the stages' own too", async () => {
    const r = await expand({
      "v1.json": '{"a": 1,}',
      "v2.json": '{"a": }',
      "v3.toml": "a = 1\nb = = 2\n",
      "v4.json": '{"b": tru}',
      "pipe.yaml": "vars: [v1.json, v2.json, v3.toml]\nstages:\n  s:\n    cmd: echo ${a}\n    vars: [v4.json]\n",
    });
    expect(r.errors.map((d) => `${d.location?.file}:${d.location?.line}:${d.location?.col}: ${d.message}`)).toEqual([
      "v1.json:1:8: invalid JSON: a trailing comma before '}' is not allowed in JSON",
      "v2.json:1:7: invalid JSON: expected a value, found '}'",
      "v3.toml:2:5: invalid TOML: invalid value",
      "v4.json:1:7: invalid JSON: expected a value, found 'tru'",
    ]);
  });

  it("an alias bomb in a vars file fails fast with a located error", async () => {
    const rows = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (const [prev, cur] of [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"], ["e", "f"], ["f", "g"], ["g", "h"], ["h", "i"]] as const) {
      rows.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(",")}]`);
    }
    const r = await expand({ "params.yaml": rows.join("\n") + "\n", "pipe.yaml": "stages:\n  s:\n    cmd: echo ${a}\n" });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.location?.file).toBe("params.yaml");
    expect(r.errors[0]!.message).toMatch(/an alias bomb\?/);
  });
});

describe("stages that would act outside the project", () => {
  it("a wdir outside the root is an error even without outs", async () => {
    const r = await expand({ "pipe.yaml": "stages:\n  a:\n    cmd: echo\n    wdir: ../..\n  b:\n    cmd: echo\n    wdir: /tmp\n  c:\n    cmd: echo\n    wdir: sub/..\n" });
    expect(r.errors.map((d) => `${d.location?.line}:${d.location?.col}: ${d.message}`)).toEqual([
      "4:11: wdir '../..' is outside the project root",
      "7:11: wdir '/tmp' is outside the project root",
    ]);
  });
});

describe("top-level sections DVC interpolates", () => {
  it("an undefined variable in artifacts or datasets is an error, a defined one is fine", async () => {
    const r = await expand({
      "params.yaml": "name: model\n",
      "pipe.yaml": "artifacts:\n  ${name}:\n    path: ${nope}/m.pkl\n    type: model\ndatasets:\n  - name: ${missing}\n    type: dvc\n",
    });
    expect(r.errors.map((d) => `${d.location?.line}:${d.location?.col}: ${d.message}`)).toEqual([
      "3:11: undefined variable 'nope' in '${nope}'",
      "6:11: undefined variable 'missing' in '${missing}'",
    ]);
  });
});

/** The golden fixtures of fixtures/bad/: the exact text users read (the CLI prints it followed by a newline). */
describe("golden fixtures render exactly", () => {
  const cases: Record<string, string> = {
    "undefined-var": [
      "pipe.yaml:3:31: error: undefined variable 'trian.lr' in '${trian.lr}'",
      "  |",
      "3 |     cmd: python train.py --lr ${trian.lr} --epochs ${train.epochs}",
      "  |                               ^^^^^^^^^^^",
      "  = did you mean 'train.lr'?",
    ].join("\n"),
    "interp-in-vars": [
      "pipe.yaml:2:12: error: '${env}' cannot be used in vars",
      "  |",
      "2 |   - config/${env}.yaml",
      "  |            ^^^^^^",
      "  = vars are loaded before anything is interpolated: write the file name or the value literally",
      "",
      "pipe.yaml:3:16: error: '${base_dir}' cannot be used in vars",
      "  |",
      "3 |   - model_dir: ${base_dir}/models",
      "  |                ^^^^^^^^^^^",
      "  = vars are loaded before anything is interpolated: write the file name or the value literally",
    ].join("\n"),
    "var-defined-twice": [
      "pipe.yaml:3:5: error: variable 'train.lr' is defined in both config/defaults.yaml and config/experiment.yaml",
      "  |",
      "3 |   - config/experiment.yaml",
      "  |     ^^^^^^^^^^^^^^^^^^^^^^",
      "  note: config/defaults.yaml:2:3: first defined here",
      "  note: config/experiment.yaml:2:3: defined again here",
      "  = a variable can be defined only once (a later vars file does not override an earlier one): rename one of them, or load only some top-level keys ('config/experiment.yaml:key1,key2')",
    ].join("\n"),
    "foreach-string-source": [
      "pipe.yaml:3:14: error: foreach needs a list, a mapping, or a '${...}' naming one, not the string 'regions'",
      "  |",
      "3 |     foreach: regions",
      "  |              ^^^^^^^",
      "  = 'regions' is a variable: write 'foreach: ${regions}'",
    ].join("\n"),
    "dict-in-outs": [
      "pipe.yaml:5:9: error: cannot interpolate a mapping into a string: '${paths}' is {model: model.pkl, metrics: metrics.json}",
      "  |",
      "5 |       - ${paths}",
      "  |         ^^^^^^^^",
      "  = name one of its values ('${paths.model}', '${paths.metrics}'); only strings, numbers and booleans can be interpolated (in 'cmd', a mapping unpacks into --key value flags)",
      "",
      "pipe.yaml:6:14: error: cannot interpolate a mapping into a string: '${paths}' is {model: model.pkl, metrics: metrics.json}",
      "  |",
      "6 |       - logs/${paths}.txt",
      "  |              ^^^^^^^^",
      "  = name one of its values ('${paths.model}', '${paths.metrics}'); only strings, numbers and booleans can be interpolated (in 'cmd', a mapping unpacks into --key value flags)",
    ].join("\n"),
    "missing-vars-file": [
      "pipe.yaml:2:5: error: vars file 'config/train.yaml' does not exist",
      "  |",
      "2 |   - config/train.yaml",
      "  |     ^^^^^^^^^^^^^^^^^",
      "  = vars files are relative to the directory of pipe.yaml",
    ].join("\n"),
  };
  const reasons: Record<string, string[]> = {
    "undefined-var": ["undefined-variable"],
    "interp-in-vars": ["template", "template"],
    "var-defined-twice": ["vars-redefined"],
    "foreach-string-source": ["foreach"],
    "dict-in-outs": ["template", "template"],
    "missing-vars-file": ["missing-file"],
  };
  for (const [name, text] of Object.entries(cases)) {
    it(name, async () => {
      const root = makeProject();
      cpSync(path.join(REPO_ROOT, "fixtures", "bad", name, "project"), root, { recursive: true });
      const r = await expandIn(root, "pipe.yaml");
      expect(r.warnings).toEqual([]);
      expect(rendered(r)).toBe(text);
      expect(r.errors.map((d) => d.reason)).toEqual(reasons[name]);
      expect(readFileSync(path.join(REPO_ROOT, "fixtures", "bad", name, "expected.stderr"), "utf8")).toBe(`${text}\n`);
    });
  }
});

describe("reservedOutput", () => {
  it("names the paths a repro would destroy, and nothing else", () => {
    expect(reservedOutput(".git")).toBe("is reserved: pipe and DVC never treat '.git' as data");
    expect(reservedOutput("sub/.dvc")).toBe("is reserved: pipe and DVC never treat '.dvc' as data");
    expect(reservedOutput(".pipe/cache/ab")).toBe("lies inside '.pipe', which pipe and DVC never treat as data");
    expect(reservedOutput("vendor/.hg/store")).toBe("lies inside '.hg', which pipe and DVC never treat as data");
    expect(reservedOutput("pipe.yaml")).toBe("is a stages file");
    expect(reservedOutput("sub/dvc.yaml")).toBe("is a stages file");
    expect(reservedOutput("pipe.lock")).toBe("is a lock file");
    expect(reservedOutput("a/b/dvc.lock")).toBe("is a lock file");
    expect(reservedOutput("data.dvc")).toBe("is a DVC tracking file");
    for (const ok of [".gitignore", ".pipeignore", "git/x", "data/.github", "pipe.yaml.bak", "my.pipe", "dvc.yaml.d/x", "model.pkl", "params.yaml", ".dvcignore"]) {
      expect(reservedOutput(ok), ok).toBeUndefined();
    }
  });
});
