import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import xxhash from "xxhash-wasm";
import { chunkSizeFor, dos2unix, isTextBlock, CHUNK_SIZE, type HashAlgo } from "../../src/hash/algorithms.js";
import { nodeHashFs, type FsStat, type HashFs } from "../../src/hash/fs.js";
import { Hasher, type HashOutcome } from "../../src/hash/hasher.js";
import { compareCodePoints, parseManifest, pythonJsonString, serializeManifest } from "../../src/hash/manifest.js";
import { StatCache } from "../../src/hash/state.js";
import { isCached, storeOutput } from "../../src/storage/checkout.js";
import { LocalCache } from "../../src/storage/store.js";
import { toOutputHash } from "../../src/exec/record.js";
import { CORPUS } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

const VECTORS = path.join(CORPUS, "dvc-vectors");

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) {
    const d = dirs.pop()!;
    rmSync(d, { recursive: true, force: true });
  }
});

function tmp(files: Record<string, string | Buffer> = {}): string {
  const d = mkdtempSync(path.join(tmpdir(), "pipe-hash-"));
  dirs.push(d);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(d, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return d;
}

/** Sets every file's mtime an hour into the past, so hashes are not racy and go into the stat cache. */
function age(root: string, rels: string[]): void {
  const t = Date.now() / 1000 - 3600;
  for (const r of rels) utimesSync(path.join(root, r), t, t);
}

function countingFs(): HashFs & { bytes: number; opened: string[] } {
  const fs = {
    bytes: 0,
    opened: [] as string[],
    stat: nodeHashFs.stat,
    readdir: nodeHashFs.readdir,
    readChunks(p: string, n: number): AsyncIterable<Uint8Array> {
      fs.opened.push(p);
      const inner = nodeHashFs.readChunks(p, n);
      return {
        async *[Symbol.asyncIterator]() {
          for await (const c of inner) {
            fs.bytes += c.length;
            yield c;
          }
        },
      };
    },
  };
  return fs;
}

function ok(o: HashOutcome): Extract<HashOutcome, { kind: "file" | "dir" }> {
  if (o.kind !== "file" && o.kind !== "dir") throw new Error(`expected a hash, got ${JSON.stringify(o)}`);
  return o;
}

describe("file hashes", () => {
  it("xxh64 of known inputs (reference values of XXH64, seed 0)", async () => {
    const d = tmp({ empty: "", abc: "abc" });
    const h = new Hasher({ root: d });
    expect(ok(await h.hashPath(path.join(d, "empty"), "xxh64")).hash).toBe("ef46db3751d8e999");
    expect(ok(await h.hashPath(path.join(d, "abc"), "xxh64")).hash).toBe("44bc2cf5ad770999");
  });

  it("md5 matches node's md5 and streams large files in chunks", async () => {
    const big = Buffer.alloc(CHUNK_SIZE * 2 + 123, 7);
    const d = tmp({ big });
    const fs = countingFs();
    const h = new Hasher({ root: d, fs });
    const r = ok(await h.hashPath(path.join(d, "big"), "md5"));
    expect(r.hash).toBe(createHash("md5").update(big).digest("hex"));
    expect(r.size).toBe(big.length);
    expect(fs.bytes).toBe(big.length);
  });

  it("xxh64 streams a multi-chunk file: same digest as one-shot hashing, never more than one chunk in memory", async () => {
    const big = Buffer.alloc(chunkSizeFor("xxh64") * 2 + 4321);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 11)) & 0xff;
    const d = tmp({ big });
    let largest = 0;
    let chunks = 0;
    const fs = countingFs();
    const inner = fs.readChunks.bind(fs);
    fs.readChunks = (p: string, n: number): AsyncIterable<Uint8Array> => ({
      async *[Symbol.asyncIterator]() {
        for await (const c of inner(p, n)) {
          largest = Math.max(largest, c.length);
          chunks++;
          yield c;
        }
      },
    });
    const r = ok(await new Hasher({ root: d, fs }).hashPath(path.join(d, "big"), "xxh64"));
    const oneShot = (await xxhash()).h64Raw(big).toString(16).padStart(16, "0");
    expect(r.hash).toBe(oneShot);
    expect(r.size).toBe(big.length);
    expect(fs.bytes).toBe(big.length);
    expect(chunks).toBe(3);
    expect(largest).toBe(chunkSizeFor("xxh64"));
  });

  it("files spanning several chunks, at and one off the chunk boundaries: same digests as one-shot hashing", async () => {
    const C = chunkSizeFor("xxh64");
    expect(chunkSizeFor("md5")).toBe(C);
    const sizes = [C - 1, C, C + 1, 3 * C - 1, 3 * C, 3 * C + 1];
    const all = Buffer.alloc(3 * C + 1);
    for (let i = 0; i < all.length; i++) all[i] = (i * 2654435761) >>> 24;
    const files: Record<string, Buffer> = {};
    for (const n of sizes) files[`f${n}`] = all.subarray(0, n);
    const d = tmp(files);
    const api = await xxhash();
    const fs = countingFs();
    const h = new Hasher({ root: d, fs });
    for (const n of sizes) {
      const bytes = all.subarray(0, n);
      const x = ok(await h.hashPath(path.join(d, `f${n}`), "xxh64"));
      expect([n, x.hash, x.size]).toEqual([n, api.h64Raw(bytes).toString(16).padStart(16, "0"), n]);
      const m = ok(await h.hashPath(path.join(d, `f${n}`), "md5"));
      expect([n, m.hash]).toEqual([n, createHash("md5").update(bytes).digest("hex")]);
    }
    // Every byte read exactly once per algorithm: no chunk read twice or skipped at a boundary.
    expect(fs.bytes).toBe(2 * sizes.reduce((a, b) => a + b, 0));
  });

  it("legacy md5 keeps DVC's 1 MiB chunking when reads are double-buffered (CRLF across a boundary stays)", async () => {
    // Text with a CRLF split across the first chunk boundary ("\r" last byte of chunk 1, "\n" first of chunk 2).
    const text = Buffer.alloc(3 * CHUNK_SIZE + 1, 0x61);
    for (let i = 100; i < text.length; i += 1000) text.write("\r\n", i);
    text[CHUNK_SIZE - 1] = 0x0d;
    text[CHUNK_SIZE] = 0x0a;
    for (const n of [CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 1]) {
      const bytes = text.subarray(0, n);
      const d = tmp({ t: bytes });
      const ref = createHash("md5");
      for (let off = 0; off < n; off += CHUNK_SIZE) ref.update(dos2unix(bytes.subarray(off, Math.min(n, off + CHUNK_SIZE))));
      expect([n, ok(await new Hasher({ root: d }).hashPath(path.join(d, "t"), "legacy-md5")).hash]).toEqual([n, ref.digest("hex")]);
    }
  });

  it("readChunks: exact chunks, two buffers at most, and an early stop closes the file", async () => {
    const n = 512 * 1024; // above the synchronous small-file path
    const all = Buffer.alloc(4 * n + 7);
    for (let i = 0; i < all.length; i++) all[i] = (i * 7) & 0xff;
    const d = tmp({ f: all, exact: all.subarray(0, 2 * n) });
    const lengths: number[] = [];
    const seen = new Set<ArrayBufferLike>();
    const parts: Buffer[] = [];
    for await (const c of nodeHashFs.readChunks(path.join(d, "f"), n)) {
      lengths.push(c.length);
      seen.add(c.buffer);
      parts.push(Buffer.from(c)); // copy: the buffer is reused two chunks later
    }
    expect(lengths).toEqual([n, n, n, n, 7]);
    expect(Buffer.concat(parts).equals(all)).toBe(true);
    expect(seen.size).toBe(2);
    const exact: number[] = [];
    for await (const c of nodeHashFs.readChunks(path.join(d, "exact"), n)) exact.push(c.length);
    expect(exact).toEqual([n, n]);
    // Leaving after the first chunk (a read of the second is in flight) neither throws nor leaks the handle.
    const fds = (): number => (existsSync("/proc/self/fd") ? readdirSync("/proc/self/fd").length : 0);
    const before = fds();
    for (let i = 0; i < 50; i++) {
      for await (const c of nodeHashFs.readChunks(path.join(d, "f"), n)) {
        expect(c.length).toBe(n);
        break;
      }
    }
    expect(fds()).toBeLessThanOrEqual(before + 2);
  });

  it("missing paths and special files are values, not exceptions", async () => {
    const d = tmp({ "a/f": "x" });
    const h = new Hasher({ root: d });
    expect(await h.hashPath(path.join(d, "nope"), "xxh64")).toEqual({ kind: "missing" });
    expect(await h.hashPath(path.join(d, "a/f/under-a-file"), "xxh64")).toEqual({ kind: "missing" });
    const r = await h.hashPath("/dev/null", "xxh64");
    expect(r.kind).toBe("error");
  });

  it("legacy md5 (DVC 2 md5-dos2unix) turns CRLF into LF in text, not in binary", async () => {
    const d = tmp({ "crlf.txt": "a\r\nb\r\n", "lf.txt": "a\nb\n", "bin.dat": Buffer.from([0, 13, 10, 1]) });
    const h = new Hasher({ root: d });
    const crlf = ok(await h.hashPath(path.join(d, "crlf.txt"), "legacy-md5"));
    const lf = ok(await h.hashPath(path.join(d, "lf.txt"), "legacy-md5"));
    expect(crlf.hash).toBe(lf.hash);
    expect(crlf.hash).toBe(createHash("md5").update("a\nb\n").digest("hex"));
    expect(ok(await h.hashPath(path.join(d, "crlf.txt"), "md5")).hash).not.toBe(lf.hash);
    expect(ok(await h.hashPath(path.join(d, "bin.dat"), "legacy-md5")).hash).toBe(createHash("md5").update(Buffer.from([0, 13, 10, 1])).digest("hex"));
    expect(isTextBlock(Buffer.from("héllo wörld", "latin1"))).toBe(true);
    expect(isTextBlock(Buffer.from([200, 201, 202, 65]))).toBe(false);
    expect(Buffer.from(dos2unix(Buffer.from("x\r\n\r\ny\r"))).toString()).toBe("x\n\ny\r");
  });

  it("legacy md5 classifies each 1 MiB chunk on its own, as DVC 2 did", async () => {
    const binary = Buffer.alloc(CHUNK_SIZE, 0); // NUL bytes: binary
    const text = Buffer.from("line\r\n".repeat(1000));
    const d = tmp({ mixed: Buffer.concat([binary, text]) });
    const expected = createHash("md5").update(binary).update(Buffer.from("line\n".repeat(1000))).digest("hex");
    expect(ok(await new Hasher({ root: d }).hashPath(path.join(d, "mixed"), "legacy-md5")).hash).toBe(expected);
  });
});

