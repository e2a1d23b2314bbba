/**
 * Loading a whole project into a `Pipeline` (spec 1, 2): discover every stages file, then for each one parse the
 * YAML (with positions), validate it against the grammar and expand its templates into concrete stages.
 *
 * Every file is read and checked even when an earlier one failed, so one run reports every error of the project;
 * errors come out in file order (the root's file first, then by path), each file's sorted by position. Every text
 * read goes into `sources` so that the caller can quote source lines even on failure. Files are read in parallel
 * but assembled in discovery order, so the result does not depend on I/O timing.
 *
 * `loadPipelineCached` puts the load cache (`load-cache.ts`) in front of the parse, validation and expansion:
 * discovery always runs, and when the cache holds a result for exactly these stages files and the files they read,
 * that result is returned as the load would have produced it (pipeline, warnings, source texts). The caller stores
 * a fresh result with `remember()` once it knows the project is valid as a whole (graph checks included).
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import { NotRegularFile, readRegularFile } from "../formats/input-file.js";
import { decodeUtf8 } from "../formats/text.js";
import type { Pipeline, StagesFileInfo } from "../core/model.js";
import type { ExpandedFile } from "../template/expand.js";
import type { ReadObserver, TextReader } from "../template/vars.js";
import { RACY_WINDOW_NS } from "../hash/state.js";
import { discoverStagesFiles, type DiscoveryObserver, type ListedStagesFile } from "./discover.js";
import { LOAD_CACHE_FILE, LoadInputs, readLoadCache, writeLoadCache, type CacheKey, type LoadCachePayload } from "./load-cache.js";

interface FileOutcome {
  info?: StagesFileInfo;
  expanded?: ExpandedFile;
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

/**
 * The parser, the validator and the expander, imported on first use: with the yaml package, ajv's validator and the
 * template modules they are tens of milliseconds of start-up that a load answered from the cache never needs.
 */
async function loaders() {
  const [{ parseYaml, dedupeSorted }, { validateStagesFile }, { expandStagesFile }] = await Promise.all([
    import("../formats/yaml.js"),
    import("../schema/validate.js"),
    import("../template/expand.js"),
  ]);
  return { parseYaml, dedupeSorted, validateStagesFile, expandStagesFile };
}

type Loaders = Awaited<ReturnType<typeof loaders>>;

/** Where a load reads its files: the disk (`abs` paths, observed for the load cache), or a git revision. */
interface FileSource {
  /** The bytes (disk: checked as UTF-8 by the caller) or text (already decoded) of a stages file, or why not. */
  stagesText(f: ListedStagesFile & { abs?: string }): Promise<Buffer | string | Error>;
  onRead?: ReadObserver;
  readText?: TextReader;
}

function diskSource(onRead: ReadObserver | undefined): FileSource {
  return {
    async stagesText(f) {
      const abs = f.abs!;
      if (onRead) {
        // Stat before reading, as the load cache's key requires (see `ReadObserver`). A file that cannot be stat'ed
        // is recorded as absent, which its next stat will not match; the read below reports the problem.
        onRead(f.file, await stat(abs, { bigint: true }).catch(() => null));
      }
      return readRegularFile(abs);
    },
    ...(onRead ? { onRead } : {}),
  };
}

