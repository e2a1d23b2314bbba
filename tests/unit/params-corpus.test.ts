/**
 * The params/metrics file collection over the real-world corpus: every stages file scans, every params file the
 * corpus carries for it parses, and known projects give the files and keys DVC would compare.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { workspaceSide } from "../../src/git/revision.js";
import { parseParamsFlat, readSide, selectParams } from "../../src/params/compare.js";
import { addStagesText, emptyTracked, stagesFilesOf } from "../../src/params/tracked.js";
import { CORPUS } from "../helpers/project.js";

const REAL = path.join(CORPUS, "dvc-real");

function filesUnder(root: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(root, rel))) {
    const p = rel ? `${rel}/${name}` : name;
    if (statSync(path.join(root, p)).isDirectory()) out.push(...filesUnder(root, p));
    else out.push(p);
  }
  return out;
}

function scan(folder: string) {
  const root = path.join(REAL, folder);
  const all = filesUnder(root);
  const t = emptyTracked();
  for (const f of stagesFilesOf(all)) addStagesText(t, f, readFileSync(path.join(root, f), "utf8"));
  return { root, all: new Set(all), tracked: t };
}

const folders = readdirSync(REAL).filter((f) => statSync(path.join(REAL, f)).isDirectory());

describe("params and metrics files over the corpus", () => {
  it("has the corpus", () => {
    expect(folders.length).toBeGreaterThan(40);
  });

  it.each(folders)("%s: every params file present parses", async (folder) => {
    const { root, all, tracked } = scan(folder);
    const files = selectParams(tracked, { deps: false })
      .map((s) => s.file)
      .filter((f) => all.has(f));
    const r = await readSide(workspaceSide(root), files, parseParamsFlat);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const bad = [...r.value].filter(([, x]) => x.state !== "ok").map(([f, x]) => `${f}: ${x.state === "invalid" ? x.problems[0]?.message : x.state}`);
    expect(bad).toEqual([]);
  });

  it("multi-params-files: repeated file/key entries merge; --deps keeps the tracked keys", () => {
    const { tracked } = scan("iterative__pipeline-conifguration__multi-params-files");
    const deps = selectParams(tracked, { deps: true }).map((s) => [s.file, s.keys ? [...s.keys].sort() : null]);
    expect(deps).toEqual([
      ["params.yaml", ["evaluate", "run_mode"]],
      ["configs/params_dev.yaml", ["data_load", "train"]],
    ]);
  });

  it("example-get-started: top-level metrics, bare params", () => {
    const { tracked } = scan("iterative__example-get-started");
    expect([...tracked.metrics]).toEqual(["eval/metrics.json"]);
    expect([...tracked.params.keys()]).toEqual(["params.yaml"]);
  });
});