describe("directory manifests", () => {
  it.runIf(hasCorpus())("reproduce DVC 3's manifest bytes and directory md5 from the vectors", async () => {
    const h = new Hasher({ root: path.join(VECTORS, "project") });
    const r = ok(await h.hashPath(path.join(VECTORS, "project/data/raw"), "md5"));
    expect(r.kind).toBe("dir");
    if (r.kind !== "dir") return;
    expect(Buffer.from(r.manifest.bytes).toString("utf8")).toBe(readFileSync(path.join(VECTORS, "raw.dir.manifest.json"), "utf8").trimEnd());
    const lock = readFileSync(path.join(VECTORS, "project/dvc.lock"), "utf8");
    expect(lock).toContain(`md5: ${r.hash}`);
    expect(r.hash).toBe("038d10e5fa37bd45e8442e439353957a.dir");
    expect(r.nfiles).toBe(3);
    expect(r.size).toBe(33);
  });

  it("hashes the xxh64 manifest as canonical JSON sorted by relpath, with the .dir suffix", async () => {
    const d = tmp({ "data/b.txt": "b", "data/a/z.txt": "z", "data/a-b": "ab" });
    const h = new Hasher({ root: d });
    const r = ok(await h.hashPath(path.join(d, "data"), "xxh64"));
    if (r.kind !== "dir") throw new Error("not a dir");
    expect(r.hash).toMatch(/^[0-9a-f]{16}\.dir$/);
    expect(r.manifest.entries.map((e) => e.relpath)).toEqual(["a-b", "a/z.txt", "b.txt"]);
    const text = Buffer.from(r.manifest.bytes).toString();
    expect(text).toMatch(/^\[\{"hash":"[0-9a-f]{16}","relpath":"a-b","size":2\},/);
    expect(parseManifest(r.manifest.bytes)).toEqual(r.manifest.entries);
    // Same content elsewhere, same hash: the manifest holds relative paths only.
    const d2 = tmp({ "x/b.txt": "b", "x/a/z.txt": "z", "x/a-b": "ab" });
    expect(ok(await new Hasher({ root: d2 }).hashPath(path.join(d2, "x"), "xxh64")).hash).toBe(r.hash);
  });

  it("empty directories hash as an empty manifest; symlinks inside are followed; loops are errors", async () => {
    const d = tmp({ "real/f.txt": "f" });
    mkdirSync(path.join(d, "empty"));
    mkdirSync(path.join(d, "withlink"));
    symlinkSync(path.join(d, "real"), path.join(d, "withlink/linked"));
    const h = new Hasher({ root: d });
    const e = ok(await h.hashPath(path.join(d, "empty"), "xxh64"));
    expect(e.kind === "dir" && Buffer.from(e.manifest.bytes).toString()).toBe("[]");
    const l = ok(await h.hashPath(path.join(d, "withlink"), "xxh64"));
    expect(l.kind === "dir" && l.manifest.entries.map((x) => x.relpath)).toEqual(["linked/f.txt"]);
    symlinkSync(path.join(d, "real"), path.join(d, "real/loop"));
    const loop = await new Hasher({ root: d }).hashPath(path.join(d, "real"), "xxh64");
    expect(loop.kind).toBe("error");
  });

  it("python-style escapes and code point order", () => {
    expect(pythonJsonString('caf\u00e9 "q" \\ \n \u007f \u{1f600}')).toBe('"caf\\u00e9 \\"q\\" \\\\ \\n \\u007f \\ud83d\\ude00"');
    expect(compareCodePoints("\u{1f600}", "\uffff")).toBeGreaterThan(0);
    expect("\u{1f600}" < "\uffff").toBe(true); // why compareCodePoints exists
    expect(Buffer.from(serializeManifest("md5", [{ relpath: "é", hash: "h", size: 1 }])).toString()).toBe('[{"md5": "h", "relpath": "\\u00e9"}]');
  });
});

describe("stat cache", () => {
  it("a second run with the same stats reads no file contents and never loads xxhash for files", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`data/f${i}.txt`] = `content ${i}`;
    files["single.txt"] = "single";
    const d = tmp(files);
    age(d, Object.keys(files));
    const stateFile = path.join(d, ".pipe/state");
    const fs1 = countingFs();
    const h1 = new Hasher({ root: d, fs: fs1, stateFile });
    const a = ok(await h1.hashPath(path.join(d, "data"), "xxh64"));
    const s = ok(await h1.hashPath(path.join(d, "single.txt"), "xxh64"));
    expect(fs1.bytes).toBeGreaterThan(0);
    expect(h1.save()).toBe(true);

    const fs2 = countingFs();
    const h2 = new Hasher({ root: d, fs: fs2, stateFile });
    expect(ok(await h2.hashPath(path.join(d, "data"), "xxh64")).hash).toBe(a.hash);
    expect(ok(await h2.hashPath(path.join(d, "single.txt"), "xxh64")).hash).toBe(s.hash);
    expect(fs2.bytes).toBe(0);
    expect(fs2.opened).toEqual([]);
    expect(h2.stats.statCacheHits).toBe(21);
  });

  it("an in-place edit within the same second is detected: same size by mtime_ns, same mtime by size", async () => {
    const d = tmp({ "f.txt": "aaaa" });
    const p = path.join(d, "f.txt");
    const t = Math.floor(Date.now() / 1000) - 3600; // a whole second, long ago
    utimesSync(p, t + 0.125, t + 0.125);
    const stateFile = path.join(d, ".pipe/state");
    const h1 = new Hasher({ root: d, stateFile });
    const before = ok(await h1.hashPath(p, "xxh64"));
    h1.save();
    // Same inode, same size, same whole second: only the nanosecond part differs.
    writeFileSync(p, "bbbb");
    utimesSync(p, t + 0.625, t + 0.625);
    const fs2 = countingFs();
    const h2 = new Hasher({ root: d, fs: fs2, stateFile });
    const after = ok(await h2.hashPath(p, "xxh64"));
    expect(after.hash).not.toBe(before.hash);
    expect(fs2.bytes).toBe(4);
    h2.save();
    // Same mtime to the nanosecond, a different size.
    writeFileSync(p, "bbbbb");
    utimesSync(p, t + 0.625, t + 0.625);
    const fs3 = countingFs();
    const third = ok(await new Hasher({ root: d, fs: fs3, stateFile }).hashPath(p, "xxh64"));
    expect(fs3.bytes).toBe(5);
    expect(third.hash).not.toBe(after.hash);
  });

  it("a file replaced by rename (same size, same mtime, new inode) is re-read", async () => {
    const d = tmp({ "f.txt": "aaaa", "g.txt": "bbbb" });
    const t = Date.now() / 1000 - 3600;
    utimesSync(path.join(d, "f.txt"), t, t);
    const stateFile = path.join(d, ".pipe/state");
    const h1 = new Hasher({ root: d, stateFile });
    const before = ok(await h1.hashPath(path.join(d, "f.txt"), "xxh64"));
    h1.save();
    utimesSync(path.join(d, "g.txt"), t, t);
    renameSync(path.join(d, "g.txt"), path.join(d, "f.txt"));
    const fs2 = countingFs();
    const after = ok(await new Hasher({ root: d, fs: fs2, stateFile }).hashPath(path.join(d, "f.txt"), "xxh64"));
    expect(fs2.bytes).toBe(4);
    expect(after.hash).not.toBe(before.hash);
  });

  it("files modified less than the racy window before hashing are not trusted from the cache", async () => {
    const d = tmp({ "f.txt": "aaaa" }); // mtime = now
    const stateFile = path.join(d, ".pipe/state");
    const h1 = new Hasher({ root: d, stateFile });
    await h1.hashPath(path.join(d, "f.txt"), "xxh64");
    h1.save();
    const fs2 = countingFs();
    await new Hasher({ root: d, fs: fs2, stateFile }).hashPath(path.join(d, "f.txt"), "xxh64");
    expect(fs2.bytes).toBe(4); // re-read: the first hash was racy
    // With a clock two seconds later, the same file is safe to remember.
    const later = (): bigint => BigInt(Date.now() + 5000) * 1_000_000n;
    const h3 = new Hasher({ root: d, stateFile, now: later });
    await h3.hashPath(path.join(d, "f.txt"), "xxh64");
    h3.save();
    const fs4 = countingFs();
    await new Hasher({ root: d, fs: fs4, stateFile }).hashPath(path.join(d, "f.txt"), "xxh64");
    expect(fs4.bytes).toBe(0);
  });

  it("survives a torn or foreign state file, and compacts a long log", async () => {
    const d = tmp({ "f.txt": "x" });
    age(d, ["f.txt"]);
    const stateFile = path.join(d, ".pipe/state");
    mkdirSync(path.dirname(stateFile), { recursive: true });
    writeFileSync(stateFile, "garbage\nmore");
    const h = new Hasher({ root: d, stateFile });
    await h.hashPath(path.join(d, "f.txt"), "xxh64");
    expect(h.save()).toBe(true);
    expect(readFileSync(stateFile, "utf8")).toMatch(/^pipe-state 2\nxxh64 f\.txt\t\d+\t1\t\d+\t[0-9a-f]{16}\n$/);
    writeFileSync(stateFile, readFileSync(stateFile, "utf8") + "xxh64\t1\t2"); // torn append
    const fs2 = countingFs();
    await new Hasher({ root: d, fs: fs2, stateFile }).hashPath(path.join(d, "f.txt"), "xxh64");
    expect(fs2.bytes).toBe(0);
  });

  it("an append after a torn last line starts on a line of its own; a torn hash is never trusted", () => {
    const d = tmp();
    const file = path.join(d, "state");
    const st = (mtimeNs: bigint): FsStat => ({ kind: "file", dev: 1n, ino: 1n, size: 2, mtimeNs });
    // The last write was cut short inside the hash.
    writeFileSync(file, `pipe-state 2\nxxh64 a\t1\t2\t3\t${"a".repeat(16)}\nxxh64 b\t1\t2\t3\t${"b".repeat(7)}`);
    const c = new StatCache({ file });
    c.set("xxh64", "c", st(3n), "c".repeat(16));
    expect(c.save()).toBe(true);
    expect(readFileSync(file, "utf8")).toBe(`pipe-state 2\nxxh64 a\t1\t2\t3\t${"a".repeat(16)}\nxxh64 b\t1\t2\t3\t${"b".repeat(7)}\nxxh64 c\t1\t2\t3\t${"c".repeat(16)}\n`);
    for (const fresh of [new StatCache({ file }), (() => { const p = new StatCache({ file }); expect(p.size).toBe(3); return p; })()]) {
      expect(fresh.get("xxh64", "c", st(3n))).toBe("c".repeat(16));
      expect(fresh.get("xxh64", "a", st(3n))).toBe("a".repeat(16));
      expect(fresh.get("xxh64", "b", st(3n))).toBeUndefined();
    }
  });

  it("answers the first lookups by scanning the log, exactly as parsing it would (later lines win, torn line ignored)", () => {
    const d = tmp();
    const file = path.join(d, "state");
    const h = (c: string): string => c.repeat(16);
    writeFileSync(
      file,
      [
        "pipe-state 2",
        `xxh64 a\t1\t2\t3\t${h("a")}`,
        `xxh64 b\t1\t2\t3\t${h("b")}`,
        `xxh64 a\t1\t2\t4\t${h("c")}`,
        `xxh64 c\t1\t2\t3\t${h("d")}`,
        "a line without a tab",
        `xxh64 d/\u00e9\t1\t2\t3\t${h("e")}`,
        `md5 a\t1\t2\t3\t${h("f")}${h("f")}`,
        `xxh64 c\t1\t2\t5\t${h("0")}`, // torn: no line break after it
      ].join("\n"),
    );
    const st = (mtimeNs: bigint): FsStat => ({ kind: "file", dev: 1n, ino: 1n, size: 2, mtimeNs });
    const checks: [HashAlgo, string, bigint, string | undefined][] = [
      ["xxh64", "a", 4n, h("c")],
      ["xxh64", "a", 3n, undefined],
      ["xxh64", "b", 3n, h("b")],
      ["xxh64", "c", 3n, h("d")],
      ["xxh64", "c", 5n, undefined],
      ["xxh64", "d/\u00e9", 3n, h("e")],
      ["md5", "a", 3n, h("f") + h("f")],
      ["xxh64", "missing", 3n, undefined],
      ["xxh64", "a line without a tab", 3n, undefined],
      ["xxh64", "a\txxh64 b", 3n, undefined],
    ];
    const parsed = new StatCache({ file });
    expect(parsed.size).toBe(5); // parses
    const shared = new StatCache({ file }); // scans, then parses after a few lookups
    for (const [algo, rel, m, want] of checks) {
      expect([rel, new StatCache({ file }).get(algo, rel, st(m))]).toEqual([rel, want]);
      expect([rel, shared.get(algo, rel, st(m))]).toEqual([rel, want]);
      expect([rel, parsed.get(algo, rel, st(m))]).toEqual([rel, want]);
    }
    // What this process learnt wins over the log, before and after parsing.
    const c = new StatCache({ file });
    c.set("xxh64", "b", st(9n), h("9"));
    expect(c.get("xxh64", "b", st(9n))).toBe(h("9"));
    expect(c.size).toBe(5);
    expect(c.get("xxh64", "b", st(9n))).toBe(h("9"));
  });

  it("an unreadable file is an error value naming it", async () => {
    if (process.getuid?.() === 0) return; // root reads anything; the e2e suite covers the real case
    const d = tmp({ "secret.txt": "x" });
    chmodSync(path.join(d, "secret.txt"), 0o000);
    const r = await new Hasher({ root: d }).hashPath(path.join(d, "secret.txt"), "xxh64");
    expect(r).toEqual({ kind: "error", message: "cannot read 'secret.txt': EACCES" });
  });
});

