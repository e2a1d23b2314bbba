/**
 * S3 and S3-compatible remotes (`s3://bucket/prefix`; radosgw, MinIO, Swift's s3api, ...) and Google Cloud Storage
 * through its S3-compatible XML API (`gs://bucket/prefix` with HMAC keys), with `@aws-sdk/client-s3` and, for objects
 * larger than one part, `@aws-sdk/lib-storage`'s multipart upload.
 *
 * Credentials are the SDK's: the remote's `access_key_id`/`secret_access_key` options when given (normally in the
 * git-ignored local config), else the default provider chain (environment, `profile` or AWS_PROFILE in the shared
 * config and credentials files, SSO, instance roles). An S3 object becomes visible only when its PUT (or the
 * multipart completion) succeeds, so a reader never sees half an object; an upload whose bytes run short or do not
 * hash to the key is aborted before completion. `If-None-Match: *` makes a put of an object already there one
 * request; a server that refuses conditional puts (Swift answers 501) is remembered and asked with a HEAD instead.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { tempBeside } from "../core/atomic-write.js";
import { createDigest, type StreamDigest } from "../hash/algorithms.js";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { keyPath, keyString, type ListedObject, type ObjectKey, type PutOutcome, type StoreFailure, type StoreResult } from "../storage/object-store.js";
import { allLimit, candidatePaths, checkKey, BadDigest, CONNECT_TIMEOUT_MS, downloadVerified, failed, hashTap, jobsOf, keyOfPath, labelOf, okv, placeChecked, readAll, scrub, ShortData, timeoutOption, writeVerified, verifyByDownload, sourceSize } from "./common.js";
import type { RemoteContext } from "./index.js";
import type { RemoteSpec, RemoteStore } from "./remote.js";

/** Objects up to this size go in one PUT from memory (retryable); larger ones stream as multipart. */
const SINGLE_PUT_MAX = 16 * 1024 * 1024;
const PART_SIZE = 16 * 1024 * 1024;
/** Objects up to this size are downloaded into memory and written with one call. */
const SMALL_GET_MAX = 4 * 1024 * 1024;
/** Objects from `rangedGetFrom` bytes are downloaded in ranges of `rangeSize`, RANGED_STREAMS at once. */
export interface S3Tuning {
  rangedGetFrom: number;
  rangeSize: number;
}
const DEFAULT_TUNING: S3Tuning = { rangedGetFrom: 64 * 1024 * 1024, rangeSize: 32 * 1024 * 1024 };
const RANGED_STREAMS = 4;
/** Idle time of a connection before a request counts as stalled. */
const SOCKET_IDLE_MS = 60_000;

/**
 * A digest of ranges that arrive at once, taken in the object's order: the chunks of the range being hashed go
 * straight in, those of later ranges wait in memory until the ranges before them have ended (at most
 * RANGED_STREAMS - 1 ranges), so a ranged download is hashed without reading its file again.
 */
class InOrderDigest {
  private next = 0;
  private readonly waiting = new Map<number, Buffer[]>();
  private readonly ended = new Set<number>();
  constructor(private readonly d: StreamDigest) {}

  add(index: number, chunk: Buffer): void {
    if (index === this.next) this.d.update(chunk);
    else {
      let l = this.waiting.get(index);
      if (!l) this.waiting.set(index, (l = []));
      l.push(chunk);
    }
  }

  end(index: number): void {
    this.ended.add(index);
    while (this.ended.has(this.next)) {
      this.ended.delete(this.next);
      this.next++;
      for (const c of this.waiting.get(this.next) ?? []) this.d.update(c);
      this.waiting.delete(this.next);
    }
  }

  digest(): string {
    return this.d.digest();
  }
}

/** GCS's S3-compatible endpoint, for `gs://` URLs. */
export const GCS_ENDPOINT = "https://storage.googleapis.com";

export interface S3Location {
  bucket: string;
  /** The prefix inside the bucket, no leading or trailing slash ("" for the bucket's root). */
  prefix: string;
  gcs: boolean;
}

export function parseS3Url(url: string): S3Location | undefined {
  const m = /^(s3|gs):\/\/([^/]+)\/?(.*)$/i.exec(url);
  if (!m) return undefined;
  return { bucket: m[2]!, prefix: m[3]!.replace(/^\/+|\/+$/g, ""), gcs: m[1]!.toLowerCase() === "gs" };
}

