/**
 * The transfer engine, the remote configuration and the transfer reporter, in process: a real project cache against
 * an in-memory store that counts requests, so "only what the other side lacks" and "asked once" are checked exactly;
 * the configuration's merging of DVC's INI and pipe's YAML levels; progress lines on a terminal and off one; and the
 * `--json` documents against their schemas.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import Ajv from "ajv";
import { afterEach, describe, expect, it, vi } from "vitest";
import { digestBytes } from "../../src/hash/algorithms.js";
import { writeVerified } from "../../src/remotes/common.js";
import { chooseRemote, maskSecrets, parseDvcIni, readRemoteConfig } from "../../src/remotes/config.js";
import { cloudStatus } from "../../src/remotes/sync.js";
import { fetchObjects, pushObjects, type TransferEvent } from "../../src/remotes/transfer.js";
import { CacheObjects } from "../../src/remotes/transfer-cache.js";
import { cloudStatusJson } from "../../src/report/cloud-status.js";
import { remoteListJson } from "../../src/report/remote.js";
import { summaryText, transferJson, TransferProgress } from "../../src/report/transfer.js";
import { serialiseManifest } from "../../src/storage/manifest.js";
import { keyString, type ListedObject, type ObjectKey, type ObjectStore, type PutOutcome, type StoreResult } from "../../src/storage/object-store.js";
import { REPO_ROOT } from "../helpers/project.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(path.join(tmpdir(), "pipe-transfer-"));
  dirs.push(d);
  return d;
}

/** An object store in memory that counts the requests it answers; `down` makes it unreachable. */
class MemoryStore implements ObjectStore {
  readonly label = "memory";
  readonly readOnly = false;
  readonly objects = new Map<string, Buffer>();
  calls = { hasMany: 0, has: 0, put: 0, open: 0, get: 0 };
  down = false;
  async has(key: ObjectKey): Promise<StoreResult<boolean>> {
    this.calls.has++;
    return { ok: true, value: this.objects.has(keyString(key)) };
  }
  async hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>> {
    this.calls.hasMany++;
    if (this.down) return { ok: false, failure: { reason: "unreachable", store: this.label, detail: "connection refused" } };
    return { ok: true, value: new Set(keys.map(keyString).filter((k) => this.objects.has(k))) };
  }
  /** Verified as every store's `getToFile` is (the shared helper real stores use): a tampered object is refused. */
  async getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>> {
    this.calls.get++;
    const b = this.objects.get(keyString(key));
    return b ? writeVerified(key, b, destAbs) : { ok: false, failure: { reason: "missing", key } };
  }
  async open(key: ObjectKey): Promise<StoreResult<Readable>> {
    this.calls.open++;
    const b = this.objects.get(keyString(key));
    return b ? { ok: true, value: Readable.from([b]) } : { ok: false, failure: { reason: "missing", key } };
  }
  async putFile(key: ObjectKey, srcAbs: string): Promise<StoreResult<PutOutcome>> {
    this.calls.put++;
    if (this.down) return { ok: false, failure: { reason: "unreachable", store: this.label, detail: "connection refused" } };
    const had = this.objects.has(keyString(key));
    this.objects.set(keyString(key), readFileSync(srcAbs));
    return { ok: true, value: had ? "present" : "stored" };
  }
  async putStream(): Promise<StoreResult<PutOutcome>> {
    throw new Error("not used");
  }
  async *list(): AsyncIterable<StoreResult<ListedObject>> {
    for (const k of this.objects.keys()) {
      const [algo, id] = k.split("/") as ["xxh64", string];
      yield { ok: true, value: { key: { algo, id } } };
    }
  }
  async remove(key: ObjectKey): Promise<StoreResult<void>> {
    this.objects.delete(keyString(key));
    return { ok: true, value: undefined };
  }
  async verify(): Promise<StoreResult<void>> {
    return { ok: true, value: undefined };
  }
}

