import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, utimesSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LockWriter } from "../../src/lock/store.js";
import { acquireWriteLock, processAlive, WRITE_LOCK } from "../../src/exec/mutex.js";
import { readLockIn } from "../../src/lock/read.js";
import type { LockEntry } from "../../src/lock/types.js";
import { serializeLock, writePartsAtomic } from "../../src/lock/write.js";
import type { Pipeline, Stage } from "../../src/core/model.js";
import { makeProject } from "../helpers/project.js";

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

describe("project write lock", () => {
  it("creates .pipe/tmp/write.lock with pid, start time, host and command, and removes it on release", async () => {
    const root = makeProject();
    const r = await acquireWriteLock(root, { command: "pipe repro" });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const file = path.join(root, WRITE_LOCK);
    const content = JSON.parse(readFileSync(file, "utf8"));
    expect(content).toMatchObject({ pid: process.pid, host: os.hostname(), command: "pipe repro" });
    expect(Number.isNaN(Date.parse(content.startTime))).toBe(false);
    await r.value.release();
    expect(existsSync(file)).toBe(false);
    await r.value.release();
    // No temp files left.
    expect(readdirSync(path.dirname(file))).toEqual([]);
  });

  it("a second writer fails at once with a message naming the holder", async () => {
    const root = makeProject();
    const first = await acquireWriteLock(root, { command: "pipe repro" });
    expect(first.ok).toBe(true);
    const second = await acquireWriteLock(root, { command: "pipe gc" });
    expect(second.ok).toBe(false);
    if (!second.ok) {
      const msg = second.errors[0]!.message;
      expect(msg).toContain(`pid ${process.pid}`);
      expect(msg).toContain("pipe repro");
      expect(msg).toContain("started ");
    }
    if (first.ok) await first.value.release();
    const third = await acquireWriteLock(root);
    expect(third.ok).toBe(true);
    if (third.ok) await third.value.release();
  });

  it("with waitMs, waits for the holder to release", async () => {
    const root = makeProject();
    const first = await acquireWriteLock(root);
    if (!first.ok) return expect.fail("first lock");
    // What proves the wait is the order of events, not the clock: the second acquisition succeeds only once the
    // first holder has released.
    let released = false;
    setTimeout(() => {
      released = true;
      void first.value.release();
    }, 150);
    const second = await acquireWriteLock(root, { waitMs: 60_000, pollMs: 20 });
    expect(second.ok).toBe(true);
    expect(released).toBe(true);
    if (second.ok) await second.value.release();
  });

  it("times out waiting for a live holder", async () => {
    const root = makeProject();
    const first = await acquireWriteLock(root);
    const second = await acquireWriteLock(root, { waitMs: 100, pollMs: 20 });
    expect(second.ok).toBe(false);
    if (first.ok) await first.value.release();
  });

  it("takes over a stale lock left by a dead process on this host", async () => {
    const root = makeProject();
    const pid = deadPid();
    expect(processAlive(pid)).toBe(false);
    mkdirSync(path.join(root, ".pipe/tmp"), { recursive: true });
    writeFileSync(
      path.join(root, WRITE_LOCK),
      JSON.stringify({ pid, startTime: "2020-01-01T00:00:00.000Z", host: os.hostname(), command: "pipe repro" }),
    );
    const r = await acquireWriteLock(root);
    expect(r.ok).toBe(true);
    expect(JSON.parse(readFileSync(path.join(root, WRITE_LOCK), "utf8")).pid).toBe(process.pid);
    if (r.ok) await r.value.release();
    expect(readdirSync(path.join(root, ".pipe/tmp"))).toEqual([]);
  });

  it("respects a lock from another host (it cannot tell whether that process lives)", async () => {
    const root = makeProject();
    mkdirSync(path.join(root, ".pipe/tmp"), { recursive: true });
    writeFileSync(
      path.join(root, WRITE_LOCK),
      JSON.stringify({ pid: deadPid(), startTime: "2020-01-01T00:00:00.000Z", host: "other-machine", command: "pipe repro" }),
    );
    const r = await acquireWriteLock(root);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toContain("other-machine");
  });

  it("an unreadable lock is respected while fresh and taken over once old", async () => {
    const root = makeProject();
    const file = path.join(root, WRITE_LOCK);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "");
    expect((await acquireWriteLock(root)).ok).toBe(false);
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(file, old, old);
    const r = await acquireWriteLock(root);
    expect(r.ok).toBe(true);
    if (r.ok) await r.value.release();
  });

  it("release does not remove a lock that another process has since taken", async () => {
    const root = makeProject();
    const r = await acquireWriteLock(root);
    if (!r.ok) return expect.fail("lock");
    writeFileSync(path.join(root, WRITE_LOCK), JSON.stringify({ pid: 1, startTime: "x", host: "h", command: "other" }));
    await r.value.release();
    expect(existsSync(path.join(root, WRITE_LOCK))).toBe(true);
  });
});

