/**
 * Directory manifests as the cache stores them under `<hash>.dir` (spec 3). The codec is `hash/manifest.ts`, the
 * one the hasher names directories with (both forms, one code point order); this module adds what the cache needs
 * of a manifest it reads back: every hash in it must be an object id, so a manifest can name neither a file outside
 * its directory (the codec checks relpaths) nor an object outside the cache.
 */
import { parseManifest as parseManifestBytes, serializeManifest, sortEntries, type ManifestEntry } from "../hash/manifest.js";
import { isObjectId } from "./store.js";

export { isSafeRelpath, type ManifestEntry } from "../hash/manifest.js";

/** The canonical bytes of a manifest in pipe's own (xxh64) form, entries sorted. */
export function serialiseManifest(entries: readonly ManifestEntry[]): string {
  return Buffer.from(serializeManifest("xxh64", sortEntries([...entries]))).toString("utf8");
}

/** Parses manifest bytes; undefined when they are not a manifest (the caller reports it as a corrupt object). */
export function parseManifest(data: string | Uint8Array): ManifestEntry[] | undefined {
  const entries = parseManifestBytes(data);
  return entries?.every((e) => isObjectId(e.hash)) ? entries : undefined;
}
