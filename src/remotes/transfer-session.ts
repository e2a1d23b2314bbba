/**
 * One `push`, `fetch` or `status --cloud` from the command's point of view: the configuration read, the remotes
 * opened (each once, closed at the end), the outputs gathered (the chosen stages' outputs, plus what lock and `.dvc`
 * files at the revisions in scope name), the objects moved, and run-cache entries too with `--run-cache`.
 *
 * Run-cache entries live under `runs/` on the remote, by the path they have under `.pipe/runs/` (`<2>/<14>`, the
 * xxh64 of the run's inputs): a push sends the entries the remote lacks and the objects they name, a fetch takes the
 * entries the project lacks (each checked to be a run-cache entry before it is recorded) and the objects they name,
 * so `repro --pull` can restore a stage that ran anywhere with the same inputs.
 */
import { readFile } from "node:fs/promises";
import { error, fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import type { StageGraph } from "../core/model.js";
import type { LockStore } from "../lock/read.js";
import { collectReferences, type GcScope } from "../storage/gc-refs.js";
import { RunCache } from "../storage/runcache.js";
import type { StoreFailure } from "../storage/object-store.js";
import { chooseRemote, readRemoteConfig, type RemoteConfig } from "./config.js";
import { revisionOutputs, trackedOutputs, type TrackedOutput } from "./gather.js";
import { openRemote, type RemoteStore } from "./index.js";
import { cloudStatus, fetchOutputs, pushOutputs, type CloudEntry, type RemoteOpener, type SyncOutcome } from "./sync.js";
import { addCounts, emptyCounts, type TransferEvent } from "./transfer.js";
import { keyOfId, CacheObjects } from "./transfer-cache.js";

export interface TransferRequest {
  root: string;
  env: NodeJS.ProcessEnv;
  graph: StageGraph;
  /** Stage addresses whose outputs move. */
  stages: readonly string[];
  locks: LockStore;
  /** Revisions besides the workspace (`-a`, `-T`, `-A`, `--rev`); their outputs move too. */
  scope?: GcScope;
  /** `-r NAME`. */
  remote?: string;
  /** `-j N`; default: the remote's. */
  jobs?: number;
  runCache?: boolean;
  /** Outputs not found anywhere are expected (`repro --pull`: what is missing is made by running). */
  allOptional?: boolean;
  on: (e: TransferEvent) => void;
  signal?: AbortSignal;
}

export interface TransferResult extends SyncOutcome {
  /** Object id -> the output that names it, for messages. */
  named: Map<string, string>;
  runs: { transferred: number; present: number };
}

/** Opens remotes on demand, each once; `close()` releases them. */
class Remotes {
  private readonly opened = new Map<string, Promise<Result<RemoteStore>>>();
  constructor(
    private readonly root: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly config: RemoteConfig,
    private readonly given: string | undefined,
  ) {}

  opener(): RemoteOpener {
    return async (name) => {
      const chosen = chooseRemote(this.config, name ?? this.given);
      if (!chosen.ok) return { ok: false, message: chosen.errors.map((d) => d.message + (d.hint ? ` (${d.hint})` : "")).join("; ") };
      const spec = chosen.value;
      let p = this.opened.get(spec.name);
      if (!p) {
        p = openRemote(spec, { root: this.root, env: this.env });
        this.opened.set(spec.name, p);
      }
      const r = await p;
      if (!r.ok) return { ok: false, message: r.errors.map((d) => d.message).join("; ") };
      return { ok: true, store: r.value, name: spec.name };
    };
  }

  async first(): Promise<RemoteStore | undefined> {
    for (const p of this.opened.values()) {
      const r = await p;
      if (r.ok) return r.value;
    }
    return undefined;
  }

  async close(): Promise<void> {
    for (const p of this.opened.values()) {
      const r = await p;
      if (r.ok) await r.value.close();
    }
  }
}

async function prepare(req: TransferRequest): Promise<Result<{ outputs: TrackedOutput[]; optional: Set<string>; remotes: Remotes; named: Map<string, string> }>> {
  const cfg = await readRemoteConfig(req.root);
  if (!cfg.ok) return cfg;
  if (req.remote !== undefined) {
    const c = chooseRemote(cfg.value, req.remote);
    if (!c.ok) return c;
  }
  const outputs = await trackedOutputs(req.graph, req.stages, req.locks);
  const optional = new Set<string>();
  if (req.allOptional) for (const o of outputs) optional.add(o.key.id);
  const named = new Map<string, string>();
  for (const o of outputs) named.set(o.key.id, o.path);
  if (req.scope && (req.scope.allBranches || req.scope.allTags || req.scope.allCommits || req.scope.rev !== undefined || req.scope.date !== undefined)) {
    const refs = await collectReferences(req.root, req.scope, new Map());
    if (!refs.ok) return refs;
    const mine = new Set(outputs.map((o) => o.key.id));
    for (const o of revisionOutputs(refs.value.hashes)) {
      if (mine.has(o.key.id)) continue;
      optional.add(o.key.id);
      outputs.push(o);
    }
  }
  return ok({ outputs, optional, remotes: new Remotes(req.root, req.env, cfg.value, req.remote), named });
}

function jobsFor(req: TransferRequest, store: RemoteStore | undefined): number {
  return req.jobs ?? store?.jobs ?? 8;
}

function fatalOf(message: string): StoreFailure {
  return { reason: "other", store: "remote", detail: message };
}

async function run(req: TransferRequest, direction: "push" | "fetch"): Promise<Result<TransferResult>> {
  const p = await prepare(req);
  if (!p.ok) return p;
  const { outputs, optional, remotes, named } = p.value;
  const cache = CacheObjects.open(req.root);
  try {
    // The command's remote is opened first: its `jobs` is the default of `-j`, and a bad one fails before any work.
    const open = remotes.opener();
    const main = await open(undefined);
    const anyOwn = outputs.some((o) => o.remote !== undefined) && req.remote === undefined;
    if (!main.ok && !anyOwn) return fail([error("usage", main.message)]);
    const jobs = jobsFor(req, main.ok ? (main.store as RemoteStore) : await remotes.first());
    const input = { cache, outputs, open, remoteGiven: req.remote !== undefined, jobs, on: req.on, optional, ...(req.signal ? { signal: req.signal } : {}) };
    const out = direction === "push" ? await pushOutputs(input) : await fetchOutputs(input);
    const runs = { transferred: 0, present: 0 };
    if (req.runCache && main.ok && !out.counts.fatal) {
      const rc = await transferRuns(req.root, main.store as RemoteStore, cache, direction, jobs, req);
      if (!rc.ok) out.counts.fatal = rc.failure;
      else {
        runs.transferred = rc.value.transferred;
        runs.present = rc.value.present;
        addCounts(out.counts, rc.value.objects);
      }
    }
    if (out.unopened.length > 0 && !out.counts.fatal) out.counts.fatal = fatalOf(out.unopened.join("; "));
    return ok({ ...out, named, runs });
  } finally {
    await remotes.close();
  }
}

export function pushData(req: TransferRequest): Promise<Result<TransferResult>> {
  return run(req, "push");
}

export function fetchData(req: TransferRequest): Promise<Result<TransferResult>> {
  return run(req, "fetch");
}

const RUN_REL = /^[0-9a-f]{2}\/[0-9a-f]{14}$/;

/** Run-cache entries and the objects they name, in `direction` (module comment). */
async function transferRuns(
  root: string,
  remote: RemoteStore,
  cache: CacheObjects,
  direction: "push" | "fetch",
  jobs: number,
  req: TransferRequest,
): Promise<{ ok: true; value: { transferred: number; present: number; objects: ReturnType<typeof emptyCounts> } } | { ok: false; failure: StoreFailure }> {
  const runs = new RunCache(root);
  const there = new Set<string>();
  for await (const r of remote.listRuns()) {
    if (!r.ok) return r;
    if (RUN_REL.test(r.value)) there.add(r.value);
  }
  const listed = (await runs.list()).entries;
  const local = listed.map((e) => `${e.key.slice(0, 2)}/${e.key.slice(2)}`);
  const localSet = new Set(local);
  const fileOf = new Map(listed.map((e) => [e.key, e.path]));
  let transferred = 0;
  let present = 0;
  const outputs: TrackedOutput[] = [];
  const optional = new Set<string>();
  const noteOuts = (entry: { outs: { path: string; hash: string }[] } | undefined): void => {
    for (const o of entry?.outs ?? []) {
      outputs.push({ stage: "", path: o.path, key: keyOfId(o.hash), push: true });
      optional.add(o.hash);
    }
  };
  if (direction === "push") {
    for (const rel of local) {
      const key = rel.replace("/", "");
      const entry = await runs.lookup(key);
      if (!entry) continue;
      noteOuts(entry);
      if (there.has(rel)) {
        present++;
        continue;
      }
      // The entry's own bytes: the same entry has the same bytes everywhere.
      const put = await remote.putRun(rel, await readFile(fileOf.get(key)!));
      if (!put.ok) return put;
      transferred++;
    }
  } else {
    for (const rel of [...there].sort()) {
      if (localSet.has(rel)) {
        present++;
        noteOuts(await runs.lookup(rel.replace("/", "")));
        continue;
      }
      const got = await remote.getRun(rel);
      if (!got.ok) return got;
      if (got.value === undefined) continue;
      const entry = parseRunEntry(got.value);
      // Not an entry pipe wrote (another tool's file, a damaged one): left on the remote, not recorded here.
      if (!entry) continue;
      const rec = await runs.record(rel.replace("/", ""), entry);
      if (!rec.ok) return { ok: false, failure: { reason: "no-space", store: "cache" } };
      transferred++;
      noteOuts(entry);
    }
  }
  const input = { cache, outputs, open: (async () => ({ ok: true, store: remote, name: "" })) as RemoteOpener, remoteGiven: true, jobs, on: req.on, optional, ...(req.signal ? { signal: req.signal } : {}) };
  const moved = direction === "push" ? await pushOutputs(input) : await fetchOutputs(input);
  return { ok: true, value: { transferred, present, objects: moved.counts } };
}

function parseRunEntry(data: Buffer): { outs: { path: string; hash: string; size: number; nfiles?: number }[] } | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString("utf8"));
  } catch {
    return undefined;
  }
  const outs = typeof raw === "object" && raw !== null ? (raw as { outs?: unknown }).outs : undefined;
  if (!Array.isArray(outs)) return undefined;
  const good = outs.every(
    (o: unknown) =>
      typeof o === "object" &&
      o !== null &&
      typeof (o as Record<string, unknown>)["path"] === "string" &&
      typeof (o as Record<string, unknown>)["hash"] === "string" &&
      /^[0-9a-f]{16,32}(\.dir)?$/.test((o as Record<string, string>)["hash"]!) &&
      typeof (o as Record<string, unknown>)["size"] === "number",
  );
  return good ? { outs: outs as { path: string; hash: string; size: number }[] } : undefined;
}

/** `status --cloud`: per output of `stages`, where its objects are. */
export async function cloudStatusOf(req: Omit<TransferRequest, "on">): Promise<Result<{ entries: CloudEntry[]; problems: Diagnostic[] }>> {
  const p = await prepare({ ...req, on: () => undefined });
  if (!p.ok) return p;
  const { outputs, remotes } = p.value;
  try {
    const r = await cloudStatus({ cache: CacheObjects.open(req.root, { readOnly: true }), outputs, open: remotes.opener(), remoteGiven: req.remote !== undefined });
    const problems = r.unopened.map((m) => error("usage", m));
    if (r.fatal) problems.push(error("io", `${r.fatal.reason === "unreachable" || r.fatal.reason === "auth" ? r.fatal.store + ": " + r.fatal.detail : r.fatal.reason}`));
    return ok({ entries: r.entries, problems });
  } finally {
    await remotes.close();
  }
}
