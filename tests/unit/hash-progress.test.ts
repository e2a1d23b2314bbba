/** The hashing progress watcher (`exec/hash-progress.ts`) and how the text reporter shows its events. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { watchHashing } from "../../src/exec/hash-progress.js";
import type { ReproEvent } from "../../src/exec/events.js";
import type { HasherStats } from "../../src/hash/hasher.js";
import { hashingText } from "../../src/report/repro-text.js";
import { rig } from "../helpers/reporter-rig.js";

afterEach(() => vi.useRealTimers());

function stats(): HasherStats {
  return { bytesRead: 0, bytesQueued: 0, filesRead: 0, statCacheHits: 0, dirCacheHits: 0 };
}

describe("watchHashing", () => {
  it("reports a batch of 1 GB or more each second with rate and time left, and its end", () => {
    vi.useFakeTimers();
    let t = 0;
    const s = stats();
    const events: ReproEvent[] = [];
    const stop = watchHashing(s, (e) => events.push(e), { now: () => t });
    s.bytesQueued = 3e9;
    t = 1000;
    vi.advanceTimersByTime(1000); // the batch starts here
    s.bytesRead = 1e9;
    t = 2000;
    vi.advanceTimersByTime(1000);
    s.bytesRead = 3e9;
    t = 3000;
    vi.advanceTimersByTime(1000);
    stop();
    const progress = events.filter((e) => e.type === "hash-progress");
    expect(progress).toEqual([
      { type: "hash-progress", bytesDone: 0, bytesTotal: 3e9, bytesPerSecond: 0, done: false },
      { type: "hash-progress", bytesDone: 1e9, bytesTotal: 3e9, bytesPerSecond: 1e9, secondsLeft: 2, done: false },
      { type: "hash-progress", bytesDone: 3e9, bytesTotal: 3e9, bytesPerSecond: 1.5e9, done: true },
    ]);
  });

  it("says nothing about small batches", () => {
    vi.useFakeTimers();
    const s = stats();
    const events: ReproEvent[] = [];
    const stop = watchHashing(s, (e) => events.push(e));
    s.bytesQueued = 5e8;
    vi.advanceTimersByTime(1000);
    s.bytesRead = 5e8;
    vi.advanceTimersByTime(1000);
    stop();
    expect(events).toEqual([]);
  });
});

describe("hash-progress in the text reporter", () => {
  const at = (done: number, last = false): ReproEvent => ({
    type: "hash-progress",
    bytesDone: done,
    bytesTotal: 4e9,
    bytesPerSecond: 2e8,
    ...(last ? {} : { secondsLeft: Math.ceil((4e9 - done) / 2e8) }),
    done: last,
  });

  it("words the facts", () => {
    expect(hashingText({ bytesDone: 1.2e9, bytesTotal: 3.4e9, bytesPerSecond: 2.5e8, secondsLeft: 9 })).toBe("hashing 1.2 GB of 3.4 GB, 250 MB/s, 9s left");
    expect(hashingText({ bytesDone: 0, bytesTotal: 12e9, bytesPerSecond: 0, secondsLeft: 150 })).toBe("hashing 0 B of 12 GB, 0 B/s, 2m30s left");
  });

  it("puts it on the status line at a terminal, and takes it down at the end", () => {
    const g = rig({ statusLine: true });
    g.emit({ type: "plan", stages: ["a"], jobs: 1, dry: false });
    g.emit({ type: "progress", running: ["a"], finished: 0, total: 1 });
    g.emit(at(1e9));
    expect(g.err.join("")).toContain("running: a  hashing 1.0 GB of 4.0 GB, 200 MB/s, 15s left");
    g.err.length = 0;
    g.emit(at(4e9, true));
    expect(g.err.join("")).not.toContain("hashing");
  });

  it("without a terminal, prints a line at most every 10 s", () => {
    const g = rig();
    g.emit(at(1e9));
    g.tick(5000);
    g.emit(at(2e9));
    g.tick(6000);
    g.emit(at(3e9));
    g.emit(at(4e9, true));
    expect(g.err.join("")).toBe("hashing 1.0 GB of 4.0 GB, 200 MB/s, 15s left\nhashing 3.0 GB of 4.0 GB, 200 MB/s, 5s left\n");
  });
});
