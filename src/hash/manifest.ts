/**
 * Directory manifests: the list of a directory's files with their hashes, serialised to bytes whose hash (plus the
 * `.dir` suffix) is the directory's hash, and which the cache stores under that name.
 *
 * Two serialisations, one per family of algorithm:
 *
 * - xxh64 (pipe's own): canonical JSON, `[{"hash":"…","relpath":"…","size":N},…]`, keys sorted, no whitespace,
 *   UTF-8 as is.
 * - md5 and legacy md5 (DVC): exactly Python's `json.dumps(entries, sort_keys=True)` over `{"md5", "relpath"}`
 *   entries: `", "` and `": "` separators, every non-ASCII character escaped as `\uXXXX` (surrogate pairs above
 *   U+FFFF). Byte-for-byte equality is what lets a DVC lock's directory hashes verify.
 *
 * Entries are sorted by relpath in code point order (Python's string order, as DVC sorts them), with POSIX
 * separators. This is the one manifest codec: the cache stores and reads manifests through it (`cache/manifest.ts`
 * adds only its check of object ids), so the bytes it writes are the bytes the hasher hashed.
 */
import type { HashAlgo } from "./algorithms.js";

export interface ManifestEntry {
  /** POSIX path relative to the directory. */
  relpath: string;
  /** The file's hash with the manifest's algorithm. */
  hash: string;
  size: number;
}

export interface DirManifest {
  algo: HashAlgo;
  /** Sorted by relpath (code point order). */
  entries: ManifestEntry[];
  /** The serialised manifest; its digest + `.dir` is the directory hash. Stored in the cache under that name. */
  bytes: Uint8Array;
}

/** Code point order (Python's `str` order), unlike `<` on JS strings, which compares UTF-16 code units. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800-U+DFFF) encode code points above U+FFFF, which sort after U+E000-U+FFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? (y >= 0xe000 ? 1 : -1) : x >= 0xe000 ? -1 : 1;
    return x - y;
  }
  return a.length - b.length;
}

/** A JSON string literal as Python's `json.dumps` (ensure_ascii=True) writes it. */
export function pythonJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += s[i];
  }
  return out + '"';
}

export function sortEntries(entries: ManifestEntry[]): ManifestEntry[] {
  return entries.sort((a, b) => compareCodePoints(a.relpath, b.relpath));
}

/** Serialises sorted entries for `algo`. */
export function serializeManifest(algo: HashAlgo, entries: readonly ManifestEntry[]): Uint8Array {
  if (algo === "xxh64") {
    const parts = entries.map((e) => `{"hash":${JSON.stringify(e.hash)},"relpath":${JSON.stringify(e.relpath)},"size":${e.size}}`);
    return Buffer.from(`[${parts.join(",")}]`, "utf8");
  }
  const parts = entries.map((e) => `{"md5": ${pythonJsonString(e.hash)}, "relpath": ${pythonJsonString(e.relpath)}}`);
  return Buffer.from(`[${parts.join(", ")}]`, "ascii");
}

/** A relpath that stays inside its directory: no empty, `.` or `..` segments, not absolute, no backslashes. */
export function isSafeRelpath(p: string): boolean {
  if (p === "" || p.startsWith("/") || p.includes("\\") || p.includes("\0")) return false;
  return p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");
}

/**
 * Parses manifest bytes of either format back into entries, sorted; undefined when they are not a manifest: not a
 * JSON array of entries, a relpath that would leave the directory, or one relpath twice. `size` is -1 when the form
 * has none (DVC's).
 */
export function parseManifest(bytes: string | Uint8Array): ManifestEntry[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(typeof bytes === "string" ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  const out: ManifestEntry[] = [];
  const seen = new Set<string>();
  for (const e of v as unknown[]) {
    if (e === null || typeof e !== "object") return undefined;
    const o = e as Record<string, unknown>;
    const relpath = o["relpath"];
    const hash = o["hash"] ?? o["md5"];
    if (typeof relpath !== "string" || typeof hash !== "string" || !isSafeRelpath(relpath) || seen.has(relpath)) return undefined;
    seen.add(relpath);
    out.push({ relpath, hash, size: typeof o["size"] === "number" ? o["size"] : -1 });
  }
  return sortEntries(out);
}
