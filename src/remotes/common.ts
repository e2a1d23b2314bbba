/**
 * What every remote kind shares: the names of objects inside a remote (DVC 3's `files/<algo>/<2>/<rest>` and DVC 2's
 * `<2>/<30>` for md5), how a remote is named in messages (its URL without a password), the default number of
 * transfers at once per kind, downloading a stream into a verified file (temp name beside the destination, renamed
 * only when the bytes hash to the key) and turning a client's exception into a `StoreFailure` whose words say what
 * to check. Nothing here talks to a server.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { tempBeside } from "../core/atomic-write.js";
import { createDigest, createDigestSync, digestBytes, type StreamDigest } from "../hash/algorithms.js";
import { keyPath, type ObjectKey, type StoreFailure, type StoreResult } from "../storage/object-store.js";
import type { RemoteKind, RemoteSpec } from "./remote.js";

/** Transfers at once when `-j` is not given: a local disk is bound by its own queue, network stores by latency. */
export function defaultJobs(kind: RemoteKind): number {
  switch (kind) {
    case "dir":
      return 8;
    case "s3":
      return 32;
    case "ssh":
      return 8;
    case "webdav":
      return 8;
    case "http":
      return 16;
  }
}

/** A remote's `jobs` option when it is a positive integer, else the kind's default. */
export function jobsOf(spec: RemoteSpec, kind: RemoteKind): number {
  const j = Number(spec.options.jobs);
  return Number.isInteger(j) && j > 0 ? j : defaultJobs(kind);
}

/** How long a connection may take before an endpoint counts as unreachable, and a request's limit once connected. */
export const CONNECT_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 120_000;

/**
 * The `timeout` option (seconds, as DVC's) in milliseconds: null when unset, undefined when it is not a positive
 * number. It bounds connecting, and how long a connected server may stay silent, so an endpoint that accepts and
 * never answers ends in an error rather than a hang.
 */
