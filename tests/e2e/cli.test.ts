/**
 * The command line as a whole: version, help, usage mistakes and their exit codes, global options, and behaving as a
 * Unix filter when the reader of stdout goes away.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, PIPE_BIN, REPO_ROOT, runPipe } from "../helpers/project.js";

const version = (JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;

describe("pipe (global behaviour)", () => {
  it("prints its version and exits 0", () => {
    const r = runPipe(makeProject(), ["--version"]);
    expect(r.stdout).toBe(`${version}\n`);
    expect(r.code).toBe(0);
  });

  it("prints the same version through commander when --version comes with other arguments", () => {
    // Bare `--version` is answered by bin/pipe.js without loading the CLI; both paths must agree.
    const r = runPipe(makeProject(), ["-C", ".", "--version"]);
    expect(r.stdout).toBe(`${version}\n`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("lists every command in --help", () => {
    const r = runPipe(makeProject(), ["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["init", "repro", "status", "dag", "stage", "params", "metrics", "checkout", "commit", "gc"]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, "m"));
    }
  });

  it("exits 2 on an unknown command or option", () => {
    expect(runPipe(makeProject(), ["frobnicate"]).code).toBe(2);
    const r = runPipe(makeProject({ "pipe.yaml": "stages: {}\n" }), ["status", "--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
  });

  it("exits 2 outside a project, naming the directory", () => {
    const dir = makeProject();
    const r = runPipe(dir, ["status"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("not a pipe project");
  });

  it("runs in another directory with -C", () => {
    const dir = makeProject({ "sub/pipe.yaml": "stages:\n  a:\n    cmd: echo a\n" });
    const r = runPipe(dir, ["-C", "sub", "stage", "list"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^a\s/);
  });

  it("stops quietly when the reader of its output goes away (pipe stage list | head -1)", () => {
    const stages = Array.from({ length: 3000 }, (_, i) => `  s${i}:\n    cmd: echo ${i}\n`).join("");
    const dir = makeProject({ "pipe.yaml": `stages:\n${stages}` });
    const r = spawnSync("bash", ["-c", `set -o pipefail; node ${JSON.stringify(PIPE_BIN)} stage list | head -1`], { cwd: dir, encoding: "utf8" });
    expect(r.stdout).toMatch(/^s0\s/);
    expect(r.stderr).not.toContain("EPIPE");
    expect(r.status).toBe(0);
  });
});
