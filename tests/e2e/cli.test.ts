/**
 * The command line as a whole: version, help, usage mistakes and their exit codes, global options, and behaving as a
 * Unix filter when the reader of stdout goes away.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, PIPE_BIN, REPO_ROOT, runPipe, runPipeIn } from "../helpers/project.js";

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

  it("exits 2 on an unknown command or option", async () => {
    expect(runPipe(makeProject(), ["frobnicate"]).code).toBe(2);
    const r = await runPipeIn(makeProject({ "pipe.yaml": "stages: {}\n" }), ["status", "--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
  });

  it("exits 2 outside a project, naming the directory", async () => {
    const dir = makeProject();
    const r = await runPipeIn(dir, ["status"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("not a pipe project");
  });

  it("runs in another directory with -C", async () => {
    const dir = makeProject({ "sub/pipe.yaml": "stages:\n  a:\n    cmd: echo a\n" });
    const r = await runPipeIn(dir, ["-C", "sub", "stage", "list"]);
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

/** Every command and subcommand, as typed after `pipe`. */
const COMMANDS = [
  ["init"],
  ["repro"],
  ["status"],
  ["dag"],
  ["stage"],
  ["stage", "list"],
  ["params"],
  ["params", "diff"],
  ["metrics"],
  ["metrics", "show"],
  ["metrics", "diff"],
  ["checkout"],
  ["commit"],
  ["gc"],
];

describe("pipe (help and usage mistakes)", () => {
  // In process (`runPipeIn`): commander's parsing and the exit code `run` returns are the point; the spawned CLI's
  // exit codes are checked in the first block.
  it.each(COMMANDS.map((c) => [c.join(" "), c]))("'pipe %s --help' shows the global options too", async (_name, cmd) => {
    const r = await runPipeIn(makeProject(), [...cmd, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Global Options:");
    for (const flag of ["-q, --quiet", "-v, --verbose", "-C <dir>", "--no-color"]) expect(r.stdout).toContain(flag);
  });

  it("says an unknown command in three lines: the mistake, the nearest command, where help is; exit 2", async () => {
    const r = await runPipeIn(makeProject(), ["stauts"]);
    expect(r.stderr).toBe("pipe: unknown command 'stauts'\n(Did you mean status?)\nRun 'pipe --help' for usage.\n");
    expect(r.stdout).toBe("");
    expect(r.code).toBe(2);
  });

  it("leaves out the suggestion when no command is near", async () => {
    const r = await runPipeIn(makeProject(), ["frobnicate"]);
    expect(r.stderr).toBe("pipe: unknown command 'frobnicate'\nRun 'pipe --help' for usage.\n");
    expect(r.code).toBe(2);
  });

  it("points an unknown option to the help of the command it was given to", async () => {
    const r = await runPipeIn(makeProject(), ["status", "--chek"]);
    expect(r.stderr).toBe("pipe: unknown option '--chek'\n(Did you mean --check?)\nRun 'pipe status --help' for usage.\n");
    expect(r.stdout).toBe("");
    expect(r.code).toBe(2);
    const g = await runPipeIn(makeProject(), ["--qiet", "status"]);
    expect(g.stderr).toBe("pipe: unknown option '--qiet'\n(Did you mean --quiet?)\nRun 'pipe --help' for usage.\n");
    expect(g.code).toBe(2);
  });

  it.each([
    [["metrics", "shwo"], "pipe: unknown command 'shwo'\n(Did you mean show?)\nRun 'pipe metrics --help' for usage.\n"],
    [["metrics", "show", "--precison", "3"], "pipe: unknown option '--precison'\n(Did you mean --precision?)\nRun 'pipe metrics show --help' for usage.\n"],
    [["metrics", "show", "--precision"], "pipe: option '--precision <n>' argument missing\nRun 'pipe metrics show --help' for usage.\n"],
    [["params", "diff", "--depz"], "pipe: unknown option '--depz'\n(Did you mean --deps?)\nRun 'pipe params diff --help' for usage.\n"],
    [["params", "diff", "a", "b", "c"], "pipe: too many arguments for 'diff'. Expected 2 arguments but got 3.\nRun 'pipe params diff --help' for usage.\n"],
    [["stage", "lst"], "pipe: unknown command 'lst'\n(Did you mean list?)\nRun 'pipe stage --help' for usage.\n"],
    [["stage", "list", "--jsn"], "pipe: unknown option '--jsn'\n(Did you mean --json?)\nRun 'pipe stage list --help' for usage.\n"],
    [["init", "extra"], "pipe: too many arguments for 'init'. Expected 0 arguments but got 1.\nRun 'pipe init --help' for usage.\n"],
  ])("pipe %j: one line, a suggestion, where help is; exit 2", async (args, stderr) => {
    const r = await runPipeIn(makeProject(), args);
    expect(r.stderr).toBe(stderr);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(2);
  });

  it("shows --precision's default as a number, and refuses a precision that is not one", async () => {
    for (const cmd of [["metrics", "show"], ["metrics", "diff"]]) {
      const help = (await runPipeIn(makeProject(), [...cmd, "--help"])).stdout;
      expect(help).toContain("(default: 5)");
      expect(help).not.toContain('"5"');
      const bad = await runPipeIn(makeProject(), [...cmd, "--precision", "abc"]);
      expect(bad.stderr).toBe(
        `pipe: option '--precision <n>' argument 'abc' is invalid. --precision takes a whole number of significant digits from 1 to 100\nRun 'pipe ${cmd.join(" ")} --help' for usage.\n`,
      );
      expect(bad.code).toBe(2);
    }
  });
});
