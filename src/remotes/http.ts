/**
 * Read-only HTTP(S) remotes (`https://host/path`): a web server that serves a DVC-layout directory. Objects are read
 * with GET and asked for with HEAD through Node's own `fetch`; puts and removes are refused as `read-only`. HTTP has
 * no listing of its own: `list`/`listRuns` read the server's directory index pages (Apache's and nginx's autoindex,
 * Python's http.server), and say so clearly when the server gives none (pull works without them). The GET and
 * HEAD helpers here are also what the WebDAV remote reads with. Credentials, when the server wants them, are the
 * remote's `user`/`password` options (Basic auth) or a `token` (Bearer).
 */
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { keyString, type ListedObject, type ObjectKey, type PutOutcome, type StoreFailure, type StoreResult } from "../storage/object-store.js";
import { TEMP_MARK } from "../core/atomic-write.js";
import { allLimit, candidatePaths, downloadVerified, failed, jobsOf, keyOfPath, labelOf, okv, readAll, scrub, timeoutOption, verifyByDownload } from "./common.js";
import type { RemoteContext } from "./index.js";
import type { RemoteSpec, RemoteStore } from "./remote.js";

/**
 * How long a request may wait for the response's headers when the remote sets no `timeout` (the body may then take as
 * long as it needs).
 */
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
export async function fetchBounded(url: string, init: RequestInit, timeoutMs = HEADERS_TIMEOUT_MS): Promise<Response> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    return await fetch(url, { ...init, signal: ac.signal, redirect: "follow" });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    if (ac.signal.aborted) throw new HttpError(undefined, "ETIMEDOUT", `no answer within ${timeoutMs / 1000} s (the remote's timeout option)`);
    throw new HttpError(undefined, cause?.code, cause?.message ?? (e as Error).message);
  } finally {
    clearTimeout(timer);
  }
}

/** The body of a GET as a Node stream, undefined for 404; other statuses are `HttpError`s. */
export async function httpGet(url: string, headers: Record<string, string>, timeoutMs?: number): Promise<Readable | undefined> {
  const r = await fetchBounded(url, { headers }, timeoutMs);
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
export async function httpHead(url: string, headers: Record<string, string>, timeoutMs?: number): Promise<number | undefined> {
  const r = await fetchBounded(url, { method: "HEAD", headers }, timeoutMs);
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
  const timeout = timeoutOption(spec.options.timeout);
  if (timeout === undefined) return fail([error("usage", `remote '${spec.name}' (${spec.source}): timeout is a number of seconds, not '${spec.options.timeout}'`)]);
  return ok(new HttpStore(labelOf(spec), parts.base, headers, jobsOf(spec, "http"), [spec.options.password, parts.password, spec.options.token], timeout ?? HEADERS_TIMEOUT_MS));
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
    private readonly timeoutMs: number = HEADERS_TIMEOUT_MS,
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
        if ((await httpHead(this.url(rel), this.headers, this.timeoutMs)) !== undefined) return okv(rel);
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

  async putFile(): Promise<StoreResult<PutOutcome>> {
    return failed({ reason: "read-only", store: this.label });
  }

  async putStream(_key: ObjectKey, data: Readable): Promise<StoreResult<PutOutcome>> {
    data.destroy();
    return failed({ reason: "read-only", store: this.label });
  }

  /**
   * The entries of a directory's index page: names ending in `/` are directories. Undefined when the directory does
   * not exist; a failure when the server gives no index page (HTML with links) for it.
   */
  private async index(rel: string): Promise<StoreResult<string[] | undefined>> {
    let r: Response;
    try {
      r = await fetchBounded(`${this.base}/${rel ? `${rel}/` : ""}`, { headers: this.headers }, this.timeoutMs);
    } catch (e) {
      return failed(this.failure(e, `cannot list ${rel || "the remote"}`));
    }
    if (r.status === 404 || r.status === 410) {
      await r.body?.cancel();
      return okv(undefined);
    }
    if (r.status === 401 || r.status === 403) {
      await r.body?.cancel();
      return failed(this.failure(new HttpError(r.status, undefined, `HTTP ${r.status} ${r.statusText}`), `cannot list ${rel || "the remote"}`));
    }
    const html = r.ok && /html/i.test(r.headers.get("content-type") ?? "") ? await r.text() : undefined;
    if (html === undefined) {
      await r.body?.cancel();
      return failed({
        reason: "other",
        store: this.label,
        detail: `${rel || "the remote"}/ has no directory index page (HTTP ${r.status}); an HTTP remote can be listed (for gc, or status of the whole remote) only when its server shows index pages (Apache Options +Indexes, nginx autoindex on)`,
      });
    }
    const names = new Set<string>();
    for (const m of html.matchAll(/href\s*=\s*"([^"?#]+)"/gi)) {
      let href = m[1]!;
      if (/^[a-z]+:|^\/|^\.\.?\/?$/i.test(href)) continue;
      try {
        href = decodeURIComponent(href);
      } catch {
        continue;
      }
      if (href.slice(0, -1).includes("/") || href.startsWith(".")) continue;
      names.add(href);
    }
    return okv([...names]);
  }

  async *list(): AsyncIterable<StoreResult<ListedObject>> {
    for (const top of ["files/xxh64", "files/md5", ""]) {
      const dirs = await this.index(top);
      if (!dirs.ok) return yield dirs;
      for (const d of dirs.value ?? []) {
        if (!/^[0-9a-f]{2}\/$/.test(d)) continue;
        const dir = top ? `${top}/${d.slice(0, -1)}` : d.slice(0, -1);
        const names = await this.index(dir);
        if (!names.ok) return yield names;
        for (const n of names.value ?? []) {
          if (n.endsWith("/") || n.includes(TEMP_MARK)) continue;
          const key = keyOfPath(`${dir}/${n}`);
          if (key) yield okv({ key });
        }
      }
    }
  }

  async remove(): Promise<StoreResult<void>> {
    return failed({ reason: "read-only", store: this.label });
  }

  verify(key: ObjectKey): Promise<StoreResult<void>> {
    return verifyByDownload(this, key);
  }

  async *listRuns(): AsyncIterable<StoreResult<string>> {
    const walk = async function* (this: HttpStore, rel: string): AsyncGenerator<StoreResult<string>> {
      const names = await this.index(rel);
      if (!names.ok) return yield names;
      for (const n of names.value ?? []) {
        if (n.includes(TEMP_MARK)) continue;
        if (n.endsWith("/")) yield* walk.call(this, `${rel}/${n.slice(0, -1)}`);
        else yield okv(`${rel}/${n}`.slice("runs/".length));
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

  async putRun(): Promise<StoreResult<void>> {
    return failed({ reason: "read-only", store: this.label });
  }

  async close(): Promise<void> {}
}