async function keyOf(content: string): Promise<ObjectKey> {
  return { algo: "xxh64", id: await digestBytes("xxh64", Buffer.from(content)) };
}

/** A project cache holding `contents`, and their keys. */
async function cacheWith(contents: string[]): Promise<{ cache: CacheObjects; keys: ObjectKey[] }> {
  const root = temp();
  const cache = CacheObjects.open(root);
  const keys: ObjectKey[] = [];
  for (const c of contents) {
    const k = await keyOf(c);
    const src = path.join(root, "src");
    writeFileSync(src, c);
    const r = await cache.store.storeFile(src, k.id);
    expect(r.ok).toBe(true);
    keys.push(k);
  }
  return { cache, keys };
}

describe("push and fetch between the cache and a store", () => {
  it("push sends only what the remote lacks, asking which it holds once", async () => {
    const { cache, keys } = await cacheWith(["a", "b", "c"]);
    const remote = new MemoryStore();
    remote.objects.set(keyString(keys[0]!), Buffer.from("a"));
    const events: TransferEvent[] = [];
    const c = await pushObjects(cache, remote, keys, { jobs: 4, on: (e) => events.push(e) });
    expect([c.transferred, c.present, c.bytes]).toEqual([2, 1, 2]);
    expect(remote.calls).toEqual({ hasMany: 1, has: 0, put: 2, open: 0, get: 0 });
    expect(events[0]).toEqual({ type: "checked", direction: "push", total: 3, present: 1, bytes: 2 });
    const again = await pushObjects(cache, remote, keys, { jobs: 4, on: () => undefined });
    expect([again.transferred, again.present]).toEqual([0, 3]);
  });

  it("fetch verifies every object: a corrupt one is named and left out, the others arrive", async () => {
    const { cache } = await cacheWith([]);
    const remote = new MemoryStore();
    const good = await keyOf("good");
    const bad = await keyOf("expected");
    remote.objects.set(keyString(good), Buffer.from("good"));
    remote.objects.set(keyString(bad), Buffer.from("tampered"));
    const c = await fetchObjects(remote, cache, [good, bad], { jobs: 2, on: () => undefined });
    expect(c.transferred).toBe(1);
    expect(c.failed.map((f) => [f.key.id, f.failure.reason])).toEqual([[bad.id, "corrupt"]]);
    expect(await cache.store.hasId(good.id)).toBe(true);
    expect(await cache.store.hasId(bad.id)).toBe(false);
    // Adopted under its name read-only, as every object; nothing of the corrupt one (no temp file) is left.
    expect(statSync(cache.pathOf(good)).mode & 0o777).toBe(0o444);
    expect(readFileSync(cache.pathOf(good), "utf8")).toBe("good");
    const shardFiles = readdirSync(path.dirname(cache.pathOf(bad)));
    expect(shardFiles.filter((n) => !cache.pathOf(good).endsWith(n))).toEqual([]);
    expect(remote.calls.get).toBe(2);
    const again = await fetchObjects(remote, cache, [good], { jobs: 2, on: () => undefined });
    expect([again.transferred, again.present]).toEqual([0, 1]);
  });

  it("the cache answers which of many keys it holds, whatever their number", async () => {
    const contents = Array.from({ length: 300 }, (_, i) => `object ${i}`);
    const { cache, keys } = await cacheWith(contents.filter((_, i) => i % 3 === 0));
    const all = await Promise.all(contents.map(keyOf));
    const r = await cache.hasMany(all);
    expect(r.ok && [...r.value].sort()).toEqual(keys.map(keyString).sort());
    expect(keys).toHaveLength(100);
  });

  it("an object the remote lacks is missing, unless optional; an unreachable remote stops the transfer", async () => {
    const { cache } = await cacheWith([]);
    const remote = new MemoryStore();
    const k = await keyOf("nowhere");
    expect((await fetchObjects(remote, cache, [k], { jobs: 1, on: () => undefined })).missing).toEqual([k]);
    expect((await fetchObjects(remote, cache, [k], { jobs: 1, on: () => undefined, optional: new Set([k.id]) })).missing).toEqual([]);
    const { cache: full, keys } = await cacheWith(["x", "y"]);
    remote.down = true;
    const c = await pushObjects(full, remote, keys, { jobs: 1, on: () => undefined });
    expect(c.fatal?.reason).toBe("unreachable");
    expect(c.transferred).toBe(0);
  });
});

