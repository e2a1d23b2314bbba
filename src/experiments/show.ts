/**
 * The data of `pipe exp show`: one row per baseline and per experiment of it (recorded, queued, running, failed),
 * plus the workspace, with the metrics and params each holds, and the columns: every metric, then every param, as DVC
 * lays them out. Which files are params and metrics files comes from the workspace's pipeline; their contents at
 * each row come from git (the row's commit) or from the disk (the workspace). Queued rows show the params they will
 * run with: the queued commit's params with the overrides applied.
 *
 * Sorting (`--sort-by`) orders the experiments under each baseline, rows without the value last; rendering
 * (`report/exp-show.ts`) marks the best value of that column.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import type { Pipeline } from "../core/model.js";
import { flatten, parseParamsText } from "../formats/params-file.js";
import { parseMetricsText } from "../formats/metrics.js";
import { readFilesAt } from "../git/git.js";
import { git, headSha, resolveSha } from "./git.js";
import { editParamsText } from "./overrides.js";
import { atTop, listExperiments, type ExpProject } from "./project.js";
import { QueueStore } from "./queue-store.js";

export type RowKind = "workspace" | "baseline" | "experiment" | "queued" | "running" | "failed";

export type Flat = Record<string, unknown>;

export interface ShowRow {
  kind: RowKind;
  /** `workspace`, the baseline's branch name or short sha, or the experiment's name. */
  name: string;
  rev?: string;
  baseline?: string;
  /** ISO time: the commit's, or when it was queued. */
  created?: string;
  /** By file (relative to the project root), flat `{dot.key: value}`. */
  metrics: Record<string, Flat>;
  params: Record<string, Flat>;
  /** Failed rows: their log. */
  log?: string;
}

export interface Column {
  kind: "metric" | "param";
  file: string;
  key: string;
  /** The header: the key, or `file:key` where two files hold the same key. */
  label: string;
}

export interface ShowData {
  columns: Column[];
  rows: ShowRow[];
}

export interface ShowOptions {
  /** All baselines that have experiments (`-A`). */
  all?: boolean;
  /** The last N commits along HEAD's first parents (`-n`). */
  num?: number;
  /** This baseline (`--rev`). */
  rev?: string;
  /** Only params some stage depends on. */
  paramDeps?: boolean;
  sortBy?: string;
  sortOrder?: "asc" | "desc";
}

function filesOf(p: Pipeline): { params: Map<string, Set<string> | null>; metrics: string[] } {
  const params = new Map<string, Set<string> | null>();
  for (const s of p.stages) {
    for (const d of s.params) {
      const prev = params.get(d.rootPath);
      if (prev === null) continue;
      if (d.keys === null) params.set(d.rootPath, null);
      else params.set(d.rootPath, new Set([...(prev ?? []), ...d.keys]));
    }
  }
  for (const t of p.params) params.set(t.rootPath, null);
  const metrics = new Set<string>();
  for (const s of p.stages) for (const o of s.outs) if (o.kind === "metrics" && !o.external) metrics.add(o.rootPath);
  for (const t of p.metrics) metrics.add(t.rootPath);
  return { params, metrics: [...metrics].sort() };
}

function parseFlat(kind: "metric" | "param", file: string, text: string): Flat | undefined {
  if (kind === "metric") {
    const r = parseMetricsText(file, text);
    return r.ok ? r.value : undefined;
  }
  const r = parseParamsText(file, text);
  return r.ok ? flatten(r.value) : undefined;
}

