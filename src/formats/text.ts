/**
 * Decoding a file's bytes as UTF-8, strictly.
 *
 * DVC opens stages, params and vars files with `encoding="utf-8"`, so a file holding a byte sequence that is not
 * UTF-8 (a Latin-1 `é`, a stray binary byte) is an error there. Node's `readFile(..., "utf8")` would silently turn
 * it into U+FFFD and carry on with a value the user never wrote, so every such file is decoded here instead: a
 * located error at the first bad byte, plus a lossy text so that the error can quote the line.
 */
import { error, type Diagnostic } from "../core/diagnostic.js";

// `ignoreBOM: true` keeps a byte-order mark in the text, as `readFile(..., "utf8")` did; the readers skip it.
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lossy = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

export type Decoded = { ok: true; text: string } | { ok: false; text: string; error: Diagnostic };

/** Offset of the first byte that does not start (or continue) a well-formed UTF-8 sequence, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      // Overlong forms (E0 80..9F) and UTF-16 surrogates (ED A0..BF) are not UTF-8.
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k < len; k++) {
      const d = b[i + k];
      if (d === undefined) return i;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i;
    }
    i += len;
  }
  return -1;
}

/** Decodes `bytes` as UTF-8; `file` (root-relative) names the file in the error. */
export function decodeUtf8(file: string, bytes: Uint8Array): Decoded {
  try {
    return { ok: true, text: strict.decode(bytes) };
  } catch {
    // Only invalid input makes the fatal decoder throw; find where, for the message.
  }
  const at = firstInvalidUtf8(bytes);
  const bad = at < 0 ? 0 : at;
  const before = lossy.decode(bytes.subarray(0, bad));
  const nl = before.lastIndexOf("\n");
  const line = (before.match(/\n/g)?.length ?? 0) + 1;
  const col = before.length - nl;
  const byte = (bytes[bad] ?? 0).toString(16).toUpperCase().padStart(2, "0");
  return {
    ok: false,
    text: lossy.decode(bytes),
    error: error("io", `${file} is not valid UTF-8: byte 0x${byte} cannot be decoded`, { file, line, col }, {
      hint: "save the file as UTF-8 (DVC reads it as UTF-8 too)",
    }),
  };
}
