/**
 * Temp files of placements are made beside their destination only in directories written to the writer's restore
 * journal first (`src/storage/staging.ts`), and what a killed `pipe` left is never hashed, recorded or kept: the hashing
 * walk skips `pipe`'s temp names, checkout removes them from a directory output without saving them, and a writer
 * that takes the project lock removes them from exactly the directories the journals of dead writers list.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkoutOutput, storeOutput, type CacheContext } from "../../src/storage/checkout.js";
import { placeObject, unprotect } from "../../src/storage/link.js";
import { dropJournal, JOURNAL_DIR, LEGACY_STAGING_DIR, sweepJournals } from "../../src/storage/staging.js";
import { keyOfId, LocalCache } from "../../src/storage/store.js";
import { lockProject } from "../../src/exec/session.js";
import { Hasher, type HashedDir } from "../../src/hash/hasher.js";
import { isPipeTempName } from "../../src/hash/ignore.js";
import { toOutputHash } from "../../src/exec/record.js";
import { makeProject } from "../helpers/project.js";
import { isRoot, requires } from "../helpers/require.js";

async function hashDir(root: string, rel: string): Promise<HashedDir> {
  const r = await new Hasher({ root }).hashPath(path.join(root, rel), "xxh64");
  if (r.kind !== "dir") throw new Error(`expected a directory, got ${JSON.stringify(r)}`);
  return r;
}

async function dirHash(root: string, rel: string): Promise<{ hash: string; nfiles: number }> {
  const r = await hashDir(root, rel);
  return { hash: r.hash, nfiles: r.manifest.entries.length };
}

describe("pipe's temp names", () => {
  it("are recognised exactly: a name that merely contains the mark is a user's file", () => {
    expect(isPipeTempName(".f00083.txt.pipe-tmp-4875-3d436801")).toBe(true);
    expect(isPipeTempName(".pipe.lock.pipe-tmp-1-0123abcd")).toBe(true);
    expect(isPipeTempName("f.pipe-tmp-4875-3d436801")).toBe(false);
    expect(isPipeTempName(".notes.pipe-tmp-draft")).toBe(false);
    expect(isPipeTempName(".x.pipe-tmp-12-3D436801")).toBe(false);
  });

  it("are left out of a directory's hash; other dot files are not", async () => {
    const root = makeProject({ "d/a.txt": "a", "d/sub/b.txt": "b" });
    const clean = await dirHash(root, "d");
    writeFileSync(path.join(root, "d/.a.txt.pipe-tmp-4875-3d436801"), "partial");
    writeFileSync(path.join(root, "d/sub/.b.txt.pipe-tmp-1-00000000"), "partial");
    expect(await dirHash(root, "d")).toEqual(clean);
    writeFileSync(path.join(root, "d/.notes.pipe-tmp-draft"), "mine");
    expect((await dirHash(root, "d")).nfiles).toBe(3);
  });
});

describe("placing files from the cache", () => {
  it("journals every directory before making temp files in it, and leaves no temp file nor journal", async () => {
    const root = makeProject({ "d/a.txt": "a", "d/sub/b.txt": "b" });
    const cc: CacheContext = { root, store: new LocalCache(root), linkTypes: ["reflink", "copy"] };
    const out = toOutputHash(await hashDir(root, "d"));
    expect((await storeOutput(cc, "d", out)).ok).toBe(true);
    // Watch the output directory (inotify reports every name created in it) while files are placed and unprotected:
    // when the first temp name appears, the journal must already list the directory.
    const journalled = (): string[] =>
      readdirSync(path.join(root, JOURNAL_DIR)).flatMap((n) =>
        readFileSync(path.join(root, JOURNAL_DIR, n), "utf8")
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l) as string),
      );
    const seen: { name: string; listed: boolean }[] = [];
    const watcher = watch(path.join(root, "d"), (_event, name) => {
      if (String(name).includes("pipe-tmp")) seen.push({ name: String(name), listed: existsSync(path.join(root, JOURNAL_DIR)) && journalled().includes("d") });
    });
    for (const type of ["copy", "hardlink", "symlink"] as const) {
      expect((await placeObject(root, { store: cc.store, key: keyOfId(out.kind === "dir" ? out.entries[0]!.hash : out.hash) }, "d/a.txt", [type])).ok).toBe(true);
    }
    expect((await unprotect(root, "d")).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    watcher.close();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((s) => !s.listed)).toEqual([]);
    expect(readdirSync(path.join(root, "d")).filter((n) => n.includes("pipe-tmp"))).toEqual([]);
    expect(journalled()).toContain("d");
    // The journal goes when its writer releases the project lock.
    dropJournal(root);
    expect(readdirSync(path.join(root, JOURNAL_DIR))).toEqual([]);
  });

  it("checkout removes temp files a killed run left in a directory output, without storing them", async () => {
    const root = makeProject({ "d/a.txt": "a", "d/sub/b.txt": "b" });
    const cc: CacheContext = { root, store: new LocalCache(root), linkTypes: ["copy"] };
    const out = toOutputHash(await hashDir(root, "d"));
    expect((await storeOutput(cc, "d", out)).ok).toBe(true);
    writeFileSync(path.join(root, "d/sub/.b.txt.pipe-tmp-4875-3d436801"), "partial");
    const r = await checkoutOutput(cc, "d", out.hash);
    expect(r.ok && r.value).toMatchObject({ status: "restored", placed: 0, removed: 1, saved: [] });
    expect(readdirSync(path.join(root, "d/sub"))).toEqual(["b.txt"]);
    const objects = (await cc.store.listing()).objects.length;
    expect(objects).toBe(3);
  });
});

describe("the restore journals", () => {
  it("lead the next writer that takes the project lock to the temp files a killed one left, and no further", async () => {
    const root = makeProject({ "pipe.yaml": "stages: {}\n", "d/a.txt": "a", "d/sub/b.txt": "b", "e/c.txt": "c" });
    mkdirSync(path.join(root, JOURNAL_DIR), { recursive: true });
    // A journal of a dead writer (its last line torn), and what an earlier version left in its staging directory.
    writeFileSync(path.join(root, JOURNAL_DIR, "4875-3d436801"), ['"d"', '"d/sub"', '"../outside"', '"gone"', '"d/su'].join("\n"));
    mkdirSync(path.join(root, LEGACY_STAGING_DIR, "4875-3d436801"), { recursive: true });
    writeFileSync(path.join(root, LEGACY_STAGING_DIR, "4875-3d436801", "0"), "partial");
    writeFileSync(path.join(root, "d/.a.txt.pipe-tmp-4875-3d436801"), "partial");
    writeFileSync(path.join(root, "d/sub/.b.txt.pipe-tmp-4875-0000000a"), "partial");
    // Not pipe's temp names, or not in a listed directory: left alone.
    writeFileSync(path.join(root, "d/.notes.pipe-tmp-draft"), "mine");
    writeFileSync(path.join(root, "e/.c.txt.pipe-tmp-4875-3d436801"), "not listed");
    const lock = await lockProject(root, "pipe test");
    expect(lock.ok).toBe(true);
    expect(readdirSync(path.join(root, JOURNAL_DIR))).toEqual([]);
    expect(existsSync(path.join(root, LEGACY_STAGING_DIR))).toBe(false);
    expect(readdirSync(path.join(root, "d")).sort()).toEqual([".notes.pipe-tmp-draft", "a.txt", "sub"]);
    expect(readdirSync(path.join(root, "d/sub"))).toEqual(["b.txt"]);
    expect(readdirSync(path.join(root, "e")).sort()).toEqual([".c.txt.pipe-tmp-4875-3d436801", "c.txt"]);
    if (lock.ok) await lock.value.release();
    expect(await sweepJournals(root)).toBe(0);
  });
});

describe.runIf(requires("root", isRoot(), "run the tests as root (bash .ci/run does): they mount a tmpfs"))("an output on another file system", () => {
  it("is restored through temp files beside it, and none is left", async () => {
    const root = makeProject({ "d/a.txt": "a", "d/sub/b.txt": "b" });
    const cc: CacheContext = { root, store: new LocalCache(root), linkTypes: ["reflink", "copy"] };
    const out = toOutputHash(await hashDir(root, "d"));
    expect((await storeOutput(cc, "d", out)).ok).toBe(true);
    rmSync(path.join(root, "d"), { recursive: true });
    mkdirSync(path.join(root, "d"));
    execFileSync("mount", ["-t", "tmpfs", "tmpfs", path.join(root, "d")]);
    try {
      const r = await checkoutOutput(cc, "d", out.hash);
      expect(r.ok && r.value.status).toBe("restored");
      expect(readFileSync(path.join(root, "d/sub/b.txt"), "utf8")).toBe("b");
      expect(readdirSync(path.join(root, "d")).sort()).toEqual(["a.txt", "sub"]);
      expect(readdirSync(path.join(root, "d/sub"))).toEqual(["b.txt"]);
      expect((await hashDir(root, "d")).hash).toBe(out.hash);
    } finally {
      execFileSync("umount", [path.join(root, "d")]);
    }
  });
});
