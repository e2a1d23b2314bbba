/**
 * Inputs that used to hang, crash or be silently skipped (issue 12), through the built CLI: a stages, vars or params
 * file that is a FIFO is refused at once (it was read as "no stages", or blocked for a writer), a path the system
 * cannot take is a located error (it crashed with exit 70), a matrix of millions of stages is refused before it is
 * generated (it ran out of memory), and 50,000 aliases load (they took minutes). Each exits 2 and writes nothing.
 */
import { spawnSync } from "node:child_process";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, runPipe } from "../helpers/project.js";
import { requires } from "../helpers/require.js";

/** Every entry under `dir` (without following symlinks or opening FIFOs): type, and content of regular files. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      const rel = path.relative(dir, p);
      if (st.isDirectory()) {
        out.set(rel, "dir");
        walk(p);
      } else if (st.isFile()) out.set(rel, readFileSync(p).toString("base64"));
      else out.set(rel, st.isFIFO() ? "fifo" : "other");
    }
  };
  walk(dir);
  return out;
}

function mkfifo(p: string): boolean {
  return spawnSync("mkfifo", [p]).status === 0;
}

const hasMkfifo = ((): boolean => {
  const dir = makeProject();
  return mkfifo(path.join(dir, "probe"));
})();

/** Runs `args` in `dir` and checks: exit 2, nothing on stdout, nothing under `dir` changed. Returns stderr. */
function refused(dir: string, args: string[]): string {
  const before = snapshot(dir);
  const r = runPipe(dir, args);
  expect([r.code, r.stdout]).toEqual([2, ""]);
  expect(snapshot(dir)).toEqual(before);
  return r.stderr;
}

describe.runIf(requires("mkfifo", hasMkfifo, "install coreutils"))("a FIFO where a file is read", () => {
  it("a stages file that is a FIFO (or a symlink to one) is a located error, not 'no stages'", () => {
    const dir = makeProject({ ".pipe/.keep": "", "data.txt": "x\n" });
    expect(mkfifo(path.join(dir, "dvc.yaml"))).toBe(true);
    for (const cmd of [["status"], ["repro"], ["stage", "list"]]) {
      expect(refused(dir, cmd)).toBe(
        "dvc.yaml:1:1: error: cannot read dvc.yaml: it is a FIFO (named pipe), not a regular file\n  = a stages file must be a regular file (or a symlink to one)\n",
      );
    }
    const linked = makeProject({ ".pipe/.keep": "" });
    expect(mkfifo(path.join(linked, "fifo"))).toBe(true);
    expect(spawnSync("ln", ["-s", "fifo", path.join(linked, "pipe.yaml")]).status).toBe(0);
    expect(refused(linked, ["status"])).toMatch(/^pipe\.yaml:1:1: error: cannot read pipe\.yaml: it is a FIFO \(named pipe\), not a regular file\n/);
  });

  it("a vars file, params.yaml or a lock file that is a FIFO is an error, without waiting for a writer", () => {
    const dir = makeProject({ ".pipe/.keep": "", "pipe.yaml": "vars: [v.yaml]\nstages:\n  s:\n    cmd: echo hi\n" });
    expect(mkfifo(path.join(dir, "v.yaml"))).toBe(true);
    expect(refused(dir, ["status"])).toMatch(/^pipe\.yaml:1:8: error: cannot read vars file 'v\.yaml': it is a FIFO \(named pipe\), not a regular file\n/);
    const params = makeProject({ ".pipe/.keep": "", "pipe.yaml": "stages:\n  s:\n    cmd: echo hi\n" });
    expect(mkfifo(path.join(params, "params.yaml"))).toBe(true);
    expect(refused(params, ["repro"])).toMatch(/cannot read vars file 'params\.yaml': it is a FIFO \(named pipe\), not a regular file/);
    const lock = makeProject({ ".pipe/.keep": "", "dvc.yaml": "stages:\n  s:\n    cmd: echo hi\n" });
    expect(mkfifo(path.join(lock, "dvc.lock"))).toBe(true);
    expect(refused(lock, ["status"])).toBe("error: cannot read dvc.lock: it is a FIFO (named pipe), not a regular file\n");
  });
});

describe("inputs too large or too long", () => {
  it("a 5,000-character path in deps, outs or wdir is a located error, exit 2, nothing written", () => {
    const long = "a".repeat(5000);
    for (const [body, at] of [
      [`    deps: [${long}]\n    outs: [o.txt]\n`, "pipe.yaml:4:12: error: dependency 'a"],
      [`    outs: [${long}]\n`, "pipe.yaml:4:12: error: output 'a"],
      [`    wdir: ${long}\n    outs: [o.txt]\n`, "pipe.yaml:4:11: error: wdir is too long: a name in it is 5,000 bytes long; file systems allow at most 255 bytes per name\n"],
    ] as const) {
      const dir = makeProject({ ".pipe/.keep": "", "pipe.yaml": `stages:\n  s:\n    cmd: echo hi > o.txt\n${body}` });
      for (const cmd of [["repro"], ["status"], ["commit"]]) {
        const err = refused(dir, cmd);
        expect(err.startsWith(at), err.slice(0, 200)).toBe(true);
        expect(err).toContain("file systems allow at most 255 bytes per name");
      }
    }
  });

  it("a matrix of 9.7 million stages is refused with how many it would make", () => {
    const axes = Array.from({ length: 10 }, (_, i) => `      a${i}: [1, 2, 3, 4, 5]`).join("\n");
    const dir = makeProject({ ".pipe/.keep": "", "pipe.yaml": `stages:\n  big:\n    matrix:\n${axes}\n    cmd: echo\n` });
    expect(refused(dir, ["repro"])).toMatch(/^pipe\.yaml:3:5: error: matrix would generate 9,765,625 stages; pipe generates at most 10,000 from one foreach or matrix\n/);
  });

  it("a stages file with 50,000 aliases loads", () => {
    const runs = Array.from({ length: 50_000 }, () => "    - *id001").join("\n");
    const dir = makeProject({ ".pipe/.keep": "", "pipe.yaml": `vars:\n  - base: &id001\n      lr: 0.1\n    runs:\n${runs}\nstages:\n  train:\n    cmd: echo \${runs[49999].lr}\n` });
    const r = runPipe(dir, ["stage", "list"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/^train\b/);
  });
});
