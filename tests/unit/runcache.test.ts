import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { RunCache, runKeyDocument, type RunKeyInput } from "../../src/storage/runcache.js";
import { makeProject } from "../helpers/project.js";

const input: RunKeyInput = {
  cmd: "python train.py --lr 0.1",
  deps: [
    ["train.py", "9a1b2c3d4e5f6071"],
    ["data/prepared", "3f6c1a9b0e2d4c58.dir"],
  ],
  params: { "params.yaml": { "train.lr": 0.1, "train.epochs": 10 } },
  outs: ["model.pkl", "metrics.json"],
};

describe("run key", () => {
  it("is canonical JSON with deps and outs sorted by path and params keys sorted", () => {
    expect(runKeyDocument(input)).toBe(
      '{"cmd":"python train.py --lr 0.1","deps":[["data/prepared","3f6c1a9b0e2d4c58.dir"],["train.py","9a1b2c3d4e5f6071"]],' +
        '"outs":["metrics.json","model.pkl"],"params":{"params.yaml":{"train.epochs":10,"train.lr":0.1}}}',
    );
  });

  it("does not depend on declaration order, but on every input", async () => {
    const rc = new RunCache(makeProject());
    const k = await rc.key(input);
    expect(k).toMatch(/^[0-9a-f]{16}$/);
    expect(await rc.key({ ...input, deps: [...input.deps].reverse(), outs: [...input.outs].reverse() })).toBe(k);
    expect(await rc.key({ ...input, cmd: "python train.py --lr 0.2" })).not.toBe(k);
    expect(await rc.key({ ...input, params: { "params.yaml": { "train.lr": 0.2, "train.epochs": 10 } } })).not.toBe(k);
    expect(await rc.key({ ...input, deps: [["train.py", "0000000000000000"], input.deps[1]!] })).not.toBe(k);
    expect(await rc.key({ ...input, outs: ["model.pkl"] })).not.toBe(k);
    expect(await rc.key({ ...input, cmd: [input.cmd as string] })).not.toBe(k);
  });
});

describe("RunCache", () => {
  it("records under .pipe/runs/<2>/<rest> and looks up what it recorded", async () => {
    const root = makeProject();
    const rc = new RunCache(root);
    const key = await rc.key(input);
    const entry = {
      outs: [
        { path: "model.pkl", hash: "0b1c2d3e4f506172", size: 4096 },
        { path: "metrics.json", hash: "1111111111111111", size: 20 },
      ],
    };
    expect((await rc.record(key, entry)).ok).toBe(true);
    const file = path.join(root, ".pipe/runs", key.slice(0, 2), key.slice(2));
    expect(JSON.parse(readFileSync(file, "utf8")).outs.map((o: { path: string }) => o.path)).toEqual(["metrics.json", "model.pkl"]);
    expect(readdirSync(path.dirname(file))).toEqual([key.slice(2)]);
    const got = await rc.lookup(key, ["model.pkl", "metrics.json"]);
    expect(got?.outs.find((o) => o.path === "model.pkl")).toEqual({ path: "model.pkl", hash: "0b1c2d3e4f506172", size: 4096 });
    expect(await rc.lookup("0123456789abcdef")).toBeUndefined();
  });

  it("a later record of the same key replaces the entry", async () => {
    const rc = new RunCache(makeProject());
    const key = await rc.key(input);
    await rc.record(key, { outs: [{ path: "model.pkl", hash: "aaaaaaaaaaaaaaaa", size: 1 }] });
    await rc.record(key, { outs: [{ path: "model.pkl", hash: "bbbbbbbbbbbbbbbb", size: 2 }] });
    expect((await rc.lookup(key))?.outs[0]?.hash).toBe("bbbbbbbbbbbbbbbb");
  });

  it("treats an entry for other outputs, a damaged entry, or a bad key as a miss", async () => {
    const root = makeProject();
    const rc = new RunCache(root);
    const key = await rc.key(input);
    await rc.record(key, { outs: [{ path: "model.pkl", hash: "aaaaaaaaaaaaaaaa", size: 1, nfiles: 0 }] });
    expect(await rc.lookup(key, ["model.pkl", "other.txt"])).toBeUndefined();
    expect(await rc.lookup(key, ["model.pkl"])).toBeDefined();
    const file = path.join(root, ".pipe/runs", key.slice(0, 2), key.slice(2));
    writeFileSync(file, "{not json");
    expect(await rc.lookup(key)).toBeUndefined();
    writeFileSync(file, JSON.stringify({ outs: [{ path: "../../etc/passwd", hash: "aaaaaaaaaaaaaaaa", size: 1 }] }));
    expect(await rc.lookup(key)).toBeUndefined();
    expect(await rc.lookup("../../../x")).toBeUndefined();
  });

  it("lists entries sorted and deletes them", async () => {
    const rc = new RunCache(makeProject());
    const k1 = await rc.key(input);
    const k2 = await rc.key({ ...input, cmd: "other" });
    await rc.record(k1, { outs: [] });
    await rc.record(k2, { outs: [] });
    const l = await rc.list();
    expect(l.entries.map((e) => e.key)).toEqual([k1, k2].sort());
    expect(l.temps).toEqual([]);
    await rc.delete(k1);
    expect((await rc.list()).entries.map((e) => e.key)).toEqual([k2]);
    expect(await new RunCache(makeProject()).list()).toEqual({ entries: [], temps: [] });
  });
});
