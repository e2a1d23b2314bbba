/**
 * Choosing stages: command-line targets to stage addresses, and the `-s/-d/-p` selections of spec 5 (DVC's
 * `plan_repro`), always returned in the execution order of spec 4.
 *
 * A target is, as DVC reads it (the name is split from the file at the last `:` before the first `@`):
 *
 * - a stage name (`train`, `build@foo`) or a `foreach`/`matrix` group name (`build`: every member, in order), looked
 *   up in the stages file of the working directory, then in the root's stages file;
 * - `FILE:NAME` or `DIR:NAME`, the file or directory taken relative to the working directory (as DVC does), then
 *   relative to the project root (so an address that `pipe` printed works from anywhere);
 * - a stages file (`sub/dvc.yaml`) or a directory holding one (`sub`): every stage of that file.
 *
 * Unknown targets are usage errors naming the nearest stages.
 */
import path from "node:path";
import { error, fail, nearest, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { Stage, StageGraph } from "../core/model.js";

export interface SelectOptions {
  /** `-s`: the targets only. */
  single?: boolean;
  /** `-d`: the targets and every stage downstream of them. */
  downstream?: boolean;
  /** `-p`: every stage of the connected components holding the targets (wins over `-s` and `-d`, as in DVC). */
  pipeline?: boolean;
}

interface FileStages {
  file: string;
  stages: Stage[];
}

interface Lookup {
  byFile: Map<string, FileStages>;
  byDir: Map<string, FileStages>;
}

const lookups = new WeakMap<StageGraph, Lookup>();

function lookupOf(graph: StageGraph): Lookup {
  let l = lookups.get(graph);
  if (l) return l;
  l = { byFile: new Map(), byDir: new Map() };
  for (const f of graph.pipeline.files) {
    const fs: FileStages = { file: f.file, stages: [] };
    l.byFile.set(f.file, fs);
    // A `.dvc` file is named by its own path, never by its directory (that names the directory's stages file).
    if (f.flavor === "dvc-file") continue;
    const d = path.posix.dirname(f.file);
    l.byDir.set(d === "." ? "" : d, fs);
  }
  for (const s of graph.pipeline.stages) {
    let fs = l.byFile.get(s.file);
    if (!fs) {
      // A pipeline built by hand (tests) may not list its files.
      fs = { file: s.file, stages: [] };
      l.byFile.set(s.file, fs);
      l.byDir.set(s.dir, fs);
    }
    fs.stages.push(s);
  }
  lookups.set(graph, l);
  return l;
}

/** `p` (relative to `base`, root-relative) as a root-relative POSIX path, or undefined when it leaves the root. */
function rootRelative(base: string, p: string): string | undefined {
  const posix = p.split(path.sep).join("/");
  if (path.posix.isAbsolute(posix)) return undefined;
  const j = path.posix.normalize(path.posix.join(base === "" ? "." : base, posix));
  const t = j.length > 1 ? j.replace(/\/+$/, "") : j;
  const r = t === "." ? "" : t;
  if (r === ".." || r.startsWith("../") || path.posix.isAbsolute(r)) return undefined;
  return r;
}

/** The stages file named by `p` (a stages file, or a directory holding one). */
function fileAt(l: Lookup, p: string | undefined): FileStages | undefined {
  if (p === undefined) return undefined;
  return l.byFile.get(p) ?? l.byDir.get(p);
}

/** Members of `name` in `fs`: the stage of that name, else every member of the group of that name. */
function inFile(fs: FileStages | undefined, name: string): string[] {
  if (!fs || name === "") return [];
  const exact = fs.stages.find((s) => s.name === name);
  if (exact) return [exact.address];
  return fs.stages.filter((s) => s.group === name).map((s) => s.address);
}

/** Up to three addresses (or group names) close to `target`, by the whole target and by its stage-name part. */
function suggestions(graph: StageGraph, target: string): string[] {
  const full = new Set<string>();
  const byName = new Map<string, string[]>();
  const add = (name: string, address: string): void => {
    full.add(address);
    const list = byName.get(name);
    if (list) list.push(address);
    else byName.set(name, [address]);
  };
  for (const s of graph.pipeline.stages) {
    add(s.name, s.address);
    if (s.group !== undefined) add(s.group, s.dir === "" ? s.group : `${s.file}:${s.group}`);
  }
  const at = target.indexOf("@");
  const colon = (at < 0 ? target : target.slice(0, at)).lastIndexOf(":");
  const name = target.slice(colon + 1);
  const out = new Set<string>(nearest(target, full));
  for (const n of nearest(name, byName.keys())) for (const a of byName.get(n)!) out.add(a);
  return [...out].slice(0, 3);
}

function unknown(graph: StageGraph, target: string, why?: string): Diagnostic {
  const near = suggestions(graph, target);
  const hint = near.length === 0 ? undefined : `did you mean ${near.map((n) => `'${n}'`).join(" or ")}?`;
  return error("usage", why ?? `unknown stage '${target}'`, undefined, hint ? { hint } : {});
}

/**
 * Resolves command-line targets to stage addresses: each target's stages in definition order, targets in the order
 * given, each address once. `cwd` (absolute) is where relative paths start; `root` is the project root (absolute).
 */
export function resolveTargets(graph: StageGraph, targets: readonly string[], cwd: string, root: string): Result<string[]> {
  const l = lookupOf(graph);
  const here = rootRelative("", path.relative(root, cwd)) ?? "";
  const fromCwd = (p: string): string | undefined => (path.isAbsolute(p) ? rootRelative("", path.relative(root, p)) : rootRelative(here, p));
  const out: string[] = [];
  const seen = new Set<string>();
  const errors: Diagnostic[] = [];
  for (const t of targets) {
    if (t.trim() === "") {
      // `""` would otherwise resolve as the directory the command runs in, silently selecting every stage there
      // (typically an unset shell variable: `pipe repro "$STAGE"`).
      errors.push(error("usage", "empty target: it names no stage", undefined, { hint: "name a stage, a group or a stages file, or give no target to select every stage" }));
      continue;
    }
    let found: string[];
    const at = t.indexOf("@");
    const head = at < 0 ? t : t.slice(0, at);
    const colon = head.lastIndexOf(":");
    if (colon >= 0) {
      const where = t.slice(0, colon);
      const name = t.slice(colon + 1);
      const fs = fileAt(l, fromCwd(where)) ?? fileAt(l, rootRelative("", where));
      if (!fs) {
        errors.push(unknown(graph, t, `unknown target '${t}': no stages file at '${where}'`));
        continue;
      }
      found = name === "" ? fs.stages.map((s) => s.address) : inFile(fs, name);
      if (found.length === 0) {
        errors.push(unknown(graph, t, `unknown target '${t}': ${fs.file} has no stage '${name}'`));
        continue;
      }
    } else {
      found = inFile(l.byDir.get(here), t);
      if (found.length === 0 && here !== "") found = inFile(l.byDir.get(""), t);
      if (found.length === 0) {
        const fs = fileAt(l, fromCwd(t)) ?? fileAt(l, rootRelative("", t));
        if (fs) found = fs.stages.map((s) => s.address);
      }
      if (found.length === 0) {
        errors.push(unknown(graph, t));
        continue;
      }
    }
    for (const a of found) {
      if (seen.has(a)) continue;
      seen.add(a);
      out.push(a);
    }
  }
  return errors.length > 0 ? fail(errors) : ok(out);
}

const positions = new WeakMap<StageGraph, Map<string, number>>();

function positionOf(graph: StageGraph): Map<string, number> {
  let p = positions.get(graph);
  if (!p) {
    p = new Map();
    graph.order.forEach((a, i) => p!.set(a, i));
    positions.set(graph, p);
  }
  return p;
}

/** `subset` (unknown addresses dropped, each once) in the graph's execution order. */
export function executionOrder(graph: StageGraph, subset: Iterable<string>): string[] {
  const set = subset instanceof Set ? (subset as Set<string>) : new Set(subset);
  if (set.size * 8 >= graph.order.length) return graph.order.filter((a) => set.has(a));
  const pos = positionOf(graph);
  return [...set].filter((a) => pos.has(a)).sort((a, b) => pos.get(a)! - pos.get(b)!);
}

function closure(start: Iterable<string>, next: (a: string) => readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const a = stack.pop()!;
    if (seen.has(a)) continue;
    seen.add(a);
    for (const b of next(a)) if (!seen.has(b)) stack.push(b);
  }
  return seen;
}