describe("invalidate", () => {
  it("forgets a directory after a file inside it changed", async () => {
    const d = tmp({ "out/a": "1" });
    const h = new Hasher({ root: d });
    const a = ok(await h.hashPath(path.join(d, "out"), "xxh64"));
    writeFileSync(path.join(d, "out/b"), "2");
    expect(ok(await h.hashPath(path.join(d, "out"), "xxh64")).hash).toBe(a.hash); // memoised
    h.invalidate(path.join(d, "out/b"));
    expect(ok(await h.hashPath(path.join(d, "out"), "xxh64")).hash).not.toBe(a.hash);
  });
});

describe("directory fingerprints", () => {
  // Files an hour old: nothing is racy, so the stat cache records the files and the directory.
  function aged(files: Record<string, string>): string {
    const d = tmp(files);
    age(d, Object.keys(files));
    return d;
  }

  async function dirHash(h: Hasher, abs: string): Promise<Extract<HashOutcome, { kind: "dir" }>> {
    const r = ok(await h.hashPath(abs, "xxh64"));
    if (r.kind !== "dir") throw new Error("not a dir");
    return r;
  }

  /** The directory hashed from scratch: no stat cache, every file read. */
  async function truth(abs: string): Promise<Extract<HashOutcome, { kind: "dir" }>> {
    return dirHash(new Hasher({ root: path.dirname(abs) }), abs);
  }

  /** Hashes `data` once with a state file and saves, then returns a function giving a new hasher on that state. */
  async function recorded(d: string): Promise<{ first: string; next: () => { h: Hasher; gets: () => number; fs: ReturnType<typeof countingFs> } }> {
    const stateFile = path.join(d, ".pipe/state");
    const h1 = new Hasher({ root: d, stateFile });
    const first = (await dirHash(h1, path.join(d, "data"))).hash;
    expect(h1.save()).toBe(true);
    expect(readFileSync(stateFile, "utf8")).toMatch(/\ndir1:xxh64 data\t[0-9a-f]{32}\t[0-9a-f]{16}\.dir\n$/);
    return {
      first,
      next: () => {
        const statCache = new StatCache({ file: stateFile });
        let gets = 0;
        const get = statCache.get.bind(statCache);
        statCache.get = (...a) => (gets++, get(...a));
        const fs = countingFs();
        return { h: new Hasher({ root: d, fs, statCache }), gets: () => gets, fs };
      },
    };
  }

  const FILES = { "data/a.txt": "AAAA", "data/b.txt": "BBBB", "data/sub/c.txt": "CCCC" };

  it("an unchanged listing is answered from its fingerprint: no per-file lookup, no read, same hash and manifest", async () => {
    const d = aged(FILES);
    const { first, next } = await recorded(d);
    const { h, gets, fs } = next();
    const r = await dirHash(h, path.join(d, "data"));
    expect(r.hash).toBe(first);
    expect([r.size, r.nfiles]).toEqual([12, 3]);
    expect(gets()).toBe(0);
    expect(fs.bytes).toBe(0);
    expect(h.stats).toEqual({ bytesRead: 0, filesRead: 0, statCacheHits: 3, dirCacheHits: 1 });
    // The manifest is still there for a caller that stores the directory, identical to a full hash's.
    const full = await truth(path.join(d, "data"));
    expect(r.manifest.entries).toEqual(full.manifest.entries);
    expect(Buffer.from(r.manifest.bytes).equals(Buffer.from(full.manifest.bytes))).toBe(true);
    expect(fs.bytes).toBe(0); // rebuilt from the stat cache, nothing read
  });

  const changes: [string, (d: string) => void][] = [
    [
      "a same-size edit with a changed mtime",
      (d) => {
        writeFileSync(path.join(d, "data/a.txt"), "ZZZZ");
        const t = Date.now() / 1000 - 1800;
        utimesSync(path.join(d, "data/a.txt"), t, t);
      },
    ],
    [
      "an added file",
      (d) => {
        writeFileSync(path.join(d, "data/sub/new.txt"), "NEW");
        age(d, ["data/sub/new.txt"]);
      },
    ],
    ["a removed file", (d) => rmSync(path.join(d, "data/b.txt"))],
    ["a renamed file (same inode, size and mtime, a name as long)", (d) => renameSync(path.join(d, "data/b.txt"), path.join(d, "data/e.txt"))],
    [
      "a file replaced by another of the same size and mtime (different inode)",
      (d) => {
        const p = path.join(d, "data/a.txt");
        const { mtimeNs, ino } = statSync(p, { bigint: true });
        const secs = Number(mtimeNs / 1_000_000_000n); // a whole second (set by the test)
        writeFileSync(path.join(d, "other"), "QQQQ");
        utimesSync(path.join(d, "other"), secs, secs);
        renameSync(path.join(d, "other"), p);
        const now = statSync(p, { bigint: true });
        expect([now.size, now.mtimeNs === mtimeNs, now.ino !== ino]).toEqual([4n, true, true]);
      },
    ],
  ];

  for (const [what, change] of changes) {
    it(`${what} invalidates the fingerprint`, async () => {
      const d = aged(FILES);
      // Whole-second mtimes, so the replaced file can get exactly the same one.
      const t = Math.floor(Date.now() / 1000) - 3600;
      for (const f of Object.keys(FILES)) utimesSync(path.join(d, f), t, t);
      const { first, next } = await recorded(d);
      change(d);
      const { h } = next();
      const r = await dirHash(h, path.join(d, "data"));
      expect(h.stats.dirCacheHits).toBe(0);
      expect(r.hash).not.toBe(first);
      expect(r.hash).toBe((await truth(path.join(d, "data"))).hash);
    });
  }

  it("a symlink inside the directory pointed at another file invalidates it", async () => {
    const d = aged({ ...FILES, "t1.txt": "one", "t2.txt": "two" });
    symlinkSync(path.join(d, "t1.txt"), path.join(d, "data/link"));
    const { first, next } = await recorded(d);
    rmSync(path.join(d, "data/link"));
    symlinkSync(path.join(d, "t2.txt"), path.join(d, "data/link"));
    const { h } = next();
    const r = await dirHash(h, path.join(d, "data"));
    expect(h.stats.dirCacheHits).toBe(0);
    expect(r.hash).not.toBe(first);
    expect(r.hash).toBe((await truth(path.join(d, "data"))).hash);
  });

  it("a directory holding a racy file is not recorded until the file is old enough", async () => {
    const d = aged(FILES);
    writeFileSync(path.join(d, "data/fresh.txt"), "just written"); // mtime: now
    const stateFile = path.join(d, ".pipe/state");
    const h1 = new Hasher({ root: d, stateFile });
    await dirHash(h1, path.join(d, "data"));
    h1.save();
    expect(readFileSync(stateFile, "utf8")).not.toContain("dir1:");
    const h2 = new Hasher({ root: d, stateFile });
    await dirHash(h2, path.join(d, "data"));
    expect(h2.stats.dirCacheHits).toBe(0);
    // Seen again five seconds later, the same listing is safe to record.
    const later = (): bigint => BigInt(Date.now() + 5000) * 1_000_000n;
    const h3 = new Hasher({ root: d, stateFile, now: later });
    await dirHash(h3, path.join(d, "data"));
    h3.save();
    expect(readFileSync(stateFile, "utf8")).toContain("dir1:xxh64 data\t");
    const h4 = new Hasher({ root: d, stateFile });
    await dirHash(h4, path.join(d, "data"));
    expect(h4.stats.dirCacheHits).toBe(1);
  });

  it("after a hit, a file whose own entry is gone is read when the manifest is asked for", async () => {
    const d = aged(FILES);
    const { first } = await recorded(d);
    const stateFile = path.join(d, ".pipe/state");
    // Keep the directory's record, drop the per-file ones (as if overwritten since).
    const text = readFileSync(stateFile, "utf8");
    writeFileSync(stateFile, text.split("\n").filter((l) => !l.startsWith("xxh64 data/a.txt")).join("\n"));
    const h = new Hasher({ root: d, stateFile });
    const r = await dirHash(h, path.join(d, "data"));
    expect([r.hash, h.stats.dirCacheHits, h.stats.filesRead]).toEqual([first, 1, 0]);
    const full = await truth(path.join(d, "data"));
    expect(r.manifest.entries).toEqual(full.manifest.entries);
    expect(h.stats.filesRead).toBe(1);
  });

  it("old, foreign or damaged directory records are ignored, never trusted, never a crash", async () => {
    const d = aged(FILES);
    const stateFile = path.join(d, ".pipe/state");
    const h0 = new Hasher({ root: d, stateFile });
    const want = (await dirHash(h0, path.join(d, "data"))).hash;
    h0.save();
    const text = readFileSync(stateFile, "utf8");
    const fileLines = text.split("\n").filter((l) => l.startsWith("xxh64 "));
    const fp = /\ndir1:xxh64 data\t([0-9a-f]{32})\t/.exec(text)![1]!;
    // A state file as a pipe without directory records wrote it: read, then the record is added.
    writeFileSync(stateFile, ["pipe-state 2", ...fileLines, ""].join("\n"));
    const h1 = new Hasher({ root: d, stateFile });
    expect((await dirHash(h1, path.join(d, "data"))).hash).toBe(want);
    expect([h1.stats.filesRead, h1.stats.dirCacheHits]).toEqual([0, 0]);
    h1.save();
    expect(readFileSync(stateFile, "utf8")).toMatch(/^pipe-state 2\n[^]*\ndir1:xxh64 data\t/);
    // Damaged records: wrong hash shape, another format version, a torn line, an empty fingerprint.
    for (const bad of [
      `dir1:xxh64 data\t${fp}\tnot-a-hash`,
      `dir1:xxh64 data\t${fp}\t0123456789abcdef`,
      `dir1:xxh64 data\t${fp}`,
      `dir1:xxh64 data\t\t0123456789abcdef.dir`,
      `dir9:xxh64 data\t${fp}\t0123456789abcdef.dir`,
    ]) {
      writeFileSync(stateFile, ["pipe-state 2", ...fileLines, bad, ""].join("\n"));
      const h = new Hasher({ root: d, stateFile });
      expect([bad, (await dirHash(h, path.join(d, "data"))).hash, h.stats.dirCacheHits]).toEqual([bad, want, 0]);
    }
    writeFileSync(stateFile, ["pipe-state 2", ...fileLines, `dir1:xxh64 data\t${fp}\t0123456789abcdef.dir`].join("\n")); // torn: no newline
    const torn = new Hasher({ root: d, stateFile });
    expect((await dirHash(torn, path.join(d, "data"))).hash).toBe(want);
    // A newer format's file (another header) is ignored whole, as before.
    writeFileSync(stateFile, ["pipe-state 3", `dir1:xxh64 data\t${fp}\t0123456789abcdef.dir`, ""].join("\n"));
    const future = new Hasher({ root: d, stateFile });
    expect((await dirHash(future, path.join(d, "data"))).hash).toBe(want);
  });

  it("md5 directories (DVC locks) have fingerprints of their own", async () => {
    const d = aged(FILES);
    const stateFile = path.join(d, ".pipe/state");
    const h1 = new Hasher({ root: d, stateFile });
    const md5 = ok(await h1.hashPath(path.join(d, "data"), "md5"));
    const xx = ok(await h1.hashPath(path.join(d, "data"), "xxh64"));
    h1.save();
    const h2 = new Hasher({ root: d, stateFile });
    expect(ok(await h2.hashPath(path.join(d, "data"), "md5")).hash).toBe(md5.hash);
    expect(ok(await h2.hashPath(path.join(d, "data"), "xxh64")).hash).toBe(xx.hash);
    expect(h2.stats.dirCacheHits).toBe(2);
  });

  it("a directory output answered by its fingerprint can be stored in the cache", async () => {
    const d = aged(FILES);
    const { first, next } = await recorded(d);
    const { h } = next();
    const r = await dirHash(h, path.join(d, "data"));
    expect(h.stats.dirCacheHits).toBe(1);
    const store = new LocalCache(d);
    const stored = await storeOutput({ root: d, store, linkTypes: ["copy"] }, "data", toOutputHash(r));
    expect(stored.ok).toBe(true);
    expect(await isCached(store, first)).toBe(true);
    expect(readFileSync(store.pathOf(first))).toEqual(Buffer.from((await truth(path.join(d, "data"))).manifest.bytes));
  });
});

