/**
 * The contract every remote kind passes against its real server: the object-store rules (complete objects only,
 * failures as values, `get` verifies, DVC 3 and DVC 2 layouts) plus what remotes add (run-cache entries under
 * `runs/`). Each kind's test calls `remoteContract(name, make)`; `make` opens a fresh, empty remote and gives a way to
 * write raw bytes at a path inside it (to plant DVC 2 objects and corrupt ones as another tool would).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestBytes } from "../../src/hash/algorithms.js";
import type { RemoteStore } from "../../src/remotes/remote.js";
import { keyPath, keyString, type ObjectKey, type StoreResult } from "../../src/storage/object-store.js";

export interface RemoteUnderTest {
  store: RemoteStore;
  /** Writes bytes at a path relative to the remote's root, bypassing the store (as another tool would). */
  writeRaw(rel: string, data: Uint8Array): Promise<void>;
  /** Relative paths of every file under the remote's root, temp files included. */
  listRaw(): Promise<string[]>;
  cleanup?(): Promise<void>;
}

export async function keyOf(data: string | Buffer, algo: ObjectKey["algo"] = "xxh64", dir = false): Promise<ObjectKey> {
  const hex = await digestBytes(algo, typeof data === "string" ? Buffer.from(data) : data);
  return { algo, id: dir ? `${hex}.dir` : hex };
}

function value<T>(r: StoreResult<T>): T {
  if (!r.ok) throw new Error(`unexpected failure: ${JSON.stringify(r.failure)}`);
  return r.value;
}

async function collect<T>(it: AsyncIterable<StoreResult<T>>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of it) out.push(value(r));
  return out;
}

