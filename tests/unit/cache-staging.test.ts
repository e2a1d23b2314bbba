/**
 * Temp files of placements never land in the workspace (`src/cache/staging.ts`), and what a killed `pipe` left is
 * never hashed, recorded or kept: the hashing walk skips `pipe`'s temp names, checkout removes them from a directory
 * output without saving them, and a writer that takes the project lock empties the staging directory.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkoutOutput, storeOutput, type CacheContext } from "../../src/cache/checkout.js";
import { placeObject, unprotect } from "../../src/cache/link.js";
import { dropStaging, STAGING_DIR, sweepStaging } from "../../src/cache/staging.js";
import { ObjectStore } from "../../src/cache/store.js";
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
  it("stages every copy and link outside the output, and leaves nothing staged", async () => {
    const root = makeProject({ "d/a.txt": "a", "d/sub/b.txt": "b" });
    const cc: CacheContext = { root, store: new ObjectStore(root), linkTypes: ["reflink", "copy"] };
    const out = toOutputHash(await hashDir(root, "d"));
    expect((await storeOutput(cc, "d", out)).ok).toBe(true);
    // Watch the output directory (inotify reports every name created in it) while files are placed and unprotected.
    const seen: string[] = [];
    const watcher = watch(path.join(root, "d"), (_event, name) => seen.push(String(name)));
    for (const type of ["copy", "hardlink", "symlink"] as const) {
      expect((await placeObject(root, cc.store.pathOf(out.kind === "dir" ? out.entries[0]!.hash : out.hash), "d/a.txt", [type])).ok).toBe(true);
    }
    expect((await unprotect(root, "d")).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    watcher.close();
    expect(seen).toContain("a.txt");
    expect([...seen].filter((n) => n.includes("pipe-tmp"))).toEqual([]);
    // Only this process's (empty) subdirectory, which goes when its writer releases the project lock.
    const subdirs = readdirSync(path.join(root, STAGING_DIR));
    expect(subdirs).toHaveLength(1);
    expect(readdirSync(path.join(root, STAGING_DIR, subdirs[0]!))).toEqual([]);
    dropStaging(root);
    expect(readdirSync(path.join(root, STAGING_DIR))).toEqual([]);
  });

  it("checkout removes temp files a killed run left in a directory output, without storing them", async () => {
    const root = makeProject({ "d/a.txt": "a", "d/sub/b.txt": "b" });
    const cc: CacheContext = { root, store: new ObjectStore(root), linkTypes: ["copy"] };
    const out = toOutputHash(await hashDir(root, "d"));
    expect((await storeOutput(cc, "d", out)).ok).toBe(true);
    writeFileSync(path.join(root, "d/sub/.b.txt.pipe-tmp-4875-3d436801"), "partial");
    const r = await checkoutOutput(cc, "d", out.hash);
    expect(r.ok && r.value).toMatchObject({ status: "restored", placed: 0, removed: 1, saved: [] });
    expect(readdirSync(path.join(root, "d/sub"))).toEqual(["b.txt"]);
    const objects = (await cc.store.list()).objects.length;
    expect(objects).toBe(3);
  });
});

describe("the staging directory", () => {
  it("is emptied by the next writer that takes the project lock", async () => {
    const root = makeProject({ "pipe.yaml": "stages: {}\n" });
    mkdirSync(path.join(root, STAGING_DIR), { recursive: true });
    writeFileSync(path.join(root, STAGING_DIR, "4875-3d436801-0"), "partial");
    mkdirSync(path.join(root, STAGING_DIR, "odd"));
    const lock = await lockProject(root, "pipe test");
    expect(lock.ok).toBe(true);
    expect(readdirSync(path.join(root, STAGING_DIR))).toEqual([]);
    if (lock.ok) await lock.value.release();
    expect(await sweepStaging(root)).toBe(0);
  });
});

describe.runIf(requires("root", isRoot(), "run the tests as root (bash .ci/run does): they mount a tmpfs"))("an output on another file system", () => {
  it("is restored through temp files beside it (a rename from .pipe/ cannot cross), and none is left", async () => {
    const root = makeProject({ "d/a.txt": "a", "d/sub/b.txt": "b" });
    const cc: CacheContext = { root, store: new ObjectStore(root), linkTypes: ["reflink", "copy"] };
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
