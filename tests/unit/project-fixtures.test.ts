/**
 * The bad-input fixtures of the project layer (`fixtures/bad/<case>/`), loaded in-process with `loadPipeline`: the
 * rendered diagnostics must be exactly `expected.stderr`, which is what `pipe stage list` prints for them (the e2e
 * golden harness checks the CLI side). `UPDATE_GOLDEN=1` rewrites the expected files from this rendering.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../../src/core/diagnostic.js";
import { loadPipeline } from "../../src/project/load.js";
import { makeProject, REPO_ROOT } from "../helpers/project.js";

/** The cases this layer owns (other fixtures belong to templating and graph checks). */
const CASES = [
  "yaml-invalid",
  "yaml-tab-indent",
  "yaml-duplicate-key",
  "unknown-top-level-key",
  "unknown-stage-key",
  "cmd-wrong-type",
  "foreach-extra-key",
  "several-errors",
];

describe("bad input fixtures of the project layer", () => {
  for (const name of CASES) {
    it(name, async () => {
      const caseDir = path.join(REPO_ROOT, "fixtures", "bad", name);
      const sources = new Map<string, string>();
      const r = await loadPipeline(path.join(caseDir, "project"), sources);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      // As `cli/load.ts` prints a failed load: errors, then warnings, then a newline.
      const rendered = renderDiagnostics([...r.errors, ...r.warnings], sources) + "\n";
      const expectedFile = path.join(caseDir, "expected.stderr");
      if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(expectedFile, rendered);
      expect(rendered).toBe(readFileSync(expectedFile, "utf8"));
      for (const d of r.errors) expect(d.location?.file).toBe("pipe.yaml");
    });
  }

  it("several-errors reports every error of the file, in order", async () => {
    const sources = new Map<string, string>();
    const r = await loadPipeline(path.join(REPO_ROOT, "fixtures", "bad", "several-errors", "project"), sources);
    expect(!r.ok && r.errors.map((d) => `${d.location?.line}:${d.location?.col}`)).toEqual(["4:11", "7:11", "8:3", "9:5", "11:13", "14:1"]);
  });
});

describe("loadPipeline", () => {
  it("collects the errors of every file, not only the first file's, and reads every file into sources", async () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  a:\n    cmd: echo a\n    dep: [x]\n",
      "sub/dvc.yaml": "stages:\n  b:\n    cmd: echo b\n    frozen: maybe\n",
      "zzz/pipe.yaml": "stages:\n  c:\n\tcmd: echo c\n",
    });
    const sources = new Map<string, string>();
    const r = await loadPipeline(dir, sources);
    expect(!r.ok && r.errors.map((d) => `${d.location?.file}:${d.location?.line} ${d.message}`)).toEqual([
      "pipe.yaml:4 unknown stage key 'dep'",
      "sub/dvc.yaml:4 'frozen' must be true or false, not a string",
      "zzz/pipe.yaml:3 tab character used for indentation",
    ]);
    expect([...sources.keys()].sort()).toEqual(["pipe.yaml", "sub/dvc.yaml", "zzz/pipe.yaml"]);
  });

  it("passes discovery warnings through, and loads a project with both pipe.yaml and dvc.yaml in one directory", async () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  a:\n    cmd: echo a\n",
      "dvc.yaml": "stages:\n  b:\n    cmd: echo b\n",
    });
    const r = await loadPipeline(dir, new Map());
    expect(r.ok).toBe(true);
    expect(r.warnings.map((d) => d.message)).toEqual(["both pipe.yaml and dvc.yaml are in the project root: using pipe.yaml, ignoring dvc.yaml"]);
    if (r.ok) {
      expect(r.value.files.map((f) => [f.file, f.flavor])).toEqual([["pipe.yaml", "pipe"]]);
      expect(r.value.stages.map((s) => s.address)).toEqual(["a"]);
    }
  });

  it("concatenates stages in file order: the root file first, then the others by path", async () => {
    const dir = makeProject({
      "b/pipe.yaml": "stages:\n  b1:\n    cmd: echo\n",
      "a/dvc.yaml": "stages:\n  a1:\n    cmd: echo\n  a2:\n    cmd: echo\n",
      "dvc.yaml": "stages:\n  root:\n    cmd: echo\n",
    });
    const r = await loadPipeline(dir, new Map());
    expect(r.ok && r.value.stages.map((s) => [s.file, s.name])).toEqual([
      ["dvc.yaml", "root"],
      ["a/dvc.yaml", "a1"],
      ["a/dvc.yaml", "a2"],
      ["b/pipe.yaml", "b1"],
    ]);
    expect(r.ok && r.value.root).toBe(dir);
  });

  it("loads a project with no stages file as an empty pipeline", async () => {
    const r = await loadPipeline(makeProject(), new Map());
    expect(r.ok && r.value.stages).toEqual([]);
  });
});
