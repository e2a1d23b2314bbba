/**
 * A cache that may be read but not written: a read-only mount of `.pipe/cache`, or a teammate's cache that the user
 * has no permission to write. Reading from it (`checkout`, `status`, `repro` of up-to-date stages, `metrics show`)
 * must work and leave it untouched; a command that has to write to it fails with exit 1 and a plain message.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bindReadOnly } from "../helpers/mounts.js";
import { backdate, makeProject, PIPE_BIN, read, runPipe, treeSnapshot, writeFiles, type RunResult } from "../helpers/project.js";
import { isRoot, requires } from "../helpers/require.js";

function project(): string {
  const dir = makeProject({
    "pipe.yaml": [
      "stages:",
      "  make:",
      "    cmd: >-",
      "      mkdir -p out && echo one > out/1.txt && echo model > model.bin && echo '{\"acc\": 0.5}' > metrics.json",
      "    outs: [out, model.bin]",
      "    metrics: [metrics.json]",
      "",
    ].join("\n"),
  });
  expect(runPipe(dir, ["repro"]).code).toBe(0);
  // Objects older than the racy window: verifying them is what appends to `.pipe/cache/verified`.
  backdate(dir);
  return dir;
}

function expectPlainFailure(r: RunResult): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

const rootOnly = requires("root", isRoot(), "run the tests as root (bash .ci/run does): they mount read-only binds");

describe.runIf(rootOnly)("a read-only cache (read-only bind mount of .pipe/cache)", () => {
  it("checkout of deleted outputs, status, repro of an up-to-date stage and metrics show work, and write nothing there", () => {
    const dir = project();
    const cache = path.join(dir, ".pipe/cache");
    const before = treeSnapshot(cache);
    bindReadOnly(cache);
    rmSync(path.join(dir, "out"), { recursive: true });
    rmSync(path.join(dir, "model.bin"));
    rmSync(path.join(dir, "metrics.json"));

    const co = runPipe(dir, ["checkout"]);
    expect(co.code, co.stderr).toBe(0);
    expect(co.stdout).toBe("A       out/\nA       model.bin\nA       metrics.json\nRestored 3 outputs.\n");
    expect(read(dir, "out/1.txt")).toBe("one\n");
    expect(read(dir, "model.bin")).toBe("model\n");

    const st = runPipe(dir, ["status"]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toBe("Pipeline is up to date.\n");
    const rp = runPipe(dir, ["repro"]);
    expect(rp.code, rp.stderr).toBe(0);
    expect(rp.stdout).toContain("Pipeline is up to date.");
    const ms = runPipe(dir, ["metrics", "show"]);
    expect(ms.code, ms.stderr).toBe(0);
    expect(ms.stdout).toMatch(/metrics\.json\s+0\.5/);
    expect(treeSnapshot(cache)).toEqual(before);
  });

  it("a run that must store in it fails with exit 1 naming the read-only cache; the lock stays as it was", () => {
    const dir = project();
    const lock = read(dir, "pipe.lock");
    bindReadOnly(path.join(dir, ".pipe/cache"));
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("echo model", "echo model2") });
    const r = runPipe(dir, ["repro"]);
    expectPlainFailure(r);
    expect(r.stderr).toMatch(/error: stage 'make': '\.pipe\/cache\/[0-9a-f]{2}(\/[0-9a-f]{14})?' is on a read-only file system \(EROFS, while storing '[^']+' in the cache\)/);
    expect(r.stderr).toMatch(/= make it writable/);
    expect(read(dir, "pipe.lock")).toBe(lock);
  });

  it("gc, which must delete in it, fails with exit 1 naming the object and the read-only file system", () => {
    const dir = project();
    // A second run leaves the first output's object unreferenced.
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("echo model", "echo model2") });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    bindReadOnly(path.join(dir, ".pipe/cache"));
    const r = runPipe(dir, ["gc", "-w", "-f"]);
    expectPlainFailure(r);
    expect(r.stderr).toMatch(/^error: '\.pipe\/cache\/[0-9a-f]{2}\/[0-9a-f]{14}' is on a read-only file system \(EROFS, while deleting '[^']+'\)\n {2}= make it writable/);
  });
});

/** Runs the built CLI as the unprivileged user `nobody` (setpriv), so that permissions apply even to root's tests. */
function runAsNobody(cwd: string, args: string[]): RunResult {
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, PIPE_BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", HOME: "/nonexistent" },
    encoding: "utf8",
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function hasSetpriv(): boolean {
  return spawnSync("setpriv", ["--version"]).status === 0;
}

/** Everything under `dir` made writable by anyone, but `.pipe/cache`: root's own, as a teammate's cache would be. */
function shareAllButCache(dir: string): void {
  const walk = (p: string): void => {
    const st = statSync(p);
    if (p === path.join(dir, ".pipe/cache")) return;
    chmodSync(p, st.isDirectory() ? 0o777 : 0o666);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(path.join(p, n));
  };
  walk(dir);
  chownSync(dir, 0, 0);
}

describe.runIf(rootOnly && requires("setpriv", hasSetpriv(), "install util-linux (setpriv)"))("a cache the user may not write (EACCES)", () => {
  it("checkout reads it (the verified log is skipped); a run that must store in it says permission denied, exit 1", () => {
    const dir = project();
    shareAllButCache(dir);
    const before = treeSnapshot(path.join(dir, ".pipe/cache"));
    rmSync(path.join(dir, "model.bin"));
    const co = runAsNobody(dir, ["checkout"]);
    expect(co.code, co.stderr).toBe(0);
    expect(co.stdout).toBe("A       model.bin\nRestored 1 output.\n");
    expect(treeSnapshot(path.join(dir, ".pipe/cache"))).toEqual(before);

    const lock = read(dir, "pipe.lock");
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("echo model", "echo model2") });
    chmodSync(path.join(dir, "pipe.yaml"), 0o666);
    const r = runAsNobody(dir, ["repro"]);
    expectPlainFailure(r);
    expect(r.stderr).toMatch(/error: stage 'make': permission denied on '\.pipe\/cache\/[^']+' \(EACCES, while storing '[^']+' in the cache\)/);
    expect(r.stderr).toMatch(/= check the owner and permissions of/);
    expect(read(dir, "pipe.lock")).toBe(lock);
  });
});
