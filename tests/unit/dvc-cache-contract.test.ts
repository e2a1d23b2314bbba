/**
 * DVC's local cache (`DvcCache`) passes the object-store contract as a read-only store of md5 objects, in DVC 3's
 * layout (`files/md5/<2>/<30>`) and in DVC 2's (`<2>/<30>`); and `cache.dir` is read from DVC's config.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cacheDirOf, dvcCacheDir, DvcCache } from "../../src/storage/dvc-cache.js";
import { objectStoreContract, type ContractStore } from "./object-store-contract.js";

function dvcCache(layout: 2 | 3): () => Promise<ContractStore> {
  return async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pipe-dvc-cache-"));
    const objPath = (id: string): string =>
      layout === 3 ? path.join(dir, "files/md5", id.slice(0, 2), id.slice(2)) : path.join(dir, id.slice(0, 2), id.slice(2));
    return {
      store: new DvcCache(dir),
      seed: async (key, bytes) => {
        const p = objPath(key.id);
        mkdirSync(path.dirname(p), { recursive: true });
        rmSync(p, { force: true });
        writeFileSync(p, bytes);
        chmodSync(p, 0o444);
      },
      // DVC writes objects under a temp name (`<name>.<uuid>.tmp`) and renames them.
      seedGarbage: async () => {
        const shard = layout === 3 ? path.join(dir, "files/md5/ab") : path.join(dir, "ab");
        mkdirSync(shard, { recursive: true });
        writeFileSync(path.join(shard, "cdef0123456789abcdef0123456789.Yx3kq2.tmp"), "half");
      },
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  };
}

objectStoreContract("DVC cache, DVC 3 layout", dvcCache(3), { algos: ["md5"], readOnly: true });
objectStoreContract("DVC cache, DVC 2 layout", dvcCache(2), { algos: ["md5"], readOnly: true });

describe("DVC cache location", () => {
  it("reads cache.dir from the [cache] section only, quotes removed", () => {
    expect(cacheDirOf("[core]\n  dir = no\n[cache]\n  dir = ../c\n  type = symlink\n")).toBe("../c");
    expect(cacheDirOf("['remote \"x\"']\n url = s3://b\n[cache]\ndir='/abs/cache'\n")).toBe("/abs/cache");
    expect(cacheDirOf("[core]\n remote = x\n")).toBeUndefined();
  });

  it("config.local wins over config; relative to .dvc/; .dvc/cache by default", () => {
    const root = mkdtempSync(path.join(tmpdir(), "pipe-dvc-root-"));
    try {
      mkdirSync(path.join(root, ".dvc"));
      expect(dvcCacheDir(root)).toBe(path.join(root, ".dvc/cache"));
      writeFileSync(path.join(root, ".dvc/config"), "[cache]\n dir = ../shared\n");
      expect(dvcCacheDir(root)).toBe(path.join(root, "shared"));
      writeFileSync(path.join(root, ".dvc/config.local"), "[cache]\n dir = /mnt/cache\n");
      expect(dvcCacheDir(root)).toBe("/mnt/cache");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