export function timeoutOption(v: string | undefined): number | null | undefined {
  if (v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? Math.round(n * 1000) : undefined;
}

/** Keys whose id is not lower-case hex (with `.dir`) would make paths outside the layout: a bug of the caller. */
export function checkKey(key: ObjectKey): void {
  const hex = key.algo === "xxh64" ? 16 : 32;
  if (!new RegExp(`^[0-9a-f]{${hex}}(\\.dir)?$`).test(key.id)) throw new Error(`not an object key: ${key.algo}/${key.id}`);
}

/** Where DVC 2 kept an md5 object (`<2>/<30>`, `.dir` kept), or undefined for other algorithms. */
export function legacyPath(key: ObjectKey): string | undefined {
  return key.algo === "md5" ? `${key.id.slice(0, 2)}/${key.id.slice(2)}` : undefined;
}

/** The paths an object may have inside a remote, the DVC 3 one first. */
export function candidatePaths(key: ObjectKey): string[] {
  checkKey(key);
  const legacy = legacyPath(key);
  return legacy === undefined ? [keyPath(key)] : [keyPath(key), legacy];
}

const HEX2 = /^[0-9a-f]{2}$/;

/**
 * The key a path relative to the remote's root names (`files/xxh64/ab/cd...`, or DVC 2's `ab/cd...` as md5), or
 * undefined for anything else: temp files of interrupted writes, `runs/`, foreign files.
 */
export function keyOfPath(rel: string): ObjectKey | undefined {
  const parts = rel.split("/");
  let algo: ObjectKey["algo"];
  let id: string;
  if (parts.length === 4 && parts[0] === "files" && (parts[1] === "xxh64" || parts[1] === "md5") && HEX2.test(parts[2]!)) {
    algo = parts[1];
    id = parts[2]! + parts[3]!;
  } else if (parts.length === 2 && HEX2.test(parts[0]!)) {
    algo = "md5";
    id = parts[0]! + parts[1]!;
  } else return undefined;
  const hex = algo === "xxh64" ? 16 : 32;
  return new RegExp(`^[0-9a-f]{${hex}}(\\.dir)?$`).test(id) ? { algo, id } : undefined;
}

/** The URL as messages show it: a password in it is replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/@:]*):[^/@]*@/, "$1$2:***@");
}

/** `remote 'storage' (s3://bucket/prefix)`. */
export function labelOf(spec: RemoteSpec): string {
  return `remote '${spec.name}' (${redactUrl(spec.url)})`;
}

export function okv<T>(value: T): StoreResult<T> {
  return { ok: true, value };
}

export function failed<T = never>(failure: StoreFailure): StoreResult<T> {
  return { ok: false, failure };
}

/** Removes every occurrence of `secrets` (passwords, secret keys) from a message, so no failure prints one. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s !== undefined && s.length >= 4) out = out.split(s).join("***");
  return out;
}

/** The md5 of the bytes, or DVC 2's md5 of CRLF-normalised text: an md5 key names its object if either matches. */
async function digestsOfFile(absPath: string, algo: ObjectKey["algo"]): Promise<string[]> {
  const algos = algo === "md5" ? (["md5", "legacy-md5"] as const) : (["xxh64"] as const);
  const out: string[] = [];
  for (const a of algos) {
    const d = await createDigest(a);
    // legacy md5 normalises per 1 MiB chunk, so the chunks must be exactly that size.
    for await (const chunk of createReadStream(absPath, { highWaterMark: 1 << 20 })) d.update(chunk as Buffer);
    out.push(d.digest());
  }
  return out;
}

/** The hex digest part of a key's id (without `.dir`). */
export function hexOf(key: ObjectKey): string {
  return key.id.endsWith(".dir") ? key.id.slice(0, -4) : key.id;
}

/**
 * Checks the file at `absPath` against `key`: undefined when it matches, else the digest it has. md5 is computed
 * while the bytes arrive (see `hashingCopy`); only when that does not match is the file re-read for legacy md5.
 */
export async function checkFile(absPath: string, key: ObjectKey, streamedDigest?: string): Promise<string | undefined> {
  const want = hexOf(key);
  if (streamedDigest === want) return undefined;
  if (streamedDigest !== undefined && key.algo === "xxh64") return streamedDigest;
  const digests = await digestsOfFile(absPath, key.algo);
  return digests.includes(want) ? undefined : digests[0]!;
}

/**
 * A downloaded temp file takes its object's name only when its bytes are the key's (`checkFile`); otherwise it is
 * removed and the object named corrupt. The one step every `getToFile` ends with.
 */
export async function placeChecked(tmp: string, destAbs: string, key: ObjectKey, streamedDigest?: string): Promise<StoreResult<void>> {
  const bad = await checkFile(tmp, key, streamedDigest);
  if (bad !== undefined) {
    await unlink(tmp).catch(() => undefined);
    return failed({ reason: "corrupt", key, actual: bad });
  }
  await rename(tmp, destAbs);
  return okv(undefined);
}

/**
 * Copies `data` into the file `tmpAbs` (created exclusively), hashing with the key's algorithm as the bytes pass.
 * Returns the byte count and the digest (plain md5 for md5 keys).
 */
export async function hashingCopy(data: Readable, tmpAbs: string, algo: ObjectKey["algo"]): Promise<{ bytes: number; digest: string }> {
  const d = await createDigest(algo);
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      d.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(data, tap, createWriteStream(tmpAbs, { flags: "wx", mode: 0o644 }));
  return { bytes, digest: d.digest() };
}

/**
 * Writes a downloaded object to `destAbs`: into a temp file beside it, verified against the key, then renamed. A
 * corrupt object leaves nothing behind. `fetchStream` opens the download; its failure is returned as is.
 */
export async function downloadVerified(
  key: ObjectKey,
  destAbs: string,
  fetchStream: () => Promise<StoreResult<Readable>>,
  onError: (e: unknown) => StoreFailure,
): Promise<StoreResult<void>> {
  const opened = await fetchStream();
  if (!opened.ok) return opened;
  await mkdir(path.dirname(destAbs), { recursive: true }).catch(() => undefined);
  const tmp = tempBeside(destAbs);
  try {
    const { digest } = await hashingCopy(opened.value, tmp, key.algo);
    return await placeChecked(tmp, destAbs, key, digest);
  } catch (e) {
    opened.value.destroy();
    await unlink(tmp).catch(() => undefined);
    return failed(localOrRemote(e, destAbs, onError));
  }
}

/** A local file-system error (writing the destination) is the machine's; anything else is the remote's. */
function localOrRemote(e: unknown, destAbs: string, onError: (e: unknown) => StoreFailure): StoreFailure {
  const code = (e as { code?: unknown }).code;
  const p = (e as { path?: unknown }).path;
  if (typeof p === "string" && path.dirname(p) === path.dirname(destAbs)) {
    if (code === "ENOSPC" || code === "EDQUOT") return { reason: "no-space", store: `the disk of ${path.dirname(destAbs)}` };
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
      return { reason: "permission", store: path.dirname(destAbs), detail: `cannot write ${destAbs} (${String(code)})` };
    }
  }
  return onError(e);
}

/** A readable that yields `buf` (small objects, run-cache entries). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(parts);
}

/** Runs `fn` over `items` with at most `limit` at once, stopping at the first failure. */
export async function allLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<StoreResult<R>>): Promise<StoreResult<R[]>> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: StoreFailure | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      const r = await fn(items[i]!);
      if (!r.ok) failure ??= r.failure;
      else out[i] = r.value;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return failure !== undefined ? failed(failure) : okv(out);
}

