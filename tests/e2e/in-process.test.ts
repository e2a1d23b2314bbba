/**
 * The CLI as a function (`run(argv, io)` in src/cli/main.ts, which `bin/pipe.js` calls): it answers as the spawned
 * CLI does, reads its cwd and environment from `io`, and leaves nothing behind in the process (cwd, exit code, signal
 * handlers), so the tests that run it in process (`runPipeIn`) see what a user would.
 */
import { describe, expect, it } from "vitest";
import { makeProject, runPipe, runPipeIn } from "../helpers/project.js";

const PROJECT = {
  "pipe.yaml": "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n",
};

describe("pipe in process", () => {
  it("prints, and exits, as the spawned CLI does", async () => {
    const dir = makeProject(PROJECT);
    for (const args of [["stage", "list"], ["status"], ["status", "--json"], ["dag"], ["stauts"], ["status", "--frobnicate"], ["--help"], ["-C", "nowhere", "status"]]) {
      expect(await runPipeIn(dir, args), args.join(" ")).toEqual(runPipe(dir, args));
    }
  });

  it("runs in io.cwd, not the process's", async () => {
    const dir = makeProject(PROJECT);
    const cwd = process.cwd();
    const r = await runPipeIn(dir, ["stage", "list"]);
    expect(r.stdout).toMatch(/^a +Outputs a\.txt\n/);
    expect(process.cwd()).toBe(cwd);
  });

  it("leaves the process's exit code and signal handlers as they were", async () => {
    const dir = makeProject(PROJECT);
    const before = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => process.listenerCount(s));
    const exitCode = process.exitCode;
    const r = await runPipeIn(dir, ["status", "--check"]);
    expect(r.code).toBe(1);
    expect(process.exitCode).toBe(exitCode);
    expect((["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => process.listenerCount(s))).toEqual(before);
    expect((await runPipeIn(dir, ["stauts"])).code).toBe(2);
    expect(process.exitCode).toBe(exitCode);
  });
});
