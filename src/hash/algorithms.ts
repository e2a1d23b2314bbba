/**
 * Streaming digests: xxh64 (pipe's own hash, through `xxhash-wasm`), md5 (DVC 3 lock entries that say `hash: md5`),
 * and `legacy-md5`, DVC 2's "md5-dos2unix": md5 of the bytes with CRLF turned into LF in every 1 MiB chunk whose first
 * 512 bytes look like text. DVC 3 still verifies lock entries written without `hash:` that way, so a DVC 2 project's
 * text files are not all "modified" for us.
 *
 * The wasm module is compiled on first use only: a no-op `status` whose files all hit the stat cache never pays for
 * it.
 */
import { createHash } from "node:crypto";
import type { XXHashAPI } from "xxhash-wasm";

export type HashAlgo = "xxh64" | "md5" | "legacy-md5";

/** Chunk size of legacy md5 reads: md5-dos2unix depends on it (DVC reads 1 MiB at a time). */
export const CHUNK_SIZE = 1 << 20;

/** Read size for an algorithm: larger reads for the others (fewer round trips through the event loop). */
export function chunkSizeFor(algo: HashAlgo): number {
  return algo === "legacy-md5" ? CHUNK_SIZE : 4 * CHUNK_SIZE;
}

export interface StreamDigest {
  update(chunk: Uint8Array): void;
  /** Lowercase hex: 16 digits for xxh64, 32 for md5. */
  digest(): string;
}

let xxhApi: Promise<XXHashAPI> | undefined;
let xxhReady: XXHashAPI | undefined;

function xxh(): Promise<XXHashAPI> {
  xxhApi ??= import("xxhash-wasm").then(async (m) => {
    const api = await m.default();
    xxhReady = api;
    return api;
  });
  return xxhApi;
}

/** Whether the xxhash wasm module has been initialised in this process (tests assert a no-op never does). */
export function xxhashInitialised(): boolean {
  return xxhReady !== undefined;
}

/** Resolves once `createDigestSync` can serve `algo` (md5 always can; xxh64 needs the wasm module). */
export async function prepareDigest(algo: HashAlgo): Promise<void> {
  if (algo === "xxh64") await xxh();
}

export function hex64(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}

// Python's istextfile heuristic, as DVC 2 used it.
const TEXT_BYTE = new Uint8Array(256);
for (let b = 32; b < 127; b++) TEXT_BYTE[b] = 1;
for (const b of [0x0a, 0x0d, 0x09, 0x0c, 0x08]) TEXT_BYTE[b] = 1;
const TEXT_BLOCK = 512;

export function isTextBlock(block: Uint8Array): boolean {
  if (block.length === 0) return true;
  let nontext = 0;
  for (let i = 0; i < block.length; i++) {
    const b = block[i]!;
    if (b === 0) return false;
    if (TEXT_BYTE[b] === 0) nontext++;
  }
  return nontext / block.length <= 0.3;
}

/** `chunk` with every CRLF replaced by LF (within the chunk only, as DVC does). */
export function dos2unix(chunk: Uint8Array): Uint8Array {
  const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  let i = buf.indexOf("\r\n");
  if (i < 0) return chunk;
  const out = Buffer.allocUnsafe(buf.length);
  let o = 0;
  let start = 0;
  while (i >= 0) {
    o += buf.copy(out, o, start, i);
    out[o++] = 0x0a;
    start = i + 2;
    i = buf.indexOf("\r\n", start);
  }
  o += buf.copy(out, o, start);
  return out.subarray(0, o);
}

export async function createDigest(algo: HashAlgo): Promise<StreamDigest> {
  if (algo === "xxh64") await xxh();
  return createDigestSync(algo)!;
}

/**
 * A digest without waiting: `undefined` only for xxh64 before its wasm module is loaded (see `prepareDigest`). For
 * code that cannot await, such as a directory manifest built on demand.
 */
export function createDigestSync(algo: HashAlgo): StreamDigest | undefined {
  if (algo === "xxh64") {
    if (!xxhReady) return undefined;
    const h = xxhReady.create64();
    return {
      update: (c) => void h.update(c),
      digest: () => hex64(h.digest()),
    };
  }
  const h = createHash("md5");
  if (algo === "md5") {
    return { update: (c) => void h.update(c), digest: () => h.digest("hex") };
  }
  return {
    update: (c) => void h.update(isTextBlock(c.subarray(0, TEXT_BLOCK)) ? dos2unix(c) : c),
    digest: () => h.digest("hex"),
  };
}

/** Digest of bytes already in memory (directory manifests). Fed as one chunk, as DVC hashes a manifest. */
export async function digestBytes(algo: HashAlgo, bytes: Uint8Array): Promise<string> {
  if (algo === "xxh64") return hex64((await xxh()).h64Raw(bytes));
  const d = await createDigest(algo);
  // Manifests larger than a chunk are still one logical stream for md5; for dos2unix DVC reads them in 1 MiB chunks.
  for (let off = 0; off < bytes.length; off += CHUNK_SIZE) d.update(bytes.subarray(off, Math.min(bytes.length, off + CHUNK_SIZE)));
  return d.digest();
}
