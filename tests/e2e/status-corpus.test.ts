/**
 * `pipe status` on every corpus project DVC 3 accepts: it prints a report and does not crash. The corpus has no data,
 * so most deps and outs show as deleted; the dvc.lock files are read (md5, legacy md5, DVC 1 flat layout).
 */
import { cpSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { CORPUS, makeProject, REPO_ROOT, runPipe } from "../helpers/project.js";

const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas/status.schema.json"), "utf8")) as object);

const REAL = path.join(CORPUS, "dvc-real");

/** Projects DVC 3 itself rejects (`live:`) or cannot resolve as committed (withheld or uncommitted vars files). */
const REJECTED_BY_DVC = new Set([
  "iterative__example-repos-dev__dvc-checkpoints-mnist__branches__full_pipeline",
  "FUSA-ROADS__fusa-net-experiments",
  "dfsnow__opentimes",
  "mitchellhenke__lodes",
  "jotsif__mlproject_template_2024",
]);

const projects = readdirSync(REAL, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe("pipe status over the DVC corpus", () => {
  it("has the corpus", () => {
    expect(projects.length).toBeGreaterThan(45);
  });
  for (const name of projects.filter((p) => !REJECTED_BY_DVC.has(p))) {
    it(name, () => {
      // Each folder is a DVC project root: copy it and mark the root as DVC does.
      const root = makeProject();
      cpSync(path.join(REAL, name), root, { recursive: true });
      mkdirSync(path.join(root, ".dvc"), { recursive: true });
      const r = runPipe(root, ["status"]);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.stderr, r.stderr).not.toMatch(/error:/);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/(Pipeline is up to date\.|Up to date: .*|\n {4,}\S.*)\n$/);
      const j = runPipe(root, ["status", "--json"]);
      expect(j.code).toBe(0);
      const doc = JSON.parse(j.stdout) as { stages: Record<string, { stale: boolean }> };
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
      // The text report and the JSON agree on which stages are stale.
      for (const [address, st] of Object.entries(doc.stages)) {
        if (st.stale) expect(r.stdout).toContain(`${address}:\n`);
      }
    });
  }
});
