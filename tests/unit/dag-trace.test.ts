/**
 * The text drawing read back (tests/unit/dag-trace.ts): following its lines gives exactly the graph's edges, for
 * every corpus project DVC 3 accepts (stages, `--outs`, `--expand`) and for random graphs; and it fits 80 columns.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../src/graph/graph.js";
import type { StageGraph } from "../../src/core/model.js";
import { loadPipeline } from "../../src/project/load.js";
import { renderText } from "../../src/report/dag/text.js";
import { buildView } from "../../src/report/dag/view.js";
import { CORPUS, REPO_ROOT } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";
import { makePipeline, type StageSpec } from "../helpers/stages.js";
import { drawingProblems, gridProblems } from "./dag-trace.js";

const REAL = path.join(CORPUS, "dvc-real");
const excused = JSON.parse(readFileSync(path.join(REPO_ROOT, "tests/corpus/excused.json"), "utf8")) as Record<string, { file: string }[]>;
const SKIPPED = new Set([...(excused["rejected"] ?? []), ...(excused["unresolvable"] ?? [])].map((e) => e.file.split("/")[0]!));
const HAVE_CORPUS = hasCorpus();
const projects = (HAVE_CORPUS ? readdirSync(REAL, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !SKIPPED.has(d.name))
  .map((d) => d.name)
  .sort() : []);

async function corpusGraph(name: string): Promise<StageGraph> {
  const p = await loadPipeline(path.join(REAL, name), new Map());
  if (!p.ok) throw new Error(p.errors.map((e) => e.message).join("\n"));
  const g = buildGraph(p.value);
  if (!g.ok) throw new Error(g.errors.map((e) => e.message).join("\n"));
  return g.value;
}

function widest(text: string): number {
  return Math.max(...text.split("\n").map((l) => l.length));
}

describe.runIf(HAVE_CORPUS)("drawings of the corpus read back as their graphs", () => {
  it("has the corpus", () => {
    expect(projects.length).toBeGreaterThan(40);
  });
  for (const name of projects) {
    it(name, async () => {
      const graph = await corpusGraph(name);
      const view = buildView(graph);
      const text = renderText(view);
      expect(drawingProblems(text, view)).toEqual([]);
      expect(gridProblems(text)).toEqual([]);
      expect(widest(text)).toBeLessThanOrEqual(80);
      const outs = buildView(graph, { outs: true });
      expect(drawingProblems(renderText(outs), outs)).toEqual([]);
      // Expanding the groups of a few hundred stages makes a drawing of a thousand boxes: the small ones suffice.
      const expanded = buildView(graph, { expand: true });
      if (expanded.nodes.length <= 200) expect(drawingProblems(renderText(expanded), expanded)).toEqual([]);
    }, 120_000); // the largest drawings take seconds of CPU: more than 30 s on a loaded CI machine
  }
});

/** A small deterministic generator (mulberry32), so the random graphs are the same on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ["prepare", "train", "evaluate", "featurize", "split", "model", "report", "plot", "eval", "data", "download_dataset", "GloVeVectorizer"];

/** A random pipeline: stages in order, each reading outputs of up to `fanIn` earlier ones, names of varied length. */
function randomGraph(seed: number, stages: number, fanIn: number): StageGraph {
  const rnd = random(seed);
  const specs: StageSpec[] = [];
  for (let i = 0; i < stages; i++) {
    const deps = new Set<string>();
    const k = Math.floor(rnd() * (fanIn + 1));
    for (let j = 0; j < k && i > 0; j++) deps.add(`o${Math.floor(rnd() * i)}`);
    const word = WORDS[Math.floor(rnd() * WORDS.length)]!;
    specs.push({ name: `${word}_${i}${rnd() < 0.3 ? `@${WORDS[Math.floor(rnd() * WORDS.length)]!}` : ""}`, deps: [...deps], outs: [`o${i}`] });
  }
  const r = buildGraph(makePipeline(specs).pipeline);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("\n"));
  return r.value;
}

describe("drawings of random graphs read back as their graphs", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const stages = 5 + (seed % 8) * 5;
    const fanIn = 1 + (seed % 4);
    it(`seed ${seed}: ${stages} stages, up to ${fanIn} inputs each`, () => {
      const view = buildView(randomGraph(seed, stages, fanIn));
      const text = renderText(view);
      expect(drawingProblems(text, view)).toEqual([]);
      expect(gridProblems(text)).toEqual([]);
      expect(renderText(view)).toBe(text);
    });
  }
});
