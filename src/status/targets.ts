/**
 * Turning `status` targets into stage addresses: an address (`train`, `build@foo`, `sub/dvc.yaml:train`), a stage
 * name in another file written with its directory (`sub:train`), a `foreach`/`matrix` group name (`build`, every
 * member), or a stages file or its directory (`sub/dvc.yaml`, `sub`: every stage in it). Unknown targets are
 * usage errors with the nearest names.
 */
import { didYouMean, error, fail, ok, type Diagnostic, type Result } from "../config/diagnostic.js";
import type { StageGraph } from "../model.js";

function dirOf(file: string): string {
  const i = file.lastIndexOf("/");
  return i < 0 ? "" : file.slice(0, i);
}

function strip(p: string): string {
  return p.replace(/^\.\//, "").replace(/\/+$/, "");
}

/** Addresses matching one target, in execution order. */
function match(graph: StageGraph, target: string): string[] {
  const stages = graph.order.map((a) => graph.stages.get(a)!);
  if (graph.stages.has(target)) return [target];
  const colon = target.lastIndexOf(":");
  let file: string | undefined;
  let name = target;
  if (colon > 0) {
    file = strip(target.slice(0, colon));
    name = target.slice(colon + 1);
  }
  const inFile = (f: string, d: string): boolean => file === undefined ? d === "" : f === file || d === file || (file === "." && d === "");
  const byName = stages.filter((s) => inFile(s.file, s.dir) && s.name === name);
  if (byName.length > 0) return byName.map((s) => s.address);
  const byGroup = stages.filter((s) => inFile(s.file, s.dir) && s.group === name);
  if (byGroup.length > 0) return byGroup.map((s) => s.address);
  if (colon < 0) {
    const t = strip(target);
    const byFile = stages.filter((s) => s.file === t || dirOf(s.file) === (t === "." ? "" : t));
    if (byFile.length > 0) return byFile.map((s) => s.address);
  }
  return [];
}

export function resolveStatusTargets(graph: StageGraph, targets: readonly string[]): Result<string[]> {
  if (targets.length === 0) return ok([...graph.order]);
  const want = new Set<string>();
  const errors: Diagnostic[] = [];
  for (const t of targets) {
    const m = match(graph, t);
    if (m.length === 0) {
      const names = new Set<string>();
      for (const s of graph.stages.values()) {
        names.add(s.address);
        if (s.group !== undefined) names.add(s.group);
      }
      const hint = didYouMean(t, names);
      errors.push(error("usage", `unknown stage '${t}'`, undefined, hint ? { hint } : {}));
    }
    for (const a of m) want.add(a);
  }
  if (errors.length > 0) return fail(errors);
  return ok(graph.order.filter((a) => want.has(a)));
}
