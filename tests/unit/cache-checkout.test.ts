import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkoutOutput, isCached, readManifest, storeOutput, type CacheContext, type OutputHash } from "../../src/storage/checkout.js";
import { defaultDigester } from "../../src/storage/digest.js";
import type { LinkType } from "../../src/storage/link.js";
import { serialiseManifest, type ManifestEntry } from "../../src/storage/manifest.js";
import { LocalCache } from "../../src/storage/store.js";
import { Hasher } from "../../src/hash/hasher.js";
import { makeProject, treeSnapshot } from "../helpers/project.js";

/** Paths under `dir` (symlinks not followed, so a link loop is listed, not read) with file contents. */
function treeSnapshotLinks(dir: string, rel = "", out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel === "" ? name : `${rel}/${name}`;
    const st = lstatSync(path.join(dir, r));
    if (st.isDirectory()) treeSnapshotLinks(dir, r, out);
    else out.set(r, st.isFile() ? readFileSync(path.join(dir, r), "utf8") : "link");
  }
  return out;
}

function ctx(root: string, linkTypes: LinkType[] = ["reflink", "copy"]): CacheContext {
  return { root, store: new LocalCache(root), linkTypes };
}

/** Hashes a workspace output the way src/hash describes it (file hash, or manifest + `.dir`). */
async function hashOutput(root: string, rel: string): Promise<OutputHash> {
  const abs = path.join(root, rel);
  if (!statSync(abs).isDirectory()) {
    return { kind: "file", hash: await defaultDigester.file(abs, "xxh64"), size: statSync(abs).size };
  }
  const entries: ManifestEntry[] = [];
  const walk = async (d: string, prefix: string): Promise<void> => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      const r = prefix ? `${prefix}/${n}` : n;
      if (statSync(p).isDirectory()) await walk(p, r);
      else entries.push({ relpath: r, hash: await defaultDigester.file(p, "xxh64"), size: statSync(p).size });
    }
  };
  await walk(abs, "");
  const text = serialiseManifest(entries);
  return { kind: "dir", hash: (await defaultDigester.bytes(text, "xxh64")) + ".dir", entries };
}

async function commit(cc: CacheContext, rel: string): Promise<OutputHash> {
  const h = await hashOutput(cc.root, rel);
  const r = await storeOutput(cc, rel, h);
  expect(r.ok).toBe(true);
  return h;
}