describe("LockWriter (repro's pipe.lock writer)", () => {
  const loc = { file: "pipe.yaml", line: 1, col: 1 };
  function stageNamed(name: string, dir = ""): Stage {
    return {
      address: dir ? `${dir}/pipe.yaml:${name}` : name,
      name,
      file: dir ? `${dir}/pipe.yaml` : "pipe.yaml",
      dir,
      wdir: dir,
      cmd: `make ${name}`,
      deps: [],
      outs: [],
      params: [],
      frozen: false,
      alwaysChanged: false,
      loc,
    };
  }
  const entry = (name: string, hash: string): LockEntry => ({
    cmd: `make ${name}`,
    deps: [{ path: "in.txt", algo: "xxh64", hash, size: 3 }],
    params: { "params.yaml": { lr: 0.1 } },
    outs: [{ path: `${name}.out`, algo: "xxh64", hash, size: 4 }],
  });

  it("writes exactly what serializeLock writes, in definition order, keeping entries of stages that no longer exist", async () => {
    const root = makeProject({
      "pipe.lock": "schema: '2.0'\nstages:\n  gone:\n    cmd: old\n  b:\n    cmd: make b\n",
    });
    const stages = [stageNamed("a"), stageNamed("b"), stageNamed("c")];
    const pipeline: Pipeline = { root, files: [], stages, params: [], metrics: [], plots: [] };
    const w = new LockWriter(pipeline);
    // Finishing out of order (as with -j) still gives definition order.
    await Promise.all([w.write(stages[2]!, entry("c", "cccccccccccccccc")), w.write(stages[0]!, entry("a", "aaaaaaaaaaaaaaaa"))]);
    const r = await w.write(stages[1]!, entry("b", "bbbbbbbbbbbbbbbb"));
    expect(r.ok).toBe(true);
    const text = readFileSync(path.join(root, "pipe.lock"), "utf8");
    const expected = serializeLock([
      ["a", entry("a", "aaaaaaaaaaaaaaaa")],
      ["b", entry("b", "bbbbbbbbbbbbbbbb")],
      ["c", entry("c", "cccccccccccccccc")],
      ["gone", { cmd: "old", deps: [], params: {}, outs: [] }],
    ]);
    expect(text).toBe(expected);
    // And it reads back as what was written.
    const back = await readLockIn(root, "");
    expect(back.ok && back.value?.stages.get("a")).toEqual(entry("a", "aaaaaaaaaaaaaaaa"));
    expect(readdirSync(root).filter((n) => n.includes("tmp"))).toEqual([]);
  });

  it("writes the lock beside a stages file in a subdirectory", async () => {
    const root = makeProject();
    const s = stageNamed("x", "sub");
    const w = new LockWriter({ root, files: [], stages: [s], params: [], metrics: [], plots: [] });
    expect((await w.write(s, entry("x", "0123456789abcdef"))).ok).toBe(true);
    expect(readFileSync(path.join(root, "sub/pipe.lock"), "utf8")).toContain("  x:\n    cmd: make x\n");
  });

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  /** Waits until `cond` holds (the writer's queue runs on promise callbacks and real I/O); 10 s at most. */
  async function until(cond: () => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!cond() && Date.now() < deadline) await sleep(1);
    expect(cond()).toBe(true);
  }

  it("coalesces entries recorded while a write is in flight into one write, settling each once its entry is on disk", async () => {
    const root = makeProject();
    const stages = ["a", "b", "c", "d"].map((n) => stageNamed(n));
    const [a, b, c, d] = stages as [Stage, Stage, Stage, Stage];
    const pipeline: Pipeline = { root, files: [], stages, params: [], metrics: [], plots: [] };
    const written: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new LockWriter(pipeline, async (abs, text) => {
      written.push(Buffer.concat(text).toString("utf8"));
      if (written.length === 1) await gate; // hold the first write in flight
      await writePartsAtomic(abs, text);
    });
    const lockText = (): string => readFileSync(path.join(root, "pipe.lock"), "utf8");
    const onDisk: string[] = [];
    const track = (name: string, p: Promise<{ ok: boolean }>): Promise<void> =>
      p.then((r) => {
        expect(r.ok).toBe(true);
        // Settled: the entry must already be in the file, as a dependent stage starts right after.
        if (lockText().includes(`  ${name}:\n`)) onDisk.push(name);
      });
    const pa = track("a", w.write(a, entry("a", "aaaaaaaaaaaaaaaa")));
    await until(() => written.length === 1);
    const rest = [
      track("b", w.write(b, entry("b", "bbbbbbbbbbbbbbbb"))),
      track("c", w.write(c, entry("c", "cccccccccccccccc"))),
      track("d", w.write(d, entry("d", "dddddddddddddddd"))),
    ];
    // While the first write is held, nothing else is written and no later stage counts as recorded.
    await sleep(20);
    expect(written.length).toBe(1);
    expect(onDisk).toEqual([]);
    release();
    await Promise.all([pa, ...rest]);
    expect(onDisk.sort()).toEqual(["a", "b", "c", "d"]);
    // One write for `a`, one for b, c and d together; the last is exactly what serializeLock gives.
    expect(written.length).toBe(2);
    const expected = serializeLock(stages.map((s) => [s.name, entry(s.name, s.name.repeat(16))] as [string, LockEntry]));
    expect(written[1]).toBe(expected);
    expect(lockText()).toBe(expected);
    // A stage finishing after that starts a write of its own.
    expect((await w.write(a, entry("a", "0123456789abcdef"))).ok).toBe(true);
    expect(written.length).toBe(3);
  });

  it("reports a failed write to every stage that joined it, and the next write still carries their entries", async () => {
    const root = makeProject();
    const stages = ["a", "b", "c"].map((n) => stageNamed(n));
    const [a, b, c] = stages as [Stage, Stage, Stage];
    const pipeline: Pipeline = { root, files: [], stages, params: [], metrics: [], plots: [] };
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new LockWriter(pipeline, async (abs, text) => {
      calls++;
      if (calls === 1) await gate;
      if (calls === 2) throw new Error("disk full");
      await writePartsAtomic(abs, text);
    });
    const pa = w.write(a, entry("a", "aaaaaaaaaaaaaaaa"));
    await until(() => calls === 1);
    const pb = w.write(b, entry("b", "bbbbbbbbbbbbbbbb"));
    const pc = w.write(c, entry("c", "cccccccccccccccc"));
    release();
    const [ra, rb, rc] = await Promise.all([pa, pb, pc]);
    expect(ra.ok).toBe(true);
    expect(!rb.ok && rb.errors[0]?.message).toBe("cannot write pipe.lock: disk full");
    expect(!rc.ok && rc.errors[0]?.message).toBe("cannot write pipe.lock: disk full");
    expect((await w.write(a, entry("a", "aaaaaaaaaaaaaaaa"))).ok).toBe(true);
    const text = readFileSync(path.join(root, "pipe.lock"), "utf8");
    for (const n of ["a", "b", "c"]) expect(text).toContain(`  ${n}:\n`);
  });

  it("refuses to overwrite a damaged lock file", async () => {
    const root = makeProject({ "pipe.lock": "stages: [oops\n" });
    const s = stageNamed("a");
    const r = await new LockWriter({ root, files: [], stages: [s], params: [], metrics: [], plots: [] }).write(s, entry("a", "aaaaaaaaaaaaaaaa"));
    expect(r.ok).toBe(false);
    expect(readFileSync(path.join(root, "pipe.lock"), "utf8")).toBe("stages: [oops\n");
  });
});
