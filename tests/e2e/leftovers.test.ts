/**
 * What a failed run of a stage leaves in its outputs is deleted before the next run without being saved in the cache
 * (it is nobody's data, and saving it on a full disk failed every retry); content a user or a successful run put
 * there is still saved first. `exec/run-marker.ts` tells the two apart.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, read, runPipe, writeFiles } from "../helpers/project.js";

/** Object files in the cache (not the verified log). */
function objects(dir: string): string[] {
  const root = path.join(dir, ".pipe/cache");
  const out: string[] = [];
  for (const shard of readdirSync(root)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const n of readdirSync(path.join(root, shard))) out.push(shard + n);
  }
  return out.sort();
}

function project(): string {
  // `ok` in params.yaml decides whether the command succeeds; it writes its output either way.
  return makeProject({
    "pipe.yaml": "stages:\n  make:\n    cmd: echo run-${ok} > out.txt && test ${ok} = yes\n    outs: [out.txt]\n",
    "params.yaml": "ok: 'yes'\n",
  });
}

const LEFTOVER = "warning: 'out.txt' is what a failed run of 'make' left; it is deleted, not saved in the cache\n";

describe("leftovers of a failed run", () => {
  it("are deleted without being saved; a hand edit after a successful run is still saved", () => {
    const dir = project();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const cached = objects(dir);
    writeFiles(dir, { "params.yaml": "ok: 'no'\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(1);
    expect(read(dir, "out.txt")).toBe("run-no\n");
    const retry = runPipe(dir, ["repro"]);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain(LEFTOVER);
    expect(objects(dir)).toEqual(cached);

    writeFiles(dir, { "params.yaml": "ok: 'yes'\n" });
    const ok = runPipe(dir, ["repro"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(LEFTOVER);
    writeFiles(dir, { "out.txt": "by hand\n" });
    const forced = runPipe(dir, ["repro", "-f"]);
    expect(forced.code).toBe(0);
    expect(forced.stderr).not.toContain("failed run");
    expect(forced.stderr).toMatch(/'out.txt' was changed since 'make' last ran; that content was saved in the cache as [0-9a-f]{16}/);
  });

  it("no longer count as such once checkout put back what the lock records: a later hand edit is saved", () => {
    const dir = project();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFiles(dir, { "params.yaml": "ok: 'no'\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(1);
    expect(runPipe(dir, ["checkout"]).code).toBe(0);
    expect(read(dir, "out.txt")).toBe("run-yes\n");
    writeFiles(dir, { "out.txt": "by hand\n" });
    const r = runPipe(dir, ["repro"]);
    expect(r.stderr).not.toContain("failed run");
    expect(r.stderr).toMatch(/'out.txt' was changed since 'make' last ran; that content was saved in the cache/);
  });

  it("no longer count as such once 'pipe commit' recorded them: a later hand edit is saved", () => {
    const dir = project();
    writeFiles(dir, { "params.yaml": "ok: 'no'\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(1);
    // The user accepts what the failed run wrote.
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace(" && test ${ok} = yes", "") });
    const c = runPipe(dir, ["commit"]);
    expect(c.code, c.stderr).toBe(0);
    writeFiles(dir, { "out.txt": "by hand\n" });
    const r = runPipe(dir, ["repro", "-f"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("failed run");
    expect(r.stderr).toMatch(/'out.txt' was changed since 'make' last ran; that content was saved in the cache/);
  });

  it("content that was there before the stage ever ran is saved, as before", () => {
    const dir = project();
    writeFiles(dir, { "out.txt": "mine\n" });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/'out.txt' was already there and 'make' has no record of producing it; that content was saved/);
  });
});