describe("file outputs", () => {
  it("restores a deleted file and leaves a current one alone", async () => {
    const root = makeProject({ "model.pkl": "weights v1" });
    const cc = ctx(root);
    const h = await commit(cc, "model.pkl");
    const ino = statSync(path.join(root, "model.pkl")).ino;
    const same = await checkoutOutput(cc, "model.pkl", h.hash);
    expect(same.ok && same.value.status).toBe("unchanged");
    expect(statSync(path.join(root, "model.pkl")).ino).toBe(ino);
    rmSync(path.join(root, "model.pkl"));
    const r = await checkoutOutput(cc, "model.pkl", h.hash);
    expect(r.ok && r.value).toMatchObject({ status: "restored", placed: 1 });
    expect(readFileSync(path.join(root, "model.pkl"), "utf8")).toBe("weights v1");
  });

  it("creates missing parent directories", async () => {
    const root = makeProject({ "a/b/out.txt": "deep" });
    const cc = ctx(root);
    const h = await commit(cc, "a/b/out.txt");
    rmSync(path.join(root, "a"), { recursive: true });
    const r = await checkoutOutput(cc, "a/b/out.txt", h.hash);
    expect(r.ok).toBe(true);
    expect(readFileSync(path.join(root, "a/b/out.txt"), "utf8")).toBe("deep");
  });

  it("saves a modified workspace file to the cache before replacing it", async () => {
    const root = makeProject({ "m.txt": "v1" });
    const cc = ctx(root);
    const h = await commit(cc, "m.txt");
    writeFileSync(path.join(root, "m.txt"), "hand edited");
    const r = await checkoutOutput(cc, "m.txt", h.hash);
    expect(r.ok).toBe(true);
    if (r.ok && r.value.status === "restored") {
      expect(r.value.saved).toEqual([{ path: "m.txt", id: await defaultDigester.bytes("hand edited", "xxh64") }]);
    } else expect.fail("expected a restore");
    expect(readFileSync(path.join(root, "m.txt"), "utf8")).toBe("v1");
    const saved = await defaultDigester.bytes("hand edited", "xxh64");
    expect(readFileSync(cc.store.pathOf(saved), "utf8")).toBe("hand edited");
  });

  it("a missing object leaves the workspace untouched", async () => {
    const root = makeProject({ "m.txt": "current" });
    const cc = ctx(root);
    const r = await checkoutOutput(cc, "m.txt", "0123456789abcdef");
    expect(r.ok && r.value).toEqual({ status: "missing", ids: ["0123456789abcdef"] });
    expect(readFileSync(path.join(root, "m.txt"), "utf8")).toBe("current");
  });

  it("a corrupt object is reported, removed from the cache and never materialised", async () => {
    const root = makeProject({ "m.txt": "good" });
    const cc = ctx(root);
    const h = await commit(cc, "m.txt");
    rmSync(path.join(root, "m.txt"));
    const obj = cc.store.pathOf(h.hash);
    chmodSync(obj, 0o644);
    writeFileSync(obj, "rotten");
    const r = await checkoutOutput(ctx(root), "m.txt", h.hash);
    expect(r.ok && r.value.status).toBe("corrupt");
    expect(existsSync(path.join(root, "m.txt"))).toBe(false);
    expect(existsSync(obj)).toBe(false);
  });

  it("with hardlink first, committing turns the workspace file into a link to the object", async () => {
    const root = makeProject({ "big.bin": "lots of data" });
    const cc = ctx(root, ["hardlink", "copy"]);
    const h = await commit(cc, "big.bin");
    expect(statSync(path.join(root, "big.bin")).ino).toBe(statSync(cc.store.pathOf(h.hash)).ino);
  });

  it("with symlink, checkout of a current link is a no-op", async () => {
    const root = makeProject({ "o.txt": "x" });
    const cc = ctx(root, ["symlink"]);
    const h = await commit(cc, "o.txt");
    expect(lstatSync(path.join(root, "o.txt")).isSymbolicLink()).toBe(true);
    const r = await checkoutOutput(cc, "o.txt", h.hash);
    expect(r.ok && r.value.status).toBe("unchanged");
  });
});

