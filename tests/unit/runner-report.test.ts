import { describe, expect, it } from "vitest";
import { formatClock, formatDuration } from "../../src/report/repro-text.js";
import { rig } from "../helpers/reporter-rig.js";

describe("formatting", () => {
  it("durations and clocks", () => {
    expect(formatDuration(400)).toBe("0.4s");
    expect(formatDuration(12_345)).toBe("12.3s");
    expect(formatDuration(123_000)).toBe("2m03s");
    expect(formatDuration(3_720_000)).toBe("1h02m");
    expect(formatClock(42_500)).toBe("00:42");
    expect(formatClock(3_723_000)).toBe("1:02:03");
  });
});

describe("repro text reporter", () => {
  it("prints the stage lines of spec 5 on stdout and the summary", () => {
    const r = rig();
    r.emit(
      { type: "plan", stages: ["prepare", "train", "evaluate"], jobs: 1, dry: false },
      { type: "stage-skipped", stage: "prepare", reason: "up-to-date" },
      { type: "stage-start", stage: "train", cmd: "python train.py", reasons: [{ kind: "always-changed" }] },
      { type: "stage-command", stage: "train", cmd: "python train.py" },
      { type: "stage-output", stage: "train", stream: "stdout", line: "epoch 1" },
      { type: "stage-output", stage: "train", stream: "stderr", line: "warning: slow" },
      { type: "stage-finished", stage: "train", durationMs: 12_300 },
      { type: "stage-restored", stage: "evaluate", from: "run-cache" },
      { type: "run-summary", ran: 1, restored: 1, upToDate: 1, failed: 0, notRun: 0, durationMs: 13_000, dry: false },
    );
    expect(r.out.join("")).toBe(
      [
        "'prepare' is up to date",
        "Running 'train'",
        "> python train.py",
        "epoch 1",
        "'train' finished in 12.3s",
        "Restored 'evaluate' from run-cache",
        "Summary: 1 ran, 1 restored, 1 up to date, 0 failed (13.0s)",
        "",
      ].join("\n"),
    );
    expect(r.err.join("")).toBe("warning: slow\n");
  });

  it("says a cluster job's stage runs when the scheduler starts it, not when it is submitted", () => {
    const r = rig({ verbose: true });
    r.emit(
      { type: "stage-start", stage: "train", cmd: "x", reasons: [{ kind: "always-changed" }], job: true },
      { type: "stage-job", stage: "train", job: "41", state: "queued" },
    );
    expect(r.out.join("")).toBe("Submitted 'train' as job 41\n");
    r.emit({ type: "stage-job", stage: "train", job: "41", state: "running" }, { type: "stage-command", stage: "train", cmd: "x" });
    expect(r.out.join("")).toMatch(/^Submitted 'train' as job 41\nRunning 'train' \(job 41\) \(.+\)\n> x\n$/);
  });

  it("on the status line, counts cluster jobs still in the scheduler's queue apart from the running stages", () => {
    const r = rig({ statusLine: true });
    r.emit(
      { type: "plan", stages: ["a", "b"], jobs: 2, dry: false },
      { type: "stage-start", stage: "a", cmd: "x", reasons: [], job: true },
      { type: "stage-start", stage: "b", cmd: "y", reasons: [], job: true },
      { type: "stage-job", stage: "a", job: "1", state: "running" },
      { type: "progress", running: ["a", "b"], finished: 0, total: 2 },
    );
    expect(r.err.join("")).toMatch(/\[0\/2\] 1 queued, running: a {2}/);
  });

  it("prefixes stage output with the stage name when several stages may run at once", () => {
    const r = rig({ prefix: true });
    r.emit(
      { type: "stage-start", stage: "a", cmd: ["step one", "step two"], reasons: [] },
      { type: "stage-command", stage: "a", cmd: "step one" },
      { type: "stage-output", stage: "a", stream: "stdout", line: "hello" },
      { type: "stage-command", stage: "a", cmd: "step two" },
    );
    expect(r.out.join("")).toBe("Running 'a'\n[a] > step one\n[a] hello\n[a] > step two\n");
  });

  it("writes an unfinished line through as it grows when one stage runs, then only the rest of it", () => {
    const r = rig();
    r.emit(
      { type: "stage-start", stage: "train", cmd: "x", reasons: [] },
      { type: "stage-output-partial", stage: "train", stream: "stdout", text: "epoch 1:  10%" },
    );
    // The bar is on the terminal before its line ends.
    expect(r.out.join("")).toBe("Running 'train'\nepoch 1:  10%");
    r.emit(
      { type: "stage-output-partial", stage: "train", stream: "stdout", text: "epoch 1:  10%\repoch 1:  50%" },
      { type: "stage-output", stage: "train", stream: "stdout", line: "epoch 1:  10%\repoch 1:  50%\repoch 1: 100%" },
      { type: "stage-output", stage: "train", stream: "stdout", line: "done" },
    );
    // Each byte once, in order: what the stage wrote, with its carriage returns.
    expect(r.out.join("")).toBe("Running 'train'\nepoch 1:  10%\repoch 1:  50%\repoch 1: 100%\ndone\n");
  });

  it("ends a line a stopped stage left open, and keeps the status line away while one is open", () => {
    const r = rig({ statusLine: true });
    r.emit(
      { type: "plan", stages: ["train"], jobs: 1, dry: false },
      { type: "progress", running: ["train"], finished: 0, total: 1 },
      { type: "stage-output-partial", stage: "train", stream: "stderr", text: "50%\r" },
      { type: "progress", running: ["train"], finished: 0, total: 1 },
    );
    // After the bar, no status line was drawn over it.
    expect(r.err.join("").endsWith("50%\r")).toBe(true);
    r.emit({ type: "stage-failed", stage: "train", reason: "command", exitCode: 1, signal: null, tail: [] });
    expect(r.err.join("")).toMatch(/50%\r\n.*error:/s);
  });

  it("with several stages, shows each one's latest progress segment on the status line, or as a line every 10 s without a TTY", () => {
    const tty = rig({ prefix: true, statusLine: true });
    tty.emit(
      { type: "plan", stages: ["a", "b"], jobs: 2, dry: false },
      { type: "progress", running: ["a", "b"], finished: 0, total: 2 },
      { type: "stage-output-partial", stage: "a", stream: "stderr", text: " 10%\r 40%\r" },
    );
    expect(tty.err.join("")).toContain("running: a (40%), b");
    expect(tty.out.join("")).toBe("");

    const ci = rig({ prefix: true });
    ci.emit({ type: "stage-output-partial", stage: "a", stream: "stdout", text: "1/9" });
    ci.tick(3000);
    ci.emit({ type: "stage-output-partial", stage: "a", stream: "stdout", text: "1/9\r2/9" });
    ci.tick(8000);
    ci.emit({ type: "stage-output-partial", stage: "a", stream: "stdout", text: "1/9\r2/9\r3/9" });
    expect(ci.out.join("")).toBe("[a] 1/9\n[a] 3/9\n");
  });

  it("prints each command of a list as it starts, never the ones a failure kept from running", () => {
    const r = rig();
    r.emit(
      { type: "stage-start", stage: "a", cmd: ["first", "second\n  continued\n", "third"], reasons: [] },
      { type: "stage-command", stage: "a", cmd: "first" },
      { type: "stage-output", stage: "a", stream: "stdout", line: "one" },
      { type: "stage-command", stage: "a", cmd: "second\n  continued\n" },
      { type: "stage-failed", stage: "a", reason: "command", exitCode: 1, signal: null, command: "second", tail: [] },
    );
    expect(r.out.join("")).toBe("Running 'a'\n> first\none\n> second\n    continued\n");
    expect(r.out.join("")).not.toContain("third");
  });

  it("shows the reasons with -v", () => {
    const r = rig({ verbose: true });
    r.emit({
      type: "stage-start",
      stage: "a",
      cmd: "x",
      reasons: [
        { kind: "changed-deps", changes: [{ path: "d.txt", rootPath: "d.txt", change: "modified" }] },
        { kind: "changed-command", old: "y", new: "x", vars: [], explained: false },
        { kind: "forced" },
      ],
    });
    expect(r.out[0]).toBe("Running 'a' (changed deps: modified d.txt; changed command; forced)\n");
  });

  it("prints a failure block on stderr with the exit code and the last lines", () => {
    const r = rig();
    r.emit({
      type: "stage-failed",
      stage: "train",
      reason: "command",
      exitCode: 1,
      signal: null,
      tail: ["Traceback (most recent call last):", "ValueError: bad"],
    });
    expect(r.out).toEqual([]);
    expect(r.err.join("")).toBe(
      "error: 'train' failed with exit code 1\n  last 2 lines of output:\n  | Traceback (most recent call last):\n  | ValueError: bad\n",
    );
  });

  it("says when everything is up to date, and summarises dry runs", () => {
    const r = rig();
    r.emit({ type: "run-summary", ran: 0, restored: 0, upToDate: 4, failed: 0, notRun: 0, durationMs: 10, dry: false });
    r.emit({ type: "run-summary", ran: 2, restored: 1, upToDate: 1, failed: 0, notRun: 0, durationMs: 10, dry: true });
    expect(r.out.join("")).toBe("Pipeline is up to date.\nDry run: 2 would run, 1 would be restored, 1 up to date; nothing was changed.\n");
  });

  it("names stages not run because an upstream stage failed", () => {
    const r = rig();
    r.emit({ type: "stage-not-run", stage: "evaluate", because: "upstream-failed", upstream: "train" });
    r.emit({ type: "stage-not-run", stage: "x", because: "stopped" });
    expect(r.out.join("")).toBe("'evaluate' not run: upstream 'train' failed\n");
  });

  it("-q keeps only failures, warnings and the interrupt notice", () => {
    const r = rig({ quiet: true });
    r.emit(
      { type: "stage-start", stage: "a", cmd: "x", reasons: [] },
      { type: "stage-output", stage: "a", stream: "stdout", line: "noise" },
      { type: "stage-finished", stage: "a", durationMs: 1 },
      { type: "stage-failed", stage: "b", reason: "command", exitCode: 2, signal: null, tail: [] },
      { type: "warning", warning: { kind: "leftover-deleted", path: "out.txt", stage: "b" } },
      { type: "interrupted" },
      { type: "run-summary", ran: 1, restored: 0, upToDate: 0, failed: 1, notRun: 0, durationMs: 1, dry: false },
    );
    expect(r.out).toEqual([]);
    expect(r.err.join("")).toContain("error: 'b' failed with exit code 2");
    expect(r.err.join("")).toContain("warning: 'out.txt' is what a failed run of 'b' left; it is deleted, not saved in the cache");
    expect(r.err.join("")).toContain("Interrupted");
  });

  it("draws a live status line on stderr, clears it before other output and redraws it after", () => {
    const r = rig({ statusLine: true, columns: 80 });
    r.emit({ type: "plan", stages: ["a", "b", "c", "d", "e", "f", "g"], jobs: 2, dry: false });
    r.tick(42_000);
    r.emit({ type: "progress", running: ["train", "evaluate"], finished: 3, total: 7 });
    expect(r.err.join("")).toBe("\r\x1b[K[3/7] running: train, evaluate  00:42");
    r.err.length = 0;
    r.emit({ type: "stage-output", stage: "train", stream: "stdout", line: "epoch 2" });
    expect(r.out).toEqual(["epoch 2\n"]);
    expect(r.err).toEqual(["\r\x1b[K", "\r\x1b[K[3/7] running: train, evaluate  00:42"]);
    r.err.length = 0;
    r.close();
    expect(r.err).toEqual(["\r\x1b[K"]);
  });

  it("takes a stage off the status line as soon as it finishes, before the scheduler's next progress report", () => {
    const r = rig({ statusLine: true, columns: 80 });
    r.emit({ type: "plan", stages: ["s"], jobs: 1, dry: false });
    r.emit({ type: "progress", running: ["s"], finished: 0, total: 1 });
    r.err.length = 0;
    r.emit({ type: "stage-finished", stage: "s", durationMs: 100 });
    expect(r.out).toEqual(["'s' finished in 0.1s\n"]);
    // The line is cleared for the message and not drawn again: nothing runs any more.
    expect(r.err).toEqual(["\r\x1b[K"]);
    r.err.length = 0;
    r.emit({ type: "progress", running: [], finished: 1, total: 1 });
    expect(r.err).toEqual([]);
  });

  it("with two stages running, the redraw after one's last line shows only the other, counted as finished", () => {
    const r = rig({ statusLine: true, columns: 80 });
    r.emit({ type: "plan", stages: ["a", "b", "c"], jobs: 2, dry: false });
    r.emit({ type: "progress", running: ["a", "b"], finished: 0, total: 3 });
    for (const e of [
      { type: "stage-skipped", stage: "a", reason: "up-to-date" },
      { type: "stage-failed", stage: "b", reason: "command", exitCode: 1, signal: null, tail: [] },
    ] as const) {
      r.err.length = 0;
      r.emit(e);
      if (e.stage === "a") expect(r.err.at(-1)).toBe("\r\x1b[K[1/3] running: b  00:00");
      else expect(r.err.join("")).not.toContain("running:");
    }
  });

  it("truncates the status line to the terminal width", () => {
    const r = rig({ statusLine: true, columns: 40 });
    r.emit({ type: "plan", stages: ["a"], jobs: 4, dry: false });
    r.emit({ type: "progress", running: ["a-very-long-stage-name", "another-long-one", "third"], finished: 0, total: 9 });
    const shown = r.err.join("").replace("\r\x1b[K", "");
    expect(shown.length).toBeLessThanOrEqual(39);
    expect(shown).toMatch(/^\[0\/9\] running: a-very.*… {2}00:00$/);
  });

  it("draws no status line when stderr is not a terminal", () => {
    const r = rig({ statusLine: false });
    r.emit({ type: "progress", running: ["a"], finished: 0, total: 1 });
    expect(r.err).toEqual([]);
  });
});