export async function collectShow(p: ExpProject, pipeline: Pipeline, o: ShowOptions): Promise<Result<ShowData>> {
  const files = filesOf(pipeline);
  const paramFiles = [...files.params.keys()].sort();
  const head = await headSha(p.g);
  if (!head.ok) return head;
  const exps = await listExperiments(p.g);
  if (!exps.ok) return exps;
  const queue = await new QueueStore(p.root).list();

  let baselines: string[];
  if (o.rev !== undefined) {
    const sha = await resolveSha(p.g, o.rev);
    if (sha === undefined) return fail([error("usage", `unknown revision '${o.rev}'`)]);
    baselines = [sha];
  } else if (o.all === true) {
    baselines = [head.value, ...new Set([...exps.value.map((e) => e.baseline), ...queue.map((e) => e.baseline)])].filter((b, i, a) => a.indexOf(b) === i);
  } else {
    const n = Math.max(1, o.num ?? 1);
    const r = await git(p.g, ["rev-list", "--first-parent", `--max-count=${n}`, head.value]);
    baselines = r.ok ? r.value.split("\n").filter(Boolean) : [head.value];
  }

  const repo = { root: p.top };
  const readAt = async (sha: string): Promise<{ params: Record<string, Flat>; metrics: Record<string, Flat>; texts: Map<string, string> }> => {
    const all = [...paramFiles, ...files.metrics];
    const r = await readFilesAt(repo, sha, all.map((f) => atTop(p, f)));
    const texts = new Map<string, string>();
    const params: Record<string, Flat> = {};
    const metrics: Record<string, Flat> = {};
    if (!r.ok) return { params, metrics, texts };
    for (const f of all) {
      const b = r.value.get(atTop(p, f));
      if (b?.kind !== "file") continue;
      texts.set(f, b.text);
      const isMetric = files.metrics.includes(f);
      const flat = parseFlat(isMetric ? "metric" : "param", f, b.text);
      if (flat) (isMetric ? metrics : params)[f] = flat;
    }
    return { params, metrics, texts };
  };

  const rows: ShowRow[] = [];
  // The workspace first, as DVC shows it.
  const ws: ShowRow = { kind: "workspace", name: "workspace", metrics: {}, params: {} };
  for (const f of [...paramFiles, ...files.metrics]) {
    const text = await readFile(path.join(p.root, f), "utf8").catch(() => undefined);
    if (text === undefined) continue;
    const isMetric = files.metrics.includes(f);
    const flat = parseFlat(isMetric ? "metric" : "param", f, text);
    if (flat) (isMetric ? ws.metrics : ws.params)[f] = flat;
  }
  rows.push(ws);
  const branch = await git(p.g, ["symbolic-ref", "--quiet", "--short", "HEAD"]);
  for (const b of baselines) {
    const info = await git(p.g, ["log", "-1", "--format=%cI", b]);
    const at = await readAt(b);
    const name = b === head.value && branch.ok ? branch.value : b.slice(0, 7);
    rows.push({ kind: "baseline", name, rev: b, ...(info.ok ? { created: info.value } : {}), metrics: at.metrics, params: at.params });
    const kids: ShowRow[] = [];
    for (const e of exps.value.filter((x) => x.baseline === b)) {
      const v = await readAt(e.sha);
      kids.push({ kind: "experiment", name: e.name, rev: e.sha, baseline: b, created: new Date(e.time * 1000).toISOString(), metrics: v.metrics, params: v.params });
    }
    for (const q of queue.filter((x) => x.baseline === b && x.state !== "success")) {
      const v = await readAt(q.base);
      const params: Record<string, Flat> = {};
      for (const f of paramFiles) {
        const text = v.texts.get(f);
        if (text === undefined) continue;
        const edited = editParamsText(f, text, q.overrides.filter((x) => x.file === f));
        const flat = edited.ok ? parseFlat("param", f, edited.value) : undefined;
        if (flat) params[f] = flat;
      }
      kids.push({ kind: q.state === "queued" ? "queued" : q.state === "running" ? "running" : "failed", name: q.name, baseline: b, created: q.queuedAt, metrics: {}, params, ...(q.state === "failed" ? { log: q.log } : {}) });
    }
    rows.push(...kids);
  }

  // Columns: metrics then params, in file then key order; only keys some row has.
  const columns: Column[] = [];
  const keysOf = (kind: "metric" | "param", file: string): string[] => {
    const ks = new Set<string>();
    for (const r of rows) for (const k of Object.keys((kind === "metric" ? r.metrics : r.params)[file] ?? {})) ks.add(k);
    let list = [...ks].sort();
    if (kind === "param" && o.paramDeps === true) {
      const deps = files.params.get(file);
      if (deps !== null && deps !== undefined) list = list.filter((k) => [...deps].some((d) => k === d || k.startsWith(d + ".")));
    }
    return list;
  };
  for (const f of files.metrics) for (const k of keysOf("metric", f)) columns.push({ kind: "metric", file: f, key: k, label: k });
  for (const f of paramFiles) for (const k of keysOf("param", f)) columns.push({ kind: "param", file: f, key: k, label: k });
  const count = new Map<string, number>();
  for (const c of columns) count.set(c.key, (count.get(c.key) ?? 0) + 1);
  for (const c of columns) if ((count.get(c.key) ?? 0) > 1) c.label = `${c.file}:${c.key}`;

  if (o.sortBy !== undefined) {
    const col = findColumn(columns, o.sortBy);
    if (!col) return fail([error("usage", `--sort-by '${o.sortBy}': no such metric or param (columns: ${columns.map((c) => c.label).join(", ")})`)]);
    sortRows(rows, col, o.sortOrder ?? "asc");
  }
  return ok({ columns, rows });
}

export function findColumn(columns: readonly Column[], name: string): Column | undefined {
  return columns.find((c) => c.label === name) ?? columns.find((c) => `${c.file}:${c.key}` === name) ?? columns.find((c) => c.key === name);
}

export function cellValue(r: ShowRow, c: Column): unknown {
  const flat = (c.kind === "metric" ? r.metrics : r.params)[c.file];
  return flat === undefined ? undefined : flat[c.key];
}

function sortRows(rows: ShowRow[], col: Column, order: "asc" | "desc"): void {
  // Experiments are sorted within their baseline; the workspace and baselines keep their places.
  let i = 0;
  while (i < rows.length) {
    if (rows[i]!.kind === "workspace" || rows[i]!.kind === "baseline") {
      i++;
      continue;
    }
    let j = i;
    while (j < rows.length && rows[j]!.kind !== "baseline" && rows[j]!.kind !== "workspace") j++;
    const group = rows.slice(i, j);
    group.sort((a, b) => {
      const va = cellValue(a, col);
      const vb = cellValue(b, col);
      const na = typeof va === "number" ? va : undefined;
      const nb = typeof vb === "number" ? vb : undefined;
      if (na === undefined && nb === undefined) return String(va ?? "").localeCompare(String(vb ?? ""));
      if (na === undefined) return 1;
      if (nb === undefined) return -1;
      return order === "asc" ? na - nb : nb - na;
    });
    rows.splice(i, j - i, ...group);
    i = j;
  }
}
