/**
 * Names near or beyond the file system's limit of 255 bytes per path component (ENAMETOOLONG): a legal name must
 * work through every step, including pipe's own temp files beside it; an impossible one is a plain failure.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { exists, makeProject, read, runPipe } from "../helpers/project.js";

describe("long output names", () => {
  it("an output whose name is 240 bytes long is stored and restored (temp names beside it still fit)", () => {
    const name = "a".repeat(240);
    const dir = makeProject({ "pipe.yaml": `stages:\n  make:\n    cmd: echo hi > ${name}\n    outs: [${name}]\n` });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    rmSync(path.join(dir, name));
    const r = runPipe(dir, ["checkout"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`A       ${name}\nRestored 1 output.\n`);
    expect(read(dir, name)).toBe("hi\n");
  });

  it("an output whose name no file system allows (300 bytes) is a located load error: exit 2, nothing run or written", () => {
    const name = "b".repeat(300);
    const dir = makeProject({ "pipe.yaml": `stages:\n  make:\n    cmd: echo hi > x.txt\n    outs: [x.txt, ${name}]\n` });
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).toMatch(/^pipe\.yaml:4:19: error: output 'b+\.\.\.' is too long: a name in it is 300 bytes long; file systems allow at most 255 bytes per name$/m);
    expect(exists(dir, "x.txt")).toBe(false);
    expect(exists(dir, "pipe.lock")).toBe(false);
  });
});
