/**
 * The one record path (`exec/record.ts`) called as a future `pipe add` would: a stage of outputs only (no command,
 * no deps), its entry written where the caller says. Outputs are stored, no run-cache entry is made, an identical
 * entry is not written again, and a missing output fails at the hashing step.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ok } from "../../src/core/diagnostic.js";
import { LocalCache } from "../../src/storage/store.js";
import { RunCache } from "../../src/storage/runcache.js";
import { cacheContextOf, recordAndStore, type Recorder } from "../../src/exec/record.js";
import type { LockEntry } from "../../src/lock/types.js";
import type { Stage } from "../../src/core/model.js";
import type { ReproEvent } from "../../src/exec/events.js";
import { openWorkspace } from "../../src/status/workspace.js";
import { makeProject } from "../helpers/project.js";

function dataOnly(): Stage {
  return {
    address: "data.csv.dvc",
    name: "data.csv.dvc",
    file: "data.csv.dvc",
    dir: "",
    wdir: "",
    cmd: "",
    deps: [],
    outs: [{ path: "data.csv", rootPath: "data.csv", external: false, kind: "outs", cache: true, persist: false, flags: {} }],
    params: [],
    frozen: false,
    alwaysChanged: false,
    loc: { file: "data.csv.dvc", line: 1, col: 1 },
  } as Stage;
}

describe("record path, as 'add' would call it", () => {
  it("stores the outputs, writes the entry through the caller, makes no run-cache entry, and writes an identical entry once", async () => {
    const root = makeProject({ "data.csv": "a,b\n1,2\n" });
    const ws = openWorkspace(root, { stateFile: null });
    const store = new LocalCache(root);
    const runs = new RunCache(root);
    const events: ReproEvent[] = [];
    const r: Recorder = { ws, cc: cacheContextOf(ws, store, ["copy"]), runs, emit: (e) => events.push(e) };
    const written: LockEntry[] = [];
    const opts = { store: true, runCache: true, previous: undefined as LockEntry | undefined, write: async (e: LockEntry) => (written.push(e), ok(undefined)) };
    const first = await recordAndStore(r, dataOnly(), opts);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(first.value.written).toBe(true);
    expect(written).toHaveLength(1);
    const id = first.value.entry.outs[0]!.hash;
    expect(await store.hasId(id)).toBe(true);
    expect((await runs.list()).entries).toHaveLength(0);
    const again = await recordAndStore(r, dataOnly(), { ...opts, previous: first.value.entry });
    expect(again.ok && again.value.written).toBe(false);
    expect(written).toHaveLength(1);
    expect(events).toEqual([]);

    rmSync(path.join(root, "data.csv"));
    const gone = await recordAndStore(r, dataOnly(), opts);
    expect(gone.ok ? undefined : gone.failure.step).toBe("hash");
  });
});
