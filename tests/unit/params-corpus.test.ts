/**
 * The params/metrics file collection over the real-world corpus: every stages file scans, every params file the
 * corpus carries for it parses, and known projects give the files and keys DVC would compare.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ok } from "../../src/core/diagnostic.js";
import { workspaceSide, type Side } from "../../src/git/revision.js";
import { trackRevision } from "../../src/compare/params-at-revision.js";
import { parseParamsFlat, readSide, selectParams } from "../../src/compare/params.js";
import { emptyTracked } from "../../src/compare/tracked.js";
import { CORPUS, REPO_ROOT } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

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

/**
 * What `params diff` gathers for a corpus folder read as a git revision would be: the folder's files through a side
 * that reads them from disk, so discovery, templating and the fallback are the real ones.
 */
async function scan(folder: string) {
  const root = path.join(REAL, folder);
  const all = filesUnder(root);
  const disk = workspaceSide(root);
  const side: Side = { ...disk, name: "corpus", kind: "commit", listAll: async () => ok(all) };
  const t = emptyTracked();
  const r = await trackRevision(root, side, t);
  if (!r.ok) throw new Error(r.errors.map((d) => d.message).join("\n"));
  return { root, all: new Set(all), tracked: t, loadErrors: r.value.errors };
}

const excused = JSON.parse(readFileSync(path.join(REPO_ROOT, "tests/corpus/excused.json"), "utf8")) as Record<string, { file: string }[]>;
/** Stages files that do not load (DVC rejects them too, or the corpus lacks a vars file they need). */
const EXCUSED = [...(excused["rejected"] ?? []), ...(excused["unresolvable"] ?? [])].map((e) => e.file).sort();

const HAVE_CORPUS = hasCorpus();
const folders = (HAVE_CORPUS ? readdirSync(REAL).filter((f) => statSync(path.join(REAL, f)).isDirectory()) : []);

describe.runIf(HAVE_CORPUS)("params and metrics files over the corpus", () => {
  it("has the corpus", () => {
    expect(folders.length).toBeGreaterThan(40);
  });

  it.each(folders)("%s: loads as a revision, and every params file present parses", async (folder) => {
    const { root, all, tracked, loadErrors } = await scan(folder);
    // Every corpus pipeline loads when read through a revision's reader, as it does from disk, except the files the
    // corpus conformance test excuses (rejected by DVC 3, or missing a withheld vars file); those fall back.
    const failing = [...new Set(loadErrors.map((d) => d.location?.file))].sort();
    expect(failing).toEqual(EXCUSED.filter((f) => f.startsWith(`${folder}/`)).map((f) => f.slice(folder.length + 1)));
    const files = selectParams(tracked, { deps: false })
      .map((s) => s.file)
      .filter((f) => all.has(f));
    const r = await readSide(workspaceSide(root), files, parseParamsFlat);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const bad = [...r.value].filter(([, x]) => x.state !== "ok").map(([f, x]) => `${f}: ${x.state === "invalid" ? x.problems[0]?.message : x.state}`);
    expect(bad).toEqual([]);
  });

  it("multi-params-files: repeated file/key entries merge; --deps keeps the tracked keys", async () => {
    const { tracked } = await scan("iterative__pipeline-conifguration__multi-params-files");
    const deps = selectParams(tracked, { deps: true }).map((s) => [s.file, s.keys ? [...s.keys].sort() : null]);
    expect(deps).toEqual([
      ["params.yaml", ["evaluate", "run_mode"]],
      ["configs/params_dev.yaml", ["data_load", "train"]],
    ]);
  });

  it("example-get-started: top-level metrics, bare params", async () => {
    const { tracked } = await scan("iterative__example-get-started");
    expect([...tracked.metrics]).toEqual(["eval/metrics.json"]);
    expect([...tracked.params.keys()]).toEqual(["params.yaml"]);
  });
});
