/**
 * `pipe diff`: which tracked files were added, deleted, modified or renamed between two sides, as `dvc diff` says it.
 *
 * Each side is an index: path -> hash, over every output the side's pipeline records (`lock/outputs.ts`: stage
 * outputs in locks and `.dvc` files), with each directory output expanded to its files. A revision's index comes
 * from its recorded hashes (its stages files, locks and `.dvc` files read from git), the directory files from the
 * manifests in the cache; the workspace's index is hashed from what is on disk now (as DVC builds it), with the
 * algorithm the other side recorded for that path (so a DVC side, md5, compares with the workspace as it is).
 *
 * Compared as DVC's data index diff does: a path on one side only is added or deleted, on both with another hash
 * modified (a directory output appears as `dir/` beside its files); a deleted and an added path with the same hash
 * are one rename. A DVC-recorded (md5) manifest pipe's cache lacks is read from DVC's own cache (verified), and a
 * manifest missing from both is read from the project's default remote (verified against its name, kept in memory:
 * diff reads and never writes the cache, so it needs no lock; `pipe fetch` stores them). A directory whose manifest
 * is in none of them cannot be expanded: its files are left out on both
 * sides (rather than reported added or deleted) and the result names it. Against the workspace, the old side's
 * objects that the cache lacks are listed as `not in cache`. Lists are sorted by path (the old one for a rename).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, warning, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { Pipeline, Stage } from "../core/model.js";
import type { Side } from "../git/revision.js";
import type { HashAlgo } from "../hash/algorithms.js";
import { digestBytes } from "../hash/algorithms.js";
import { compareCodePoints, parseManifest, type ManifestEntry } from "../hash/manifest.js";
import { parseLock } from "../lock/read.js";
import { recordedOutputs, type RecordedOutput } from "../lock/outputs.js";
import { pathKey, type LockFile } from "../lock/types.js";
import { discoverInListing, type ListedStagesFile } from "../project/discover.js";
import { chooseRemote, readRemoteConfig } from "../remotes/config.js";
import { openRemote, type RemoteStore } from "../remotes/index.js";
import { readManifest } from "../storage/checkout.js";
import { describeStoreFailure, keyOf, keyString, readObject } from "../storage/object-store.js";
import type { LocalCache } from "../storage/store.js";
import type { Workspace } from "../status/workspace.js";
import { absOf } from "../status/workspace.js";
import type { TextRead } from "../template/vars.js";

/** One path of a side's index. */
interface IndexEntry {
  /** Root-relative; a directory output ends with `/`. */
  path: string;
  /** The hash as recorded (shown by `--show-hash`). */
  hash: string;
  /** What is compared: algorithm and hash (hashes of different algorithms never match). */
  key: string;
  isDir: boolean;
}

/** Directory manifests missing from the cache, read from elsewhere (the default remote); undefined when not there. */
export type ManifestSource = (algo: HashAlgo, id: string) => Promise<ManifestEntry[] | undefined>;

interface SideIndex {
  entries: Map<string, IndexEntry>;
  /** Directory outputs (with `/`) whose files are unknown: their manifest is not in the cache. */
  unexpanded: Set<string>;
}

export type DiffState = "added" | "deleted" | "modified" | "renamed" | "not in cache";
export const DIFF_STATES: readonly DiffState[] = ["added", "deleted", "modified", "renamed", "not in cache"];

export interface DiffEntry {
  path: string | { old: string; new: string };
  hash: string | { old: string; new: string };
}

export interface DataDiff {
  /** Every state's entries, sorted; `not in cache` only against the workspace (and without `hideMissing`). */
  states: Map<DiffState, DiffEntry[]>;
  /** Directory outputs whose files could not be listed (manifest not in the cache), as `path/`. */
  unexpanded: string[];
}

export interface DiffOptions {
  /** Root-relative paths: only entries at or below them. */
  targets?: readonly string[];
  /** Leave `not in cache` out (always left out between two revisions). */
  hideMissing?: boolean;
}

/** The algorithm a recorded output's hashes are in. */
function algoOf(r: Pick<RecordedOutput, "algo">): HashAlgo {
  return r.algo;
}