async function loadFile(
  { parseYaml, dedupeSorted, validateStagesFile, expandStagesFile }: Loaders,
  root: string,
  f: ListedStagesFile,
  sources: Map<string, string>,
  from: FileSource,
): Promise<FileOutcome> {
  const raw = await from.stagesText(f);
  if (raw instanceof NotRegularFile) {
    // Located at the file, as every other problem of a stages file is: the user is to look there.
    return {
      errors: [error("io", `cannot read ${f.file}: ${raw.message}`, { file: f.file, line: 1, col: 1 }, { hint: "a stages file must be a regular file (or a symlink to one)" })],
      warnings: [],
    };
  }
  if (raw instanceof Error) return { errors: [error("io", `cannot read ${f.file}: ${raw.message}`)], warnings: [] };
  const decoded = typeof raw === "string" ? { ok: true as const, text: raw } : decodeUtf8(f.file, raw);
  const text = decoded.text;
  sources.set(f.file, text);
  if (!decoded.ok) return { errors: [decoded.error], warnings: [] };
  const info: StagesFileInfo = { file: f.file, text, flavor: f.flavor };
  const parsed = parseYaml(f.file, text);
  if (f.flavor === "dvc-file") {
    // A data source: one stage, no templating (`dvc-file-stage.ts`).
    const { dvcFileStage } = await import("./dvc-file-stage.js");
    const r = dvcFileStage(parsed, f.file, f.dir);
    if (!r.stage) return { info, errors: r.errors, warnings: [] };
    return { info, expanded: { stages: [r.stage], params: [], metrics: [], plots: [] }, errors: [], warnings: [] };
  }
  const check = validateStagesFile(parsed);
  if (check.errors.length > 0 && !check.expandable) return { info, errors: check.errors, warnings: check.warnings };
  // A file with schema errors is still expanded (without the stages they are in), so that one run shows its
  // template errors too; it fails all the same.
  const r = await expandStagesFile({
    root,
    file: f.file,
    text,
    doc: parsed.doc,
    lineCounter: parsed.lineCounter,
    sources,
    skip: check.skip,
    ...(from.onRead ? { onRead: from.onRead } : {}),
    ...(from.readText ? { readText: from.readText } : {}),
  });
  if (!r.ok || check.errors.length > 0) {
    return { info, errors: dedupeSorted([...check.errors, ...(r.ok ? [] : r.errors)]), warnings: [...check.warnings, ...r.warnings] };
  }
  return { info, expanded: r.value, errors: [], warnings: [...check.warnings, ...r.warnings] };
}

/** Parses, validates and expands the discovered files; `warnings` are those of loading only (not discovery's). */
async function loadFiles(root: string, found: readonly ListedStagesFile[], sources: Map<string, string>, from: FileSource): Promise<Result<Pipeline>> {
  const l = await loaders();
  const outcomes = await Promise.all(found.map((f) => loadFile(l, root, f, sources, from)));
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const pipeline: Pipeline = { root, files: [], stages: [], params: [], metrics: [], plots: [] };
  for (const o of outcomes) {
    errors.push(...o.errors);
    warnings.push(...o.warnings);
    if (o.info) pipeline.files.push(o.info);
    if (!o.expanded) continue;
    pipeline.stages.push(...o.expanded.stages);
    pipeline.params.push(...o.expanded.params);
    pipeline.metrics.push(...o.expanded.metrics);
    pipeline.plots.push(...o.expanded.plots);
  }
  if (errors.length > 0) return fail(errors, warnings);
  return ok(pipeline, warnings);
}

/**
 * Loads the pipeline a git revision holds: `found` (from `discoverInListing`) and the vars/params files templating
 * needs are read through `readText` (root-relative paths), never from the disk. Nothing is cached.
 */
export async function loadPipelineFrom(root: string, found: readonly ListedStagesFile[], readText: TextReader, sources: Map<string, string>): Promise<Result<Pipeline>> {
  return loadFiles(root, found, sources, {
    async stagesText(f) {
      const r = await readText(f.file);
      if (r.kind === "file") return r.text;
      return new Error(r.kind === "unreadable" ? r.why : r.kind === "dir" ? "it is a directory" : "it does not exist");
    },
    readText,
  });
}

function withDiscoveryWarnings(r: Result<Pipeline>, discovery: readonly Diagnostic[]): Result<Pipeline> {
  if (discovery.length === 0) return r;
  return r.ok ? ok(r.value, [...discovery, ...r.warnings]) : fail(r.errors, [...discovery, ...r.warnings]);
}

/**
 * Discovers, parses, validates and expands every stages file under `root`. Every file text read is put into
 * `sources` (keyed by the same `file` string diagnostics use) so diagnostics can be rendered even on failure.
 */
export async function loadPipeline(root: string, sources: Map<string, string>): Promise<Result<Pipeline>> {
  const found = await discoverStagesFiles(root);
  if (!found.ok) return found;
  return withDiscoveryWarnings(await loadFiles(root, found.value, sources, diskSource(undefined)), found.warnings);
}