describe("status --cloud of a directory", () => {
  it("takes the manifest on the remote as its files' presence: one question for the directory, none per file", async () => {
    const { cache, keys } = await cacheWith(["a\n", "b\n", "c\n"]);
    const manifest = serialiseManifest(keys.map((k, i) => ({ relpath: `f${i}`, hash: k.id, size: 2 })));
    const dirKey = { algo: "xxh64" as const, id: `${await digestBytes("xxh64", Buffer.from(manifest))}.dir` };
    const src = path.join(temp(), "m");
    writeFileSync(src, manifest);
    expect((await cache.store.storeFile(src, dirKey.id)).ok).toBe(true);
    const asked: string[][] = [];
    const remote = new MemoryStore();
    const hasMany = remote.hasMany.bind(remote);
    remote.hasMany = (ks) => {
      asked.push(ks.map(keyString));
      return hasMany(ks);
    };
    const input = { cache, outputs: [{ stage: "gen", path: "data", key: dirKey, push: true }], open: async () => ({ ok: true as const, store: remote, name: "storage" }), remoteGiven: false };
    // Only the manifest there: the directory is in sync, after one question naming the manifest alone.
    remote.objects.set(keyString(dirKey), Buffer.from(manifest));
    expect((await cloudStatus(input)).entries.map((e) => e.state)).toEqual(["ok"]);
    expect(asked).toEqual([[keyString(dirKey)]]);
    // No manifest there: each file is asked for, and the directory is new to the remote.
    remote.objects.clear();
    asked.length = 0;
    expect((await cloudStatus(input)).entries.map((e) => e.state)).toEqual(["new"]);
    expect(asked[1]?.length).toBe(4);
  });
});

describe("remote configuration", () => {
  it("reads DVC's INI: quoted and unquoted section names, the default, comments", () => {
    const r = parseDvcIni(".dvc/config", "# c\n[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://b/p\n    endpointurl = http://x\n[remote \"other\"]\nurl=/mnt/o\n");
    expect(r.ok && r.value.core).toEqual({ remote: "storage" });
    expect(r.ok && Object.fromEntries(r.value.remotes)).toEqual({ storage: { url: "s3://b/p", endpointurl: "http://x" }, other: { url: "/mnt/o" } });
  });

  it("merges .dvc/config, .dvc/config.local, .pipe/config.yaml and .pipe/config.local.yaml, later ones winning per key", async () => {
    const root = temp();
    writeFileSync(path.join(root, "x"), "");
    for (const [f, t] of Object.entries({
      ".dvc/config": "[core]\nremote = storage\n['remote \"storage\"']\nurl = s3://dvc/p\nregion = eu\n",
      ".dvc/config.local": "['remote \"storage\"']\npassword = hunter2\n",
      ".pipe/config.yaml": "remote:\n  storage:\n    url: s3://pipe/p\n",
      ".pipe/config.local.yaml": "remote:\n  storage:\n    secret_access_key: s3cr3t\n",
    })) {
      const p = path.join(root, f);
      (await import("node:fs")).mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, t);
    }
    const cfg = await readRemoteConfig(root);
    expect(cfg.ok).toBe(true);
    if (!cfg.ok) return;
    const spec = chooseRemote(cfg.value, undefined);
    expect(spec.ok && spec.value).toEqual({
      name: "storage",
      url: "s3://pipe/p",
      options: { region: "eu", password: "hunter2", secret_access_key: "s3cr3t" },
      source: ".pipe/config.yaml",
    });
    if (!spec.ok) return;
    expect(maskSecrets(spec.value).options).toEqual({ password: "***", region: "eu", secret_access_key: "***" });
    expect(maskSecrets({ ...spec.value, url: "https://me:pw@host/x" }).url).toBe("https://me:***@host/x");
    expect(remoteListJson(cfg.value)).not.toContain("hunter2");
  });
});