describe("directory outputs", () => {
  const files = { "data/a.csv": "1,2\n", "data/sub/b.csv": "3,4\n", "data/sub/deeper/c.csv": "5\n" };

  it("stores every file and the manifest; the manifest is stored last and verifies", async () => {
    const root = makeProject(files);
    const cc = ctx(root);
    const h = await commit(cc, "data");
    expect(h.kind).toBe("dir");
    expect(await isCached(cc.store, h.hash)).toBe(true);
    const m = await readManifest(new LocalCache(root), h.hash);
    expect(m.status === "ok" && m.entries.map((e) => e.relpath)).toEqual(["a.csv", "sub/b.csv", "sub/deeper/c.csv"]);
    // One object per distinct content plus the manifest.
    expect((await cc.store.listing()).objects).toHaveLength(4);
  });

  it("isCached names a corrupt manifest; a read-only store keeps it (bytes wrong, or not a manifest at all)", async () => {
    const root = makeProject(files);
    const cc = ctx(root);
    const h = await commit(cc, "data");
    const p = cc.store.pathOf(h.hash);
    for (const damage of ["[{\"relpath\": \"a.csv\"}]", "not json"]) {
      chmodSync(p, 0o644);
      writeFileSync(p, damage);
      const heard: string[] = [];
      expect(await isCached(new LocalCache(root, undefined, { readOnly: true }), h.hash, (id) => heard.push(id))).toBe(false);
      expect(heard).toEqual([h.hash]);
      expect(readFileSync(p, "utf8")).toBe(damage);
    }
    // A manifest whose bytes match its name but which does not parse (only by hand) is kept by a read-only store too.
    const junk = "not a manifest";
    const junkId = (await defaultDigester.bytes(junk, "xxh64")) + ".dir";
    await cc.store.putBytes(junkId, junk);
    const heard: string[] = [];
    expect(await isCached(new LocalCache(root, undefined, { readOnly: true }), junkId, (id) => heard.push(id))).toBe(false);
    expect(heard).toEqual([junkId]);
    expect(await cc.store.hasId(junkId)).toBe(true);
    // A store that may write removes both.
    expect(await isCached(new LocalCache(root), junkId)).toBe(false);
    expect(await cc.store.hasId(junkId)).toBe(false);
    expect(await isCached(new LocalCache(root), h.hash)).toBe(false);
    expect(existsSync(p)).toBe(false);
  });

  it("with an ignore test, what it leaves out stays untouched and uncounted, unless the manifest has that path", async () => {
    const root = makeProject({ ...files, ".pipe/config.yaml": "", "data/old.log": "recorded before the rule" });
    const cc = ctx(root);
    const h = await commit(cc, "data");
    writeFileSync(path.join(root, ".dvcignore"), "*.log\n");
    const withRules: CacheContext = { ...cc, ignoreTest: (d) => new Hasher({ root }).ignoreTest(d) };
    writeFileSync(path.join(root, "data/new.log"), "ignored");
    mkdirSync(path.join(root, "data/sub/.git"));
    writeFileSync(path.join(root, "data/sub/.git/HEAD"), "ref");
    const same = await checkoutOutput(withRules, "data", h.hash);
    expect(same.ok && same.value).toEqual({ status: "unchanged", placed: 0, removed: 0, saved: [] });
    // The manifest has old.log: the rule does not stop checkout restoring it.
    writeFileSync(path.join(root, "data/old.log"), "edited");
    const r = await checkoutOutput(withRules, "data", h.hash);
    expect(r.ok && r.value).toMatchObject({ status: "restored", placed: 1, removed: 0, saved: [{ path: "data/old.log" }] });
    expect(readFileSync(path.join(root, "data/old.log"), "utf8")).toBe("recorded before the rule");
    expect(readFileSync(path.join(root, "data/new.log"), "utf8")).toBe("ignored");
    expect(readFileSync(path.join(root, "data/sub/.git/HEAD"), "utf8")).toBe("ref");
    // Without the test both go (saved first).
    const plain = await checkoutOutput(cc, "data", h.hash);
    expect(plain.ok && plain.value).toMatchObject({ status: "restored", removed: 2 });
    expect(existsSync(path.join(root, "data/new.log"))).toBe(false);
    expect(existsSync(path.join(root, "data/sub/.git"))).toBe(false);
  });

  it("rules that cannot be read stop the checkout of that output before anything is touched", async () => {
    const root = makeProject({ ...files, ".pipe/config.yaml": "" });
    const cc = ctx(root);
    const h = await commit(cc, "data");
    writeFileSync(path.join(root, "data/extra.txt"), "stray");
    rmSync(path.join(root, "data/a.csv"));
    // A symlink loop cannot be read, even by root.
    symlinkSync(".dvcignore", path.join(root, "data/sub/.dvcignore"));
    const snap = treeSnapshotLinks(path.join(root, "data"));
    const r = await checkoutOutput({ ...cc, ignoreTest: (d) => new Hasher({ root }).ignoreTest(d) }, "data", h.hash);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toBe("cannot check out 'data': cannot read the ignore rules in 'data/sub': ELOOP");
    expect(treeSnapshotLinks(path.join(root, "data"))).toEqual(snap);
  });

  it("restores a deleted directory exactly", async () => {
    const root = makeProject(files);
    const cc = ctx(root);
    const h = await commit(cc, "data");
    const before = treeSnapshot(path.join(root, "data"));
    rmSync(path.join(root, "data"), { recursive: true });
    const r = await checkoutOutput(cc, "data", h.hash);
    expect(r.ok && r.value).toMatchObject({ status: "restored", placed: 3, removed: 0 });
    expect(treeSnapshot(path.join(root, "data"))).toEqual(before);
  });

  it("makes the directory exactly the manifest: extra files removed (saved first), modified replaced, empty dirs pruned", async () => {
    const root = makeProject(files);
    const cc = ctx(root);
    const h = await commit(cc, "data");
    const before = treeSnapshot(path.join(root, "data"));
    writeFileSync(path.join(root, "data/extra.txt"), "stray");
    mkdirSync(path.join(root, "data/newdir/inner"), { recursive: true });
    writeFileSync(path.join(root, "data/newdir/inner/f"), "stray2");
    writeFileSync(path.join(root, "data/sub/b.csv"), "edited");
    rmSync(path.join(root, "data/sub/deeper/c.csv"));
    const r = await checkoutOutput(cc, "data", h.hash);
    expect(r.ok).toBe(true);
    if (!r.ok || r.value.status !== "restored") return expect.fail("expected restored");
    expect(r.value.placed).toBe(2);
    expect(r.value.removed).toBe(2);
    expect(r.value.saved.map((s) => s.path)).toEqual(["data/extra.txt", "data/newdir/inner/f", "data/sub/b.csv"]);
    expect(treeSnapshot(path.join(root, "data"))).toEqual(before);
    expect(existsSync(path.join(root, "data/newdir"))).toBe(false);
    expect(readFileSync(cc.store.pathOf(await defaultDigester.bytes("stray", "xxh64")), "utf8")).toBe("stray");
  });

  it("an unchanged directory is left alone", async () => {
    const root = makeProject(files);
    const cc = ctx(root);
    const h = await commit(cc, "data");
    const r = await checkoutOutput(cc, "data", h.hash);
    expect(r.ok && r.value).toMatchObject({ status: "unchanged", placed: 0, removed: 0 });
  });

  it("a missing file object stops the checkout before anything is touched", async () => {
    const root = makeProject(files);
    const cc = ctx(root);
    const h = await commit(cc, "data");
    if (h.kind !== "dir") return expect.fail("dir expected");
    writeFileSync(path.join(root, "data/extra.txt"), "keep me for now");
    rmSync(path.join(root, "data/a.csv"));
    const aId = h.entries.find((e) => e.relpath === "a.csv")!.hash;
    await cc.store.delete(aId);
    const snap = treeSnapshot(path.join(root, "data"));
    const r = await checkoutOutput(ctx(root), "data", h.hash);
    expect(r.ok && r.value).toEqual({ status: "missing", ids: [aId] });
    expect(treeSnapshot(path.join(root, "data"))).toEqual(snap);
    expect(await isCached(cc.store, h.hash)).toBe(false);
  });

  it("a file standing where the directory goes is saved and replaced", async () => {
    const root = makeProject(files);
    const cc = ctx(root);
    const h = await commit(cc, "data");
    rmSync(path.join(root, "data"), { recursive: true });
    writeFileSync(path.join(root, "data"), "i am a file");
    const r = await checkoutOutput(cc, "data", h.hash);
    expect(r.ok && r.value.status).toBe("restored");
    expect(readFileSync(path.join(root, "data/sub/b.csv"), "utf8")).toBe("3,4\n");
    expect(await cc.store.hasId(await defaultDigester.bytes("i am a file", "xxh64"))).toBe(true);
  });

  it("an empty directory output round-trips", async () => {
    const root = makeProject();
    mkdirSync(path.join(root, "empty"));
    const cc = ctx(root);
    const h = await commit(cc, "empty");
    rmSync(path.join(root, "empty"), { recursive: true });
    const r = await checkoutOutput(cc, "empty", h.hash);
    expect(r.ok && r.value.status).toBe("restored");
    expect(readdirSync(path.join(root, "empty"))).toEqual([]);
  });

  it("refuses to store a manifest that does not hash to the directory's name", async () => {
    const root = makeProject(files);
    const cc = ctx(root);
    const h = await hashOutput(root, "data");
    if (h.kind !== "dir") return expect.fail("dir expected");
    const r = await storeOutput(cc, "data", { ...h, hash: "0000000000000000.dir" });
    expect(r.ok).toBe(false);
    expect(await cc.store.hasId("0000000000000000.dir")).toBe(false);
  });

  it("a symlinked subdirectory is replaced by a real one holding every file; the link's target is not touched", async () => {
    const outside = makeProject({ "k.txt": "outside\n" });
    for (const linkTypes of [["copy"], ["hardlink"], ["symlink"]] as LinkType[][]) {
      const root = makeProject({ "d/own.txt": "1\n" });
      symlinkSync(outside, path.join(root, "d/ext"));
      // Hashing follows the link (spec 3): the manifest holds ext/k.txt.
      const h = await hashOutput(root, "d");
      if (h.kind !== "dir") return expect.fail("dir expected");
      expect(h.entries.map((e) => e.relpath)).toEqual(["ext/k.txt", "own.txt"]);
      const cc = ctx(root, linkTypes);
      expect((await storeOutput(cc, "d", h)).ok).toBe(true);
      const r = await checkoutOutput(cc, "d", h.hash);
      if (!r.ok) return expect.fail(r.errors[0]!.message);
      expect(lstatSync(path.join(root, "d/ext")).isDirectory()).toBe(true);
      expect(readFileSync(path.join(root, "d/ext/k.txt"), "utf8")).toBe("outside\n");
      expect(await checkoutOutput(cc, "d", h.hash)).toMatchObject({ ok: true, value: { status: "unchanged" } });
      expect(readdirSync(outside)).toEqual(["k.txt"]);
      expect(statSync(path.join(outside, "k.txt"))).toMatchObject({ nlink: 1 });
      expect(readFileSync(path.join(outside, "k.txt"), "utf8")).toBe("outside\n");
    }
  });

  it("saving before a replace does not count a damaged object as a copy of the content", async () => {
    const root = makeProject({ "m.txt": "v1" });
    const cc = ctx(root);
    const h = await commit(cc, "m.txt");
    // The workspace holds other content, whose object name exists in the cache with damaged bytes.
    writeFileSync(path.join(root, "m.txt"), "hand edit");
    const editId = await defaultDigester.bytes("hand edit", "xxh64");
    mkdirSync(path.dirname(cc.store.pathOf(editId)), { recursive: true });
    writeFileSync(cc.store.pathOf(editId), "garbage!!");
    const r = await checkoutOutput(cc, "m.txt", h.hash);
    expect(r.ok && r.value.status).toBe("restored");
    expect(r.ok && r.value.status === "restored" && r.value.saved).toEqual([{ path: "m.txt", id: editId }]);
    expect(readFileSync(cc.store.pathOf(editId), "utf8")).toBe("hand edit");
  });

  it("hardlink mode links every file of the directory to its object", async () => {
    const root = makeProject(files);
    const cc = ctx(root, ["hardlink"]);
    const h = await commit(cc, "data");
    if (h.kind !== "dir") return expect.fail("dir expected");
    for (const e of h.entries) {
      expect(statSync(path.join(root, "data", e.relpath)).ino).toBe(statSync(cc.store.pathOf(e.hash)).ino);
    }
  });
});
