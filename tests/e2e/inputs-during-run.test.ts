/**
 * A dep or params file edited while a stage's command runs (issue 13, record path). The output was computed from the
 * old bytes, so the lock must record the inputs as they were when the command started: the next `status` says the
 * stage is stale (it said up to date: a silent wrong result), `repro` warns, and the next `repro` runs it again.
 * The stage waits for a file the test creates, so the edit lands while it runs without any timing.
 */
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, PIPE_BIN, read, runPipe } from "../helpers/project.js";
import { until } from "../helpers/processes.js";

/** `pipe repro` in the background; resolves with its exit code and output when it ends. */
function reproInBackground(dir: string, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [PIPE_BIN, "repro", ...args], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

function project(): string {
  return makeProject({
    ".pipe/config.yaml": "",
    "in.txt": "old\n",
    "params.yaml": "n: 1\n",
    "pipe.yaml": [
      "stages:",
      "  copy:",
      // Says it started, waits for the test's go-ahead (at most ~60 s), then copies what in.txt holds by then.
      "    cmd: touch started && i=0; while [ ! -f go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; cp in.txt out.txt",
      "    deps: [in.txt]",
      "    params: [n]",
      "    outs: [out.txt]",
      "",
    ].join("\n"),
  });
}

describe("inputs edited while a stage runs", () => {
  it("a dep edited during the run is recorded as it was at the start: status says stale, repro warns, the next repro runs it", async () => {
    const dir = project();
    const done = reproInBackground(dir);
    await until(() => existsSync(path.join(dir, "started")), "the stage to start", 60_000);
    writeFileSync(path.join(dir, "in.txt"), "new\n");
    writeFileSync(path.join(dir, "go"), "");
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      "warning: 'in.txt' changed while 'copy' ran; the lock records it as it was when the command started, so 'copy' is stale ('pipe repro' runs it again)",
    );
    const st = runPipe(dir, ["status"]);
    expect(st.stdout).toMatch(/copy:[\s\S]*changed deps:[\s\S]*modified:\s+in\.txt/);
    expect(st.stdout).not.toMatch(/up to date/i);

    // The next repro runs it again (the run-cache holds nothing for what it computed) and then it is fresh.
    writeFileSync(path.join(dir, "go"), "");
    const again = runPipe(dir, ["repro"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Running 'copy'");
    expect(read(dir, "out.txt")).toBe("new\n");
    expect(runPipe(dir, ["status"]).stdout).toMatch(/up to date/i);
  });

  it("params edited during the run are named too; an undisturbed run warns about nothing", async () => {
    const dir = project();
    writeFileSync(path.join(dir, "go"), "");
    const quiet = runPipe(dir, ["repro"]);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain("changed while");

    writeFileSync(path.join(dir, "in.txt"), "second\n");
    const { rmSync } = await import("node:fs");
    rmSync(path.join(dir, "go"));
    rmSync(path.join(dir, "started"));
    const done = reproInBackground(dir);
    await until(() => existsSync(path.join(dir, "started")), "the stage to start", 60_000);
    writeFileSync(path.join(dir, "params.yaml"), "n: 2\n");
    writeFileSync(path.join(dir, "go"), "");
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("warning: params in 'params.yaml' changed while 'copy' ran; the lock records it as it was when the command started");
    const st = runPipe(dir, ["status"]);
    expect(st.stdout).toMatch(/copy:[\s\S]*changed params:[\s\S]*n/);
  });
});
