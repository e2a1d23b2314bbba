import path from "node:path";
import { describe, expect, it } from "vitest";
import { storeOutput, type CacheContext } from "../../src/storage/checkout.js";
import { defaultDigester } from "../../src/storage/digest.js";
import { applyGc, formatBytes, planGc, referencedObjects } from "../../src/storage/gc.js";
import { serialiseManifest } from "../../src/storage/manifest.js";
import { RunCache } from "../../src/storage/runcache.js";
import { LocalCache } from "../../src/storage/store.js";
import type { LockEntry } from "../../src/lock/types.js";
import { makeProject } from "../helpers/project.js";

const h = (s: string): Promise<string> => defaultDigester.bytes(s, "xxh64");

async function setup() {
  const root = makeProject({ "keep.txt": "keep", "old.txt": "old", "d/a": "A", "d/b": "B" });
  const store = new LocalCache(root);
  const runs = new RunCache(root);
  const cc: CacheContext = { root, store, linkTypes: ["copy"] };
  const keep = await h("keep");
  const old = await h("old");
  await storeOutput(cc, "keep.txt", { kind: "file", hash: keep, size: 4 });
  await storeOutput(cc, "old.txt", { kind: "file", hash: old, size: 3 });
  const entries = [
    { relpath: "a", hash: await h("A"), size: 1 },
    { relpath: "b", hash: await h("B"), size: 1 },
  ];
  const dirId = (await h(serialiseManifest(entries))) + ".dir";
  await storeOutput(cc, "d", { kind: "dir", hash: dirId, entries });
  return { root, store, runs, keep, old, dirId, entries };
}

function lockEntry(outs: { path: string; hash: string }[]): LockEntry {
  return { cmd: "x", deps: [], params: {}, outs: outs.map((o) => ({ ...o, algo: "xxh64" as const })) };
}

describe("gc", () => {
  it("keeps objects a lock references (directory members included) and removes the rest", async () => {
    const s = await setup();
    const refs = await referencedObjects(s.store, [lockEntry([{ path: "keep.txt", hash: s.keep }, { path: "d", hash: s.dirId }])]);
    expect(refs.has(s.entries[0]!.hash)).toBe(true);
    const plan = await planGc(s.store, s.runs, refs);
    expect(plan.objects.map((o) => o.id)).toEqual([s.old]);
    expect(plan.bytes).toBe(3);
    expect(plan.keptObjects).toBe(4);
    await applyGc(plan, s.store, s.runs);
    expect(await s.store.hasId(s.old)).toBe(false);
    for (const id of [s.keep, s.dirId, s.entries[0]!.hash, s.entries[1]!.hash]) expect(await s.store.hasId(id)).toBe(true);
  });

  it("a plan changes nothing until applied (gc --dry)", async () => {
    const s = await setup();
    const plan = await planGc(s.store, s.runs, new Set());
    expect(plan.objects).toHaveLength(5);
    expect((await s.store.listing()).objects).toHaveLength(5);
  });

  it("removes run-cache entries whose outputs go, keeps those whose outputs stay", async () => {
    const s = await setup();
    const kGood = await s.runs.key({ cmd: "good", deps: [], params: {}, outs: ["keep.txt"] });
    const kBad = await s.runs.key({ cmd: "bad", deps: [], params: {}, outs: ["old.txt"] });
    await s.runs.record(kGood, { outs: [{ path: "keep.txt", hash: s.keep, size: 4 }] });
    await s.runs.record(kBad, { outs: [{ path: "old.txt", hash: s.old, size: 3 }] });
    const refs = await referencedObjects(s.store, [lockEntry([{ path: "keep.txt", hash: s.keep }])]);
    const plan = await planGc(s.store, s.runs, refs);
    expect(plan.runs.map((r) => r.key)).toEqual([kBad]);
    expect(plan.keptRuns).toBe(1);
    await applyGc(plan, s.store, s.runs);
    expect(await s.runs.lookup(kGood)).toBeDefined();
    expect(await s.runs.lookup(kBad)).toBeUndefined();
  });

  it("removes leftover temp files", async () => {
    const s = await setup();
    const { writeFileSync, existsSync } = await import("node:fs");
    const t = path.join(s.store.dir, s.keep.slice(0, 2), ".x.pipe-tmp-1-ab");
    writeFileSync(t, "partial");
    // A rewrite of the verified log cut short leaves its temp file beside the log, outside the shards.
    const tLog = path.join(s.store.dir, ".verified.pipe-tmp-1-cd");
    writeFileSync(tLog, "partial");
    const plan = await planGc(s.store, s.runs, new Set([s.keep]));
    expect(plan.temps).toEqual([tLog, t].sort());
    await applyGc(plan, s.store, s.runs);
    expect(existsSync(t)).toBe(false);
    expect(existsSync(tLog)).toBe(false);
  });

  it("drops the verified-log entries of the objects it removes (and of objects already gone), keeping the others", async () => {
    const s = await setup();
    const { readFileSync, utimesSync } = await import("node:fs");
    const log = path.join(s.root, ".pipe/cache/verified");
    // Recorded only for objects modified long before their check (racy-git), so age them first.
    const old = new Date(Date.now() - 3600_000);
    const writer = new LocalCache(s.root, undefined, { recordVerified: true });
    const all = [s.keep, s.old, s.dirId, ...s.entries.map((e) => e.hash)];
    for (const id of all) {
      utimesSync(writer.pathOf(id), old, old);
      expect((await writer.verifyId(id)).status).toBe("ok");
    }
    const ids = (): string[] => readFileSync(log, "utf8").trim().split("\n").slice(1).map((l) => l.split("\t")[0]!).sort();
    expect(ids()).toEqual([...all].sort());
    // An object removed by hand since it was recorded: its entry is as dead as the ones gc removes.
    await writer.delete(s.entries[1]!.hash);
    const gcStore = new LocalCache(s.root);
    const refs = await referencedObjects(gcStore, [lockEntry([{ path: "keep.txt", hash: s.keep }, { path: "d", hash: s.dirId }])]);
    const plan = await planGc(gcStore, s.runs, refs);
    expect(plan.objects.map((o) => o.id)).toEqual([s.old]);
    await applyGc(plan, gcStore, s.runs);
    expect(ids()).toEqual([s.keep, s.dirId, s.entries[0]!.hash].sort());
    expect(readFileSync(log, "utf8").startsWith("pipe-verified 2\n")).toBe(true);
    // What stays is still trusted: storing a kept object again reads nothing.
    let reads = 0;
    const counting = { bytes: defaultDigester.bytes, file: async (p: string, a: Parameters<typeof defaultDigester.file>[1]) => (reads++, defaultDigester.file(p, a)) };
    expect(await new LocalCache(s.root, counting, { recordVerified: true }).storeFile(path.join(s.root, "keep.txt"), s.keep)).toMatchObject({ ok: true, value: "present" });
    expect(reads).toBe(0);
  });

  it("formats byte counts", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1500)).toBe("1.5 kB");
    expect(formatBytes(2_500_000)).toBe("2.5 MB");
    expect(formatBytes(123_000_000)).toBe("123 MB");
  });
});
