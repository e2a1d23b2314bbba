import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { algorithmOf, canonicalJson, defaultDigester } from "../../src/storage/digest.js";
import { atomicWrite, ensureDirInside, safeRemove } from "../../src/storage/fs.js";
import { parseLinkTypes, placeObject, unprotect } from "../../src/storage/link.js";
import { isSafeRelpath, parseManifest, serialiseManifest } from "../../src/storage/manifest.js";
import { keyOfId, LocalCache } from "../../src/storage/store.js";
import { serializeManifest, sortEntries } from "../../src/hash/manifest.js";
import { makeProject } from "../helpers/project.js";

const outsideDirs: string[] = [];
/** A directory outside any project, standing for the user's other data. */
function outsideDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "pipe-outside-"));
  outsideDirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of outsideDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const xxh = (s: string): Promise<string> => defaultDigester.bytes(s, "xxh64");

describe("digest", () => {
  it("hashes bytes and files alike with xxh64 (16 hex) and md5 (32 hex)", async () => {
    const dir = makeProject({ "a.txt": "hello\n" });
    const f = path.join(dir, "a.txt");
    const x = await defaultDigester.file(f, "xxh64");
    expect(x).toMatch(/^[0-9a-f]{16}$/);
    expect(await xxh("hello\n")).toBe(x);
    expect(await defaultDigester.file(f, "md5")).toBe("b1946ac92492d2347c6235b4d2611184");
    expect(algorithmOf(x)).toBe("xxh64");
    expect(algorithmOf(x + ".dir")).toBe("xxh64");
    expect(algorithmOf("b1946ac92492d2347c6235b4d2611184")).toBe("md5");
    expect(algorithmOf("zz")).toBeUndefined();
  });

  it("hashes a file larger than one read chunk like the same bytes in memory", async () => {
    const dir = makeProject();
    const big = Buffer.alloc(3 * (1 << 20) + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    writeFileSync(path.join(dir, "big"), big);
    expect(await defaultDigester.file(path.join(dir, "big"), "xxh64")).toBe(await defaultDigester.bytes(big, "xxh64"));
  });

  it("canonical JSON sorts keys at every level and has no whitespace", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: "x" }], e: undefined })).toBe('{"a":[{"c":"x","d":2}],"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });
});

describe("manifest", () => {
  it("serialises sorted by relpath with sorted keys, and parses back", () => {
    const entries = [
      { relpath: "b/x.txt", hash: "00000000000000bb", size: 2 },
      { relpath: "a.txt", hash: "00000000000000aa", size: 1 },
    ];
    const text = serialiseManifest(entries);
    expect(text).toBe('[{"hash":"00000000000000aa","relpath":"a.txt","size":1},{"hash":"00000000000000bb","relpath":"b/x.txt","size":2}]');
    expect(parseManifest(text)).toEqual([entries[1], entries[0]]);
  });

  it("reads DVC's md5 manifest form", () => {
    const m = parseManifest('[{"md5": "b1946ac92492d2347c6235b4d2611184", "relpath": "x/y.csv"}]');
    expect(m).toEqual([{ relpath: "x/y.csv", hash: "b1946ac92492d2347c6235b4d2611184", size: -1 }]);
  });

  it("rejects relpaths that leave the directory and ids that are not hashes", () => {
    for (const bad of ["../x", "/etc/passwd", "a/../../b", "a//b", "./a", "a\\b", ""]) expect(isSafeRelpath(bad)).toBe(false);
    expect(parseManifest('[{"relpath":"../evil","hash":"00000000000000aa","size":1}]')).toBeUndefined();
    expect(parseManifest('[{"relpath":"ok","hash":"../../x","size":1}]')).toBeUndefined();
    expect(parseManifest('[{"relpath":"a","hash":"00000000000000aa","size":1},{"relpath":"a","hash":"00000000000000aa","size":1}]')).toBeUndefined();
    expect(parseManifest("not json")).toBeUndefined();
    expect(parseManifest('{"relpath":"a"}')).toBeUndefined();
  });

  it("is the hasher's codec: the same bytes, sorted in code point order as DVC (Python) sorts relpaths", () => {
    // U+E000 sorts before U+1F600 by code point, after it by UTF-16 unit (the surrogate D83D): the cache once sorted
    // by UTF-16 and wrote bytes that did not hash to the directory's name.
    const entries = [
      { relpath: "\u{1F600}.txt", hash: "00000000000000bb", size: 2 },
      { relpath: "\uE000.txt", hash: "00000000000000aa", size: 1 },
    ];
    const hashed = Buffer.from(serializeManifest("xxh64", sortEntries([...entries]))).toString("utf8");
    expect(serialiseManifest(entries)).toBe(hashed);
    expect(parseManifest(hashed)?.map((e) => e.relpath)).toEqual(["\uE000.txt", "\u{1F600}.txt"]);
    expect(parseManifest(Buffer.from(serializeManifest("md5", sortEntries([...entries].reverse())))))
      .toEqual([{ ...entries[1], size: -1 }, { ...entries[0], size: -1 }]);
  });
});