/** The client settings a remote's options give (exported for tests: no secret ever leaves through it). */
export function clientConfig(spec: RemoteSpec, loc: S3Location, env: NodeJS.ProcessEnv, jobs: number): S3ClientConfig {
  const o = spec.options;
  const endpoint = o.endpointurl ?? o.endpoint_url ?? (loc.gcs ? GCS_ENDPOINT : undefined);
  // `timeout` (seconds) bounds connecting and a silent server alike; the SDK tries 3 times, so ~3x in all.
  const timeout = timeoutOption(o.timeout) ?? undefined;
  const cfg: S3ClientConfig = {
    region: o.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (loc.gcs ? "auto" : "us-east-1"),
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: timeout ?? CONNECT_TIMEOUT_MS,
      socketTimeout: timeout ?? SOCKET_IDLE_MS,
      httpAgent: { keepAlive: true, maxSockets: Math.max(jobs * 2, 50) },
      httpsAgent: { keepAlive: true, maxSockets: Math.max(jobs * 2, 50) },
    },
  };
  if (endpoint !== undefined) {
    cfg.endpoint = endpoint;
    // Custom endpoints: path-style addressing (no bucket DNS names on loopback), and checksums only where the API
    // requires them (the SDK's newer defaults add headers third-party servers reject).
    cfg.forcePathStyle = true;
    cfg.requestChecksumCalculation = "WHEN_REQUIRED";
    cfg.responseChecksumValidation = "WHEN_REQUIRED";
  }
  if (o.profile !== undefined) cfg.profile = o.profile;
  const id = o.access_key_id;
  const secret = o.secret_access_key;
  if (id !== undefined && secret !== undefined) {
    cfg.credentials = { accessKeyId: id, secretAccessKey: secret, ...(o.session_token !== undefined ? { sessionToken: o.session_token } : {}) };
  }
  return cfg;
}

/** Opens an S3 remote; `tuning` is for tests (small objects through the ranged path). */
export function openS3(spec: RemoteSpec, ctx: RemoteContext, tuning: S3Tuning = DEFAULT_TUNING): Result<RemoteStore> {
  const loc = parseS3Url(spec.url);
  if (!loc) return fail([error("usage", `remote '${spec.name}' (${spec.source}): '${spec.url}' is not an s3://bucket/prefix URL`)]);
  if ((spec.options.access_key_id === undefined) !== (spec.options.secret_access_key === undefined)) {
    return fail([error("usage", `remote '${spec.name}' (${spec.source}): access_key_id and secret_access_key must be set together`)]);
  }
  if (timeoutOption(spec.options.timeout) === undefined) {
    return fail([error("usage", `remote '${spec.name}' (${spec.source}): timeout is a number of seconds, not '${spec.options.timeout}'`)]);
  }
  const jobs = jobsOf(spec, "s3");
  const cfg = clientConfig(spec, loc, ctx.env, jobs);
  // The SDK warns on every run under Node 20 that later releases will need Node 22; the lock file pins a release
  // that supports Node 20, so the warning would only be noise in pipe's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return ok(new S3Store(labelOf(spec), loc, new S3Client(cfg), jobs, [spec.options.secret_access_key, spec.options.session_token], cfg.endpoint !== undefined, tuning));
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  Code?: string;
}

function statusOf(e: unknown): number | undefined {
  return (e as SdkError | null)?.$metadata?.httpStatusCode;
}

function isNotFound(e: unknown): boolean {
  const err = e as SdkError;
  return err?.name === "NoSuchKey" || err?.name === "NotFound" || (statusOf(e) === 404 && err?.name !== "NoSuchBucket");
}

export class S3Store implements RemoteStore {
  readonly kind = "s3" as const;
  readonly readOnly = false;
  /** Cleared when the server refuses a conditional PUT (501 / NotImplemented): puts HEAD first instead. */
  private conditional = true;

  constructor(
    readonly label: string,
    private readonly loc: S3Location,
    private readonly client: S3Client,
    readonly jobs: number,
    private readonly secrets: readonly (string | undefined)[],
    private readonly customEndpoint: boolean,
    private readonly tuning: S3Tuning = DEFAULT_TUNING,
  ) {}

  private name(rel: string): string {
    return this.loc.prefix ? `${this.loc.prefix}/${rel}` : rel;
  }

