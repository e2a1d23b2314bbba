/**
 * `pipe repro --json`: every line of stdout is one event (NDJSON) that validates against
 * `schemas/repro-events.schema.json`, with the facts of reasons and warnings as values; exit codes as without --json.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, runPipe, writeFiles } from "../helpers/project.js";
import { eventsOf, ofType, validate, type Event } from "../helpers/repro-events.js";

/** Runs `pipe repro --json ...args`. */
function reproJson(dir: string, args: string[] = []): { code: number; events: Event[]; stderr: string } {
  const r = runPipe(dir, ["repro", "--json", ...args]);
  return { code: r.code, events: eventsOf(r.stdout), stderr: r.stderr };
}

function project(): string {
  return makeProject({
    ".pipe/config.yaml": "",
    "params.yaml": "lr: 1\n",
    "in.txt": "in\n",
    "pipe.yaml": [
      "stages:",
      "  a:",
      "    cmd: echo said a && echo complained >&2 && cat in.txt > a.txt",
      "    params: [lr]",
      "    deps: [in.txt]",
      "    outs: [a.txt]",
      "  b:",
      "    cmd: cat a.txt > b.txt",
      "    deps: [a.txt]",
      "    outs: [b.txt]",
      "",
    ].join("\n"),
  });
}

describe("pipe repro --json", () => {
  it("the schema rejects what is not an event", () => {
    expect(validate({ type: "stage-skipped", stage: "a", reason: "later" })).toBe(false);
    expect(validate({ type: "warning", kind: "leftover-deleted", message: "m", path: "a.txt" })).toBe(false);
    expect(validate({ type: "stage-start", stage: "a", cmd: "x", reasons: ["changed deps"] })).toBe(false);
    expect(validate({ type: "warning", kind: "leftover-deleted", message: "m", path: "a.txt", stage: "a" })).toBe(true);
    // An executor's limit and an environment that refused the start (no `local` case makes them: the facts are typed).
    const limit = { limit: "time", detail: "TIMEOUT" };
    expect(validate({ type: "stage-failed", stage: "a", reason: "command", exitCode: null, signal: null, limit, tail: [], message: "m" })).toBe(true);
    expect(validate({ type: "stage-failed", stage: "a", reason: "environment", start: true, error: "too many open files", message: "m" })).toBe(true);
    expect(validate({ type: "stage-failed", stage: "a", reason: "command", exitCode: null, signal: null, limit: { limit: "disk", detail: "X" }, tail: [], message: "m" })).toBe(false);
  });

  it("a successful run, then up to date, --dry, a run-cache restore and a warning: every line an event of the schema", () => {
    const dir = project();
    const first = reproJson(dir);
    expect(first.code).toBe(0);
    expect(first.events[0]).toEqual({ type: "plan", stages: ["a", "b"], jobs: 1, dry: false });
    expect(ofType(first.events, "stage-start")).toEqual([
      { type: "stage-start", stage: "a", cmd: "echo said a && echo complained >&2 && cat in.txt > a.txt", reasons: [{ kind: "no-lock-entry" }] },
      { type: "stage-start", stage: "b", cmd: "cat a.txt > b.txt", reasons: [{ kind: "no-lock-entry" }] },
    ]);
    // The stage's own output, both streams, as events: stdout holds nothing but events.
    expect(ofType(first.events, "stage-output")).toEqual([
      { type: "stage-output", stage: "a", stream: "stdout", line: "said a" },
      { type: "stage-output", stage: "a", stream: "stderr", line: "complained" },
    ]);
    expect(ofType(first.events, "stage-finished").map((e) => e.stage)).toEqual(["a", "b"]);
    expect(first.events.at(-1)).toMatchObject({ type: "run-summary", ran: 2, restored: 0, upToDate: 0, failed: 0, notRun: 0, dry: false });
    expect(first.stderr).toBe("");

    const again = reproJson(dir);
    expect(again.code).toBe(0);
    expect(ofType(again.events, "stage-skipped")).toEqual([
      { type: "stage-skipped", stage: "a", reason: "up-to-date" },
      { type: "stage-skipped", stage: "b", reason: "up-to-date" },
    ]);

    writeFiles(dir, { "params.yaml": "lr: 2\n" });
    const dry = reproJson(dir, ["--dry"]);
    expect(dry.code).toBe(0);
    expect(ofType(dry.events, "stage-would-run")).toEqual([
      {
        type: "stage-would-run",
        stage: "a",
        reasons: [{ kind: "changed-params", files: [{ file: "params.yaml", changes: [{ key: "lr", change: "modified", old: 1, new: 2 }] }] }],
      },
      { type: "stage-would-run", stage: "b", reasons: [{ kind: "upstream-will-run", upstream: "a" }] },
    ]);
    expect(dry.events.at(-1)).toMatchObject({ type: "run-summary", dry: true, ran: 2 });

    expect(reproJson(dir).code).toBe(0);
    writeFiles(dir, { "params.yaml": "lr: 1\n" });
    const restored = reproJson(dir);
    expect(restored.code).toBe(0);
    expect(ofType(restored.events, "stage-restored")).toEqual([{ type: "stage-restored", stage: "a", from: "run-cache" }]);
    expect(restored.events.at(-1)).toMatchObject({ type: "run-summary", ran: 0, restored: 1 });

    // A hand-edited output is saved before the re-run: the warning's facts, and the text report's words beside them.
    writeFileSync(path.join(dir, "b.txt"), "edited by hand\n");
    const forced = reproJson(dir, ["-f", "-s", "b"]);
    expect(forced.code).toBe(0);
    expect(ofType(forced.events, "stage-start")[0]).toMatchObject({
      reasons: [{ kind: "changed-outs", changes: [{ path: "b.txt", change: "modified", old: { algo: "xxh64" }, new: { algo: "xxh64" } }] }],
    });
    const [w, ...more] = ofType(forced.events, "warning");
    expect(more).toEqual([]);
    expect(w).toMatchObject({ type: "warning", kind: "output-saved-before-run", path: "b.txt", stage: "b", recorded: true });
    expect(w?.message).toBe(`'b.txt' was changed since 'b' last ran; that content was saved in the cache as ${String(w?.id)} before the re-run`);

    const fresh = reproJson(dir, ["-f", "-s", "a"]);
    expect(ofType(fresh.events, "stage-start")).toMatchObject([{ stage: "a", reasons: [{ kind: "forced" }] }]);
  });

  it("a failure exits 1 with the failure's facts; with -k the independent stage still runs", () => {
    const dir = makeProject({
      ".pipe/config.yaml": "",
      "pipe.yaml": [
        "stages:",
        "  bad:",
        "    cmd: echo about to fail && exit 3",
        "    outs: [bad.txt]",
        "  after:",
        "    cmd: cat bad.txt > after.txt",
        "    deps: [bad.txt]",
        "    outs: [after.txt]",
        "  good:",
        "    cmd: echo ok > good.txt",
        "    outs: [good.txt]",
        "",
      ].join("\n"),
    });
    const stop = reproJson(dir, ["bad"]);
    expect(stop.code).toBe(1);
    expect(ofType(stop.events, "stage-failed")).toEqual([
      {
        type: "stage-failed",
        stage: "bad",
        reason: "command",
        message: "'bad' failed with exit code 3",
        exitCode: 3,
        signal: null,
        tail: ["about to fail"],
      },
    ]);
    expect(stop.events.at(-1)).toMatchObject({ type: "run-summary", failed: 1 });

    const k = reproJson(dir, ["-k"]);
    expect(k.code).toBe(1);
    expect(ofType(k.events, "stage-failed").map((e) => e.stage)).toEqual(["bad"]);
    expect(ofType(k.events, "stage-not-run")).toEqual([{ type: "stage-not-run", stage: "after", because: "upstream-failed", upstream: "bad" }]);
    expect(ofType(k.events, "stage-finished").map((e) => e.stage)).toEqual(["good"]);
    expect(k.events.at(-1)).toMatchObject({ type: "run-summary", ran: 1, failed: 1, notRun: 1 });
  });

  it("a failure pipe finds itself carries its diagnostics", () => {
    const dir = makeProject({ ".pipe/config.yaml": "", "pipe.yaml": "stages:\n  lazy:\n    cmd: echo nothing\n    outs: [lazy.txt]\n" });
    const r = reproJson(dir);
    expect(r.code).toBe(1);
    expect(ofType(r.events, "stage-failed")).toMatchObject([
      {
        stage: "lazy",
        reason: "missing-output",
        diagnostics: [{ severity: "error", reason: "stage-failed", message: "stage 'lazy' did not create its output 'lazy.txt'" }],
        message: "stage 'lazy' did not create its output 'lazy.txt'",
      },
    ]);
  });

  it("gives addresses from the project root when run from a subdirectory (the text report shows them from there)", () => {
    const dir = makeProject({
      ".pipe/config.yaml": "",
      "sub/pipe.yaml": "stages:\n  s:\n    cmd: exit 1\n",
    });
    const text = runPipe(path.join(dir, "sub"), ["repro"]);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain("error: 's' failed with exit code 1");
    const r = reproJson(path.join(dir, "sub"));
    expect(r.code).toBe(1);
    expect(r.events[0]).toEqual({ type: "plan", stages: ["sub/pipe.yaml:s"], jobs: 1, dry: false });
    expect(ofType(r.events, "stage-failed")).toMatchObject([{ stage: "sub/pipe.yaml:s", exitCode: 1, message: "'sub/pipe.yaml:s' failed with exit code 1" }]);
  });
});