export function remoteContract(name: string, make: () => Promise<RemoteUnderTest>): void {
  describe(`remote contract: ${name}`, () => {
    let r: RemoteUnderTest;
    let local: string;
    beforeAll(async () => {
      r = await make();
      local = await mkdtemp(path.join(tmpdir(), "pipe-remote-contract-"));
    }, 60_000);
    afterAll(async () => {
      await r?.store.close();
      await r?.cleanup?.();
      if (local) await rm(local, { recursive: true, force: true });
    });

    async function srcFile(name: string, data: string | Buffer): Promise<string> {
      const p = path.join(local, name);
      await writeFile(p, data);
      return p;
    }

    it("stores a file, answers has/hasMany, lists it, gives the bytes back verified, and removes it", async () => {
      const data = "hello remote\n".repeat(100);
      const key = await keyOf(data);
      expect(value(await r.store.has(key))).toBe(false);
      expect(value(await r.store.putFile(key, await srcFile("a", data)))).toBe("stored");
      expect(value(await r.store.has(key))).toBe(true);
      expect(value(await r.store.putFile(key, await srcFile("a", data)))).toBe("present");
      const other = await keyOf("not there");
      expect([...value(await r.store.hasMany([key, other]))]).toEqual([keyString(key)]);
      const dest = path.join(local, "out", "a");
      value(await r.store.getToFile(key, dest));
      expect(await readFile(dest, "utf8")).toBe(data);
      const stream = value(await r.store.open(key));
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString("utf8")).toBe(data);
      value(await r.store.verify(key));
      const listed = (await collect(r.store.list())).map((o) => keyString(o.key));
      expect(listed).toContain(keyString(key));
      value(await r.store.remove(key));
      expect(value(await r.store.has(key))).toBe(false);
      expect((await collect(r.store.list())).map((o) => keyString(o.key))).not.toContain(keyString(key));
    });

    it("reports a missing object as `missing`, for get, open and verify", async () => {
      const key = await keyOf("never stored");
      for (const res of [await r.store.getToFile(key, path.join(local, "missing")), await r.store.open(key), await r.store.verify(key)]) {
        expect(res.ok).toBe(false);
        if (!res.ok) expect(res.failure).toEqual({ reason: "missing", key });
      }
      await expect(stat(path.join(local, "missing"))).rejects.toThrow();
    });

    it("stores streams, makes nothing visible when the stream is short, and answers hasMany in bulk", async () => {
      const keys: ObjectKey[] = [];
      for (let i = 0; i < 12; i++) {
        const data = Buffer.from(`object ${i}\n`.repeat(i + 1));
        const key = await keyOf(data);
        keys.push(key);
        if (i % 2 === 0) expect(value(await r.store.putStream(key, Readable.from([data]), data.length))).toBe("stored");
      }
      const found = value(await r.store.hasMany(keys));
      expect([...found].sort()).toEqual(keys.filter((_, i) => i % 2 === 0).map(keyString).sort());

      const data = Buffer.from("a whole object that will arrive cut short");
      const key = await keyOf(data);
      const short = await r.store.putStream(key, Readable.from([data.subarray(0, 10)]), data.length);
      expect(short.ok).toBe(false);
      expect(value(await r.store.has(key))).toBe(false);
      expect((await collect(r.store.list())).map((o) => keyString(o.key))).not.toContain(keyString(key));
    });

    it("keeps md5 objects and directory manifests in DVC 3's layout and reads DVC 2's", async () => {
      const data = "md5 object\n";
      const key = await keyOf(data, "md5");
      value(await r.store.putFile(key, await srcFile("m", data)));
      expect(await r.listRaw()).toContain(keyPath(key));
      const manifest = JSON.stringify([{ md5: key.id, relpath: "m" }]);
      const dirKey = await keyOf(manifest, "md5", true);
      value(await r.store.putStream(dirKey, Readable.from([Buffer.from(manifest)]), Buffer.byteLength(manifest)));
      expect(await r.listRaw()).toContain(`files/md5/${dirKey.id.slice(0, 2)}/${dirKey.id.slice(2)}`);

      // DVC 2 wrote `<2>/<30>` at the top; DVC 2's md5 of text is md5 after CRLF -> LF, which verifies too.
      const legacyData = "line one\r\nline two\r\n";
      const legacyKey = await keyOf(legacyData.replace(/\r\n/g, "\n"), "md5");
      await r.writeRaw(`${legacyKey.id.slice(0, 2)}/${legacyKey.id.slice(2)}`, Buffer.from(legacyData));
      expect(value(await r.store.has(legacyKey))).toBe(true);
      expect(value(await r.store.hasMany([legacyKey, key]))).toEqual(new Set([keyString(legacyKey), keyString(key)]));
      const dest = path.join(local, "legacy");
      value(await r.store.getToFile(legacyKey, dest));
      expect(await readFile(dest, "utf8")).toBe(legacyData);
      const listed = (await collect(r.store.list())).map((o) => keyString(o.key));
      expect(listed).toEqual(expect.arrayContaining([keyString(key), keyString(dirKey), keyString(legacyKey)]));
    });

    it("reports a corrupt object and materialises nothing", async () => {
      const data = "the real bytes";
      const key = await keyOf(data);
      await r.writeRaw(keyPath(key), Buffer.from("other bytes!!"));
      const dest = path.join(local, "corrupt-dest");
      const got = await r.store.getToFile(key, dest);
      expect(got.ok).toBe(false);
      if (!got.ok) expect(got.failure.reason).toBe("corrupt");
      await expect(stat(dest)).rejects.toThrow();
      const v = await r.store.verify(key);
      expect(v.ok ? "ok" : v.failure.reason).toBe("corrupt");
      // A put of the right bytes over a damaged object of another size repairs it.
      expect(value(await r.store.putFile(key, await srcFile("c", data)))).toBe("repaired");
      value(await r.store.getToFile(key, dest));
      expect(await readFile(dest, "utf8")).toBe(data);
    });

    it("leaves no temp file behind a successful write, and lists none as an object", async () => {
      const raw = await r.listRaw();
      expect(raw.filter((p) => p.includes(".pipe-tmp-"))).toEqual([]);
      await r.writeRaw("files/xxh64/ab/.cdef0123456789ab.pipe-tmp-1-0", Buffer.from("half"));
      const listed = await collect(r.store.list());
      expect(listed.map((o) => o.key.id).filter((id) => id.startsWith("ab"))).toEqual([]);
    });

    it("stores, lists and reads run-cache entries under runs/", async () => {
      const rel = "ab/cdef0123456789ab/0123456789abcdef";
      expect(value(await r.store.getRun(rel))).toBeUndefined();
      value(await r.store.putRun(rel, Buffer.from("outs: []\n")));
      value(await r.store.putRun(rel, Buffer.from("outs: [x]\n")));
      expect(value(await r.store.getRun(rel))?.toString()).toBe("outs: [x]\n");
      expect(await collect(r.store.listRuns())).toEqual([rel]);
      expect(await r.listRaw()).toContain(`runs/${rel}`);
    });
  });
}
