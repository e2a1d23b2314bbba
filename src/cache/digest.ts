/**
 * Content digests the cache needs for itself: verifying that an object's bytes still match its name, and keying the
 * run-cache. The project's real hashing (stat cache, directory manifests) lives in `src/hash`; the cache only needs
 * "hash these bytes / this file with the algorithm its name implies", so it carries this small default and accepts any
 * other implementation through the `Digester` interface.
 *
 * The algorithm is read off the object name: 16 hex digits are xxh64 (pipe's own), 32 are md5 (names copied from a
 * DVC lock). A `.dir` suffix names a manifest and is not part of the digest.
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import type { XXHashAPI } from "xxhash-wasm";

export type Algorithm = "xxh64" | "md5";

/** Hashes bytes and files with a given algorithm; lowercase hex out. */
export interface Digester {
  bytes(data: Uint8Array | string, algo: Algorithm): Promise<string>;
  file(absPath: string, algo: Algorithm): Promise<string>;
}

/** The algorithm an object name implies, or undefined for a name that is not a hash pipe or DVC writes. */
export function algorithmOf(objectId: string): Algorithm | undefined {
  const hex = objectId.endsWith(".dir") ? objectId.slice(0, -4) : objectId;
  if (/^[0-9a-f]{16}$/.test(hex)) return "xxh64";
  if (/^[0-9a-f]{32}$/.test(hex)) return "md5";
  return undefined;
}

let api: Promise<XXHashAPI> | undefined;
/** The wasm module is compiled once per process, on first use only (start-up budget). */
function xxh(): Promise<XXHashAPI> {
  api ??= import("xxhash-wasm").then((m) => m.default());
  return api;
}

const CHUNK = 1 << 20;

function hex64(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}

export const defaultDigester: Digester = {
  async bytes(data, algo) {
    if (algo === "md5") return createHash("md5").update(data).digest("hex");
    const x = await xxh();
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    return hex64(x.h64Raw(buf));
  },
  async file(absPath, algo) {
    const fh = await open(absPath, "r");
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      if (algo === "md5") {
        const h = createHash("md5");
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
          if (bytesRead === 0) break;
          h.update(buf.subarray(0, bytesRead));
        }
        return h.digest("hex");
      }
      const h = (await xxh()).create64();
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
      }
      return hex64(h.digest());
    } finally {
      await fh.close();
    }
  },
};

/**
 * Canonical JSON: object keys sorted, no whitespace, so equal values always give equal bytes (and equal hashes).
 * `undefined` members are dropped, as JSON.stringify drops them.
 */
export function canonicalJson(value: unknown): string {
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
