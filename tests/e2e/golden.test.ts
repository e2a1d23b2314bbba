/**
 * Golden tests for bad input: each folder of `fixtures/bad/` is a project whose `pipe stage list` must fail with exit
 * code 2 and exactly the stderr in its `expected.stderr`, and must write nothing. `UPDATE_GOLDEN=1 npm test` rewrites
 * the expected files (review the diff before committing). Run in process (`runPipeIn`): the message is the point.
 */
import { readdirSync, readFileSync, writeFileSync, cpSync, existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, REPO_ROOT, runPipeIn, treeSnapshot } from "../helpers/project.js";

const BAD = path.join(REPO_ROOT, "fixtures", "bad");
const cases = existsSync(BAD) ? readdirSync(BAD).sort() : [];

describe("bad input gives its golden message", () => {
  it("has fixtures", () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  for (const name of cases) {
    it(name, async () => {
      const src = path.join(BAD, name);
      const dir = makeProject();
      cpSync(path.join(src, "project"), dir, { recursive: true });
      const before = treeSnapshot(dir);
      const r = await runPipeIn(dir, ["stage", "list"]);
      const expectedFile = path.join(src, "expected.stderr");
      if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(expectedFile, r.stderr);
      expect(r.stderr).toBe(readFileSync(expectedFile, "utf8"));
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(treeSnapshot(dir)).toEqual(before);
    });
  }
});
