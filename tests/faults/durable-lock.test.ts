/**
 * `pipe.lock` survives a machine crash whole: the new bytes are flushed before the rename (else the new name can
 * point at an empty file) and the directory after it (else the rename itself can be lost). A crash cannot be
 * staged in a test, so the system calls of a real `repro` are traced instead (strace), and their order is checked.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, PIPE_BIN } from "../helpers/project.js";
import { requires } from "../helpers/require.js";

const hasStrace = spawnSync("strace", ["-V"]).status === 0;

/** `pipe repro` in `dir` under strace (syncs and renames only); the trace's lines. */
function tracedRepro(dir: string): string[] {
  const trace = path.join(dir, "..", `${path.basename(dir)}.strace`);
  const r = spawnSync("strace", ["-f", "-y", "-qq", "-o", trace, "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", process.execPath, PIPE_BIN, "repro"], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1" },
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(trace, "utf8").split("\n");
}

describe.runIf(requires("strace", hasStrace, "install strace (apt-get install strace)"))("durable pipe.lock", () => {
  it("repro fsyncs the lock's temp file, renames it over pipe.lock, then fsyncs the directory", () => {
    const dir = realpathSync(makeProject({ "pipe.yaml": "stages:\n  make:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n" }));
    const lines = tracedRepro(dir);
    const lock = path.join(dir, "pipe.lock");
    // Matched by where each call starts (a call another thread interrupts is printed `<unfinished ...>`): the
    // writer makes them one after another, and the exit code says they succeeded.
    const syncTemp = lines.findIndex((l) => /(?:fsync|fdatasync)\(\d+<[^>]*\/\.pipe\.lock\.pipe-tmp-[^>]*>/.test(l));
    const renamed = lines.findIndex((l) => /rename/.test(l) && l.includes(".pipe.lock.pipe-tmp-") && l.includes(`"${lock}"`));
    const syncDir = lines.findIndex((l, i) => i > renamed && /(?:fsync|fdatasync)\(/.test(l) && l.includes(`<${dir}>`));
    expect(syncTemp, lines.join("\n")).toBeGreaterThanOrEqual(0);
    expect(renamed, lines.join("\n")).toBeGreaterThan(syncTemp);
    expect(syncDir, lines.join("\n")).toBeGreaterThan(renamed);
  });

  it("over a run of many stages, every version of the lock is flushed before its rename, and the directory after the last", () => {
    const stages = [0, 1, 2, 3, 4].map((i) => `  s${i}:\n    cmd: echo ${i} > o${i}.txt\n    outs: [o${i}.txt]\n`).join("");
    const dir = realpathSync(makeProject({ "pipe.yaml": `stages:\n${stages}` }));
    const lines = tracedRepro(dir);
    const lock = path.join(dir, "pipe.lock");
    const renames = lines.flatMap((l, i) => (/rename/.test(l) && l.includes(`"${lock}"`) ? [{ i, tmp: /"([^"]*\.pipe\.lock\.pipe-tmp-[^"]*)"/.exec(l)?.[1] }] : []));
    // One version per stage (-j1: no write is in flight when the next stage ends).
    expect(renames.length, lines.join("\n")).toBe(5);
    for (const { i, tmp } of renames) {
      const synced = lines.findIndex((l) => /(?:fsync|fdatasync)\(\d+</.test(l) && tmp !== undefined && l.includes(`<${tmp}>`));
      expect(synced, `${tmp}\n${lines.join("\n")}`).toBeGreaterThanOrEqual(0);
      expect(synced).toBeLessThan(i);
    }
    const last = renames[renames.length - 1]!.i;
    expect(lines.findIndex((l, i) => i > last && /(?:fsync|fdatasync)\(/.test(l) && l.includes(`<${dir}>`)), lines.join("\n")).toBeGreaterThan(last);
  });
});