describe("LocalCache", () => {
  it("stores a file under .pipe/cache/<2>/<rest>, read-only, with no temp left behind", async () => {
    const root = makeProject({ "data.csv": "a,b\n1,2\n" });
    const store = new LocalCache(root);
    const id = await defaultDigester.file(path.join(root, "data.csv"), "xxh64");
    const r = await store.storeFile(path.join(root, "data.csv"), id);
    expect(r.ok).toBe(true);
    const objPath = path.join(root, ".pipe/cache", id.slice(0, 2), id.slice(2));
    expect(store.pathOf(id)).toBe(objPath);
    expect(readFileSync(objPath, "utf8")).toBe("a,b\n1,2\n");
    expect(statSync(objPath).mode & 0o222).toBe(0);
    expect(readdirSync(path.dirname(objPath))).toEqual([id.slice(2)]);
    expect(await store.hasId(id)).toBe(true);
    // The workspace file is untouched and still writable.
    expect(statSync(path.join(root, "data.csv")).mode & 0o200).toBe(0o200);
  });

  it("putting an object twice is a no-op and keeps the first copy", async () => {
    const root = makeProject({ "a": "same" });
    const store = new LocalCache(root);
    const id = await xxh("same");
    await store.storeFile(path.join(root, "a"), id);
    const before = statSync(store.pathOf(id));
    await store.storeFile(path.join(root, "a"), id);
    expect(statSync(store.pathOf(id)).ino).toBe(before.ino);
  });

  it("an object damaged under its name (edited through a link) is replaced, never taken as stored: size or bytes", async () => {
    const root = makeProject({ "a": "good bytes" });
    const store = new LocalCache(root);
    const id = await xxh("good bytes");
    expect(await store.storeFile(path.join(root, "a"), id)).toMatchObject({ ok: true, value: "stored" });
    for (const damage of ["bad bytes!", "other size"]) {
      chmodSync(store.pathOf(id), 0o644);
      writeFileSync(store.pathOf(id), damage);
      // A new process (a new store) and this one alike: the stat changed, so the bytes are checked again.
      for (const s of [new LocalCache(root), store]) {
        expect(await s.storeFile(path.join(root, "a"), id)).toMatchObject({ ok: true, value: "repaired" });
        expect(readFileSync(s.pathOf(id), "utf8")).toBe("good bytes");
        expect(statSync(s.pathOf(id)).mode & 0o222).toBe(0);
        chmodSync(store.pathOf(id), 0o644);
        writeFileSync(store.pathOf(id), damage);
      }
    }
    expect(readdirSync(path.dirname(store.pathOf(id)))).toEqual([id.slice(2)]);
  });

  it("a damaged object is not repaired with a source that does not hash to its name either", async () => {
    const root = makeProject({ "a": "not what the name says" });
    const store = new LocalCache(root);
    const id = await xxh("good bytes");
    mkdirSync(path.dirname(store.pathOf(id)), { recursive: true });
    writeFileSync(store.pathOf(id), "damaged!!!");
    const r = await store.storeFile(path.join(root, "a"), id);
    expect(r.ok).toBe(false);
    expect(readFileSync(store.pathOf(id), "utf8")).toBe("damaged!!!");
  });

  it("an object checked once is trusted by its (inode, size, mtime) in later processes, and checked again when that changes", async () => {
    const root = makeProject({ "a": "some bytes" });
    let reads = 0;
    const counting = { bytes: defaultDigester.bytes, file: async (p: string, a: Parameters<typeof defaultDigester.file>[1]) => (reads++, defaultDigester.file(p, a)) };
    const id = await xxh("some bytes");
    const writer = (): LocalCache => new LocalCache(root, counting, { recordVerified: true });
    await writer().storeFile(path.join(root, "a"), id);
    // An object modified within the racy window is never recorded; one from long ago is. A reader records nothing.
    const old = new Date(Date.now() - 3600_000);
    utimesSync(new LocalCache(root).pathOf(id), old, old);
    expect((await new LocalCache(root).verifyId(id)).status).toBe("ok");
    expect(existsSync(path.join(root, ".pipe/cache/verified"))).toBe(false);
    reads = 0;
    expect(await writer().storeFile(path.join(root, "a"), id)).toMatchObject({ ok: true, value: "present" });
    expect(reads).toBe(1);
    expect(readFileSync(path.join(root, ".pipe/cache/verified"), "utf8")).toMatch(new RegExp(`^pipe-verified 2\n${id}\t\\d+\t10\t\\d+\t\\d+\n$`));
    reads = 0;
    expect(await writer().storeFile(path.join(root, "a"), id)).toMatchObject({ ok: true, value: "present" });
    expect(reads).toBe(0);
    // Same size, other bytes, and a new mtime (what a write through a link gives): checked, found wrong, replaced.
    const p = new LocalCache(root).pathOf(id);
    chmodSync(p, 0o644);
    writeFileSync(p, "SOME BYTES");
    expect(await writer().storeFile(path.join(root, "a"), id)).toMatchObject({ ok: true, value: "repaired" });
    expect(readFileSync(p, "utf8")).toBe("some bytes");
  });

  it("the verified log is compacted when it holds many more lines than objects: re-checks do not grow it for ever", async () => {
    const root = makeProject({ "a": "some bytes" });
    const id = await xxh("some bytes");
    await new LocalCache(root).storeFile(path.join(root, "a"), id);
    const log = path.join(root, ".pipe/cache/verified");
    const entryLines = (): string[] => readFileSync(log, "utf8").split("\n").slice(1, -1);
    const counts: number[] = [];
    for (let i = 0; i < 10; i++) {
      // Another process each time, and a new stat each time (as a write through a link gives): a new line.
      const t = new Date(Date.now() - 3600_000 - i * 1000);
      const p = new LocalCache(root).pathOf(id);
      utimesSync(p, t, t);
      const writer = new LocalCache(root, undefined, { recordVerified: true, compactMinLines: 4, compactFactor: 2 });
      expect((await writer.verifyId(id)).status).toBe("ok");
      counts.push(entryLines().length);
      // The line that counts is the current stat's, compacted or not.
      const st = statSync(p, { bigint: true });
      expect(entryLines().at(-1)).toBe(`${id}\t${st.ino}\t${st.size}\t${st.mtimeNs}\t${st.ctimeNs}`);
    }
    // Appended up to the limit, then rewritten to one line per object, and so on.
    expect(counts).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, 2]);
    expect(readFileSync(log, "utf8").startsWith("pipe-verified 2\n")).toBe(true);
    expect(readdirSync(path.join(root, ".pipe/cache")).filter((n) => n.includes(".pipe-tmp-"))).toEqual([]);
  });

  it("a torn last line of the verified log does not swallow the next entry; a foreign or empty log is rewritten", async () => {
    const root = makeProject({ "a": "some bytes" });
    const id = await xxh("some bytes");
    await new LocalCache(root).storeFile(path.join(root, "a"), id);
    const p = new LocalCache(root).pathOf(id);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(p, old, old);
    const log = path.join(root, ".pipe/cache/verified");
    const st = statSync(p, { bigint: true });
    const line = `${id}\t${st.ino}\t${st.size}\t${st.mtimeNs}\t${st.ctimeNs}`;
    for (const [before, after] of [
      ["pipe-verified 2\n0123\t1", `pipe-verified 2\n0123\t1\n${line}\n`],
      ["", `pipe-verified 2\n${line}\n`],
      ["pipe-verified 9\nsomething else\n", `pipe-verified 2\n${line}\n`],
    ] as const) {
      writeFileSync(log, before);
      expect((await new LocalCache(root, undefined, { recordVerified: true }).verifyId(id)).status).toBe("ok");
      expect(readFileSync(log, "utf8")).toBe(after);
    }
  });

  it("a recently modified object is checked by every process (racy-git): its stat is not recorded", async () => {
    const root = makeProject({ "a": "fresh" });
    let reads = 0;
    const counting = { bytes: defaultDigester.bytes, file: async (p: string, a: Parameters<typeof defaultDigester.file>[1]) => (reads++, defaultDigester.file(p, a)) };
    const id = await xxh("fresh");
    await new LocalCache(root).storeFile(path.join(root, "a"), id);
    for (let i = 0; i < 2; i++) {
      const store = new LocalCache(root, counting, { recordVerified: true });
      expect(await store.storeFile(path.join(root, "a"), id)).toMatchObject({ ok: true, value: "present" });
    }
    expect(reads).toBe(2);
    expect(existsSync(path.join(root, ".pipe/cache/verified"))).toBe(false);
  });

  it("putBytes replaces a manifest object whose bytes differ from the ones it stores", async () => {
    const root = makeProject();
    const store = new LocalCache(root);
    const text = serialiseManifest([{ relpath: "x", hash: "0123456789abcdef", size: 3 }]);
    const id = (await xxh(text)) + ".dir";
    expect(await store.putBytes(id, text)).toMatchObject({ ok: true, value: "stored" });
    expect(await new LocalCache(root).putBytes(id, text)).toMatchObject({ ok: true, value: "present" });
    chmodSync(store.pathOf(id), 0o644);
    writeFileSync(store.pathOf(id), text.replace("0123", "3210"));
    expect(await new LocalCache(root).putBytes(id, text)).toMatchObject({ ok: true, value: "repaired" });
    expect(readFileSync(store.pathOf(id), "utf8")).toBe(text);
  });

  it("with verify, refuses to store a source whose bytes do not match the claimed hash", async () => {
    const root = makeProject({ "a": "actual content" });
    const store = new LocalCache(root);
    const claimed = await xxh("other content");
    const r = await store.storeFile(path.join(root, "a"), claimed, { verify: true });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toContain("changed while it was being stored");
    expect(await store.hasId(claimed)).toBe(false);
    expect(readdirSync(path.join(root, ".pipe/cache", claimed.slice(0, 2)))).toEqual([]);
  });

  it("stores bytes (manifests) under a .dir name", async () => {
    const root = makeProject();
    const store = new LocalCache(root);
    const text = serialiseManifest([{ relpath: "x", hash: "0123456789abcdef", size: 3 }]);
    const id = (await xxh(text)) + ".dir";
    expect((await store.putBytes(id, text)).ok).toBe(true);
    expect(store.pathOf(id).endsWith(".dir")).toBe(true);
    const rv = await store.readVerified(id);
    expect(rv.status).toBe("ok");
    if (rv.status === "ok") expect(rv.data.toString()).toBe(text);
  });

  it("a corrupted object is reported as corrupt on verify and removed", async () => {
    const root = makeProject({ "a": "good bytes" });
    const store = new LocalCache(root);
    const id = await xxh("good bytes");
    await store.storeFile(path.join(root, "a"), id);
    // A second store (another process) has not verified it yet.
    const other = new LocalCache(root);
    const p = store.pathOf(id);
    chmodSync(p, 0o644);
    writeFileSync(p, "bad bytes!");
    const v = await other.verifyId(id);
    expect(v.status).toBe("corrupt");
    if (v.status === "corrupt") expect(v.actual).toBe(await xxh("bad bytes!"));
    expect(existsSync(p)).toBe(false);
    expect((await other.verifyId(id)).status).toBe("missing");
  });

  it("a read-only store (--dry, readers) reports a corrupt object and keeps it; it records nothing and refuses writes", async () => {
    const root = makeProject({ "a": "good bytes" });
    const id = await xxh("good bytes");
    await new LocalCache(root).storeFile(path.join(root, "a"), id);
    const p = new LocalCache(root).pathOf(id);
    chmodSync(p, 0o644);
    writeFileSync(p, "bad bytes!");
    const ro = new LocalCache(root, undefined, { readOnly: true, recordVerified: true });
    const v = await ro.verifyId(id);
    expect(v).toEqual({ status: "corrupt", actual: await xxh("bad bytes!") });
    expect((await ro.readVerified(id)).status).toBe("corrupt");
    // Asked again, still unusable: the store did not forget the mismatch by removing the evidence.
    expect((await ro.verifyId(id)).status).toBe("corrupt");
    expect(readFileSync(p, "utf8")).toBe("bad bytes!");
    // A good object, long unmodified, is verified without being recorded (readOnly wins over recordVerified).
    writeFileSync(path.join(root, "b"), "other bytes");
    const ib = await xxh("other bytes");
    await new LocalCache(root).storeFile(path.join(root, "b"), ib);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(ro.pathOf(ib), old, old);
    expect((await ro.verifyId(ib)).status).toBe("ok");
    expect(existsSync(path.join(root, ".pipe/cache/verified"))).toBe(false);
    await expect(ro.storeFile(path.join(root, "a"), id)).rejects.toThrow(/read-only/);
    await expect(ro.putBytes(id, "x")).rejects.toThrow(/read-only/);
    await expect(ro.delete(id)).rejects.toThrow(/read-only/);
    expect(readFileSync(p, "utf8")).toBe("bad bytes!");
  });

  it("verifies md5-named objects with md5", async () => {
    const root = makeProject({ "h": "hello\n" });
    const store = new LocalCache(root);
    const id = "b1946ac92492d2347c6235b4d2611184";
    await store.storeFile(path.join(root, "h"), id);
    expect((await new LocalCache(root).verifyId(id)).status).toBe("ok");
  });

  it("accepts an md5 name computed DVC 2's way (CRLF normalised) instead of calling it corrupt", async () => {
    const root = makeProject({ "t.txt": "a\r\nb\r\n" });
    const store = new LocalCache(root);
    const legacy = await defaultDigester.bytes("a\nb\n", "md5");
    expect(legacy).not.toBe(await defaultDigester.file(path.join(root, "t.txt"), "md5"));
    await store.storeFile(path.join(root, "t.txt"), legacy, { verify: true });
    expect((await new LocalCache(root).verifyId(legacy)).status).toBe("ok");
  });

  it("refuses object ids that are not hashes (a hand-edited lock cannot escape the cache)", async () => {
    const root = makeProject({ "a": "x" });
    const store = new LocalCache(root);
    expect(() => store.pathOf("../../etc/passwd")).toThrow();
    expect(await store.hasId("../../a")).toBe(false);
    expect((await store.storeFile(path.join(root, "a"), "../x")).ok).toBe(false);
  });

  it("lists objects sorted with sizes, reports temp files, and deletes", async () => {
    const root = makeProject({ "a": "aaa", "b": "bbbbb" });
    const store = new LocalCache(root);
    const ia = await xxh("aaa");
    const ib = await xxh("bbbbb");
    await store.storeFile(path.join(root, "a"), ia);
    await store.storeFile(path.join(root, "b"), ib);
    writeFileSync(path.join(root, ".pipe/cache", ia.slice(0, 2), ".x.pipe-tmp-1-aa"), "partial");
    const l = await store.listing();
    expect(l.objects.map((o) => o.id)).toEqual([ia, ib].sort());
    expect(l.objects.find((o) => o.id === ib)!.size).toBe(5);
    expect(l.temps).toHaveLength(1);
    await store.delete(ia);
    expect(await store.hasId(ia)).toBe(false);
    expect((await store.listing()).objects.map((o) => o.id)).toEqual([ib]);
  });

  it("lists nothing when there is no cache yet", async () => {
    const root = makeProject();
    expect(await new LocalCache(root).listing()).toEqual({ objects: [], temps: [] });
  });
});

