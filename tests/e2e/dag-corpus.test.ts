/**
 * `pipe dag` draws every corpus project DVC 3 accepts (spec 5; the Done-when): exit 0, a box for every node
 * (boxes and edges, never a list), the same bytes on a second run, and every format agreeing on the number of nodes.
 * That the drawing's lines give exactly the graph's edges, and that it fits 80 columns, is checked over the same
 * corpus and the same view in tests/unit/dag-trace.test.ts. The CLI runs in process (`runPipeIn`).
 */
import { cpSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, makeProject, REPO_ROOT, runPipeIn } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";
import { boxesIn } from "../unit/dag-trace.js";

const REAL = path.join(CORPUS, "dvc-real");

/** Folders DVC 3 rejects or cannot resolve as committed (the corpus conformance test's excused list). */
const excused = JSON.parse(readFileSync(path.join(REPO_ROOT, "tests/corpus/excused.json"), "utf8")) as Record<string, { file: string }[]>;
const SKIPPED = new Set([...(excused["rejected"] ?? []), ...(excused["unresolvable"] ?? [])].map((e) => e.file.split("/")[0]!));

const HAVE_CORPUS = hasCorpus();
const projects = (HAVE_CORPUS ? readdirSync(REAL, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort() : []);

describe.runIf(HAVE_CORPUS)("pipe dag over the DVC corpus", () => {
  it("has the corpus and skips only what DVC rejects", () => {
    expect(projects.length).toBeGreaterThan(45);
    expect(SKIPPED.size).toBeLessThanOrEqual(6);
  });
  for (const name of projects.filter((p) => !SKIPPED.has(p))) {
    it(name, async () => {
      const root = makeProject();
      cpSync(path.join(REAL, name), root, { recursive: true });
      mkdirSync(path.join(root, ".dvc"), { recursive: true });
      const first = await runPipeIn(root, ["dag"]);
      expect(first.stderr).not.toMatch(/internal error|error:/);
      expect(first.code).toBe(0);
      const json = await runPipeIn(root, ["dag", "--json"]);
      expect(json.code).toBe(0);
      const doc = JSON.parse(json.stdout) as { nodes: unknown[] };
      // Drawn, not listed: one box per node.
      expect(boxesIn(first.stdout)).toHaveLength(doc.nodes.length);
      expect(first.stdout).not.toMatch(/too wide|columns wide/);
      expect((await runPipeIn(root, ["dag"])).stdout).toBe(first.stdout);
      const mermaid = await runPipeIn(root, ["dag", "--mermaid"]);
      expect(mermaid.stdout.split("\n").filter((l) => /^\tn\d+\[/.test(l))).toHaveLength(doc.nodes.length);
    }, 60_000);
  }
});
