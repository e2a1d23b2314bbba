import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/project/config.js";
import { parseYaml } from "../../src/formats/yaml.js";
import { exists, gitInit, makeProject, read, runPipeIn, treeSnapshot } from "../helpers/project.js";

describe("pipe init", () => {
  it("creates .pipe/ with a valid config and a .gitignore for cache, state, runs and tmp", async () => {
    const dir = makeProject();
    const r = await runPipeIn(dir, ["init"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Initialised pipe in .*\.pipe \(config\.yaml, \.gitignore\): commit them\.\n$/);
    expect(read(dir, ".pipe/.gitignore")).toBe("/cache\n/state\n/runs\n/tmp\n/config.local.yaml\n");
    const config = parseConfig(parseYaml(".pipe/config.yaml", read(dir, ".pipe/config.yaml")));
    expect(config.ok && config.warnings).toEqual([]);
    expect(config.ok && config.value.cache.links).toEqual(["reflink", "copy"]);
  });

  it("is idempotent: a second run changes nothing; a lost file is restored, an edited config kept", async () => {
    const dir = makeProject();
    expect((await runPipeIn(dir, ["init"])).code).toBe(0);
    writeFileSync(path.join(dir, ".pipe/config.yaml"), "jobs: 4\n");
    const before = treeSnapshot(dir);
    const again = await runPipeIn(dir, ["init"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already initialised/);
    expect(treeSnapshot(dir)).toEqual(before);
    writeFileSync(path.join(dir, ".pipe/.gitignore"), "/cache\n");
    const repair = await runPipeIn(dir, ["init"]);
    expect(repair.stdout).toMatch(/restored \.pipe\/\.gitignore/);
    expect(read(dir, ".pipe/.gitignore")).toBe("/cache\n/state\n/runs\n/tmp\n/config.local.yaml\n");
    expect(read(dir, ".pipe/config.yaml")).toBe("jobs: 4\n");
  });

  it("in a DVC project, says the dvc.yaml files will be used", async () => {
    const dir = makeProject({ "dvc.yaml": "stages:\n  a:\n    cmd: echo\n" });
    mkdirSync(path.join(dir, ".dvc"));
    const r = await runPipeIn(dir, ["init"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/This is a DVC project: pipe uses its dvc\.yaml files as they are/);
    expect(exists(dir, ".pipe/config.yaml")).toBe(true);
  });

  it("refuses inside a subdirectory of an existing project, and -q prints nothing", async () => {
    const dir = makeProject({ "sub/x.txt": "" });
    gitInit(dir);
    expect((await runPipeIn(dir, ["-q", "init"])).stdout).toBe("");
    const r = await runPipeIn(path.join(dir, "sub"), ["init"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is inside the project at/);
    expect(exists(dir, "sub/.pipe")).toBe(false);
    expect(readFileSync(path.join(dir, ".pipe/.gitignore"), "utf8")).toContain("/state");
  });
});