describe("safeRemove and ensureDirInside", () => {
  it("removes files, directories (with read-only files) and symlinks inside the root", async () => {
    const root = makeProject({ "f.txt": "x", "d/a/b.txt": "y" });
    chmodSync(path.join(root, "d/a/b.txt"), 0o444);
    expect((await safeRemove(root, "f.txt")).ok).toBe(true);
    expect((await safeRemove(root, "d")).ok).toBe(true);
    expect(existsSync(path.join(root, "f.txt"))).toBe(false);
    expect(existsSync(path.join(root, "d"))).toBe(false);
    expect((await safeRemove(root, "never-existed")).ok).toBe(true);
    expect((await safeRemove(root, "no/such/dir/file")).ok).toBe(true);
  });

  it("refuses paths outside the root and the root itself", async () => {
    const outside = outsideDir();
    writeFileSync(path.join(outside, "precious"), "keep me");
    const root = makeProject({ "x": "1" });
    const rel = path.relative(root, path.join(outside, "precious"));
    const r = await safeRemove(root, rel);
    expect(r.ok).toBe(false);
    expect((await safeRemove(root, "")).ok).toBe(false);
    expect((await safeRemove(root, ".")).ok).toBe(false);
    expect((await safeRemove(root, "sub/../..")).ok).toBe(false);
    expect(readFileSync(path.join(outside, "precious"), "utf8")).toBe("keep me");
  });

  it("never follows a symlinked directory out of the root, but unlinks a symlink itself", async () => {
    const outside = outsideDir();
    mkdirSync(path.join(outside, "data"));
    writeFileSync(path.join(outside, "data/precious"), "keep me");
    const root = makeProject();
    symlinkSync(path.join(outside, "data"), path.join(root, "link"));
    const r = await safeRemove(root, "link/precious");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toContain("outside the project");
    expect(existsSync(path.join(outside, "data/precious"))).toBe(true);
    // Removing the link removes the link only.
    expect((await safeRemove(root, "link")).ok).toBe(true);
    expect(existsSync(path.join(root, "link"))).toBe(false);
    expect(readFileSync(path.join(outside, "data/precious"), "utf8")).toBe("keep me");
  });

  it("creates directories inside the root but not through a symlink that leaves it", async () => {
    const outside = outsideDir();
    const root = makeProject();
    symlinkSync(outside, path.join(root, "ext"));
    expect((await ensureDirInside(root, "a/b/c")).ok).toBe(true);
    expect(statSync(path.join(root, "a/b/c")).isDirectory()).toBe(true);
    const r = await ensureDirInside(root, "ext/new");
    expect(r.ok).toBe(false);
    expect(existsSync(path.join(outside, "new"))).toBe(false);
    expect((await ensureDirInside(root, "../escape")).ok).toBe(false);
  });

  it("atomicWrite replaces content in one step and leaves no temp file", async () => {
    const root = makeProject({ "f": "old" });
    await atomicWrite(path.join(root, "f"), "new", 0o644);
    expect(readFileSync(path.join(root, "f"), "utf8")).toBe("new");
    expect(readdirSync(root)).toEqual(["f"]);
  });
});

