/**
 * The project layer on a real temp directory: finding the root from a subdirectory, reading `.pipe/config.yaml`,
 * and discovering stages files (order, skipped directories, ignore files, the pipe.yaml-wins warning).
 */
import { mkdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../../src/core/diagnostic.js";
import { parseYaml } from "../../src/formats/yaml.js";
import { parseConfig, parseLinks, readConfig } from "../../src/project/config.js";
import { discoverStagesFiles } from "../../src/project/discover.js";
import { findProjectRoot } from "../../src/project/root.js";
import { gitInit, makeProject } from "../helpers/project.js";

const STAGE = "stages:\n  s:\n    cmd: echo\n";

describe("findProjectRoot", () => {
  it("walks up from a subdirectory to the directory holding .pipe/", async () => {
    const dir = makeProject({ ".pipe/config.yaml": "", "sub/pipe.yaml": STAGE, "sub/deeper/x.txt": "" });
    gitInit(dir);
    const r = await findProjectRoot(path.join(dir, "sub", "deeper"));
    expect(r.ok && r.value).toEqual({ root: dir, gitRoot: dir, hasPipeDir: true, hasDvcDir: false });
  });

  it("prefers the .dvc/ directory over a nearer dvc.yaml (a DVC project's subdirectory)", async () => {
    const dir = makeProject({ "dvc.yaml": STAGE, "sub/dvc.yaml": STAGE });
    mkdirSync(path.join(dir, ".dvc"));
    gitInit(dir);
    const r = await findProjectRoot(path.join(dir, "sub"));
    expect(r.ok && r.value).toEqual({ root: dir, gitRoot: dir, hasPipeDir: false, hasDvcDir: true });
  });

  it("falls back to the nearest directory holding pipe.yaml or dvc.yaml", async () => {
    const dir = makeProject({ "a/pipe.yaml": STAGE, "a/b/c/x.txt": "" });
    gitInit(dir);
    const r = await findProjectRoot(path.join(dir, "a", "b", "c"));
    expect(r.ok && r.value.root).toBe(path.join(dir, "a"));
  });

  it("inside git, with no .pipe/ or .dvc/, takes the OUTERMOST stages file up to the git root (one project, not two)", async () => {
    const dir = makeProject({ "pipe.yaml": STAGE, "sub/pipe.yaml": STAGE, "sub/deeper/dvc.yaml": STAGE, "sub/deeper/x/y.txt": "" });
    gitInit(dir);
    for (const cwd of ["sub", "sub/deeper", "sub/deeper/x", ""]) {
      const r = await findProjectRoot(path.join(dir, cwd));
      expect(r.ok && r.value).toEqual({ root: dir, gitRoot: dir, hasPipeDir: false, hasDvcDir: false });
    }
    // A .pipe/ still decides, nearest first: a project that really is nested stays nested.
    mkdirSync(path.join(dir, "sub/.pipe"));
    const nested = await findProjectRoot(path.join(dir, "sub/deeper"));
    expect(nested.ok && nested.value.root).toBe(path.join(dir, "sub"));
  });

  it("outside git, takes the nearest stages file (nothing bounds the walk up)", async () => {
    const dir = makeProject({ "pipe.yaml": STAGE, "sub/pipe.yaml": STAGE, "sub/x/y.txt": "" });
    const r = await findProjectRoot(path.join(dir, "sub", "x"));
    expect(r.ok && r.value.root).toBe(path.join(dir, "sub"));
    expect(r.ok && r.value.gitRoot).toBeUndefined();
  });

  it("stops at the git root", async () => {
    const dir = makeProject({ "pipe.yaml": STAGE, "repo/src/x.txt": "" });
    gitInit(path.join(dir, "repo"));
    const cwd = path.join(dir, "repo", "src");
    const r = await findProjectRoot(cwd);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.map((d) => [d.reason, d.message])).toEqual([
        ["project", `not a pipe project: no .pipe/, .dvc/, pipe.yaml or dvc.yaml found in ${cwd} or above (run 'pipe init')`],
      ]);
    }
  });

  it("says so when the directory does not exist", async () => {
    const dir = makeProject();
    const r = await findProjectRoot(path.join(dir, "nope"));
    expect(!r.ok && r.errors[0]?.reason).toBe("project");
  });
});