  /** A client or server error in words that say what to check; never a secret. */
  failure(e: unknown, what: string): StoreFailure {
    const err = (e ?? {}) as SdkError;
    const name = err.name ?? err.code ?? "Error";
    const status = statusOf(e);
    const msg = scrub(`${what}: ${name}${status ? ` (HTTP ${status})` : ""}${err.message && err.message !== name ? `: ${err.message}` : ""}`, this.secrets);
    const where = this.customEndpoint ? "the remote's endpointurl" : "the network and the bucket's region";
    if (name === "CredentialsProviderError" || /Could not load credentials|credential/i.test(name)) {
      return { reason: "auth", store: this.label, detail: `${msg}; no credentials were found: set access_key_id/secret_access_key in the local config (--local), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a profile` };
    }
    if (["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken", "Forbidden"].includes(name) || status === 403 || status === 401) {
      return { reason: "auth", store: this.label, detail: `${msg}; check the credentials (access key, secret, profile) and that they may use bucket '${this.loc.bucket}'` };
    }
    if (name === "NoSuchBucket") {
      return { reason: "other", store: this.label, detail: `${msg}; bucket '${this.loc.bucket}' does not exist: check the URL (and the endpoint/region)` };
    }
    const code = err.code ?? "";
    if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH"].includes(code) || name === "TimeoutError" || /ECONNREFUSED|ENOTFOUND|timed? ?out/i.test(err.message ?? "")) {
      return { reason: "unreachable", store: this.label, detail: `${msg}; check ${where} and that the server is running` };
    }
    return { reason: "other", store: this.label, detail: msg };
  }

  private async head(rel: string): Promise<StoreResult<number | undefined>> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.loc.bucket, Key: this.name(rel) }));
      return okv(r.ContentLength ?? 0);
    } catch (e) {
      if (isNotFound(e)) {
        // A HEAD's 404 has no body, so a missing bucket looks like a missing object: ask once per store.
        const b = await this.checkBucket();
        return b.ok ? okv(undefined) : b;
      }
      return failed(this.failure(e, `cannot check ${rel}`));
    }
  }

  private bucketChecked: Promise<StoreResult<void>> | undefined;

  private checkBucket(): Promise<StoreResult<void>> {
    this.bucketChecked ??= this.client.send(new HeadBucketCommand({ Bucket: this.loc.bucket })).then(
      () => okv(undefined),
      (e: unknown) => failed(this.failure(statusOf(e) === 404 ? Object.assign(new Error("no such bucket"), { name: "NoSuchBucket" }) : e, "cannot open the bucket")),
    );
    return this.bucketChecked;
  }

  private async locate(key: ObjectKey): Promise<StoreResult<{ rel: string; size: number } | undefined>> {
    for (const rel of candidatePaths(key)) {
      const h = await this.head(rel);
      if (!h.ok) return h;
      if (h.value !== undefined) return okv({ rel, size: h.value });
    }
    return okv(undefined);
  }

  async has(key: ObjectKey): Promise<StoreResult<boolean>> {
    const r = await this.locate(key);
    return r.ok ? okv(r.value !== undefined) : r;
  }

  /**
   * Per "directory" (`files/xxh64/ab/`) the cheaper of a listing and one HEAD per key: a directory is listed page by
   * page while that costs fewer requests than the keys still unanswered in it would, and the rest are HEADed.
   */
  async hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>> {
    const found = new Set<string>();
    const pass = async (paths: { rel: string; key: ObjectKey }[]): Promise<StoreResult<void>> => {
      const byDir = new Map<string, { base: string; key: ObjectKey }[]>();
      for (const p of paths) {
        const dir = path.posix.dirname(p.rel);
        let l = byDir.get(dir);
        if (!l) byDir.set(dir, (l = []));
        l.push({ base: path.posix.basename(p.rel), key: p.key });
      }
      const tasks = [...byDir.entries()];
      let failure: StoreFailure | undefined;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (failure === undefined && next < tasks.length) {
          const [dir, wanted] = tasks[next++]!;
          const r = await this.answerDir(dir, wanted, found);
          if (!r.ok) failure = r.failure;
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.jobs, Math.max(1, tasks.length)) }, worker));
      return failure ? failed(failure) : okv(undefined);
    };
    for (const k of keys) checkKey(k);
    const first = await pass(keys.map((key) => ({ rel: keyPath(key), key })));
    if (!first.ok) return first;
    // DVC 2's `<2>/<30>` only for md5 keys not found in DVC 3's layout.
    const legacy = keys.filter((k) => k.algo === "md5" && !found.has(keyString(k))).map((key) => ({ rel: candidatePaths(key)[1]!, key }));
    if (legacy.length > 0) {
      const second = await pass(legacy);
      if (!second.ok) return second;
    }
    return okv(found);
  }

  private async answerDir(dir: string, wanted: { base: string; key: ObjectKey }[], found: Set<string>): Promise<StoreResult<void>> {
    const left = new Map(wanted.map((w) => [w.base, w.key]));
    let pages = 0;
    let token: string | undefined;
    // One page answers up to 1,000 names; listing pays while it costs fewer requests than the HEADs it replaces.
    if (left.size > 1) {
      const prefix = this.name(`${dir}/`);
      do {
        let r;
        try {
          r = await this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: prefix, ContinuationToken: token }));
        } catch (e) {
          return failed(this.failure(e, `cannot list ${dir}/`));
        }
        pages++;
        for (const o of r.Contents ?? []) {
          const k = left.get(o.Key!.slice(prefix.length));
          if (k) {
            found.add(keyString(k));
            left.delete(o.Key!.slice(prefix.length));
          }
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
        if (token === undefined) return okv(undefined);
      } while (left.size > pages);
    }
    for (const [base, key] of left) {
      const h = await this.head(`${dir}/${base}`);
      if (!h.ok) return h;
      if (h.value !== undefined) found.add(keyString(key));
    }
    return okv(undefined);
  }

  private async get(rel: string): Promise<StoreResult<Readable | undefined>> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.name(rel) }));
      return okv(r.Body as Readable);
    } catch (e) {
      if (isNotFound(e)) return okv(undefined);
      return failed(this.failure(e, `cannot read ${rel}`));
    }
  }

  async open(key: ObjectKey): Promise<StoreResult<Readable>> {
    for (const rel of candidatePaths(key)) {
      const r = await this.get(rel);
      if (!r.ok) return r;
      if (r.value) return okv(r.value);
    }
    return failed({ reason: "missing", key });
  }

  async getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>> {
    for (const rel of candidatePaths(key)) {
      let r;
      try {
        r = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.name(rel) }));
      } catch (e) {
        if (isNotFound(e)) continue;
        return failed(this.failure(e, `cannot download ${keyString(key)}`));
      }
      const body = r.Body as Readable & { transformToByteArray(): Promise<Uint8Array> };
      // Small objects are read whole and written once; large ones stream through a temp file.
      if (r.ContentLength !== undefined && r.ContentLength <= SMALL_GET_MAX) {
        let bytes: Uint8Array;
        try {
          bytes = await body.transformToByteArray();
        } catch (e) {
          return failed(this.failure(e, `cannot download ${keyString(key)}`));
        }
        return writeVerified(key, bytes, destAbs);
      }
      if (r.ContentLength !== undefined && r.ContentLength >= this.tuning.rangedGetFrom) {
        body.destroy();
        return this.rangedGet(key, rel, r.ContentLength, r.ETag, destAbs);
      }
      return downloadVerified(key, destAbs, async () => okv(body), (e) => this.failure(e, `cannot download ${keyString(key)}`));
    }
    return failed({ reason: "missing", key });
  }

  /**
   * A large object in parts fetched at once (one GET stream is bound by one connection's window): each range is
   * written at its offset in a temp file beside the destination, which is hashed whole before it gets its name.
   * `If-Match` on the ETag makes an object replaced meanwhile fail instead of mixing two versions.
   */
  private async rangedGet(key: ObjectKey, rel: string, size: number, etag: string | undefined, destAbs: string): Promise<StoreResult<void>> {
    await mkdir(path.dirname(destAbs), { recursive: true }).catch(() => undefined);
    const tmp = tempBeside(destAbs);
    let fh;
    try {
      fh = await open(tmp, "wx", 0o644);
    } catch (e) {
      return failed({ reason: "permission", store: path.dirname(destAbs), detail: `cannot write ${destAbs}: ${(e as Error).message}` });
    }
    const ranges: [number, number, number][] = [];
    for (let off = 0; off < size; off += this.tuning.rangeSize) ranges.push([ranges.length, off, Math.min(size, off + this.tuning.rangeSize) - 1]);
    const file = fh;
    const hasher = new InOrderDigest(await createDigest(key.algo));
    try {
      const got = await allLimit(ranges, RANGED_STREAMS, async ([index, from, to]) => {
        const part = await this.client.send(
          new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.name(rel), Range: `bytes=${from}-${to}`, ...(etag ? { IfMatch: etag } : {}) }),
        );
        let pos = from;
        for await (const chunk of part.Body as Readable) {
          const c = chunk as Buffer;
          await file.write(c, 0, c.length, pos);
          hasher.add(index, c);
          pos += c.length;
        }
        if (pos !== to + 1) throw new ShortData(pos - from, to + 1 - from);
        hasher.end(index);
        return okv(undefined);
      });
      await file.close();
      if (!got.ok) throw new Error("unreachable: allLimit's callback throws");
      // Hashed as the ranges arrived (in order): no second pass over the file, except for DVC 2's legacy md5.
      return await placeChecked(tmp, destAbs, key, hasher.digest());
    } catch (e) {
      await file.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      const code = (e as { code?: unknown }).code;
      if (code === "ENOSPC" || code === "EDQUOT") return failed({ reason: "no-space", store: `the disk of ${path.dirname(destAbs)}` });
      return failed(this.failure(e, `cannot download ${keyString(key)}`));
    }
  }

  /** A failure of a put, with a short or mis-hashed body as what it is. */
  private putFailure(e: unknown, key: ObjectKey): StoreFailure {
    if (e instanceof BadDigest) return { reason: "corrupt", key, actual: e.actual };
    if (e instanceof ShortData) return { reason: "other", store: this.label, detail: `${keyString(key)}: ${e.message}` };
    return this.failure(e, `cannot upload ${keyString(key)}`);
  }

  /** One PUT from memory; with `If-None-Match: *` when `conditional`. `present` when the server says it exists. */
  private async putSmall(key: ObjectKey, body: Buffer, conditional: boolean): Promise<StoreResult<"stored" | "present">> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.loc.bucket, Key: this.name(keyPath(key)), Body: body, ContentLength: body.length, ...(conditional ? { IfNoneMatch: "*" } : {}) }),
      );
      return okv("stored");
    } catch (e) {
      const status = statusOf(e);
      if (conditional && (status === 412 || (e as SdkError).name === "PreconditionFailed")) return okv("present");
      if (conditional && (status === 501 || status === 400 || (e as SdkError).name === "NotImplemented")) {
        // The server does not do conditional puts: ask with HEAD from now on.
        this.conditional = false;
        return this.putSmall(key, body, false);
      }
      return failed(this.putFailure(e, key));
    }
  }

  /** Bytes verified in memory, then stored: `stored`, `present` or `repaired` (an object of another size was there). */
  private async putBuffer(key: ObjectKey, body: Buffer): Promise<StoreResult<PutOutcome>> {
    if (this.conditional) {
      const r = await this.putSmall(key, body, true);
      if (!r.ok || r.value === "stored") return r;
      const h = await this.locate(key);
      if (!h.ok) return h;
      if (h.value !== undefined && h.value.size === body.length) return okv("present");
      const again = await this.putSmall(key, body, false);
      return again.ok ? okv("repaired") : again;
    }
    const h = await this.locate(key);
    if (!h.ok) return h;
    if (h.value !== undefined && h.value.size === body.length) return okv("present");
    const r = await this.putSmall(key, body, false);
    return r.ok ? okv(h.value === undefined ? "stored" : "repaired") : r;
  }

  private async checkBuffer(key: ObjectKey, body: Buffer, size: number): Promise<StoreFailure | undefined> {
    const tap = await hashTap(key, size);
    try {
      await new Promise<void>((resolve, reject) => {
        tap.on("error", reject);
        tap.on("finish", resolve);
        tap.resume();
        tap.end(body);
      });
      return undefined;
    } catch (e) {
      return this.putFailure(e, key);
    }
  }

  async putFile(key: ObjectKey, srcAbs: string): Promise<StoreResult<PutOutcome>> {
    checkKey(key);
    const sized = await sourceSize(srcAbs, this.label);
    if (!sized.ok) return sized;
    const size = sized.value;
    if (size <= SINGLE_PUT_MAX) return this.putBuffer(key, await readFile(srcAbs));
    return this.putLarge(key, createReadStream(srcAbs, { highWaterMark: 1 << 20 }), size);
  }

  async putStream(key: ObjectKey, data: Readable, size: number): Promise<StoreResult<PutOutcome>> {
    checkKey(key);
    if (size <= SINGLE_PUT_MAX) {
      let body: Buffer;
      try {
        body = await readAll(data);
      } catch (e) {
        return failed({ reason: "other", store: this.label, detail: `${keyString(key)}: reading the data failed: ${(e as Error).message}` });
      }
      const bad = await this.checkBuffer(key, body, size);
      if (bad) return failed(bad);
      return this.putBuffer(key, body);
    }
    return this.putLarge(key, data, size);
  }

  /** Multipart upload through a hashing tap: a short or mis-hashed stream aborts the upload before completion. */
  private async putLarge(key: ObjectKey, data: Readable, size: number): Promise<StoreResult<PutOutcome>> {
    const h = await this.locate(key);
    if (!h.ok) {
      data.destroy();
      return h;
    }
    if (h.value !== undefined && h.value.size === size) {
      data.destroy();
      return okv("present");
    }
    const tap = await hashTap(key, size);
    data.on("error", (e) => tap.destroy(e));
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.loc.bucket, Key: this.name(keyPath(key)), Body: data.pipe(tap) },
      partSize: PART_SIZE,
      queueSize: 4,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
      return okv(h.value === undefined ? "stored" : "repaired");
    } catch (e) {
      data.destroy();
      return failed(this.putFailure(e, key));
    }
  }

  private async *listUnder(rel: string, delimiter?: string): AsyncGenerator<StoreResult<{ key?: string; size?: number; common?: string }>> {
    const prefix = this.name(rel);
    let token: string | undefined;
    do {
      let r;
      try {
        r = await this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: prefix, ContinuationToken: token, ...(delimiter ? { Delimiter: delimiter } : {}) }));
      } catch (e) {
        yield failed(this.failure(e, `cannot list ${rel || "the remote"}`));
        return;
      }
      for (const o of r.Contents ?? []) yield okv({ key: o.Key!.slice(prefix.length), ...(o.Size !== undefined ? { size: o.Size } : {}) });
      for (const c of r.CommonPrefixes ?? []) yield okv({ common: c.Prefix!.slice(prefix.length) });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async *list(): AsyncIterable<StoreResult<ListedObject>> {
    for await (const r of this.listUnder("files/")) {
      if (!r.ok) return yield r;
      const key = r.value.key !== undefined ? keyOfPath(`files/${r.value.key}`) : undefined;
      if (key) yield okv({ key, ...(r.value.size !== undefined ? { size: r.value.size } : {}) });
    }
    // DVC 2's md5 objects: `<2>/<30>` directly under the prefix.
    const tops: string[] = [];
    for await (const r of this.listUnder("", "/")) {
      if (!r.ok) return yield r;
      const c = r.value.common;
      if (c !== undefined && /^[0-9a-f]{2}\/$/.test(c)) tops.push(c);
    }
    for (const t of tops) {
      for await (const r of this.listUnder(t)) {
        if (!r.ok) return yield r;
        const key = r.value.key !== undefined ? keyOfPath(`${t}${r.value.key}`) : undefined;
        if (key) yield okv({ key, ...(r.value.size !== undefined ? { size: r.value.size } : {}) });
      }
    }
  }

  async remove(key: ObjectKey): Promise<StoreResult<void>> {
    for (const rel of candidatePaths(key)) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.loc.bucket, Key: this.name(rel) }));
      } catch (e) {
        if (!isNotFound(e)) return failed(this.failure(e, `cannot remove ${keyString(key)}`));
      }
    }
    return okv(undefined);
  }

  verify(key: ObjectKey): Promise<StoreResult<void>> {
    return verifyByDownload(this, key);
  }

  async *listRuns(): AsyncIterable<StoreResult<string>> {
    for await (const r of this.listUnder("runs/")) {
      if (!r.ok) return yield r;
      if (r.value.key !== undefined) yield okv(r.value.key);
    }
  }

  async getRun(rel: string): Promise<StoreResult<Buffer | undefined>> {
    const r = await this.get(`runs/${rel}`);
    if (!r.ok || r.value === undefined) return r as StoreResult<undefined>;
    try {
      return okv(await readAll(r.value));
    } catch (e) {
      return failed(this.failure(e, `cannot read run-cache entry ${rel}`));
    }
  }

  async putRun(rel: string, data: Uint8Array): Promise<StoreResult<void>> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.loc.bucket, Key: this.name(`runs/${rel}`), Body: data, ContentLength: data.length }));
      return okv(undefined);
    } catch (e) {
      return failed(this.failure(e, `cannot store run-cache entry ${rel}`));
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