describe("link strategies", () => {
  it("parses comma lists and rejects unknown types", () => {
    const d = parseLinkTypes(undefined);
    expect(d.ok && d.value).toEqual(["reflink", "copy"]);
    const h = parseLinkTypes("hardlink, copy");
    expect(h.ok && h.value).toEqual(["hardlink", "copy"]);
    expect(parseLinkTypes(["symlink"]).ok).toBe(true);
    expect(parseLinkTypes("softlink").ok).toBe(false);
    expect(parseLinkTypes("").ok).toBe(false);
  });

  async function storeOne(content: string): Promise<{ root: string; store: LocalCache; id: string }> {
    const root = makeProject({ "src": content });
    const store = new LocalCache(root);
    const id = await xxh(content);
    await store.storeFile(path.join(root, "src"), id);
    return { root, store, id };
  }

  it("reflink,copy gives a writable independent copy (reflink falls back to copy where unsupported)", async () => {
    const { root, store, id } = await storeOne("payload");
    const r = await placeObject(root, { store, key: keyOfId(id) }, "out.txt", ["reflink", "copy"]);
    expect(r.ok).toBe(true);
    const st = lstatSync(path.join(root, "out.txt"));
    expect(st.isFile()).toBe(true);
    expect(st.ino).not.toBe(statSync(store.pathOf(id)).ino);
    expect(st.mode & 0o200).toBe(0o200);
    writeFileSync(path.join(root, "out.txt"), "changed");
    expect(readFileSync(store.pathOf(id), "utf8")).toBe("payload");
  });

  it("hardlink shares the inode and is read-only; unprotect makes a writable copy without touching the cache", async () => {
    const { root, store, id } = await storeOne("payload");
    const r = await placeObject(root, { store, key: keyOfId(id) }, "out.txt", ["hardlink"]);
    expect(r.ok && r.value).toBe("hardlink");
    expect(statSync(path.join(root, "out.txt")).ino).toBe(statSync(store.pathOf(id)).ino);
    expect(statSync(path.join(root, "out.txt")).mode & 0o222).toBe(0);
    const u = await unprotect(root, "out.txt");
    expect(u.ok && u.value).toBe(1);
    expect(statSync(path.join(root, "out.txt")).ino).not.toBe(statSync(store.pathOf(id)).ino);
    writeFileSync(path.join(root, "out.txt"), "changed");
    expect(readFileSync(store.pathOf(id), "utf8")).toBe("payload");
  });

  it("placing a hard link over a link of the same object leaves no temp file behind (rename of one inode onto itself is a no-op)", async () => {
    const { root, store, id } = await storeOne("payload");
    for (let i = 0; i < 3; i++) {
      const r = await placeObject(root, { store, key: keyOfId(id) }, "out.txt", ["hardlink"]);
      expect(r.ok && r.value).toBe("hardlink");
    }
    expect(readdirSync(root).filter((n) => n !== ".pipe").sort()).toEqual(["out.txt", "src"]);
    expect(statSync(store.pathOf(id)).nlink).toBe(2);
  });

  it("symlink points at the object; unprotect replaces it by a regular writable file", async () => {
    const { root, store, id } = await storeOne("payload");
    mkdirSync(path.join(root, "d"));
    const r = await placeObject(root, { store, key: keyOfId(id) }, "d/out.txt", ["symlink"]);
    expect(r.ok).toBe(true);
    expect(readlinkSync(path.join(root, "d/out.txt"))).toBe(store.pathOf(id));
    expect((await unprotect(root, "d")).ok).toBe(true);
    expect(lstatSync(path.join(root, "d/out.txt")).isSymbolicLink()).toBe(false);
    expect(readFileSync(path.join(root, "d/out.txt"), "utf8")).toBe("payload");
    expect((await unprotect(root, "d")).ok && (await unprotect(root, "d"))).toMatchObject({ value: 0 });
  });

  it("replaces a directory standing where the file goes", async () => {
    const { root, store, id } = await storeOne("payload");
    mkdirSync(path.join(root, "out/sub"), { recursive: true });
    writeFileSync(path.join(root, "out/sub/x"), "x");
    const r = await placeObject(root, { store, key: keyOfId(id) }, "out", ["copy"]);
    expect(r.ok).toBe(true);
    expect(readFileSync(path.join(root, "out"), "utf8")).toBe("payload");
  });

  it("a type that cannot work makes the next one in the list be tried, and all failing is an error", async () => {
    const { root, store, id } = await storeOne("payload");
    // reflink alone fails on file systems without copy-on-write; then the whole list fails.
    const only = await placeObject(root, { store, key: keyOfId(id) }, "a", ["reflink"]);
    const probe = await placeObject(root, { store, key: keyOfId(id) }, "b", ["reflink", "copy"]);
    expect(probe.ok).toBe(true);
    if (probe.ok && probe.value === "copy") {
      expect(only.ok).toBe(false);
      if (!only.ok) expect(only.errors[0]!.message).toContain("reflink");
      expect(existsSync(path.join(root, "a"))).toBe(false);
    }
    expect(readdirSync(root).filter((n) => n.includes("pipe-tmp"))).toEqual([]);
  });

  it("refuses to place outside the root", async () => {
    const { root, store, id } = await storeOne("payload");
    expect((await placeObject(root, { store, key: keyOfId(id) }, "../evil", ["copy"])).ok).toBe(false);
  });

  it("never writes through a symlinked directory that leaves the root", async () => {
    const { root, store, id } = await storeOne("payload");
    const outside = outsideDir();
    writeFileSync(path.join(outside, "k.txt"), "theirs");
    symlinkSync(outside, path.join(root, "ext"));
    for (const type of ["copy", "hardlink", "symlink"] as const) {
      const r = await placeObject(root, { store, key: keyOfId(id) }, "ext/k.txt", [type]);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors[0]!.message).toMatch(/^refusing to write 'ext\/k\.txt': its directory resolves to .*, outside the project$/);
    }
    expect(readdirSync(outside)).toEqual(["k.txt"]);
    expect(readFileSync(path.join(outside, "k.txt"), "utf8")).toBe("theirs");
    const u = await unprotect(root, "ext/k.txt");
    expect(u.ok).toBe(false);
  });
});
