/**
 * WebDAV remotes (`webdav://host/path` over HTTP, `webdavs://` over HTTPS) with the `webdav` package: uploads go to a
 * temp name with PUT and are made visible with MOVE (atomic on the server), collections are created with MKCOL where
 * missing (a 409 means the parent is missing too, so it walks up one level at a time), directories are listed with
 * PROPFIND. Reads are plain GET/HEAD (the helpers of the HTTP remote). Credentials: the remote's `user` and
 * `password` options (Basic auth, normally in the git-ignored local config), or a `token`.
 */
import http from "node:http";
import https from "node:https";
import { createReadStream } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { createClient, type FileStat, type WebDAVClient } from "webdav";
import { TEMP_MARK } from "../core/atomic-write.js";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { keyPath, keyString, type ListedObject, type ObjectKey, type PutOutcome, type StoreFailure, type StoreResult } from "../storage/object-store.js";
import { BadDigest, candidatePaths, checkKey, downloadVerified, failed, hashTap, jobsOf, keyOfPath, labelOf, okv, readAll, ShortData, timeoutOption, verifyByDownload, putOutcome, sourceSize } from "./common.js";
import { authHeaders, HEADERS_TIMEOUT_MS, httpFailure, httpGet, httpHead, HttpError, splitCredentials } from "./http.js";
import type { RemoteContext } from "./index.js";
import type { RemoteSpec, RemoteStore } from "./remote.js";

/** Idle time of a socket before a request counts as stalled, when the remote sets no `timeout`. */
const SOCKET_IDLE_MS = 60_000;

/**
 * An agent whose sockets are destroyed after `idleMs` of silence: Node only reports a socket's timeout, and the
 * webdav client does not act on it, so a server that accepts and never answers would hold a request forever.
 */
function idleAgents(idleMs: number, opts: http.AgentOptions): { httpAgent: http.Agent; httpsAgent: https.Agent } {
  // The agent's own `timeout` keeps the socket's idle limit set across reuse (it resets it when a socket goes back
  // to the pool); this listener is what ends a request on it.
  const arm = (s: import("node:net").Socket): void => {
    s.setTimeout(idleMs);
    s.on("timeout", () => s.destroy(Object.assign(new Error(`no answer within ${idleMs / 1000} s (the remote's timeout option)`), { code: "ETIMEDOUT" })));
  };
  class IdleHttp extends http.Agent {
    override createConnection(...args: Parameters<http.Agent["createConnection"]>): ReturnType<http.Agent["createConnection"]> {
      const s = super.createConnection(...args);
      if (s) arm(s as import("node:net").Socket);
      return s;
    }
  }
  class IdleHttps extends https.Agent {
    override createConnection(...args: Parameters<https.Agent["createConnection"]>): ReturnType<https.Agent["createConnection"]> {
      const s = super.createConnection(...args);
      if (s) arm(s as import("node:net").Socket);
      return s;
    }
  }
  return { httpAgent: new IdleHttp(opts), httpsAgent: new IdleHttps(opts) };
}

/** `webdav://host/p` -> `http://host/p`, `webdavs://` -> `https://`. */
export function httpUrlOf(url: string): string | undefined {
  const m = /^webdav(s?):\/\/(.+)$/i.exec(url);
  return m ? `http${m[1]!.toLowerCase()}://${m[2]!}` : undefined;
}

export function openWebdav(spec: RemoteSpec, ctx: RemoteContext): Result<RemoteStore> {
  void ctx;
  const httpUrl = httpUrlOf(spec.url);
  let parts;
  try {
    parts = httpUrl !== undefined ? splitCredentials(httpUrl) : undefined;
  } catch {
    parts = undefined;
  }
  if (!parts) return fail([error("usage", `remote '${spec.name}' (${spec.source}): '${spec.url}' is not a webdav:// or webdavs:// URL`)]);
  const headers = authHeaders(spec, parts.user, parts.password);
  const jobs = jobsOf(spec, "webdav");
  const timeout = timeoutOption(spec.options.timeout);
  if (timeout === undefined) return fail([error("usage", `remote '${spec.name}' (${spec.source}): timeout is a number of seconds, not '${spec.options.timeout}'`)]);
  const idleMs = timeout ?? SOCKET_IDLE_MS;
  // The client is rooted at the server's origin so that MKCOL can create the remote's own folder and its parents.
  const client = createClient(new URL(parts.base).origin, {
    headers,
    ...idleAgents(idleMs, { keepAlive: true, maxSockets: Math.max(jobs * 2, 16), timeout: idleMs }),
    maxBodyLength: Infinity,
    maxContentLength: Infinity,
  });
  return ok(new WebdavStore(labelOf(spec), parts.base, client, headers, jobs, [spec.options.password, parts.password, spec.options.token], timeout ?? HEADERS_TIMEOUT_MS));
}

