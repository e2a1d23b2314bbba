/**
 * Directory manifests as stored in the cache under `<hash>.dir`: the canonical JSON array of `{relpath, hash, size}`
 * sorted by relpath (POSIX separators), the exact bytes `src/hash` hashes to name the directory (spec 3).
 *
 * `parseManifest` also reads DVC's manifest form (`[{"md5": ..., "relpath": ...}]`), so a manifest copied from a
 * DVC cache can be checked out. Every relpath is validated: a manifest can never name a file outside its directory.
 */
import { canonicalJson } from "./digest.js";
import { isObjectId } from "./store.js";

export interface ManifestEntry {
  /** POSIX path relative to the directory. */
  relpath: string;
  /** Object id of the file's content. */
  hash: string;
  size: number;
}

function byRelpath(a: ManifestEntry, b: ManifestEntry): number {
  return a.relpath < b.relpath ? -1 : a.relpath > b.relpath ? 1 : 0;
}

/** The canonical bytes of a manifest (entries sorted by relpath; keys sorted; no whitespace). */
export function serialiseManifest(entries: readonly ManifestEntry[]): string {
  const sorted = [...entries].sort(byRelpath).map((e) => ({ relpath: e.relpath, hash: e.hash, size: e.size }));
  return canonicalJson(sorted);
}

/** A relpath that stays inside its directory: no empty, `.` or `..` segments, not absolute, no backslashes. */
export function isSafeRelpath(p: string): boolean {
  if (p === "" || p.startsWith("/") || p.includes("\\") || p.includes("\0")) return false;
  return p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");
}

/** Parses manifest bytes; undefined when they are not a manifest (the caller reports it as a corrupt object). */
export function parseManifest(data: string | Uint8Array): ManifestEntry[] | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(raw)) return undefined;
  const out: ManifestEntry[] = [];
  const seen = new Set<string>();
  for (const item of raw) {
    if (typeof item !== "object" || item === null) return undefined;
    const o = item as Record<string, unknown>;
    const relpath = o["relpath"];
    const hash = o["hash"] ?? o["md5"];
    const size = o["size"];
    if (typeof relpath !== "string" || typeof hash !== "string" || !isSafeRelpath(relpath) || !isObjectId(hash)) return undefined;
    if (seen.has(relpath)) return undefined;
    seen.add(relpath);
    out.push({ relpath, hash, size: typeof size === "number" ? size : -1 });
  }
  return out.sort(byRelpath);
}
