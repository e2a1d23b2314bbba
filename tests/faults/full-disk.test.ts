/**
 * A full disk, for real: each project lives on a 2 MiB tmpfs, so a stage, a store into the cache, a write of the
 * lock or a restore runs out of space. Each must end with exit 1 and a plain message naming the path and what to do
 * (never "internal error" and a stack trace), lose nothing (the lock as it was, every cache object intact), and the
 * command must work again once there is room.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { freeBytes, tmpfsDir } from "../helpers/mounts.js";
import { cacheFiles, exists, read, runPipe, writeFiles, type RunResult } from "../helpers/project.js";
import { isRoot, requires } from "../helpers/require.js";
import { StatCache } from "../../src/hash/state.js";

function expectPlainFailure(r: RunResult): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(/internal error/);
  // No stack trace: no "    at fn (file:line)" lines.
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe.runIf(requires("root", isRoot(), "run the tests as root (bash .ci/run does): they mount tmpfs file systems"))("a full disk", () => {
  it("a stage that filled the disk fails; the retry deletes what it left without saving it, and works once there is room", () => {
    const dir = tmpfsDir("2m");
    writeFiles(dir, {
      "pipe.yaml": "stages:\n  fill:\n    cmd: head -c 600000 /dev/zero > big.bin\n    outs: [big.bin]\n",
      // What else is on the disk: 1.6 MB of it, which the user deletes to make room.
      "junk.bin": "x".repeat(1_600_000),
    });
    const first = runPipe(dir, ["repro"]);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/No space left on device/);
    expect(statSync(path.join(dir, "big.bin")).size).toBeLessThan(600_000);

    // Still no room: the partial output is not stored first (which failed again for lack of space, every time).
    const retry = runPipe(dir, ["repro"]);
    expectPlainFailure(retry);
    expect(retry.stderr).toContain("warning: 'big.bin' is what a failed run of 'fill' left; it is deleted, not saved in the cache\n");
    expect(retry.stderr).toMatch(/error: 'fill' failed with exit code 1/);
    expect(cacheFiles(dir)).toEqual([]);

    rmSync(path.join(dir, "junk.bin"));
    const ok = runPipe(dir, ["repro"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain("'big.bin' is what a failed run of 'fill' left");
    expect(statSync(path.join(dir, "big.bin")).size).toBe(600_000);
    expect(read(dir, "pipe.lock")).toMatch(/size: 600000/);
    // Recorded: the marker of the run is gone, and a hand edit is saved before the next run deletes it, as ever.
    expect(readdirSync(path.join(dir, ".pipe/tmp/unrecorded"))).toEqual([]);
    writeFiles(dir, { "big.bin": "edited by hand\n" });
    const forced = runPipe(dir, ["repro", "-f"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/'big.bin' was changed since 'fill' last ran; that content was saved in the cache/);
  });

  it("storing outputs into a full cache: exit 1 naming the cache path, the lock and the cache as they were", () => {
    const dir = tmpfsDir("2m");
    writeFiles(dir, {
      "pipe.yaml": "stages:\n  make:\n    cmd: head -c ${n} /dev/zero > out.bin\n    outs: [out.bin]\n",
      "params.yaml": "n: 300000\n",
    });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const lock = read(dir, "pipe.lock");
    const objects = cacheFiles(dir);
    expect(objects).toHaveLength(1);

    // 1.1 MB of output fits on the disk once, not twice.
    writeFiles(dir, { "params.yaml": "n: 1100000\n" });
    const r = runPipe(dir, ["repro"]);
    expectPlainFailure(r);
    expect(r.stderr).toMatch(
      /error: stage 'make': no space left on the disk holding '\.pipe\/cache\/[0-9a-f]{2}\/[0-9a-f]{14}' \(ENOSPC, while storing 'out.bin' in the cache\)\n {2}= free space on that disk, then run the command again; nothing was lost/,
    );
    expect(read(dir, "pipe.lock")).toBe(lock);
    // No partial object, no temp file: the cache holds what it held.
    expect(cacheFiles(dir)).toEqual(objects);

    // The old output comes back from the cache intact (once the unrecorded one is out of the way).
    rmSync(path.join(dir, "out.bin"));
    const co = runPipe(dir, ["checkout"]);
    expect(co.code, co.stderr).toBe(0);
    expect(readFileSync(path.join(dir, "out.bin")).equals(Buffer.alloc(300_000))).toBe(true);

    // Room again (a smaller output): the run works.
    writeFiles(dir, { "params.yaml": "n: 500000\n" });
    const again = runPipe(dir, ["repro"]);
    expect(again.code, again.stderr).toBe(0);
    expect(read(dir, "pipe.lock")).toMatch(/size: 500000/);
  });

  it("a stage whose outputs do not fit in the cache fails alone: with -k the others run and are recorded", () => {
    const dir = tmpfsDir("2m");
    writeFiles(dir, {
      "pipe.yaml": "stages:\n  a:\n    cmd: head -c 1100000 /dev/zero > a.bin\n    outs: [a.bin]\n  b:\n    cmd: echo b > b.txt\n    outs: [b.txt]\n",
    });
    const r = runPipe(dir, ["repro", "-k"]);
    expectPlainFailure(r);
    expect(r.stderr).toMatch(/error: stage 'a': no space left on the disk holding '\.pipe\/cache\//);
    expect(r.stdout).toContain("Summary: 1 ran, 0 restored, 0 up to date, 1 failed");
    const lock = read(dir, "pipe.lock");
    expect(lock).toMatch(/^ {2}b:$/m);
    expect(lock).not.toMatch(/^ {2}a:$/m);
  });

  it("writing the lock on a full disk: exit 1 naming pipe.lock, which keeps its old content", () => {
    const dir = tmpfsDir("2m");
    writeFiles(dir, {
      // The command fills the disk with a file it does not declare; its output is not cached, so only the lock
      // write needs room.
      "pipe.yaml": [
        "stages:",
        "  make:",
        "    cmd: echo ${v} > result.txt && (head -c ${fill} /dev/zero > filler.bin || true)",
        "    outs:",
        "      - result.txt:",
        "          cache: false",
        "",
      ].join("\n"),
      "params.yaml": "v: 1\nfill: 0\n",
    });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const lock = read(dir, "pipe.lock");
    expect(lock).toMatch(/echo 1 >/);

    // The new entry is far larger than the few pages the run itself frees when it ends (its process-group record
    // under .pipe/tmp/running), so the lock write cannot fit in that slack.
    writeFiles(dir, { "params.yaml": `v: ${"x".repeat(30_000)}\nfill: 3000000\n` });
    const r = runPipe(dir, ["repro"]);
    expectPlainFailure(r);
    expect(r.stderr).toMatch(/error: stage 'make': no space left on the disk holding 'pipe.lock' \(ENOSPC, while writing pipe.lock\)\n {2}= free space on that disk/);
    expect(read(dir, "pipe.lock")).toBe(lock);
    expect(readdirSync(dir).filter((n) => n.includes("pipe-tmp"))).toEqual([]);

    rmSync(path.join(dir, "filler.bin"));
    writeFiles(dir, { "params.yaml": "v: 2\nfill: 0\n" });
    const again = runPipe(dir, ["repro"]);
    expect(again.code, again.stderr).toBe(0);
    expect(read(dir, "pipe.lock")).toMatch(/echo 2 >/);
  });

  it("restoring onto a full disk: exit 1 naming the output, the cache object intact", () => {
    const dir = tmpfsDir("2m");
    writeFiles(dir, { "pipe.yaml": "stages:\n  make:\n    cmd: head -c 400000 /dev/zero > out.bin\n    outs: [out.bin]\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const objects = cacheFiles(dir);
    rmSync(path.join(dir, "out.bin"));
    // Fill the disk but for 100 kB: room for the write lock, not for the output.
    expect(spawnSync("sh", ["-c", `head -c ${freeBytes(dir) - 100_000} /dev/zero > filler.bin`], { cwd: dir }).status).toBe(0);
    const r = runPipe(dir, ["checkout"]);
    expectPlainFailure(r);
    expect(r.stderr).toMatch(/no space left on the disk holding 'out.bin'/);
    expect(r.stderr).toMatch(/= free space on that disk, then run the command again; nothing was lost/);
    expect(exists(dir, "out.bin")).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes("pipe-tmp"))).toEqual([]);
    // The objects are intact; the verified log beside them may have gained a line (it records a check made more
    // than the racy window after the object was written: on a loaded machine, this checkout can be that late).
    const objectsOnly = (fs: string[]): string[] => fs.filter((f) => f !== "verified");
    expect(objectsOnly(cacheFiles(dir))).toEqual(objectsOnly(objects));

    rmSync(path.join(dir, "filler.bin"));
    const again = runPipe(dir, ["checkout"]);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(path.join(dir, "out.bin")).equals(Buffer.alloc(400_000))).toBe(true);
  });

  it("a stat cache that cannot be saved for lack of space leaves no partial file behind", () => {
    const dir = tmpfsDir("64k");
    const state = path.join(dir, "state");
    const cache = new StatCache({ file: state });
    const st = { kind: "file" as const, dev: 1n, ino: 1n, size: 1, mtimeNs: 1n };
    // Far more than 64 kB of entries.
    for (let i = 0; i < 5000; i++) cache.set("xxh64", `data/some/longer/path/file-${i}.csv`, st, "0123456789abcdef");
    expect(cache.save()).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});