describe("ignore rules inside directories (DVC's .dvcignore)", () => {
  async function relpaths(root: string, dir: string, h = new Hasher({ root })): Promise<string[]> {
    const r = ok(await h.hashPath(path.join(root, dir), "xxh64"));
    if (r.kind !== "dir") throw new Error("not a dir");
    return r.manifest.entries.map((e) => e.relpath);
  }

  it("leaves out DVC's defaults (.git anything, .hg/ and .dvc/ directories), .pipe/, and projects of their own", async () => {
    const d = tmp({
      "data/a.txt": "a",
      "data/.git": "gitdir: elsewhere",
      "data/sub/.git/HEAD": "ref",
      "data/.hg/store": "x",
      "data/.dvc/config": "x",
      "data/.pipe/state": "x",
      "data/nested/.dvc/config": "x",
      "data/nested/inside.txt": "x",
      "data/other/.pipe/config.yaml": "",
      "data/other/inside.txt": "x",
      // Only directories named .hg, .dvc or .pipe are left out, as DVC's rules `.hg/` and `.dvc/` say.
      "data/kept/.hg": "a file",
      "data/kept/.dvcx/f": "x",
    });
    expect(await relpaths(d, "data")).toEqual(["a.txt", "kept/.dvcx/f", "kept/.hg"]);
  });

  it("applies .dvcignore and .pipeignore files above the directory and inside it, the deepest deciding, case-sensitively", async () => {
    const d = tmp({
      ".dvcignore": "*.log\nTMP\n",
      "data/.pipeignore": "raw/scratch/\n",
      "data/raw/a.csv": "a",
      "data/raw/debug.log": "x",
      "data/raw/DEBUG.LOG": "kept: the rules match case-sensitively, as DVC's do",
      "data/raw/tmp": "kept",
      "data/raw/TMP": "x",
      "data/raw/scratch/x.csv": "x",
      "data/raw/sub/.dvcignore": "!keep.log\nb.csv\n",
      "data/raw/sub/b.csv": "x",
      "data/raw/sub/keep.log": "kept: re-included below",
      "data/raw/sub/other.log": "x",
    });
    expect(await relpaths(d, "data/raw")).toEqual(["DEBUG.LOG", "a.csv", "sub/.dvcignore", "sub/keep.log", "tmp"]);
    // The same answers from the directory above, whose own ignore file is one of its files (as in DVC).
    expect(await relpaths(d, "data")).toEqual([".pipeignore", "raw/DEBUG.LOG", "raw/a.csv", "raw/sub/.dvcignore", "raw/sub/keep.log", "raw/tmp"]);
  });

  it("an ignored special file or broken symlink is skipped, not an error; outside the root nothing is ignored", async () => {
    const d = tmp({ ".dvcignore": "*.fifo\n*.lnk\n", "data/a.txt": "a", "data/.git": "x" });
    execFileSync("mkfifo", [path.join(d, "data/p.fifo")]);
    symlinkSync(path.join(d, "nowhere"), path.join(d, "data/dangling.lnk"));
    expect(await relpaths(d, "data")).toEqual(["a.txt"]);
    // The same directory hashed as a path outside the project (a shared data set): every entry counts.
    const outside = new Hasher({ root: path.join(d, "elsewhere") });
    expect((await outside.hashPath(path.join(d, "data"), "xxh64")).kind).toBe("error");
  });

  it("a rule change invalidates the directory's record even when the listing stays the same", async () => {
    const d = tmp({ ".pipeignore": "*.log\n", "data/a.txt": "a", "data/b.log": "b" });
    age(d, ["data/a.txt", "data/b.log"]);
    const stateFile = path.join(d, ".pipe/state");
    const h1 = new Hasher({ root: d, stateFile });
    const first = ok(await h1.hashPath(path.join(d, "data"), "xxh64")).hash;
    expect(h1.save()).toBe(true);
    // Unchanged rules: answered from the record, nothing read.
    const h2 = new Hasher({ root: d, stateFile, fs: countingFs() });
    expect(ok(await h2.hashPath(path.join(d, "data"), "xxh64")).hash).toBe(first);
    expect([h2.stats.dirCacheHits, h2.stats.bytesRead]).toEqual([1, 0]);
    // Another rule that happens to leave the same files: same hash, but not from a record taken under other rules.
    writeFileSync(path.join(d, ".pipeignore"), "*.log\n*.tmp\n");
    const h3 = new Hasher({ root: d, stateFile });
    expect(ok(await h3.hashPath(path.join(d, "data"), "xxh64")).hash).toBe(first);
    expect(h3.stats.dirCacheHits).toBe(0);
    // A rule that lets the .log file in: a different hash.
    writeFileSync(path.join(d, ".pipeignore"), "*.tmp\n");
    const h4 = new Hasher({ root: d, stateFile });
    expect(ok(await h4.hashPath(path.join(d, "data"), "xxh64")).hash).not.toBe(first);
  });
});
