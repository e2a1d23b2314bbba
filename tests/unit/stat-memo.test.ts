/**
 * `StatMemo` (`status/workspace.ts`): stats taken while remembering are handed to the next stat of the same path
 * once, a path missing then is missing once more, and `forget()` makes every later stat a real one (what `repro`
 * calls before anything runs, so a kept stat never outlives a change to the workspace).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeHashFs, type HashFs } from "../../src/hash/fs.js";
import { openWorkspace, StatMemo } from "../../src/status/workspace.js";
import { makeProject } from "../helpers/project.js";

function counting(): { fs: HashFs; calls: string[] } {
  const calls: string[] = [];
  return { calls, fs: { ...nodeHashFs, stat: (abs) => (calls.push(abs), nodeHashFs.stat(abs)) } };
}

describe("StatMemo", () => {
  it("hands a remembered stat to the next stat of its path, once", () => {
    const root = makeProject({ "a.txt": "a\n" });
    const { fs, calls } = counting();
    const m = new StatMemo(fs);
    const a = path.join(root, "a.txt");
    const gone = path.join(root, "gone.txt");
    m.remember();
    const first = m.fs.stat(a);
    expect(m.fs.stat(gone)).toBeUndefined();
    m.stopRemembering();
    expect(calls).toEqual([a, gone]);
    expect(m.fs.stat(a)).toEqual(first);
    expect(m.fs.stat(gone)).toBeUndefined();
    expect(calls).toEqual([a, gone]);
    // Handed over once: the next stat is a real one.
    m.fs.stat(a);
    expect(calls).toEqual([a, gone, a]);
  });

  it("forgets everything it kept: later stats see the workspace as it is", () => {
    const root = makeProject({ "a.txt": "a\n" });
    const { fs, calls } = counting();
    const m = new StatMemo(fs);
    const a = path.join(root, "a.txt");
    m.remember();
    const before = m.fs.stat(a);
    m.forget();
    writeFileSync(a, "a longer text\n");
    const after = m.fs.stat(a);
    expect(calls).toEqual([a, a]);
    expect(after?.size).not.toBe(before?.size);
    // Not remembering after forget(): nothing kept.
    m.fs.stat(a);
    expect(calls).toEqual([a, a, a]);
  });

  it("is what a workspace's hasher stats through", async () => {
    const root = makeProject({ "d/a.txt": "a\n" });
    mkdirSync(path.join(root, ".pipe"));
    const { fs, calls } = counting();
    const ws = openWorkspace(root, { fs, stateFile: null });
    const a = path.join(root, "d/a.txt");
    ws.statMemo.remember();
    expect(ws.hasher.stat(a)?.kind).toBe("file");
    ws.statMemo.stopRemembering();
    const o = await ws.hasher.hashPath(a, "xxh64");
    expect(o.kind).toBe("file");
    expect(calls.filter((c) => c === a)).toEqual([a]);
  });
});