describe("the transfer reporter", () => {
  it("says what moved: `12 files pushed, 1.2 GB, 3 already there`, or that everything is up to date", () => {
    const base = { missing: [], failed: [] };
    expect(summaryText("push", { ...base, transferred: 12, bytes: 1_200_000_000, present: 3 })).toBe("12 files pushed, 1.2 GB, 3 already there\n");
    expect(summaryText("fetch", { ...base, transferred: 0, bytes: 0, present: 4 })).toBe("Everything is up to date (4 files already there).\n");
  });

  it("on a terminal rewrites one line with objects, bytes, rate and ETA", () => {
    let now = 0;
    let err = "";
    const p = new TransferProgress("push", { err: (t) => void (err += t), errIsTTY: true }, false, () => now);
    p.on({ type: "checked", direction: "push", total: 4, present: 0, bytes: 4000 });
    now = 2000;
    p.on({ type: "transferred", direction: "push", key: { algo: "xxh64", id: "0".repeat(16) }, bytes: 1000 });
    p.stop();
    expect(err).toContain("\r\x1b[2KPushing: 1/4 objects, 1.0 kB/4.0 kB, 500 B/s, ETA 6s");
  });

  it("off a terminal prints a plain line every 10 s while objects move, never one per object", () => {
    vi.useFakeTimers();
    try {
      const lines: string[] = [];
      const p = new TransferProgress("fetch", { err: (t) => void lines.push(t), errIsTTY: false }, false);
      p.on({ type: "checked", direction: "fetch", total: 3, present: 0, bytes: 0 });
      p.on({ type: "transferred", direction: "fetch", key: { algo: "xxh64", id: "0".repeat(16) }, bytes: 10 });
      expect(lines).toEqual([]);
      vi.advanceTimersByTime(10_000);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^Fetching: 1\/3 objects, 10 B, .*\n$/);
      vi.advanceTimersByTime(10_000);
      expect(lines).toHaveLength(2);
      p.stop();
      vi.advanceTimersByTime(30_000);
      expect(lines).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("--json documents", () => {
  const ajv = new Ajv({ allErrors: true });
  const schema = (name: string): ReturnType<typeof ajv.compile> => ajv.compile(JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas", name), "utf8")) as object);

  it("push/fetch/pull, status --cloud and remote list match their schemas", () => {
    const t = schema("transfer.schema.json");
    const k = { algo: "xxh64" as const, id: "0123456789abcdef" };
    const doc = JSON.parse(
      transferJson("pull", ["storage"], { transferred: 1, bytes: 5, present: 2, missing: [k], failed: [{ key: { algo: "md5", id: "0".repeat(32) + ".dir" }, failure: { reason: "corrupt", key: k, actual: "x" } }] }),
    ) as unknown;
    expect(t(doc), JSON.stringify(t.errors)).toBe(true);
    const c = schema("status-cloud.schema.json");
    const cloud = JSON.parse(cloudStatusJson([{ stage: "train", path: "model.pkl", id: "0123456789abcdef", remote: "storage", state: "new" }])) as unknown;
    expect(c(cloud), JSON.stringify(c.errors)).toBe(true);
    const l = schema("remote-list.schema.json");
    const list = JSON.parse(remoteListJson({ remotes: new Map([["s", { name: "s", url: "/x", options: { password: "p" }, source: ".pipe/config.yaml" }]]), defaultRemote: { name: "s", source: ".pipe/config.yaml" } })) as unknown;
    expect(l(list), JSON.stringify(l.errors)).toBe(true);
  });
});
