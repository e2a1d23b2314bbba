/**
 * Conformance over the real-world corpus (`../shared/corpus/dvc-real`, spec 2.3): every stages file of every folder
 * is discovered, parsed, validated and expanded as the loader does, and every stage its `dvc.lock` records (when the
 * stage, or its foreach/matrix group, is still defined in the `dvc.yaml` beside it) must expand under the same name
 * to the same interpolated `cmd`: the lock is what DVC produced from that file.
 *
 * A lock entry is compared when its stage still exists: a plain stage of that name, or a `group@key` that its
 * `foreach`/`matrix` group still generates. Entries for stages no longer defined (a removed stage, an item removed
 * from a foreach list, a plain name whose definition became a group) are counted apart, not compared.
 *
 * `excused.json` lists what cannot match for a reason outside pipe, each with its reason:
 * - `rejected`: files DVC 3 itself rejects; they must fail with a located diagnostic;
 * - `unresolvable`: files whose variables cannot be resolved from what the repository committed (a withheld or
 *   generated params file); they must fail with a located diagnostic of the expected reason;
 * - `stale`: lock entries of stages that still exist but no longer match their dvc.yaml (the file or its params
 *   were edited after the lock was written); each must still mismatch, so the list cannot rot.
 *
 * Where the cmd matches, the stage's paths must match the lock too (deps and outs as written, params files and
 * keys), unless `stalePaths` excuses it (same rules).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import type { Diagnostic } from "../../src/core/diagnostic.js";
import { renderDiagnostics } from "../../src/core/diagnostic.js";
import { validateStagesFile } from "../../src/schema/validate.js";
import { parseYaml } from "../../src/formats/yaml.js";
import type { Stage } from "../../src/core/model.js";
import { discoverStagesFiles } from "../../src/project/discover.js";
import { expandStagesFile } from "../../src/template/expand.js";
import { CORPUS } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

const REAL = path.join(CORPUS, "dvc-real");

interface Excused {
  rejected: { file: string; reason: string }[];
  unresolvable: { file: string; reason: string; expect: string }[];
  stale: { file: string; reason: string; stages: string[] }[];
  stalePaths: { file: string; reason: string; stages: string[] }[];
}

const excused = JSON.parse(readFileSync(new URL("./excused.json", import.meta.url), "utf8")) as Excused;
const rejectedFiles = new Map(excused.rejected.map((e) => [e.file, e.reason]));
const unresolvableFiles = new Map(excused.unresolvable.map((e) => [e.file, e]));
const staleStages = new Map(excused.stale.flatMap((e) => e.stages.map((s) => [`${e.file}:${s}`, e.reason] as const)));
const stalePaths = new Map(excused.stalePaths.flatMap((e) => e.stages.map((s) => [`${e.file}:${s}`, e.reason] as const)));

const HAVE_CORPUS = hasCorpus();
const folders = (HAVE_CORPUS ? readdirSync(REAL)
  .filter((f) => statSync(path.join(REAL, f)).isDirectory())
  .sort() : []);

const counts = { folders: 0, files: 0, stages: 0, compared: 0, matched: 0, excused: 0, gone: 0, pathsMatched: 0, pathsExcused: 0 };
const used = new Set<string>();

interface LockedStage {
  name: string;
  cmd: string | string[];
  deps: { path: string }[];
  outs: { path: string }[];
  params: Record<string, Record<string, unknown> | null>;
}

/** The stages of a dvc.lock: DVC 2+ (`schema: '2.0'`, `stages:`) or DVC 1 (a flat map of stages). */
function lockStages(text: string): LockedStage[] {
  const doc = parseDocument(text, { version: "1.2" }).toJS() as Record<string, unknown> | null;
  if (!doc) return [];
  const map = ("schema" in doc ? doc["stages"] : doc) as Record<string, Partial<LockedStage>> | undefined;
  return Object.entries(map ?? {}).map(([name, e]) => ({ name, cmd: e.cmd ?? "", deps: e.deps ?? [], outs: e.outs ?? [], params: e.params ?? {} }));
}

