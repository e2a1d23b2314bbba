/**
 * `repro`'s usage errors, found by its set-up (`exec/run-repro.ts`) before the write lock is taken or anything runs:
 * exit 2, the message, nothing run and nothing recorded. In process: no stage runs, so no spawn is needed.
 */
import { describe, expect, it } from "vitest";
import { exists, makeProject, runPipeIn } from "../helpers/project.js";

function project(): string {
  return makeProject({ ".pipe/config.yaml": "", "pipe.yaml": "stages:\n  s:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n" });
}

describe("repro usage errors", () => {
  it("--tty with -j 2 is refused off a terminal too (the flag, not the terminal, is what is wrong)", async () => {
    const dir = project();
    const r = await runPipeIn(dir, ["repro", "--tty", "-j", "2"]);
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toContain("--tty gives one stage at a time the terminal: use it with -j 1");
    expect([exists(dir, "out.txt"), exists(dir, "pipe.lock")]).toEqual([false, false]);
  });

  it("a bad -j says what it expects", async () => {
    const dir = project();
    const r = await runPipeIn(dir, ["repro", "-j", "zero"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("invalid value for -j/--jobs: 'zero' (expected a positive integer or 'auto')");
  });
});
