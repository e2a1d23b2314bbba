/**
 * Mounts for fault tests (root only: guard with `requires("root", isRoot(), ...)` from `require.ts`): a small tmpfs
 * to fill up, and a read-only bind mount of a directory onto itself. Every mount made in a test is undone after it,
 * even when the test fails, before the project directories are removed (vitest runs `afterEach` hooks in reverse
 * order of registration, and `project.ts`'s is registered first, by the import below).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import "./project.js";

const mounted: string[] = [];
const made: string[] = [];

afterEach(() => {
  while (mounted.length) {
    const d = mounted.pop()!;
    // A process still holding a file there would make a plain umount fail: detach it then (-l), never leave it.
    if (spawnSync("umount", [d]).status !== 0) spawnSync("umount", ["-l", d]);
  }
  while (made.length) rmSync(made.pop()!, { recursive: true, force: true });
});

/** A fresh directory holding a tmpfs of `size` (`2m`, `512k`), unmounted and removed after the test. */
export function tmpfsDir(size: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "pipe-fault-"));
  made.push(dir);
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  mounted.push(dir);
  return dir;
}

/** Makes `dir` read-only in place (a read-only bind mount of it onto itself), undone after the test. */
export function bindReadOnly(dir: string): void {
  execFileSync("mount", ["--bind", dir, dir]);
  mounted.push(dir);
  execFileSync("mount", ["-o", "remount,bind,ro", dir]);
}

/** Bytes free on the file system holding `dir`. */
export function freeBytes(dir: string): number {
  const out = execFileSync("df", ["-B1", "--output=avail", dir], { encoding: "utf8" });
  return Number(out.trim().split("\n").pop());
}