/** How the expanded stage's paths differ from the lock's (paths as written, `./` and a trailing `/` aside). */
function pathDifferences(got: Stage, locked: LockedStage): string[] {
  const norm = (ps: string[]): string => JSON.stringify(ps.map((p) => p.replace(/^\.\//, "").replace(/\/$/, "")).sort());
  const out: string[] = [];
  const deps = [norm(got.deps.map((d) => d.path)), norm(locked.deps.map((d) => d.path))];
  if (deps[0] !== deps[1]) out.push(`deps: pipe ${deps[0]}, lock ${deps[1]}`);
  const outs = [norm(got.outs.map((o) => o.path)), norm(locked.outs.map((o) => o.path))];
  if (outs[0] !== outs[1]) out.push(`outs: pipe ${outs[0]}, lock ${outs[1]}`);
  for (const p of got.params) {
    const keys = locked.params[p.file];
    if (keys === undefined) out.push(`params: pipe tracks ${p.file}, the lock does not`);
    else if (p.keys !== null && JSON.stringify(p.keys) !== JSON.stringify(Object.keys(keys ?? {}).sort())) {
      out.push(`params ${p.file}: pipe ${JSON.stringify(p.keys)}, lock ${JSON.stringify(Object.keys(keys ?? {}).sort())}`);
    }
  }
  return out;
}

function located(ds: readonly Diagnostic[]): boolean {
  return ds.length > 0 && ds.every((d) => d.location !== undefined && d.location.line > 0);
}

describe.runIf(HAVE_CORPUS)("the dvc-real corpus expands as DVC expanded it", () => {
  it("has the corpus", () => {
    expect(folders.length).toBeGreaterThan(45);
  });

  it.each(folders)("%s", async (folder) => {
    const root = path.join(REAL, folder);
    const found = await discoverStagesFiles(root);
    expect(found.ok).toBe(true);
    if (!found.ok) return;
    counts.folders++;
    const problems: string[] = [];
    for (const f of found.value) {
      counts.files++;
      const id = `${folder}/${f.file}`;
      const sources = new Map<string, string>();
      const text = await readFile(f.abs, "utf8");
      sources.set(f.file, text);
      const parsed = parseYaml(f.file, text);
      const check = validateStagesFile(parsed);
      const rejected = rejectedFiles.get(id);
      const unresolvable = unresolvableFiles.get(id);
      if (rejected !== undefined) {
        used.add(`rejected:${id}`);
        expect(check.errors.length, `${id} is rejected by DVC 3 but validated`).toBeGreaterThan(0);
        expect(located(check.errors), renderDiagnostics(check.errors, sources)).toBe(true);
        continue;
      }
      if (check.errors.length > 0) {
        problems.push(`${id}: does not validate:\n${renderDiagnostics(check.errors, sources)}`);
        continue;
      }
      const r = await expandStagesFile({ root, file: f.file, text, doc: parsed.doc, lineCounter: parsed.lineCounter, sources });
      if (unresolvable !== undefined) {
        used.add(`unresolvable:${id}`);
        expect(r.ok, `${id} should not resolve (${unresolvable.reason})`).toBe(false);
        if (r.ok) continue;
        expect(located(r.errors), renderDiagnostics(r.errors, sources)).toBe(true);
        expect(r.errors.map((d) => d.reason)).toContain(unresolvable.expect);
        continue;
      }
      if (!r.ok) {
        problems.push(`${id}: does not expand:\n${renderDiagnostics(r.errors, sources)}`);
        continue;
      }
      counts.stages += r.value.stages.length;
      const byName = new Map<string, Stage>(r.value.stages.map((s) => [s.name, s]));
      const definitions = (parsed.doc.toJS() as { stages?: Record<string, Record<string, unknown>> } | null)?.stages ?? {};
      const isGroup = (n: string): boolean => definitions[n] !== undefined && ("foreach" in definitions[n] || "matrix" in definitions[n]);
      const lockRel = path.posix.join(path.posix.dirname(f.file), "dvc.lock");
      let lockText: string;
      try {
        lockText = await readFile(path.join(root, lockRel), "utf8");
      } catch {
        continue;
      }
      for (const locked of lockStages(lockText)) {
        const at = locked.name.lastIndexOf("@");
        const group = at > 0 ? locked.name.slice(0, at) : locked.name;
        const plain = definitions[locked.name] !== undefined && !isGroup(locked.name);
        const member = at > 0 && isGroup(group);
        // A member its group no longer generates (an item removed from the list) does not still exist, any more than
        // a removed stage does: there is nothing to compare. But a group that generates nothing at all would hide
        // all of its members this way (a pipe bug looks the same), so that is reported.
        if (!plain && !(member && byName.has(locked.name))) {
          counts.gone++;
          if (member && ![...byName.keys()].some((n) => n.startsWith(`${group}@`))) {
            problems.push(`${id}:${locked.name}: the group '${group}' generates no stage at all`);
          }
          continue;
        }
        counts.compared++;
        const key = `${id}:${locked.name}`;
        const got = byName.get(locked.name);
        const matches = got !== undefined && JSON.stringify(got.cmd) === JSON.stringify(locked.cmd);
        const reason = staleStages.get(key);
        if (reason !== undefined) {
          used.add(`stale:${key}`);
          counts.excused++;
          if (matches) problems.push(`${key}: excused (${reason}) but matches now: remove it from excused.json`);
          continue;
        }
        if (matches) {
          counts.matched++;
          const diff = pathDifferences(got, locked);
          const why = stalePaths.get(key);
          if (why !== undefined) {
            used.add(`stalePaths:${key}`);
            counts.pathsExcused++;
            if (diff.length === 0) problems.push(`${key}: paths excused (${why}) but match now: remove it from excused.json`);
          } else if (diff.length > 0) {
            problems.push(`${key}: paths differ\n  ${diff.join("\n  ")}`);
          } else {
            counts.pathsMatched++;
          }
        }
        else if (!got) {
          const siblings = [...byName.keys()].filter((n) => n.startsWith(`${group}@`));
          problems.push(`${key}: not generated${siblings.length > 0 ? ` (the group generates ${siblings.slice(0, 8).join(", ")}${siblings.length > 8 ? ", ..." : ""})` : ""}`);
        }
        else problems.push(`${key}: cmd differs\n  lock: ${JSON.stringify(locked.cmd)}\n  pipe: ${JSON.stringify(got.cmd)}`);
      }
    }
    expect(problems, problems.join("\n\n")).toEqual([]);
  });

  it("uses every entry of excused.json", () => {
    const listed = [
      ...[...rejectedFiles.keys()].map((k) => `rejected:${k}`),
      ...[...unresolvableFiles.keys()].map((k) => `unresolvable:${k}`),
      ...[...staleStages.keys()].map((k) => `stale:${k}`),
      ...[...stalePaths.keys()].map((k) => `stalePaths:${k}`),
    ];
    expect(listed.filter((k) => !used.has(k))).toEqual([]);
  });

  afterAll(() => {
    console.log(
      `corpus conformance: ${counts.folders} folders loaded, ${counts.files} stages files, ${counts.stages} stages expanded, ` +
        `${counts.compared} locked cmds compared: ${counts.matched} matched, ${counts.excused} excused; ` +
        `lock entries for stages no longer defined: ${counts.gone}; ` +
        `paths of the matched: ${counts.pathsMatched} matched, ${counts.pathsExcused} excused`,
    );
  });
});