/** Adds a directory's files (`rel` under the output) and the output itself. */
function addDir(idx: SideIndex, rootPath: string, algo: HashAlgo, hash: string, files: readonly { relpath: string; hash: string }[] | undefined): void {
  const dirPath = `${rootPath}/`;
  idx.entries.set(dirPath, { path: dirPath, hash, key: `${algo}:${hash}`, isDir: true });
  if (!files) {
    idx.unexpanded.add(dirPath);
    return;
  }
  for (const f of files) {
    const p = `${rootPath}/${f.relpath}`;
    idx.entries.set(p, { path: p, hash: f.hash, key: `${algo}:${f.hash}`, isDir: false });
  }
}

/**
 * A manifest DVC recorded (md5) that pipe's cache lacks, read from DVC's own cache (`.dvc/cache/files/md5/` of DVC 3,
 * `.dvc/cache/` of DVC 2) and verified against its name: a DVC project's directories list without a re-download.
 */
async function dvcCacheManifest(root: string, id: string): Promise<ManifestEntry[] | undefined> {
  const digest = id.slice(0, -".dir".length);
  if (!/^[0-9a-f]{32}$/.test(digest)) return undefined;
  for (const dir of [".dvc/cache/files/md5", ".dvc/cache"]) {
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(root, dir, id.slice(0, 2), id.slice(2)));
    } catch {
      continue;
    }
    if ((await digestBytes("md5", bytes)) !== digest) continue;
    const entries = parseManifest(bytes);
    if (entries) return entries;
  }
  return undefined;
}

/** A side's index from recorded outputs, directory manifests read from the cache. */
async function indexOfRecorded(outs: readonly RecordedOutput[], store: LocalCache, elsewhere?: ManifestSource): Promise<SideIndex> {
  const idx: SideIndex = { entries: new Map(), unexpanded: new Set() };
  for (const o of outs) {
    const algo = algoOf(o);
    if (o.hash.endsWith(".dir")) {
      const m = await readManifest(store, o.hash);
      let files = m.status === "ok" ? m.entries : algo === "xxh64" ? undefined : await dvcCacheManifest(store.root, o.hash);
      files ??= await elsewhere?.(algo, o.hash);
      addDir(idx, o.rootPath, algo, o.hash, files);
    } else {
      idx.entries.set(o.rootPath, { path: o.rootPath, hash: o.hash, key: `${algo}:${o.hash}`, isDir: false });
    }
  }
  return idx;
}

/**
 * The workspace's index: every non-URL output of its pipeline hashed as it is now (missing ones are absent), each
 * with the algorithm the other side recorded for it (xxh64 where it recorded none).
 */
async function indexOfWorkspace(pipeline: Pipeline, ws: Workspace, algoFor: (rootPath: string) => HashAlgo): Promise<Result<SideIndex>> {
  const idx: SideIndex = { entries: new Map(), unexpanded: new Set() };
  const seen = new Set<string>();
  const errors: Diagnostic[] = [];
  for (const s of pipeline.stages) {
    for (const o of s.outs) {
      if (o.external || seen.has(o.rootPath)) continue;
      seen.add(o.rootPath);
      const algo = algoFor(o.rootPath);
      const h = await ws.hasher.hashPath(absOf(ws.root, o.rootPath), algo);
      if (h.kind === "missing") continue;
      if (h.kind === "error") {
        errors.push(error("io", h.message));
        continue;
      }
      if (h.kind === "dir") addDir(idx, o.rootPath, algo, h.hash, h.manifest.entries);
      else idx.entries.set(o.rootPath, { path: o.rootPath, hash: h.hash, key: `${algo}:${h.hash}`, isDir: false });
    }
  }
  return errors.length > 0 ? fail(errors) : ok(idx);
}

/** Whether `p` lies below a directory output whose files are unknown on `idx`'s side. */
function underUnexpanded(idx: SideIndex, p: string): boolean {
  for (const d of idx.unexpanded) if (p !== d && p.startsWith(d)) return true;
  return false;
}

function selected(p: string, targets: readonly string[] | undefined): boolean {
  if (!targets || targets.length === 0) return true;
  const bare = p.endsWith("/") ? p.slice(0, -1) : p;
  return targets.some((t) => t === "" || bare === t || bare.startsWith(`${t}/`));
}

const pathOf = (e: DiffEntry): string => (typeof e.path === "string" ? e.path : e.path.old);

