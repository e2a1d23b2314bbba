/**
 * Content digests the cache needs for itself: verifying that an object's bytes still match its name, and keying the
 * run-cache. The project's real hashing (stat cache, directory manifests) lives in `src/hash`; the cache only needs
 * "hash these bytes / this file with the algorithm its name implies", so it carries this small default and accepts any
 * other implementation through the `Digester` interface.
 *
 * The digests themselves are `src/hash/algorithms.ts`; this module adds reading the algorithm off an object name.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { open } from "node:fs/promises";
import { CHUNK_SIZE, createDigest, digestBytes, type HashAlgo } from "../hash/algorithms.js";

export type Algorithm = HashAlgo;

/** Hashes bytes and files with a given algorithm; lowercase hex out. */
export interface Digester {
  bytes(data: Uint8Array | string, algo: Algorithm): Promise<string>;
  file(absPath: string, algo: Algorithm): Promise<string>;
}

/**
 * The algorithms an object name may have been computed with, most likely first: 16 hex digits are xxh64 (pipe's own);
 * 32 are md5 as DVC 3 writes it, or DVC 2's md5 of CRLF-normalised text (`legacy-md5`), which the name alone cannot
 * tell apart. Empty for a name that is not a hash pipe or DVC writes. A `.dir` suffix is not part of the digest.
 */
export function algorithmsOf(objectId: string): Algorithm[] {
  const hex = objectId.endsWith(".dir") ? objectId.slice(0, -4) : objectId;
  if (/^[0-9a-f]{16}$/.test(hex)) return ["xxh64"];
  if (/^[0-9a-f]{32}$/.test(hex)) return ["md5", "legacy-md5"];
  return [];
}

/** The most likely algorithm of an object name (see `algorithmsOf`). */
export function algorithmOf(objectId: string): Algorithm | undefined {
  return algorithmsOf(objectId)[0];
}

/** Files up to this size are read in one go, synchronously (below the 1 MiB chunk legacy md5 normalises by). */
const SMALL_FILE = 128 * 1024;

/** Streams files in the chunk size the hashing layer uses (legacy md5 normalises line ends per chunk). */
export const defaultDigester: Digester = {
  async bytes(data, algo) {
    return digestBytes(algo, typeof data === "string" ? Buffer.from(data, "utf8") : data);
  },
  async file(absPath, algo) {
    // A small file (most objects of a directory output are) is read with synchronous calls: four system calls on
    // the main thread instead of five round trips through the thread pool, which cost more than the reads
    // themselves when a checkout verifies thousands of small objects. Bigger files are streamed without blocking.
    const small = await createDigest(algo);
    const fd = openSync(absPath, "r");
    try {
      const size = fstatSync(fd).size;
      if (size <= SMALL_FILE) {
        const buf = Buffer.allocUnsafe(size + 1);
        let filled = 0;
        for (;;) {
          const n = readSync(fd, buf, filled, buf.length - filled, null);
          if (n === 0) break;
          filled += n;
          if (filled === buf.length) break;
        }
        // A file that grew since the stat (the buffer filled up) is streamed after all.
        if (filled < buf.length) {
          small.update(buf.subarray(0, filled));
          return small.digest();
        }
      }
    } finally {
      closeSync(fd);
    }
    const fh = await open(absPath, "r");
    try {
      const d = await createDigest(algo);
      // A small file gets a small buffer: a fresh 1 MiB per object adds up to GC pressure on many small outputs.
      const size = (await fh.stat()).size;
      const buf = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_SIZE, size + 1)));
      for (;;) {
        // Fill whole chunks: legacy md5 normalises line ends per 1 MiB chunk, so boundaries must not depend on reads.
        let filled = 0;
        while (filled < buf.length) {
          const { bytesRead } = await fh.read(buf, filled, buf.length - filled, null);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        if (filled > 0) d.update(buf.subarray(0, filled));
        if (filled < buf.length) break;
      }
      return d.digest();
    } finally {
      await fh.close();
    }
  },
};

/**
 * Canonical JSON: object keys sorted, no whitespace, so equal values always give equal bytes (and equal hashes).
 * `undefined` members are dropped, as JSON.stringify drops them. A bigint (an integer beyond 2^53 from a JSON or TOML
 * params file) is written as its digits, where JSON.stringify would throw.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") {
    const s = JSON.stringify(value);
    return s === undefined ? "null" : s;
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}
