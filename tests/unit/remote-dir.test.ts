/** The directory remote against the remote contract, plus what only a directory has (paths and file:// URLs). */
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { dirRootOf, openDir } from "../../src/remotes/dir.js";
import { kindOf, openRemote } from "../../src/remotes/index.js";
import { remoteContract } from "./remote-contract.js";
import { objectStoreContract } from "./object-store-contract.js";
import { keyPath } from "../../src/storage/object-store.js";

async function walk(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(path.join(root, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(root, r)));
    else out.push(r);
  }
  return out;
}

remoteContract("dir", async () => {
  const root = await mkdtemp(path.join(tmpdir(), "pipe-remote-dir-"));
  const opened = openDir({ name: "shared", url: pathToFileURL(path.join(root, "remote")).href, options: {}, source: "test" }, { root, env: {} });
  if (!opened.ok) throw new Error(opened.errors[0]!.message);
  const base = path.join(root, "remote");
  return {
    store: opened.value,
    async writeRaw(rel, data) {
      await mkdir(path.dirname(path.join(base, rel)), { recursive: true });
      await writeFile(path.join(base, rel), data);
    },
    listRaw: () => walk(base),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe("directory remotes", () => {
  it("resolve relative paths against the project root, and file:// URLs as paths", () => {
    const rel = dirRootOf("../shared/cache", "/srv/project");
    expect(rel.ok && rel.value).toBe("/srv/shared/cache");
    const url = dirRootOf("file:///mnt/nfs/cache", "/srv/project");
    expect(url.ok && url.value).toBe("/mnt/nfs/cache");
  });

  it("are what a path, file:// and no scheme open; Drive and Azure are clear errors naming the supported kinds", async () => {
    expect(kindOf("/mnt/x")).toEqual({ kind: "dir" });
    expect(kindOf("file:///mnt/x")).toEqual({ kind: "dir" });
    const drive = await openRemote({ name: "gd", url: "gdrive://folder-id", options: {}, source: ".dvc/config" }, { root: "/tmp", env: {} });
    expect(drive.ok).toBe(false);
    if (!drive.ok) expect(drive.errors[0]!.message).toMatch(/Google Drive remotes are not supported.*s3:\/\/.*rclone copy/);
    const az = await openRemote({ name: "az", url: "azure://container/p", options: {}, source: ".dvc/config" }, { root: "/tmp", env: {} });
    expect(!az.ok && az.errors[0]!.message).toMatch(/Azure remotes are not supported/);
  });
});

objectStoreContract("directory remote", async () => {
  const root = await mkdtemp(path.join(tmpdir(), "pipe-remote-dir-"));
  const opened = openDir({ name: "shared", url: path.join(root, "remote"), options: {}, source: "test" }, { root, env: {} });
  if (!opened.ok) throw new Error(opened.errors[0]!.message);
  const base = path.join(root, "remote");
  const put = async (rel: string, data: Uint8Array): Promise<void> => {
    await mkdir(path.dirname(path.join(base, rel)), { recursive: true });
    await writeFile(path.join(base, rel), data);
  };
  return {
    store: opened.value,
    seed: (key, bytes) => put(keyPath(key), bytes),
    seedGarbage: () => put("files/xxh64/ab/.cdef0123456789ab.pipe-tmp-1-0", Buffer.from("half")),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
