/**
 * Events are data, English is the reporters': the words made from the facts of failures and warnings, and the one
 * `unreachable` that a reporter reaches when a value no case handles gets past the compiler (a cast, an old build).
 */
import { describe, expect, it } from "vitest";
import type { ReproEvent, ReproWarning } from "../../src/exec/events.js";
import { jsonEvent } from "../../src/report/repro-json.js";
import { reasonText } from "../../src/report/repro-reasons.js";
import { createReproTextReporter, failureText } from "../../src/report/repro-text.js";
import { warningText } from "../../src/report/repro-warnings.js";
import { renderStatusText, statusJson } from "../../src/report/status.js";
import type { Where } from "../../src/project/where.js";
import type { StaleReason } from "../../src/status/types.js";

const plain = { bold: (s: string) => s, dim: (s: string) => s, red: (s: string) => s, yellow: (s: string) => s, green: (s: string) => s };
/** As seen from `sub/`, whose `pipe.yaml` holds `s`. */
const fromSub: Where = { path: (p) => p.replace(/^sub\//, ""), address: (a) => a.replace(/^sub\/pipe\.yaml:/, "") };

describe("failure words", () => {
  it("are made from the command's outcome, addresses as seen from the working directory", () => {
    expect(failureText({ stage: "sub/pipe.yaml:s", reason: "command", exitCode: 2, signal: null, tail: [] }, fromSub)).toBe("'s' failed with exit code 2");
    expect(failureText({ stage: "t", reason: "command", exitCode: null, signal: "SIGKILL", command: "b", tail: [] })).toBe(
      "'t' was killed by SIGKILL (command: b)",
    );
    expect(failureText({ stage: "t", reason: "spawn", error: "no sh" })).toBe("'t' could not start: no sh");
    const limit = { limit: "time", detail: "TIMEOUT" } as const;
    expect(failureText({ stage: "t", reason: "command", exitCode: null, signal: null, limit, tail: [] })).toBe("'t' was stopped at its time limit (TIMEOUT)");
    expect(failureText({ stage: "t", reason: "environment", start: true, error: "too many open files" })).toBe("'t' could not start: too many open files");
    const full = { severity: "error", reason: "environment", message: "no space left", hint: "free space" } as const;
    expect(failureText({ stage: "t", reason: "environment", diagnostics: [full], aboutStage: true, located: false })).toBe("stage 't': no space left\n  = free space");
    const named = { severity: "error", reason: "io", message: "stage 't': cannot write" } as const;
    expect(failureText({ stage: "t", reason: "io", diagnostics: [named], aboutStage: true, located: false })).toBe("stage 't': cannot write");
    expect(failureText({ stage: "t", reason: "missing-dep", diagnostics: [{ ...named, message: "no lr" }], aboutStage: false, located: true })).toBe("no lr");
  });
});

describe("warning words", () => {
  const cases: [ReproWarning, string][] = [
    [{ kind: "external-not-checked", paths: ["s3://a", "s3://b", "s3://c", "s3://d", "s3://e", "s3://f", "s3://g"] }, "external dependencies and outputs are not checked or cached: s3://a, s3://b, s3://c, s3://d, s3://e, and 2 more"],
    [{ kind: "frozen-outputs-lost", stage: "t", paths: ["a", "b"] }, "frozen stage 't': 'a', 'b' are missing and cannot be restored from the cache; 'pipe repro -f t' runs it"],
    [{ kind: "frozen-outputs-lost", stage: "t", paths: ["a"] }, "frozen stage 't': 'a' is missing and cannot be restored from the cache; 'pipe repro -f t' runs it"],
    [{ kind: "corrupt-object-removed", out: "m", ids: ["1"] }, "cache object 1 of 'm' was corrupt and has been removed"],
    [{ kind: "corrupt-object-removed", out: "m", ids: ["1", "2"], instead: { stage: "t", from: "cache" } }, "cache objects 1, 2 of 'm' were corrupt and have been removed; running 't' instead"],
    [{ kind: "corrupt-object-removed", out: "m", ids: ["1"], instead: { stage: "t", from: "run-cache" } }, "run-cache: corrupt cache object 1 removed; running 't' instead"],
    [{ kind: "corrupt-object-kept", out: "m", id: "1" }, "cache object 1 of 'm' is corrupt and cannot be restored (a real run removes it)"],
    [{ kind: "unsaved-content-saved", path: "m", id: "1" }, "'m' had content that was not in the cache; it was saved there as 1 before being replaced"],
    [{ kind: "leftover-deleted", path: "m", stage: "t" }, "'m' is what a failed run of 't' left; it is deleted, not saved in the cache"],
    [{ kind: "output-saved-before-run", path: "m", stage: "t", id: "1", recorded: false }, "'m' was already there and 't' has no record of producing it; that content was saved in the cache as 1 before the run"],
    [{ kind: "cache-objects-repaired", out: "m", stage: "t", ids: ["1"] }, "cache object 1 of 'm' (stage 't') no longer matched its name (edited through a hardlink or symlink?) and was replaced by what the stage produced"],
    [{ kind: "cache-objects-repaired", out: "m", stage: "t", ids: ["1", "2", "3", "4", "5", "6"] }, "cache objects 1, 2, 3, 4, 5 and 1 more of 'm' (stage 't') no longer matched their names (edited through a hardlink or symlink?) and were replaced by what the stage produced"],
    [
      { kind: "diagnostics", stage: "t", diagnostics: [{ severity: "error", reason: "environment", message: "disk full", hint: "free space" }, { severity: "error", reason: "io", message: "stage 't': x" }] },
      "stage 't': disk full\n  = free space\nstage 't': x",
    ],
    [{ kind: "run-cache-not-updated", diagnostics: [{ severity: "error", reason: "io", message: "no room" }] }, "run-cache not updated: no room"],
  ];
  it.each(cases)("%j", (w, text) => {
    expect(warningText(w)).toBe(text);
  });
});

describe("a value no reporter handles", () => {
  const bogusReason = { kind: "changed-weather" } as unknown as StaleReason;
  it("throws in status's text and JSON instead of printing nothing", () => {
    const stages = [{ address: "a", stale: true, frozen: false, reasons: [bogusReason], external: [] }];
    expect(() => renderStatusText(stages, { verbose: false })).toThrow(/unexpected value.*changed-weather/);
    expect(() => statusJson(stages)).toThrow(/unexpected value/);
  });
  it("throws in repro's reasons, warnings and events", () => {
    expect(() => reasonText(bogusReason)).toThrow(/unexpected value/);
    expect(() => warningText({ kind: "cloudy" } as unknown as ReproWarning)).toThrow(/unexpected value/);
    const bogusEvent = { type: "stage-dreamt", stage: "a" } as unknown as ReproEvent;
    expect(() => jsonEvent(bogusEvent)).toThrow(/unexpected value/);
    const text = createReproTextReporter({ out: () => {}, err: () => {}, statusLine: false, prefix: false, quiet: false, verbose: false, colors: plain, tickMs: 0 });
    expect(() => text.handle(bogusEvent)).toThrow(/unexpected value/);
  });
});
