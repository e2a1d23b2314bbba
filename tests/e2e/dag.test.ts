/** `pipe dag` through the built CLI: every format, targets (also from a subdirectory), `--outs`, usage errors. */
import Ajv from "ajv";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, REPO_ROOT, runPipe, runPipeIn } from "../helpers/project.js";

const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas/dag.schema.json"), "utf8")) as object);

const PIPE_YAML = `stages:
  prepare:
    cmd: python prepare.py
    deps:
      - data/data.xml
    outs:
      - data/prepared
    desc: Split the data set
  featurize:
    cmd: python featurize.py
    deps:
      - data/prepared
    outs:
      - data/features
  train:
    cmd: python train.py
    deps:
      - data/features
    outs:
      - model.pkl
  evaluate:
    cmd: python evaluate.py
    deps:
      - model.pkl
      - data/features
    metrics:
      - eval/metrics.json
`;

const SUB_YAML = `stages:
  report:
    cmd: make report
    deps:
      - ../eval/metrics.json
    outs:
      - report.md
`;

function project(): string {
  return makeProject({ "pipe.yaml": PIPE_YAML, "docs/pipe.yaml": SUB_YAML, ".pipe/config.yaml": "" });
}

describe("pipe dag", () => {
  it("draws every stage as boxes, producers above consumers", async () => {
    const r = await runPipeIn(project(), ["dag"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rowOf = (name: string): number => r.stdout.split("\n").findIndex((l) => l.includes(`| ${name} |`));
    for (const name of ["prepare", "featurize", "train", "evaluate", "docs/pipe.yaml:report"]) expect(rowOf(name), r.stdout).toBeGreaterThanOrEqual(0);
    expect(rowOf("prepare")).toBeLessThan(rowOf("featurize"));
    expect(rowOf("featurize")).toBeLessThan(rowOf("train"));
    expect(rowOf("train")).toBeLessThan(rowOf("evaluate"));
    expect(rowOf("evaluate")).toBeLessThan(rowOf("docs/pipe.yaml:report"));
    expect(Math.max(...r.stdout.split("\n").map((l) => l.length))).toBeLessThanOrEqual(80);
  });

  it("--dot, --mermaid and --md give the same graph", async () => {
    const dir = project();
    const dot = await runPipeIn(dir, ["dag", "--dot"]);
    expect(dot.code).toBe(0);
    expect(dot.stdout).toContain('\t"featurize" -> "train";\n');
    expect(dot.stdout).toContain('\t"evaluate" -> "docs/pipe.yaml:report";\n');
    const mermaid = await runPipeIn(dir, ["dag", "--mermaid"]);
    expect(mermaid.stdout.startsWith("flowchart TD\n")).toBe(true);
    expect(mermaid.stdout).toContain('\tn5["docs/pipe.yaml:report"]\n');
    expect(mermaid.stdout).toContain("\tn4-->n5\n");
    const md = await runPipeIn(dir, ["dag", "--md"]);
    expect(md.stdout).toBe("```mermaid\n" + mermaid.stdout + "```\n");
  });

  it("--json validates against its schema and carries the stage fields", async () => {
    const r = await runPipeIn(project(), ["dag", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { nodes: { id: string; stage: { desc: string | null; cmd: string } }[]; edges: { from: string; to: string }[] };
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.nodes.map((n) => n.id)).toEqual(["prepare", "featurize", "train", "evaluate", "docs/pipe.yaml:report"]);
    expect(doc.nodes[0]!.stage).toMatchObject({ cmd: "python prepare.py", desc: "Split the data set" });
    expect(doc.edges).toContainEqual({ from: "featurize", to: "evaluate" });
  });

  it("a TARGET limits the drawing to what leads to it; --full draws everything", async () => {
    const dir = project();
    const r = await runPipeIn(dir, ["dag", "--dot", "train"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"train"');
    expect(r.stdout).not.toContain('"evaluate"');
    const full = await runPipeIn(dir, ["dag", "--dot", "--full", "train"]);
    expect(full.stdout).toContain('"docs/pipe.yaml:report"');
  });

  it("targets are read from the working directory, and an output path is a target too", async () => {
    const dir = project();
    const sub = await runPipeIn(path.join(dir, "docs"), ["dag", "--dot", "report"]);
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stdout).toContain('"report"');
    expect(sub.stdout).not.toContain("docs/pipe.yaml");
    const out = await runPipeIn(dir, ["dag", "--dot", "data/features"]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('"featurize"');
    expect(out.stdout).not.toContain('"train"');
  });

  it("--outs draws outputs", async () => {
    const r = await runPipeIn(project(), ["dag", "--outs", "--dot"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\t"data/features" -> "model.pkl";\n');
    expect(r.stdout).toContain('\t"eval/metrics.json" -> "docs/report.md";\n');
  });

  it("draws the README's example as the README shows it", async () => {
    const dir = makeProject();
    cpSync(path.join(REPO_ROOT, "examples", "classifier"), dir, { recursive: true });
    const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const shown = /\n\$ pipe dag\n([\s\S]*?)\$ pipe repro\n/.exec(readme)?.[1];
    expect(shown).toBeDefined();
    const r = await runPipeIn(dir, ["dag"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(shown);
  });

  it("is the same bytes on every run", async () => {
    const dir = project();
    expect((await runPipeIn(dir, ["dag"])).stdout).toBe((await runPipeIn(dir, ["dag"])).stdout);
  });

  it("an unknown target is a usage error with the nearest names", async () => {
    const r = await runPipeIn(project(), ["dag", "trian"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: unknown stage or output 'trian'\n  = did you mean 'train'?\n");
  });

  it("two formats at once are a usage error", async () => {
    const r = await runPipeIn(project(), ["dag", "--dot", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: choose one output format: --dot, --json were given\n");
  });

  it("a graph error exits 2 and draws nothing", async () => {
    const dir = makeProject({ "pipe.yaml": "stages:\n  a:\n    cmd: x\n    deps: [b.txt]\n    outs: [a.txt]\n  b:\n    cmd: y\n    deps: [a.txt]\n    outs: [b.txt]\n" });
    const r = await runPipeIn(dir, ["dag"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error: cycle in the stage graph: a -> b -> a");
  });
});

describe("pipe dag --status", () => {
  it("marks the stages pipe status calls stale, and only those", async () => {
    const dir = makeProject({
      "params.yaml": "lr: 0.1\n",
      "pipe.yaml": "stages:\n  prepare:\n    cmd: echo data > prepared.txt\n    outs: [prepared.txt]\n  train:\n    cmd: cat prepared.txt > model.txt; echo ${lr} >> model.txt\n    deps: [prepared.txt]\n    params: [lr]\n    outs: [model.txt]\n",
    });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const fresh = await runPipeIn(dir, ["dag", "--status"]);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).not.toContain("*");
    writeFileSync(path.join(dir, "params.yaml"), "lr: 0.2\n");
    const r = await runPipeIn(dir, ["dag", "--status"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("| train * |");
    expect(r.stdout).toContain("| prepare |");
    expect(r.stdout.endsWith("\n* stale\n")).toBe(true);
    const m = await runPipeIn(dir, ["dag", "--status", "--mermaid"]);
    expect(m.stdout).toContain("\tclass n2 stale\n");
  });
});