/** The digest a stream's bytes have, computed as they pass; md5 keys also get DVC 2's CRLF-normalised md5. */
export class HashTap extends Transform {
  bytes = 0;
  private readonly digests: StreamDigest[];
  private pending = Buffer.alloc(0);
  constructor(
    private readonly key: ObjectKey,
    private readonly size: number,
    xxh: StreamDigest | undefined,
  ) {
    super();
    this.digests = key.algo === "md5" ? [createDigestSync("md5")!, createDigestSync("legacy-md5")!] : [xxh!];
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.bytes += chunk.length;
    this.digests[0]!.update(chunk);
    if (this.digests[1]) {
      // legacy md5 works on 1 MiB chunks: regroup the stream's chunks into exactly that size.
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 1 << 20) {
        this.digests[1].update(this.pending.subarray(0, 1 << 20));
        this.pending = this.pending.subarray(1 << 20);
      }
    }
    cb(null, chunk);
  }
  override _flush(cb: (e?: Error | null) => void): void {
    if (this.digests[1] && this.pending.length > 0) this.digests[1].update(this.pending);
    if (this.bytes !== this.size) return cb(new ShortData(this.bytes, this.size));
    const got = this.digests.map((d) => d.digest());
    if (!got.includes(hexOf(this.key))) return cb(new BadDigest(got[0]!));
    cb();
  }
}

export class ShortData extends Error {
  constructor(
    readonly got: number,
    readonly want: number,
  ) {
    super(`the data ended after ${got} of ${want} bytes; nothing was stored`);
  }
}
export class BadDigest extends Error {
  constructor(readonly actual: string) {
    super(`the data does not hash to its key`);
  }
}


/** A `HashTap` for `key` (loads the xxh64 module first when needed). */
export async function hashTap(key: ObjectKey, size: number): Promise<HashTap> {
  return new HashTap(key, size, key.algo === "xxh64" ? await createDigest("xxh64") : undefined);
}

/** The digests `bytes` may match `key` by (md5 keys: plain md5, then DVC 2's CRLF-normalised md5). */
async function bytesMatch(key: ObjectKey, bytes: Uint8Array): Promise<string | undefined> {
  const want = hexOf(key);
  const first = await digestBytes(key.algo, bytes);
  if (first === want) return undefined;
  if (key.algo === "md5" && (await digestBytes("legacy-md5", bytes)) === want) return undefined;
  return first;
}

/**
 * A small object already in memory written to `destAbs` the way `downloadVerified` writes a stream: hashed first,
 * then a temp file beside the destination renamed over it. One write instead of a stream per object is what makes
 * pulling thousands of small objects cheap.
 */
export async function writeVerified(key: ObjectKey, bytes: Uint8Array, destAbs: string): Promise<StoreResult<void>> {
  const bad = await bytesMatch(key, bytes);
  if (bad !== undefined) return failed({ reason: "corrupt", key, actual: bad });
  const tmp = tempBeside(destAbs);
  try {
    try {
      await writeFile(tmp, bytes, { flag: "wx", mode: 0o644 });
    } catch (e) {
      if ((e as { code?: unknown }).code !== "ENOENT") throw e;
      await mkdir(path.dirname(destAbs), { recursive: true });
      await writeFile(tmp, bytes, { flag: "wx", mode: 0o644 });
    }
    await rename(tmp, destAbs);
    return okv(undefined);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    const code = (e as { code?: unknown }).code;
    if (code === "ENOSPC" || code === "EDQUOT") return failed({ reason: "no-space", store: `the disk of ${path.dirname(destAbs)}` });
    return failed({ reason: "permission", store: path.dirname(destAbs), detail: `cannot write ${destAbs}: ${(e as Error).message}` });
  }
}

/**
 * `verify` for a store whose objects are not files here: a verified download to a scratch file, removed after. The
 * download's own check is the verification (a corrupt object is reported, a missing one too).
 */
export async function verifyByDownload(store: { getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>> }, key: ObjectKey): Promise<StoreResult<void>> {
  const dir = await mkdtemp(path.join(tmpdir(), "pipe-verify-"));
  try {
    return await store.getToFile(key, path.join(dir, "object"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The size of a file about to be uploaded, or a failure naming it and the store. */
export async function sourceSize(srcAbs: string, label: string): Promise<StoreResult<number>> {
  try {
    return okv((await stat(srcAbs)).size);
  } catch (e) {
    return failed({ reason: "other", store: label, detail: `cannot read ${srcAbs}: ${(e as Error).message}` });
  }
}

/**
 * What a put would do, from where the object is now: `stored` when absent, `present` when there with the right size
 * (the caller then sends nothing), `repaired` when there with another size (the upload replaces it).
 */
export function putOutcome(at: StoreResult<{ size: number } | undefined>, size: number): StoreResult<"stored" | "present" | "repaired"> {
  if (!at.ok) return at;
  if (at.value === undefined) return okv("stored");
  return okv(at.value.size === size ? "present" : "repaired");
}
