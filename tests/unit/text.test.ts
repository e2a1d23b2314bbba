/**
 * Strict UTF-8 decoding of the files pipe reads (`formats/text.ts`): DVC reads them as UTF-8 and fails on anything
 * else, so pipe must not silently turn bad bytes into U+FFFD.
 */
import { describe, expect, it } from "vitest";
import { decodeUtf8, firstInvalidUtf8 } from "../../src/formats/text.js";

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));

describe("decodeUtf8", () => {
  it("decodes UTF-8, keeping a byte-order mark for the readers to skip", () => {
    expect(decodeUtf8("a.yaml", bytes("a: é ✓ 😀\n"))).toEqual({ ok: true, text: "a: é ✓ 😀\n" });
    expect(decodeUtf8("a.yaml", bytes([0xef, 0xbb, 0xbf], "a: 1\n"))).toEqual({ ok: true, text: "\ufeffa: 1\n" });
  });

  it("locates the first bad byte by line and column, and still gives a text to quote", () => {
    const r = decodeUtf8("pipe.yaml", bytes("stages:\n  s:\n    cmd: echo caf", [0xe9], " x\n"));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toBe("pipe.yaml is not valid UTF-8: byte 0xE9 cannot be decoded");
    expect(r.error.location).toEqual({ file: "pipe.yaml", line: 3, col: 18 });
    expect(r.text.split("\n")[2]).toBe("    cmd: echo caf\ufffd x");
  });

  it("counts columns in characters, after multi-byte ones", () => {
    const r = decodeUtf8("p.yaml", bytes("é✓: ", [0xff]));
    expect(!r.ok && r.error.location).toEqual({ file: "p.yaml", line: 1, col: 5 });
  });

  it.each([
    ["a lone continuation byte", [0x80], 0],
    ["an overlong form", [0xc0, 0xaf], 0],
    ["an overlong three-byte form", [0xe0, 0x80, 0xaf], 0],
    ["a UTF-16 surrogate", [0xed, 0xa0, 0x80], 0],
    ["a truncated sequence", [0x61, 0xe2, 0x82], 1],
    ["past U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 0],
  ])("finds %s", (_, b, at) => {
    expect(firstInvalidUtf8(Uint8Array.from(b))).toBe(at);
    expect(decodeUtf8("f", Uint8Array.from(b)).ok).toBe(false);
  });

  it("agrees with the platform's decoder on valid text", () => {
    expect(firstInvalidUtf8(bytes("plain ascii, é, ✓, 😀, \u{10FFFF}"))).toBe(-1);
  });
});
