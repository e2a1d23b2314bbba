/**
 * Read-only HTTP(S) remotes (`https://host/path`): a web server that serves a DVC-layout directory. Objects are read
 * with GET and asked for with HEAD through Node's own `fetch`; puts and removes are refused as `read-only`, and an
 * HTTP server cannot be listed, so `list`/`listRuns` say so (pull works; gc and push need another kind). The GET and
 * HEAD helpers here are also what the WebDAV remote reads with. Credentials, when the server wants them, are the
 * remote's `user`/`password` options (Basic auth) or a `token` (Bearer).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { keyString, type ListedObject, type ObjectKey, type PutOutcome, type StoreFailure, type StoreResult } from "../storage/object-store.js";
import { allLimit, candidatePaths, downloadVerified, failed, jobsOf, labelOf, okv, readAll, scrub } from "./common.js";
import type { RemoteContext } from "./index.js";
import type { RemoteSpec, RemoteStore } from "./remote.js";

/** How long a request may wait for the response's headers (the body may then take as long as it needs). */
export const HEADERS_TIMEOUT_MS = 30_000;

/** A failed request: the HTTP status, or the network error (refused, unknown host, timed out). */
export class HttpError extends Error {
  constructor(
    readonly status: number | undefined,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** `fetch` whose wait for the headers is bounded; the body streams afterwards without a limit. */
export async function fetchBounded(url: string, init: RequestInit): Promise<Response> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), HEADERS_TIMEOUT_MS);
  try {
    return await fetch(url, { ...init, signal: ac.signal, redirect: "follow" });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    if (ac.signal.aborted) throw new HttpError(undefined, "ETIMEDOUT", `no answer within ${HEADERS_TIMEOUT_MS / 1000} s`);
    throw new HttpError(undefined, cause?.code, cause?.message ?? (e as Error).message);
  } finally {
    clearTimeout(timer);
  }
}

/** The body of a GET as a Node stream, undefined for 404; other statuses are `HttpError`s. */
export async function httpGet(url: string, headers: Record<string, string>): Promise<Readable | undefined> {
  const r = await fetchBounded(url, { headers });
  if (r.status === 404 || r.status === 410) {
    await r.body?.cancel();
    return undefined;
  }
  if (!r.ok || !r.body) {
    await r.body?.cancel();
    throw new HttpError(r.status, undefined, `HTTP ${r.status} ${r.statusText}`);
  }
  return Readable.fromWeb(r.body as unknown as WebReadableStream<Uint8Array>);
}

/** The size a HEAD reports (0 when it does not say), undefined for 404. */
export async function httpHead(url: string, headers: Record<string, string>): Promise<number | undefined> {
  const r = await fetchBounded(url, { method: "HEAD", headers });
  if (r.status === 404 || r.status === 410) return undefined;
  if (!r.ok) throw new HttpError(r.status, undefined, `HTTP ${r.status} ${r.statusText}`);
  return Number(r.headers.get("content-length") ?? 0);
}

/** Authorization headers from the `user`/`password` or `token` options (or the URL's user:password). */
export function authHeaders(spec: RemoteSpec, urlUser?: string, urlPassword?: string): Record<string, string> {
  const o = spec.options;
  if (o.token !== undefined) return { authorization: `Bearer ${o.token}` };
  const user = o.user ?? urlUser;
  const password = o.password ?? urlPassword;
  if (user === undefined) return {};
  return { authorization: `Basic ${Buffer.from(`${user}:${password ?? ""}`).toString("base64")}` };
}

/** A URL split into the base without credentials and the credentials it carried. */
export function splitCredentials(url: string): { base: string; user?: string; password?: string } {
  const u = new URL(url);
  const user = u.username ? decodeURIComponent(u.username) : undefined;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.username = "";
  u.password = "";
  return { base: u.href.replace(/\/+$/, ""), ...(user !== undefined ? { user } : {}), ...(password !== undefined ? { password } : {}) };
}