/** `addresses` and every stage upstream of them (what they read, transitively), in execution order. */
export function upstreamClosure(graph: StageGraph, addresses: Iterable<string>): string[] {
  return executionOrder(graph, closure(addresses, (a) => graph.upstream.get(a) ?? []));
}

/** `addresses` and every stage downstream of them (what reads them, transitively), in execution order. */
export function downstreamClosure(graph: StageGraph, addresses: Iterable<string>): string[] {
  return executionOrder(graph, closure(addresses, (a) => graph.downstream.get(a) ?? []));
}

/** Every stage of the weakly connected components holding `addresses`, in execution order. */
export function componentClosure(graph: StageGraph, addresses: Iterable<string>): string[] {
  return executionOrder(
    graph,
    closure(addresses, (a) => [...(graph.upstream.get(a) ?? []), ...(graph.downstream.get(a) ?? [])]),
  );
}

/**
 * The stages a command considers for `targets` (resolved addresses), in execution order (spec 4 and 5, DVC's
 * `plan_repro`): no targets = every stage; default = the targets and their upstream; `single` = the targets only;
 * `downstream` = the targets and their downstream (not their upstream); `pipeline` = their connected components.
 */
export function selectStages(graph: StageGraph, targets: readonly string[], opts: SelectOptions = {}): string[] {
  if (targets.length === 0) return [...graph.order];
  if (opts.pipeline) return componentClosure(graph, targets);
  if (opts.single) return executionOrder(graph, targets);
  if (opts.downstream) return downstreamClosure(graph, targets);
  return upstreamClosure(graph, targets);
}