function statusOf(e: unknown): number | undefined {
  const s = (e as { status?: unknown; response?: { status?: unknown } } | null)?.status ?? (e as { response?: { status?: unknown } } | null)?.response?.status;
  return typeof s === "number" ? s : undefined;
}

/** The webdav package's errors as `HttpError`s (status, or the network error's code). */
function asHttpError(e: unknown): unknown {
  if (e instanceof HttpError || e instanceof BadDigest || e instanceof ShortData) return e;
  const status = statusOf(e);
  if (status !== undefined) return new HttpError(status, undefined, `HTTP ${status}`);
  const cause = (e as { cause?: { code?: string; message?: string }; code?: string; message?: string }) ?? {};
  return new HttpError(undefined, cause.cause?.code ?? cause.code, cause.cause?.message ?? cause.message ?? String(e));
}

export class WebdavStore implements RemoteStore {
  readonly kind = "webdav" as const;
  readonly readOnly = false;
  /** Collections known to exist, so each is created (or found) once. */
  private readonly dirs = new Set<string>();

  constructor(
    readonly label: string,
    private readonly base: string,
    private readonly client: WebDAVClient,
    private readonly headers: Record<string, string>,
    readonly jobs: number,
    private readonly secrets: readonly (string | undefined)[],
    private readonly timeoutMs: number = HEADERS_TIMEOUT_MS,
  ) {}

  private failure(e: unknown, what: string): StoreFailure {
    return httpFailure(asHttpError(e), this.label, what, this.secrets, this.base);
  }

  private url(rel: string): string {
    return `${this.base}/${rel}`;
  }

  /** The server path of `rel` (the remote's folder is `rel` "."). */
  private p(rel: string): string {
    const root = new URL(this.base).pathname.replace(/\/+$/, "");
    return rel === "." || rel === "" ? root || "/" : `${root}/${rel}`;
  }

  private async locate(key: ObjectKey): Promise<StoreResult<{ rel: string; size: number } | undefined>> {
    for (const rel of candidatePaths(key)) {
      try {
        const size = await httpHead(this.url(rel), this.headers, this.timeoutMs);
        if (size !== undefined) return okv({ rel, size });
      } catch (e) {
        return failed(this.failure(e, `cannot check ${keyString(key)}`));
      }
    }
    return okv(undefined);
  }

  async has(key: ObjectKey): Promise<StoreResult<boolean>> {
    const r = await this.locate(key);
    return r.ok ? okv(r.value !== undefined) : r;
  }

  /** Files of a collection (name -> size), empty when it does not exist. */
  private async names(dir: string): Promise<StoreResult<Map<string, number>>> {
    try {
      const list = (await this.client.getDirectoryContents(this.p(dir))) as FileStat[];
      return okv(new Map(list.filter((f) => f.type === "file").map((f) => [f.basename, f.size])));
    } catch (e) {
      if (statusOf(e) === 404) return okv(new Map());
      return failed(this.failure(e, `cannot list ${dir}`));
    }
  }