/** An HTTP failure in words that say what to check. */
export function httpFailure(e: unknown, store: string, what: string, secrets: readonly (string | undefined)[], endpoint: string): StoreFailure {
  const err = e as HttpError;
  const msg = scrub(`${what}: ${err?.message ?? String(e)}`, secrets);
  if (err instanceof HttpError && err.status !== undefined) {
    if (err.status === 401) return { reason: "auth", store, detail: `${msg}; check the remote's user and password (or token)` };
    if (err.status === 403) return { reason: "permission", store, detail: `${msg}; the server refuses this user: check its access rules` };
    if (err.status === 507) return { reason: "no-space", store };
    return { reason: "other", store, detail: msg };
  }
  return { reason: "unreachable", store, detail: `${msg}; check the URL (${endpoint}) and that the server is running` };
}

export function openHttp(spec: RemoteSpec, _ctx: RemoteContext): Result<RemoteStore> {
  let parts;
  try {
    parts = splitCredentials(spec.url);
  } catch {
    return fail([error("usage", `remote '${spec.name}' (${spec.source}): '${spec.url}' is not a URL`)]);
  }
  const headers = authHeaders(spec, parts.user, parts.password);
  return ok(new HttpStore(labelOf(spec), parts.base, headers, jobsOf(spec, "http"), [spec.options.password, parts.password, spec.options.token]));
}

export class HttpStore implements RemoteStore {
  readonly kind = "http" as const;
  readonly readOnly = true;

  constructor(
    readonly label: string,
    private readonly base: string,
    private readonly headers: Record<string, string>,
    readonly jobs: number,
    private readonly secrets: readonly (string | undefined)[],
  ) {}

  private url(rel: string): string {
    return `${this.base}/${rel}`;
  }

  private failure(e: unknown, what: string): StoreFailure {
    return httpFailure(e, this.label, what, this.secrets, this.base);
  }

  private async locate(key: ObjectKey): Promise<StoreResult<string | undefined>> {
    for (const rel of candidatePaths(key)) {
      try {
        if ((await httpHead(this.url(rel), this.headers)) !== undefined) return okv(rel);
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

  /** An HTTP server cannot be listed: one HEAD per key, `jobs` at once. */
  async hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>> {
    const r = await allLimit(keys, this.jobs, async (k) => {
      const at = await this.locate(k);
      return at.ok ? okv(at.value !== undefined ? keyString(k) : undefined) : at;
    });
    return r.ok ? okv(new Set(r.value.filter((s): s is string => s !== undefined))) : r;
  }

  async open(key: ObjectKey): Promise<StoreResult<Readable>> {
    for (const rel of candidatePaths(key)) {
      try {
        const body = await httpGet(this.url(rel), this.headers);
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

  async putFile(): Promise<StoreResult<PutOutcome>> {
    return failed({ reason: "read-only", store: this.label });
  }

  async putStream(_key: ObjectKey, data: Readable): Promise<StoreResult<PutOutcome>> {
    data.destroy();
    return failed({ reason: "read-only", store: this.label });
  }

  async *list(): AsyncIterable<StoreResult<ListedObject>> {
    yield failed({ reason: "other", store: this.label, detail: "an HTTP remote cannot be listed; use an S3, SSH, WebDAV or directory remote for gc and status of the whole remote" });
  }

  async remove(): Promise<StoreResult<void>> {
    return failed({ reason: "read-only", store: this.label });
  }

  async verify(key: ObjectKey): Promise<StoreResult<void>> {
    const dir = await mkdtemp(path.join(tmpdir(), "pipe-verify-"));
    try {
      return await this.getToFile(key, path.join(dir, "object"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async *listRuns(): AsyncIterable<StoreResult<string>> {
    yield failed({ reason: "other", store: this.label, detail: "an HTTP remote cannot be listed, so its run-cache entries cannot be found" });
  }

  async getRun(rel: string): Promise<StoreResult<Buffer | undefined>> {
    try {
      const body = await httpGet(this.url(`runs/${rel}`), this.headers);
      return okv(body ? await readAll(body) : undefined);
    } catch (e) {
      return failed(this.failure(e, `cannot read run-cache entry ${rel}`));
    }
  }

  async putRun(): Promise<StoreResult<void>> {
    return failed({ reason: "read-only", store: this.label });
  }

  async close(): Promise<void> {}
}
