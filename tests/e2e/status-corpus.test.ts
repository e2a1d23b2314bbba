/**
 * `pipe status` on every corpus project DVC 3 accepts: it prints a report and does not crash. The corpus has no data,
 * so most deps and outs show as deleted; the dvc.lock files are read (md5, legacy md5, DVC 1 flat layout). Every dep
 * that a stage's lock entry records and that is not on disk must be reported `deleted` (checked against the lock
 * files themselves, read here with the `yaml` package, once per lock file, and the stages as `pipe stage list --json`
 * gives them). The CLI runs in process (`runPipeIn`): the reports are the point, not the process.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { CORPUS, makeProject, REPO_ROOT, runPipeIn } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

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

const HAVE_CORPUS = hasCorpus();
const projects = (HAVE_CORPUS ? readdirSync(REAL, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort() : []);

interface ListedStage {
  address: string;
  name: string;
  file: string;
  wdir: string;
  deps: string[];
  frozen: boolean;
}

interface StatusDoc {
  stages: Record<string, { stale: boolean; reasons: { kind: string; changes?: { path: string; change: string }[] }[] }>;
}

const norm = (p: string): string => path.posix.normalize(p).replace(/\/$/, "");

type LockedStages = Record<string, { deps?: { path?: unknown }[] }> | null;

/**
 * Deps paths each stage's lock entry records, by stage file and name (DVC 2/3 layout, or DVC 1's flat one). Each
 * lock is parsed once (`parsed`, per project): some hold hundreds of stages, and parsing one per stage took minutes.
 */
function lockedDeps(parsed: Map<string, LockedStages>, root: string, file: string, name: string): string[] {
  const lock = path.join(root, path.dirname(file), "dvc.lock");
  let stages = parsed.get(lock);
  if (stages === undefined) {
    const doc = existsSync(lock) ? (parse(readFileSync(lock, "utf8")) as Record<string, unknown> | null) : null;
    stages = (doc && "schema" in doc ? doc["stages"] : doc) as LockedStages;
    parsed.set(lock, stages);
  }
  const deps = stages?.[name]?.deps ?? [];
  return deps.map((d) => d.path).filter((p): p is string => typeof p === "string");
}

/** Projects where some locked dep is missing on disk: each such dep was checked to be reported deleted. */
let checkedProjects = 0;

describe.runIf(HAVE_CORPUS)("pipe status over the DVC corpus", () => {
  it("has the corpus", () => {
    expect(projects.length).toBeGreaterThan(45);
  });
  for (const name of projects.filter((p) => !REJECTED_BY_DVC.has(p))) {
    it(name, async () => {
      // Each folder is a DVC project root: copy it and mark the root as DVC does.
      const root = makeProject();
      cpSync(path.join(REAL, name), root, { recursive: true });
      mkdirSync(path.join(root, ".dvc"), { recursive: true });
      const r = await runPipeIn(root, ["status"]);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.stderr, r.stderr).not.toMatch(/error:/);
      expect(r.code).toBe(0);
      // Without their data (as here), the report may start with one summary line and fold the stages waiting for
      // it; -v unfolds them, so the text can be compared with the JSON stage by stage.
      expect(r.stdout).toMatch(/(Pipeline is up to date\.|Up to date: .*|Frozen, outputs match the lock: .*|\n {4,}\S.*|\('pipe status -v' lists each output\))\n$/);
      const v = await runPipeIn(root, ["-v", "status"]);
      expect(v.code).toBe(0);
      expect(v.stdout).toMatch(/(Pipeline is up to date\.|Up to date: .*|Frozen, outputs match the lock: .*|\n {4,}\S.*)\n$/);
      const j = await runPipeIn(root, ["status", "--json"]);
      expect(j.code).toBe(0);
      const doc = JSON.parse(j.stdout) as { stages: Record<string, { stale: boolean }> };
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
      // The text report and the JSON agree on which stages are stale.
      for (const [address, st] of Object.entries(doc.stages)) {
        if (st.stale) expect(v.stdout).toContain(`${address}:\n`);
      }
      // Every dep the lock records, that the stage still has and that is not on disk, is reported deleted.
      const listed = JSON.parse((await runPipeIn(root, ["stage", "list", "--json"])).stdout) as ListedStage[];
      const full = doc as unknown as StatusDoc;
      let missing = 0;
      const parsed = new Map<string, LockedStages>();
      for (const s of listed) {
        if (s.frozen) continue;
        const locked = new Set(lockedDeps(parsed, root, s.file, s.name).map(norm));
        const reported = new Map<string, string>();
        for (const reason of full.stages[s.address]?.reasons ?? []) {
          if (reason.kind === "changed-deps") for (const c of reason.changes ?? []) reported.set(norm(c.path), c.change);
        }
        for (const dep of s.deps) {
          if (dep.includes("://") || !locked.has(norm(dep)) || existsSync(path.resolve(root, s.wdir, dep))) continue;
          missing++;
          // The JSON's paths are root-relative; the stage's and the lock's are relative to its wdir.
          expect([s.address, dep, reported.get(norm(path.posix.join(s.wdir, dep)))]).toEqual([s.address, dep, "deleted"]);
        }
      }
      if (missing > 0) checkedProjects++;
    });
  }

  it("found locked deps missing on disk in most projects, so the check above is not vacuous", () => {
    expect(checkedProjects).toBeGreaterThan(30);
  });
});