export interface LoadCacheOptions {
  /** Absolute path of the cache file; default `<root>/.pipe/tmp/load-cache`. `null`: no cache. */
  cacheFile?: string | null;
  /** Wall clock in nanoseconds since the epoch (injected by tests). */
  now?: () => bigint;
  /** A file modified less than this long before the load began makes the result uncacheable. Default 2 s. */
  racyWindowNs?: bigint;
  /** Told of what discovery reads (see `DiscoveryObserver`). */
  observeDiscovery?: DiscoveryObserver;
}

export interface CachedLoad {
  result: Result<Pipeline>;
  /** The result came from the load cache (nothing was parsed). */
  fromCache: boolean;
  /**
   * What the result is a function of, as the load cache keys it: the discovery result and every file the load read
   * (root-relative path and stamp, from before the read), sorted by path. Undefined when that is not known to be
   * trustworthy (no cache in use, a failed load, or a file modified too recently). The status memo keys on it.
   */
  key?: { discovered: string; inputs: [string, string][] };
  /**
   * Stores a fresh successful result in the load cache. Call it only once the project is known to be valid: an
   * invalid project must never be cached. Does nothing for a cached result, a failed load, or when the files read
   * were too fresh to be trusted; returns whether the cache was written.
   */
  remember(): boolean;
}

const nothingToRemember = (): boolean => false;

/** `loadPipeline` through the load cache (see the module comment); `sources` is filled the same way on a hit. */
export async function loadPipelineCached(root: string, sources: Map<string, string>, opts: LoadCacheOptions = {}): Promise<CachedLoad> {
  const startedNs = (opts.now ?? (() => BigInt(Date.now()) * 1_000_000n))();
  const found = await discoverStagesFiles(root, opts.observeDiscovery);
  if (!found.ok) return { result: found, fromCache: false, remember: nothingToRemember };
  const cacheFile = opts.cacheFile === undefined ? path.join(root, LOAD_CACHE_FILE) : opts.cacheFile;
  if (cacheFile === null) return { result: withDiscoveryWarnings(await loadFiles(root, found.value, sources, diskSource(undefined)), found.warnings), fromCache: false, remember: nothingToRemember };
  const key: CacheKey = { root, discovered: found.value };

  const cached = readLoadCache(cacheFile, key);
  if (cached) {
    const hit = cached.payload;
    for (const [file, text] of hit.sources) sources.set(file, text);
    const p = hit.pipeline;
    const files = p.files.map((f): StagesFileInfo => ({ file: f.file, text: f.text ?? sources.get(f.file) ?? "", flavor: f.flavor }));
    const pipeline: Pipeline = { root, files, stages: p.stages, params: p.params, metrics: p.metrics, plots: p.plots };
    return {
      result: ok(pipeline, [...found.warnings, ...hit.warnings]),
      fromCache: true,
      key: { discovered: JSON.stringify(found.value), inputs: cached.inputs },
      remember: nothingToRemember,
    };
  }

  const inputs = new LoadInputs();
  const read = new Map<string, string>();
  const r = await loadFiles(root, found.value, read, diskSource((rel, st) => inputs.record(rel, st)));
  for (const [file, text] of read) sources.set(file, text);
  const result = withDiscoveryWarnings(r, found.warnings);
  if (!r.ok) return { result, fromCache: false, remember: nothingToRemember };
  const loaded = r.value;
  const remember = (): boolean => {
    if (!inputs.trustworthy(startedNs, opts.racyWindowNs ?? RACY_WINDOW_NS)) return false;
    const payload: LoadCachePayload = {
      pipeline: {
        files: loaded.files.map((f) => (read.get(f.file) === f.text ? { file: f.file, flavor: f.flavor } : { file: f.file, flavor: f.flavor, text: f.text })),
        stages: loaded.stages,
        params: loaded.params,
        metrics: loaded.metrics,
        plots: loaded.plots,
      },
      warnings: r.warnings,
      sources: [...read],
    };
    return writeLoadCache(cacheFile, key, inputs.entries(), payload);
  };
  const trusted = inputs.trustworthy(startedNs, opts.racyWindowNs ?? RACY_WINDOW_NS);
  return { result, fromCache: false, remember, ...(trusted ? { key: { discovered: JSON.stringify(found.value), inputs: inputs.entries() } } : {}) };
}