describe("readConfig", () => {
  it("gives the defaults when there is no config file", async () => {
    const dir = makeProject();
    const r = await readConfig(dir);
    expect(r.ok && r.value).toEqual({ cache: { type: "reflink,copy", links: ["reflink", "copy"] }, gitignore: true, executor: "local", slurm: { submit: "plan", resources: {}, stages: [] } });
  });

  it("reads every setting", async () => {
    const dir = makeProject({ ".pipe/config.yaml": "cache:\n  type: hardlink, copy\njobs: 4\ngitignore: false\nexecutor: slurm\nslurm:\n  submit: ready\n  resources: {partition: debug, time: 30, sbatch: --exclusive}\n  stages:\n    'train*': {cpus: 4, mem: 8G, gpus: 1}\n" });
    const r = await readConfig(dir);
    expect(r.ok && r.value).toEqual({ cache: { type: "hardlink,copy", links: ["hardlink", "copy"] }, jobs: 4,
      gitignore: false,
      executor: "slurm",
      slurm: {
        submit: "ready",
        resources: { partition: "debug", time: "30", sbatch: ["--exclusive"] },
        stages: [{ pattern: "train*", resources: { cpus: 4, mem: "8G", gpus: "1" } }],
      },
    });
    const auto = parseConfig(parseYaml(".pipe/config.yaml", "jobs: auto\n"));
    expect(auto.ok && auto.value.jobs).toBe("auto");
  });

  it("slurm: an unknown resource or setting, or a value of the wrong shape, is a located error", () => {
    const r = parseConfig(parseYaml(".pipe/config.yaml", "slurm:\n  submit: later\n  resources:\n    memory: 4G\n  stages:\n    s: {time: soon}\n"));
    expect(!r.ok && r.errors.map((d) => `${d.location?.line}:${d.location?.col} ${d.message}${d.hint ? ` (${d.hint})` : ""}`)).toEqual([
      "2:11 'slurm.submit' must be 'plan' or 'ready'",
      "4:5 unknown resource 'memory' in 'slurm.resources' (known: partition, time, cpus, mem, gpus, account, qos, constraint, sbatch) (did you mean 'mem'?)",
      "6:15 'time' must be a SLURM time (minutes, MM:SS, HH:MM:SS or D-HH:MM:SS) (in 'slurm.stages.s')",
    ]);
  });

  it("an unknown executor is a located error naming the known ones, with the nearest as a hint", async () => {
    const dir = makeProject({ ".pipe/config.yaml": "jobs: 2\nexecutor: locl\n" });
    const sources = new Map<string, string>();
    const r = await readConfig(dir, sources);
    expect(r.ok).toBe(false);
    expect(renderDiagnostics(r.ok ? [] : r.errors, sources)).toBe(
      [
        ".pipe/config.yaml:2:11: error: unknown executor 'locl' (known: local, slurm)",
        "  |",
        "2 | executor: locl",
        "  |           ^^^^",
        "  = did you mean 'local'?",
      ].join("\n"),
    );
    const notAName = parseConfig(parseYaml(".pipe/config.yaml", "executor: [local]\n"));
    expect(!notAName.ok && notAName.errors.map((d) => d.message)).toEqual(["'executor' must be the name of an executor (local, slurm)"]);
  });

  it("warns about unknown keys, with a hint", async () => {
    const dir = makeProject({ ".pipe/config.yaml": "job: 2\ncache:\n  typ: copy\n" });
    const sources = new Map<string, string>();
    const r = await readConfig(dir, sources);
    expect(r.ok).toBe(true);
    expect(renderDiagnostics(r.warnings, sources)).toBe(
      [
        ".pipe/config.yaml:1:1: warning: unknown setting 'job' in .pipe/config.yaml (ignored)",
        "  |",
        "1 | job: 2",
        "  | ^^^",
        "  = did you mean 'jobs'?",
        "",
        ".pipe/config.yaml:3:3: warning: unknown setting 'cache.typ' in .pipe/config.yaml (ignored)",
        "  |",
        "3 |   typ: copy",
        "  |   ^^^",
        "  = did you mean 'type'?",
      ].join("\n"),
    );
  });

  it("rejects values of the wrong shape with located errors", async () => {
    const dir = makeProject({ ".pipe/config.yaml": "jobs: 0\ncache:\n  type: reflink,zip\ngitignore: maybe\n" });
    const r = await readConfig(dir);
    expect(!r.ok && r.errors.map((d) => `${d.location?.line}:${d.location?.col} ${d.message}`)).toEqual([
      "1:7 'jobs' must be a positive integer or 'auto'",
      "3:9 'cache.type' must be a comma-separated list of reflink, copy, hardlink, symlink",
      "4:12 'gitignore' must be true or false",
    ]);
  });

  it("reports invalid YAML with its location", async () => {
    const dir = makeProject({ ".pipe/config.yaml": "cache:\n\ttype: copy\n" });
    const r = await readConfig(dir);
    expect(!r.ok && r.errors.map((d) => `${d.location?.file}:${d.location?.line}:${d.location?.col} ${d.message}`)).toEqual([
      ".pipe/config.yaml:2:1 tab character used for indentation",
    ]);
  });

  it("parses link lists strictly", () => {
    expect(parseLinks("reflink,copy")).toEqual(["reflink", "copy"]);
    expect(parseLinks("symlink")).toEqual(["symlink"]);
    expect(parseLinks("copy,copy")).toBeUndefined();
    expect(parseLinks("")).toBeUndefined();
    expect(parseLinks("zip")).toBeUndefined();
  });
});

