/** `pipe stage list` through the built CLI: one line per stage (described as `dvc stage list` does), `--json` per spec 5, targets. */
import Ajv from "ajv";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, REPO_ROOT, runPipeIn } from "../helpers/project.js";

const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas/stage-list.schema.json"), "utf8")) as object);

const FILES = {
  ".pipe/config.yaml": "",
  "params.yaml": "lr: 0.1\nmodels: [a, b]\n",
  "pipe.yaml": `stages:
  train:
    cmd: python train.py --lr \${lr}
    deps:
      - data.csv
    params:
      - lr
      - extra.toml:
    outs:
      - model.pkl
    metrics:
      - metrics.json:
          cache: false
    desc: |
      Train the model.
      Second line.
  build:
    foreach: \${models}
    do:
      cmd: ["make \${item}", echo done]
      deps:
        - model.pkl
      outs:
        - out/\${item}
  notes:
    cmd: echo hi
    frozen: true
`,
  "sub/pipe.yaml": `stages:
  report:
    cmd: make
    wdir: ..
    deps:
      - out/a
    plots:
      - plot.csv
`,
};

describe("pipe stage list", () => {
  it("one line per stage in execution order: address and a one-line description", async () => {
    const r = await runPipeIn(makeProject(FILES), ["stage", "list"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "train                 Train the model.",
        "build@a               Outputs out/a",
        "build@b               Outputs out/b",
        "notes                 No outputs or dependencies",
        "sub/pipe.yaml:report  Reports plot.csv",
        "",
      ].join("\n"),
    );
  });

  it("--json: the expanded stages as spec 5 describes them", async () => {
    const r = await runPipeIn(makeProject(FILES), ["stage", "list", "--json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(validate(list), JSON.stringify(validate.errors)).toBe(true);
    expect(list.map((s) => s["address"])).toEqual(["train", "build@a", "build@b", "notes", "sub/pipe.yaml:report"]);
    expect(list[0]).toEqual({
      address: "train",
      name: "train",
      file: "pipe.yaml",
      wdir: ".",
      cmd: "python train.py --lr 0.1",
      deps: ["data.csv"],
      outs: ["model.pkl"],
      metrics: ["metrics.json"],
      plots: [],
      params: { "params.yaml": ["lr"], "extra.toml": null },
      frozen: false,
      always_changed: false,
      desc: "Train the model.\nSecond line.\n",
    });
    expect(list[1]).toMatchObject({ cmd: ["make a", "echo done"], outs: ["out/a"] });
    expect(list[3]).toMatchObject({ frozen: true, desc: null });
    expect(list[4]).toMatchObject({ file: "sub/pipe.yaml", wdir: ".", deps: ["out/a"], plots: ["plot.csv"] });
  });

  it("targets: a stage, a group, a stages file; from a subdirectory too", async () => {
    const dir = makeProject(FILES);
    expect((await runPipeIn(dir, ["stage", "list", "build"])).stdout).toBe("build@a  Outputs out/a\nbuild@b  Outputs out/b\n");
    expect((await runPipeIn(dir, ["stage", "list", "sub/pipe.yaml", "notes"])).stdout).toBe("notes                 No outputs or dependencies\nsub/pipe.yaml:report  Reports plot.csv\n");
    // From `sub/`, its stages are their bare names, as DVC addresses them (relative to the working directory).
    expect((await runPipeIn(path.join(dir, "sub"), ["stage", "list", "report"])).stdout).toBe("report  Reports plot.csv\n");
  });

  it("an unknown target is a usage error", async () => {
    const r = await runPipeIn(makeProject(FILES), ["stage", "list", "buidl"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: unknown stage 'buidl'\n  = did you mean 'build'?\n");
  });
});