/** Compares two indexes (pure): the states of `dvc diff`. */
function compareIndexes(old: SideIndex, neu: SideIndex, targets: readonly string[] | undefined): Map<DiffState, DiffEntry[]> {
  const added: IndexEntry[] = [];
  const deleted: IndexEntry[] = [];
  const modified: DiffEntry[] = [];
  const keys = new Set([...old.entries.keys(), ...neu.entries.keys()]);
  for (const p of keys) {
    if (!selected(p, targets)) continue;
    const a = old.entries.get(p);
    const b = neu.entries.get(p);
    // A file of a directory one side cannot list is neither added nor deleted: that side does not know.
    if ((!a && underUnexpanded(old, p)) || (!b && underUnexpanded(neu, p))) continue;
    if (a && b) {
      if (a.key !== b.key) modified.push({ path: p, hash: { old: a.hash, new: b.hash } });
    } else if (b) added.push(b);
    else if (a) deleted.push(a);
  }
  // A deleted and an added entry of the same kind and content are one rename, paired in path order.
  const byKey = new Map<string, IndexEntry[]>();
  for (const d of [...deleted].sort((x, y) => compareCodePoints(x.path, y.path))) {
    const k = `${d.isDir}\0${d.key}`;
    const list = byKey.get(k) ?? [];
    list.push(d);
    byKey.set(k, list);
  }
  const renamed: DiffEntry[] = [];
  const renamedOld = new Set<string>();
  const stillAdded: DiffEntry[] = [];
  for (const a of [...added].sort((x, y) => compareCodePoints(x.path, y.path))) {
    const d = byKey.get(`${a.isDir}\0${a.key}`)?.shift();
    if (d) {
      renamed.push({ path: { old: d.path, new: a.path }, hash: d.hash });
      renamedOld.add(d.path);
    } else stillAdded.push({ path: a.path, hash: a.hash });
  }
  const stillDeleted = deleted.filter((d) => !renamedOld.has(d.path)).map((d): DiffEntry => ({ path: d.path, hash: d.hash }));
  const sort = (l: DiffEntry[]): DiffEntry[] => l.sort((x, y) => compareCodePoints(pathOf(x), pathOf(y)));
  return new Map<DiffState, DiffEntry[]>([
    ["added", sort(stillAdded)],
    ["deleted", sort(stillDeleted)],
    ["modified", sort(modified)],
    ["renamed", sort(renamed)],
  ]);
}

/** Reads a revision's lock files and `.dvc` files on demand, as `LockStore.forStage` reads the workspace's. */
function revisionEntries(read: (f: string) => Promise<TextRead>): (s: Stage) => Promise<Result<LockFile | undefined>> {
  const cache = new Map<string, Promise<Result<LockFile | undefined>>>();
  const readLock = async (dir: string): Promise<Result<LockFile | undefined>> => {
    for (const [name, flavor] of [
      ["pipe.lock", "pipe"],
      ["dvc.lock", "dvc"],
    ] as const) {
      const file = dir === "" ? name : `${dir}/${name}`;
      const t = await read(file);
      if (t.kind === "file") return parseLock(file, t.text, flavor);
    }
    return ok(undefined);
  };
  const readDvc = async (s: Stage): Promise<Result<LockFile | undefined>> => {
    const t = await read(s.file);
    if (t.kind !== "file") return ok(undefined);
    const { parseDvcFileDoc } = await import("../lock/dvc-file.js");
    const doc = parseDvcFileDoc(s.file, t.text);
    if (!doc.ok) return doc;
    return ok({ file: s.file, flavor: doc.value.flavor, stages: new Map([[s.name, doc.value.entry]]) });
  };
  return (s) => {
    const k = s.dataSource ? `f:${s.file}` : `d:${s.dir}`;
    let p = cache.get(k);
    if (!p) {
      p = s.dataSource ? readDvc(s) : readLock(s.dir);
      cache.set(k, p);
    }
    return p;
  };
}