  async hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>> {
    const found = new Set<string>();
    const byDir = new Map<string, { base: string; key: ObjectKey }[]>();
    for (const key of keys) {
      for (const rel of candidatePaths(key)) {
        const dir = path.posix.dirname(rel);
        let l = byDir.get(dir);
        if (!l) byDir.set(dir, (l = []));
        l.push({ base: path.posix.basename(rel), key });
      }
    }
    const tasks = [...byDir.entries()];
    let failure: StoreFailure | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < tasks.length) {
        const [dir, wanted] = tasks[next++]!;
        // One PROPFIND answers a whole collection; a single key is one HEAD.
        if (wanted.length > 1) {
          const n = await this.names(dir);
          if (!n.ok) {
            failure = n.failure;
            return;
          }
          for (const w of wanted) if (n.value.has(w.base)) found.add(keyString(w.key));
        } else {
          try {
            if ((await httpHead(this.url(`${dir}/${wanted[0]!.base}`), this.headers, this.timeoutMs)) !== undefined) found.add(keyString(wanted[0]!.key));
          } catch (e) {
            failure = this.failure(e, `cannot check ${keyString(wanted[0]!.key)}`);
            return;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.jobs * 2, Math.max(1, tasks.length)) }, worker));
    return failure ? failed(failure) : okv(found);
  }

  async open(key: ObjectKey): Promise<StoreResult<Readable>> {
    for (const rel of candidatePaths(key)) {
      try {
        const body = await httpGet(this.url(rel), this.headers, this.timeoutMs);
        if (body) return okv(body);
      } catch (e) {
        return failed(this.failure(e, `cannot download ${keyString(key)}`));
      }
    }
    return failed({ reason: "missing", key });
  }

  getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>> {
    return downloadVerified(key, destAbs, () => this.open(key), (e) => this.failure(e, `cannot download ${keyString(key)}`));
  }

  /** MKCOL `dir` (a server path); a 409 (parent missing) creates the parent first, a 405 means it exists already. */
  private async mkcol(dir: string): Promise<void> {
    if (dir === "/" || dir === "" || dir === "." || this.dirs.has(dir)) return;
    try {
      await this.client.createDirectory(dir);
    } catch (e) {
      const s = statusOf(e);
      if (s === 409) {
        await this.mkcol(path.posix.dirname(dir));
        try {
          await this.client.createDirectory(dir);
        } catch (e2) {
          if (statusOf(e2) !== 405) throw e2;
        }
      } else if (s !== 405) throw e;
    }
    this.dirs.add(dir);
  }

  /** PUT to a temp name beside the object, then MOVE over its name. */
  private async place(key: ObjectKey, rel: string, body: () => Promise<Readable | Buffer>, size: number): Promise<StoreResult<void>> {
    const tmp = `${path.posix.dirname(rel)}/.${path.posix.basename(rel)}${TEMP_MARK}${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
    try {
      await this.mkcol(this.p(path.posix.dirname(rel)));
      await this.client.putFileContents(this.p(tmp), await body(), { contentLength: size, overwrite: true });
      await this.client.moveFile(this.p(tmp), this.p(rel), { overwrite: true });
      return okv(undefined);
    } catch (e) {
      await this.client.deleteFile(this.p(tmp)).catch(() => undefined);
      if (e instanceof BadDigest) return failed({ reason: "corrupt", key, actual: e.actual });
      if (e instanceof ShortData) return failed({ reason: "other", store: this.label, detail: `${keyString(key)}: ${e.message}` });
      return failed(this.failure(e, `cannot upload ${keyString(key)}`));
    }
  }

  private async before(key: ObjectKey, size: number): Promise<StoreResult<PutOutcome>> {
    return putOutcome(await this.locate(key), size);
  }

  async putFile(key: ObjectKey, srcAbs: string): Promise<StoreResult<PutOutcome>> {
    checkKey(key);
    const sized = await sourceSize(srcAbs, this.label);
    if (!sized.ok) return sized;
    const size = sized.value;
    const b = await this.before(key, size);
    if (!b.ok || b.value === "present") return b;
    const r = await this.place(key, keyPath(key), async () => createReadStream(srcAbs), size);
    return r.ok ? okv(b.value) : r;
  }

  async putStream(key: ObjectKey, data: Readable, size: number): Promise<StoreResult<PutOutcome>> {
    checkKey(key);
    const b = await this.before(key, size);
    if (!b.ok || b.value === "present") {
      data.destroy();
      return b;
    }
    // Buffered up to a few MiB so the tap's verdict (short, wrong hash) is known before anything is sent; larger
    // streams go through the tap, and a bad one fails the PUT of the temp name, which is then deleted.
    const tap = await hashTap(key, size);
    // A failing source fails the tap (pipe() alone would leave the tap waiting forever).
    data.on("error", (e) => tap.destroy(e));
    if (size <= 8 << 20) {
      let buf: Buffer;
      try {
        buf = await readAll(data.pipe(tap));
      } catch (e) {
        if (e instanceof BadDigest) return failed({ reason: "corrupt", key, actual: e.actual });
        if (e instanceof ShortData) return failed({ reason: "other", store: this.label, detail: `${keyString(key)}: ${e.message}` });
        return failed({ reason: "other", store: this.label, detail: `${keyString(key)}: reading the data failed: ${(e as Error).message}` });
      }
      const r = await this.place(key, keyPath(key), async () => buf, size);
      return r.ok ? okv(b.value) : r;
    }
    let tapError: unknown;
    tap.on("error", (e) => (tapError = e));
    const r = await this.place(key, keyPath(key), async () => data.pipe(tap), size);
    if (tapError !== undefined) {
      if (tapError instanceof BadDigest) return failed({ reason: "corrupt", key, actual: tapError.actual });
      return failed({ reason: "other", store: this.label, detail: `${keyString(key)}: ${(tapError as Error).message}` });
    }
    return r.ok ? okv(b.value) : r;
  }

  async *list(): AsyncIterable<StoreResult<ListedObject>> {
    for (const top of ["files/xxh64", "files/md5", ""]) {
      let entries: FileStat[];
      try {
        entries = (await this.client.getDirectoryContents(this.p(top))) as FileStat[];
      } catch (e) {
        if (statusOf(e) === 404) continue;
        return yield failed(this.failure(e, `cannot list ${top || "the remote"}`));
      }
      for (const d of entries) {
        if (d.type !== "directory" || !/^[0-9a-f]{2}$/.test(d.basename)) continue;
        const dir = top ? `${top}/${d.basename}` : d.basename;
        const n = await this.names(dir);
        if (!n.ok) return yield n;
        for (const [name, size] of n.value) {
          if (name.startsWith(".") || name.includes(TEMP_MARK)) continue;
          const key = keyOfPath(`${dir}/${name}`);
          if (key) yield okv({ key, size });
        }
      }
    }
  }

  async remove(key: ObjectKey): Promise<StoreResult<void>> {
    for (const rel of candidatePaths(key)) {
      try {
        await this.client.deleteFile(this.p(rel));
      } catch (e) {
        if (statusOf(e) !== 404) return failed(this.failure(e, `cannot remove ${keyString(key)}`));
      }
    }
    return okv(undefined);
  }

  verify(key: ObjectKey): Promise<StoreResult<void>> {
    return verifyByDownload(this, key);
  }

  async *listRuns(): AsyncIterable<StoreResult<string>> {
    const walk = async function* (this: WebdavStore, rel: string): AsyncGenerator<StoreResult<string>> {
      let entries: FileStat[];
      try {
        entries = (await this.client.getDirectoryContents(this.p(rel))) as FileStat[];
      } catch (e) {
        if (statusOf(e) === 404) return;
        return yield failed(this.failure(e, `cannot list ${rel}`));
      }
      for (const f of entries) {
        if (f.basename.startsWith(".") || f.basename.includes(TEMP_MARK)) continue;
        if (f.type === "directory") yield* walk.call(this, `${rel}/${f.basename}`);
        else yield okv(`${rel}/${f.basename}`.slice("runs/".length));
      }
    };
    yield* walk.call(this, "runs");
  }

  async getRun(rel: string): Promise<StoreResult<Buffer | undefined>> {
    try {
      const body = await httpGet(this.url(`runs/${rel}`), this.headers, this.timeoutMs);
      return okv(body ? await readAll(body) : undefined);
    } catch (e) {
      return failed(this.failure(e, `cannot read run-cache entry ${rel}`));
    }
  }

  async putRun(rel: string, data: Uint8Array): Promise<StoreResult<void>> {
    const buf = Buffer.from(data);
    const r = await this.place({ algo: "xxh64", id: "0".repeat(16) }, `runs/${rel}`, async () => buf, buf.length);
    return r.ok ? r : failed(r.failure.reason === "corrupt" ? { reason: "other", store: this.label, detail: `cannot store run-cache entry ${rel}` } : r.failure);
  }

  async close(): Promise<void> {}
}