async function discovered(dir: string): Promise<string[]> {
  const r = await discoverStagesFiles(dir);
  if (!r.ok) throw new Error("discovery failed");
  return r.value.map((f) => f.file);
}

describe("discoverStagesFiles", () => {
  it("lists the root's file first, then the others by path in byte order", async () => {
    const dir = makeProject({
      "b/pipe.yaml": STAGE,
      "a/dvc.yaml": STAGE,
      "a-b/dvc.yaml": STAGE,
      "A/pipe.yaml": STAGE,
      "a/z/y/pipe.yaml": STAGE,
      "pipe.yaml": STAGE,
      "a/notes.txt": "",
    });
    expect(await discovered(dir)).toEqual(["pipe.yaml", "A/pipe.yaml", "a-b/dvc.yaml", "a/dvc.yaml", "a/z/y/pipe.yaml", "b/pipe.yaml"]);
    const r = await discoverStagesFiles(dir);
    expect(r.ok && r.value[1]).toEqual({ file: "A/pipe.yaml", abs: path.join(dir, "A", "pipe.yaml"), dir: "A", flavor: "pipe" });
  });

  it("skips .git, .pipe, .dvc, node_modules and nested projects", async () => {
    const dir = makeProject({
      "dvc.yaml": STAGE,
      ".git/dvc.yaml": STAGE,
      ".pipe/pipe.yaml": STAGE,
      ".dvc/dvc.yaml": STAGE,
      "node_modules/pkg/dvc.yaml": STAGE,
      "nested/.dvc/config": "",
      "nested/dvc.yaml": STAGE,
      "nested2/.pipe/config.yaml": "",
      "nested2/pipe.yaml": STAGE,
      "ok/dvc.yaml": STAGE,
    });
    expect(await discovered(dir)).toEqual(["dvc.yaml", "ok/dvc.yaml"]);
  });

  it("applies .pipeignore (gitignore syntax), at the root and below", async () => {
    const dir = makeProject({
      ".pipeignore": "data/\nexperiments/*/pipe.yaml\n!experiments/keep/pipe.yaml\n",
      "data/raw/pipe.yaml": STAGE,
      "experiments/a/pipe.yaml": STAGE,
      "experiments/keep/pipe.yaml": STAGE,
      "tools/.pipeignore": "old\n",
      "tools/old/dvc.yaml": STAGE,
      "tools/new/dvc.yaml": STAGE,
    });
    expect(await discovered(dir)).toEqual(["experiments/keep/pipe.yaml", "tools/new/dvc.yaml"]);
  });

  it("applies .dvcignore as DVC does", async () => {
    const dir = makeProject({ ".dvcignore": "scratch\n", "scratch/dvc.yaml": STAGE, "dvc.yaml": STAGE });
    expect(await discovered(dir)).toEqual(["dvc.yaml"]);
  });

  it("does not descend into directories git ignores (data, stage outputs)", async () => {
    const dir = makeProject({
      ".gitignore": "/data\n*.yaml\n",
      "data/pipe.yaml": STAGE,
      "src/pipe.yaml": STAGE,
      "src/.gitignore": "/out\n",
      "src/out/pipe.yaml": STAGE,
    });
    // `*.yaml` ignores no directory, and gitignore rules never hide a stages file itself.
    expect(await discovered(dir)).toEqual(["src/pipe.yaml"]);
  });

  it("does not follow symlinked directories", async () => {
    const dir = makeProject({ "real/pipe.yaml": STAGE });
    symlinkSync(path.join(dir, "real"), path.join(dir, "link"));
    symlinkSync(dir, path.join(dir, "real", "loop"));
    expect(await discovered(dir)).toEqual(["real/pipe.yaml"]);
  });

  it("uses pipe.yaml when a directory also holds dvc.yaml, with a warning naming both", async () => {
    const dir = makeProject({ "pipe.yaml": STAGE, "dvc.yaml": STAGE, "sub/pipe.yaml": STAGE, "sub/dvc.yaml": STAGE });
    const r = await discoverStagesFiles(dir);
    expect(r.ok && r.value.map((f) => f.file)).toEqual(["pipe.yaml", "sub/pipe.yaml"]);
    expect(r.warnings.map((d) => [d.severity, d.message])).toEqual([
      ["warning", "both pipe.yaml and dvc.yaml are in the project root: using pipe.yaml, ignoring dvc.yaml"],
      ["warning", "both sub/pipe.yaml and sub/dvc.yaml are in sub/: using sub/pipe.yaml, ignoring sub/dvc.yaml"],
    ]);
  });

  it("finds nothing in an empty project", async () => {
    expect(await discovered(makeProject())).toEqual([]);
  });
});