/** What a git revision records: every output of its pipeline with its hash. Its pipeline must load. */
export async function revisionOutputs(root: string, side: Side): Promise<Result<RecordedOutput[]>> {
  const all = await side.listAll();
  if (all === undefined) return fail([error("usage", "the workspace is not a revision")]);
  if (!all.ok) return all;
  const reads = new Map<string, Promise<TextRead>>();
  let gitFailure: Result<never> | undefined;
  const read = (f: string): Promise<TextRead> => {
    let p = reads.get(f);
    if (!p) {
      p = side.read([f]).then((r): TextRead => {
        if (!r.ok) {
          gitFailure ??= r;
          return { kind: "unreadable", why: r.errors.map((d) => d.message).join("; ") };
        }
        const b = r.value.get(f);
        return b?.kind === "file" ? { kind: "file", text: b.text } : b?.kind === "dir" ? { kind: "dir" } : { kind: "missing" };
      });
      reads.set(f, p);
    }
    return p;
  };
  const found = await discoverInListing(all.value, async (paths) => {
    const texts = new Map<string, string>();
    for (const f of paths) {
      const t = await read(f);
      if (t.kind === "file") texts.set(f, t.text);
    }
    return texts;
  });
  const { loadPipelineFrom } = await import("../project/load.js");
  const loaded = await loadPipelineFrom(root, found, read, new Map());
  if (gitFailure) return gitFailure;
  let stages: Stage[];
  const warnings: Diagnostic[] = [];
  if (loaded.ok) stages = loaded.value.stages;
  else {
    // Its records are still there: read them without the stages files' templating (see `recordsOnly`).
    const d = loaded.errors[0];
    const at = d?.location ? `${d.location.file}:${d.location.line}:${d.location.col}: ` : "";
    warnings.push(warning("warning", `the pipeline at ${side.name} does not load (${at}${d?.message ?? "unknown error"}): its locks and .dvc files are read as they are, stage outputs taken relative to their stages file`));
    stages = await recordsOnly(found, read);
  }
  const r = await recordedOutputs(stages, revisionEntries(read));
  if (gitFailure) return gitFailure;
  return r.ok ? ok(r.value, warnings) : r;
}

/**
 * Stages made from a revision's records alone, for a revision whose pipeline does not load: each `.dvc` file as it
 * loads anyway (no templating there), and for each lock entry a stage with its recorded outputs and the stages file's
 * directory as wdir (a stage's `wdir:` cannot be known without its stages file).
 */
