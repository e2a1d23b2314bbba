/**
 * Hand-made pipelines for unit tests of the graph layer: stages described in a few words, turned into real `Stage`
 * objects with normalised root paths, plus a stages file text whose lines the stages' source locations point at, so
 * diagnostics can be rendered and compared whole.
 */
import path from "node:path";
import type { DepEntry, OutEntry, OutKind, Pipeline, Stage, StagesFileInfo } from "../../src/core/model.js";

export interface StageSpec {
  name: string;
  deps?: string[];
  outs?: string[];
  metrics?: string[];
  plots?: string[];
  /** `foreach`/`matrix` group name (the stage name should then be `group@key`). */
  group?: string;
  /** Stages file, relative to the root (default `pipe.yaml`). */
  file?: string;
  wdir?: string;
  cmd?: string | string[];
  desc?: string;
  meta?: unknown;
  frozen?: boolean;
  alwaysChanged?: boolean;
  /** params: file -> keys (null: whole file). */
  params?: Record<string, string[] | null>;
  /** Output flags by path (cache, persist, and the rest). */
  flags?: Record<string, Record<string, unknown>>;
}

const URL_RE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

function joinRel(base: string, p: string): string {
  if (URL_RE.test(p)) return p;
  const j = path.posix.normalize(path.posix.isAbsolute(p) ? p : path.posix.join(base || ".", p));
  const t = j.length > 1 ? j.replace(/\/+$/, "") : j;
  return t === "." ? "" : t;
}

function dirOf(file: string): string {
  const d = path.posix.dirname(file);
  return d === "." ? "" : d;
}

/**
 * Builds a pipeline from specs, in the given order (which is the definition order). Stages of each file are written
 * into that file's text, one after the other, so every location is real:
 *
 *     stages:
 *       train:
 *         cmd: ...
 *         deps:
 *           - data.csv
 */
export function makePipeline(specs: readonly StageSpec[], root = "/project"): { pipeline: Pipeline; sources: Map<string, string> } {
  const lines = new Map<string, string[]>();
  const stages: Stage[] = [];
  for (const spec of specs) {
    const file = spec.file ?? "pipe.yaml";
    const dir = dirOf(file);
    const wdir = joinRel(dir, spec.wdir ?? "");
    let text = lines.get(file);
    if (!text) {
      text = ["stages:"];
      lines.set(file, text);
    }
    const loc = (line: number, col: number, length: number) => ({ file, line, col, length });
    text.push(`  ${spec.name}:`);
    const stageLoc = loc(text.length, 3, spec.name.length);
    const cmd = spec.cmd ?? `run ${spec.name}`;
    text.push(`    cmd: ${Array.isArray(cmd) ? JSON.stringify(cmd) : cmd}`);
    if (spec.wdir !== undefined) text.push(`    wdir: ${spec.wdir}`);
    const deps: DepEntry[] = [];
    if (spec.deps && spec.deps.length > 0) {
      text.push("    deps:");
      for (const p of spec.deps) {
        text.push(`      - ${p}`);
        const rootPath = joinRel(wdir, p);
        const external = URL_RE.test(p);
        deps.push({ path: p, rootPath, external, outside: !external && (rootPath.startsWith("../") || rootPath.startsWith("/")), loc: loc(text.length, 9, p.length) });
      }
    }
    const outs: OutEntry[] = [];
    for (const kind of ["outs", "metrics", "plots"] as OutKind[]) {
      const list = spec[kind];
      if (!list || list.length === 0) continue;
      text.push(`    ${kind}:`);
      for (const p of list) {
        text.push(`      - ${p}`);
        const f = { ...(spec.flags?.[p] ?? {}) };
        const cache = f["cache"] !== false;
        const persist = f["persist"] === true;
        delete f["cache"];
        delete f["persist"];
        outs.push({ path: p, rootPath: joinRel(wdir, p), external: URL_RE.test(p), kind, cache, persist, flags: f, loc: loc(text.length, 9, p.length) });
      }
    }
    const params = Object.entries(spec.params ?? {}).map(([f, keys]) => ({ file: f, rootPath: joinRel(wdir, f), keys }));
    if (params.length > 0) {
      text.push("    params:");
      for (const p of params) text.push(`      - ${p.file}: ${JSON.stringify(p.keys)}`);
    }
    const s: Stage = {
      address: dir === "" ? spec.name : `${file}:${spec.name}`,
      name: spec.name,
      file,
      dir,
      wdir,
      cmd,
      deps,
      outs,
      params,
      frozen: spec.frozen ?? false,
      alwaysChanged: spec.alwaysChanged ?? false,
      loc: stageLoc,
    };
    if (spec.group !== undefined) s.group = spec.group;
    if (spec.wdir !== undefined) s.wdirRaw = spec.wdir;
    if (spec.desc !== undefined) s.desc = spec.desc;
    if (spec.meta !== undefined) s.meta = spec.meta;
    stages.push(s);
  }
  const sources = new Map<string, string>();
  const files: StagesFileInfo[] = [];
  for (const [file, text] of lines) {
    const t = text.join("\n") + "\n";
    sources.set(file, t);
    files.push({ file, text: t, flavor: file.endsWith("dvc.yaml") ? "dvc" : "pipe" });
  }
  return { pipeline: { root, files, stages, params: [], metrics: [], plots: [] }, sources };
}

/**
 * A pipeline shaped like a DVC test graph given as `stage -> the stages it depends on`: each stage `n` writes
 * `n.out` and reads the outputs of its upstream stages in the listed order. `defined` is the definition order.
 */
export function pipelineFromDeps(deps: Record<string, string[]>, defined: readonly string[]): Pipeline {
  return makePipeline(defined.map((n) => ({ name: n, outs: [`${n}.out`], deps: (deps[n] ?? []).map((u) => `${u}.out`) }))).pipeline;
}