async function recordsOnly(found: readonly ListedStagesFile[], read: (f: string) => Promise<TextRead>): Promise<Stage[]> {
  const [{ dvcFileStage }, { parseYaml }] = await Promise.all([import("../project/dvc-file-stage.js"), import("../formats/yaml.js")]);
  const entries = revisionEntries(read);
  const stages: Stage[] = [];
  for (const f of found) {
    if (f.flavor === "dvc-file") {
      const t = await read(f.file);
      const st = t.kind === "file" ? dvcFileStage(parseYaml(f.file, t.text), f.file, f.dir).stage : undefined;
      if (st) stages.push(st);
      continue;
    }
    const probe: Stage = { address: "", name: "", file: f.file, dir: f.dir, wdir: f.dir, cmd: "", deps: [], outs: [], params: [], frozen: false, alwaysChanged: false, loc: { file: f.file, line: 1, col: 1 } };
    const lf = await entries(probe);
    if (!lf.ok || !lf.value) continue;
    for (const [name, e] of lf.value.stages) {
      const outs = e.outs.map((o) => ({ path: o.path, rootPath: pathKey(f.dir === "" ? o.path : `${f.dir}/${o.path}`), external: /^[a-z][a-z0-9+.-]*:\/\//i.test(o.path), kind: "outs" as const, cache: true, persist: false, flags: {} }));
      stages.push({ ...probe, address: f.dir === "" ? name : `${f.file}:${name}`, name, outs });
    }
  }
  return stages;
}

export interface DiffInput {
  root: string;
  store: LocalCache;
  /** The old side's recorded outputs. */
  a: RecordedOutput[];
  /** The new side: recorded outputs of a revision, or the workspace (its pipeline, hashed now). */
  b: { kind: "recorded"; outs: RecordedOutput[] } | { kind: "workspace"; pipeline: Pipeline; ws: Workspace };
  opts: DiffOptions;
  /** Where manifests the cache lacks are read from (`remoteManifests`). */
  manifests?: ManifestSource;
}

/** The diff of two sides (see the module comment). */
export async function dataDiff(input: DiffInput): Promise<Result<DataDiff>> {
  const { store, opts } = input;
  const oldIdx = await indexOfRecorded(input.a, store, input.manifests);
  let newIdx: SideIndex;
  if (input.b.kind === "recorded") newIdx = await indexOfRecorded(input.b.outs, store, input.manifests);
  else {
    const algos = new Map(input.a.map((o) => [o.rootPath, algoOf(o)]));
    const w = await indexOfWorkspace(input.b.pipeline, input.b.ws, (p) => algos.get(p) ?? "xxh64");
    if (!w.ok) return w;
    newIdx = w.value;
  }
  const states = compareIndexes(oldIdx, newIdx, opts.targets);
  if (input.b.kind === "workspace" && !opts.hideMissing) {
    const missing: DiffEntry[] = [];
    for (const e of oldIdx.entries.values()) {
      if (!selected(e.path, opts.targets)) continue;
      if (!(await store.hasId(e.hash))) missing.push({ path: e.path, hash: e.hash });
    }
    states.set("not in cache", missing.sort((x, y) => compareCodePoints(pathOf(x), pathOf(y))));
  }
  const unexpanded = [...new Set([...oldIdx.unexpanded, ...newIdx.unexpanded])].filter((p) => selected(p, opts.targets)).sort(compareCodePoints);
  return ok({ states, unexpanded });
}

/**
 * Manifests from the project's default remote, opened on the first one asked for and verified against their names.
 * What the remote cannot give (no default remote, unreachable, not there, corrupt) is undefined, and `problem()`
 * says why for the warning; `close()` releases the connection.
 */
export function remoteManifests(root: string, env: NodeJS.ProcessEnv): { source: ManifestSource; problem(): string | undefined; consulted(): string | undefined; close(): Promise<void> } {
  let opened: Promise<RemoteStore | undefined> | undefined;
  let problem: string | undefined;
  let label: string | undefined;
  const open = async (): Promise<RemoteStore | undefined> => {
    const cfg = await readRemoteConfig(root);
    if (!cfg.ok || cfg.value.defaultRemote === undefined) return undefined;
    const spec = chooseRemote(cfg.value, undefined);
    if (!spec.ok) return undefined;
    label = `remote '${spec.value.name}'`;
    const r = await openRemote(spec.value, { root, env });
    if (!r.ok) {
      problem = r.errors[0]!.message;
      return undefined;
    }
    return r.value;
  };
  const source: ManifestSource = async (algo, id) => {
    const key = keyOf(id);
    if (!key || key.algo !== (algo === "xxh64" ? "xxh64" : "md5")) return undefined;
    opened ??= open();
    const store = await opened;
    if (!store) return undefined;
    const got = await readObject(store, key);
    if (!got.ok) {
      if (got.failure.reason !== "missing") problem ??= describeStoreFailure(got.failure);
      return undefined;
    }
    const digest = id.slice(0, -".dir".length);
    const match = (await digestBytes(key.algo, got.value)) === digest || (key.algo === "md5" && (await digestBytes("legacy-md5", got.value)) === digest);
    if (!match) {
      problem ??= `${store.label}: ${keyString(key)} is corrupt (its bytes do not hash to its name)`;
      return undefined;
    }
    return parseManifest(got.value);
  };
  return {
    source,
    problem: () => problem,
    consulted: () => label,
    close: async () => void (await (await opened)?.close()),
  };
}

/**
 * The warning for directories whose files could not be listed: `remote` names the remote also asked (none when no
 * default remote is configured), `remoteProblem` why it could not answer.
 */
export function unexpandedWarning(dirs: readonly string[], remote?: string, remoteProblem?: string): Diagnostic[] {
  if (dirs.length === 0) return [];
  const shown = dirs.length > 5 ? `${dirs.slice(0, 5).join(", ")} and ${dirs.length - 5} more` : dirs.join(", ");
  return [
    warning(
      "warning",
      `the file list of ${shown} is not in the cache${remote ? ` nor on ${remote}` : ""}, so ${dirs.length === 1 ? "its files are" : "their files are"} not compared one by one (only the directory as a whole)${remoteProblem ? ` (the remote failed: ${remoteProblem})` : ""}`,
      undefined,
      {
        hint: remoteProblem
          ? "check the remote, then run diff again"
          : remote
            ? "'pipe push' from the clone that made it puts the directory manifests there"
            : "'pipe pull' (or 'pipe fetch') brings the directory manifests from a remote",
      },
    ),
  ];
}

/** Whether anything differs. */
export function isEmptyDiff(d: DataDiff): boolean {
  return [...d.states.values()].every((l) => l.length === 0);
}

