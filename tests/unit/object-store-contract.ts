/**
 * The contract every object store passes (`src/storage/object-store.ts`): the project's cache, DVC's cache read as a
 * source, and each remote kind (directory, S3, SFTP, WebDAV, HTTP) against its real server.
 *
 * Use it from a test file of the implementation:
 *
 *     import { objectStoreContract } from "./object-store-contract.js";
 *     objectStoreContract("directory remote", async () => {
 *       const dir = mkdtempSync(...);
 *       return {
 *         store: openTheStore(dir),
 *         // Puts raw bytes under the key's name, bypassing the store (and its checks): how a read-only store gets
 *         // its objects, and how the suite makes a corrupt one (bytes that do not hash to the name).
 *         seed: async (key, bytes) => writeFileSync(path.join(dir, keyPath(key)), bytes),
 *         // Optional: leaves what a writer killed mid-way leaves (a temp file of the store's own naming).
 *         seedGarbage: async () => writeFileSync(path.join(dir, "files/md5/ab/.cd.tmp-123"), "half"),
 *         cleanup: async () => rmSync(dir, { recursive: true, force: true }),
 *       };
 *     }, { algos: ["md5"] }); // options: `algos` the store serves (default both), `readOnly`, `timeout`
 *
 * Each test makes a fresh store. A read-only store (pass `{ readOnly: true }`) gets the read tests on seeded objects
 * and the refusal tests; a writable one gets the read tests and the write tests. Every operation is checked to return its failures as values: a
 * test fails if any of them throws.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { digestBytes } from "../../src/hash/algorithms.js";
import { keyString, type ObjectKey, type ObjectStore, type StoreResult } from "../../src/storage/object-store.js";

export interface ContractStore {
  store: ObjectStore;
  /** Writes `bytes` under `key`'s name directly (no checks): seeds a read-only store, plants a corrupt object. */
  seed(key: ObjectKey, bytes: Buffer): Promise<void>;
  /** Leaves the debris of an interrupted write (a temp file), when the implementation can. */
  seedGarbage?(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** The key algorithms the store serves (default both). */
  algos?: readonly ObjectKey["algo"][];
  /** The store refuses writes (DVC's cache, an HTTP remote): the write tests are replaced by the refusal tests. */
  readOnly?: boolean;
  /** Per-test timeout for slow servers (ms). */
  timeout?: number;
}

/** Bytes that are not text (so DVC 2's CRLF-normalising md5 cannot differ) and distinct per `seed`. */
export function blob(seed: string, size = 1000): Buffer {
  const out = Buffer.alloc(size);
  let h = createHash("sha256").update(seed).digest();
  for (let off = 0; off < size; off += h.length) {
    h.copy(out, off, 0, Math.min(h.length, size - off));
    h = createHash("sha256").update(h).digest();
  }
  out[0] = 0;
  return out;
}

export async function keyFor(algo: ObjectKey["algo"], bytes: Buffer, dir = false): Promise<ObjectKey> {
  const hex = await digestBytes(algo, bytes);
  return { algo, id: dir ? `${hex}.dir` : hex };
}

async function all<T>(it: AsyncIterable<StoreResult<T>>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of it) {
    if (!r.ok) throw new Error(`list failed: ${JSON.stringify(r.failure)}`);
    out.push(r.value);
  }
  return out;
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

/** A stream that gives `head`, then fails: a connection cut mid-way. */
function failingStream(head: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(head);
        return;
      }
      setImmediate(() => this.destroy(new Error("connection reset mid-way")));
    },
  });
}

export function objectStoreContract(name: string, make: () => Promise<ContractStore>, opts: ContractOptions = {}): void {
  const algos = opts.algos ?? ["xxh64", "md5"];
  const algo = algos[0]!;
  const t = opts.timeout;

  describe(`object store contract: ${name}`, () => {
    let cur: ContractStore | undefined;
    let scratch: string | undefined;
    afterEach(async () => {
      await cur?.cleanup();
      cur = undefined;
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      scratch = undefined;
    });
    const ro = opts.readOnly === true;
    const setup = async (): Promise<ContractStore> => {
      cur = await make();
      expect(cur.store.readOnly).toBe(ro);
      scratch = mkdtempSync(path.join(tmpdir(), "pipe-contract-"));
      return cur;
    };
    /** Puts an object the way the store allows: through `putFile` when writable, seeded when read-only. */
    const add = async (c: ContractStore, key: ObjectKey, bytes: Buffer): Promise<void> => {
      if (c.store.readOnly) return c.seed(key, bytes);
      const src = path.join(scratch!, `src-${keyString(key).replace(/\//g, "_")}`);
      writeFileSync(src, bytes);
      const r = await c.store.putFile(key, src);
      expect(r).toMatchObject({ ok: true });
    };

    it("has and hasMany answer for present and absent objects", { timeout: t }, async () => {
      const c = await setup();
      const present: ObjectKey[] = [];
      for (const a of algos) {
        const b = blob(`has-${a}`);
        const k = await keyFor(a, b);
        await add(c, k, b);
        present.push(k);
      }
      const absent = await keyFor(algo, blob("never stored"));
      for (const k of present) expect(await c.store.has(k)).toEqual({ ok: true, value: true });
      expect(await c.store.has(absent)).toEqual({ ok: true, value: false });
      const many = await c.store.hasMany([...present, absent]);
      expect(many.ok).toBe(true);
      if (many.ok) expect([...many.value].sort()).toEqual(present.map(keyString).sort());
      expect(await c.store.hasMany([])).toMatchObject({ ok: true });
    });

    it("getToFile writes the verified object, and reports a missing one as a value", { timeout: t }, async () => {
      const c = await setup();
      const b = blob("get", 5000);
      const k = await keyFor(algo, b);
      await add(c, k, b);
      const dest = path.join(scratch!, "out.bin");
      expect(await c.store.getToFile(k, dest)).toEqual({ ok: true, value: undefined });
      expect(readFileSync(dest).equals(b)).toBe(true);
      // Over an existing file: replaced.
      writeFileSync(dest, "old content");
      expect((await c.store.getToFile(k, dest)).ok).toBe(true);
      expect(readFileSync(dest).equals(b)).toBe(true);
      const missing = await keyFor(algo, blob("missing"));
      const r = await c.store.getToFile(missing, path.join(scratch!, "nothing"));
      expect(r).toEqual({ ok: false, failure: { reason: "missing", key: missing } });
      expect(existsSync(path.join(scratch!, "nothing"))).toBe(false);
    });

    it("getToFile never materialises a corrupt object, and names it", { timeout: t }, async () => {
      const c = await setup();
      const good = blob("corrupt-good");
      const k = await keyFor(algo, good);
      await c.seed(k, blob("corrupt-bad"));
      const dest = path.join(scratch!, "out.bin");
      const r = await c.store.getToFile(k, dest);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.failure).toMatchObject({ reason: "corrupt", key: k });
      expect(existsSync(dest)).toBe(false);
      // Nothing half-made beside the destination either.
      expect(readdirSync(scratch!)).toEqual([]);
    });

    it("verify re-hashes: ok, corrupt, missing", { timeout: t }, async () => {
      const c = await setup();
      const b = blob("verify");
      const k = await keyFor(algo, b);
      await add(c, k, b);
      expect(await c.store.verify(k)).toEqual({ ok: true, value: undefined });
      const bad = await keyFor(algo, blob("verify-good"));
      await c.seed(bad, blob("verify-bad"));
      const v = await c.store.verify(bad);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.failure).toMatchObject({ reason: "corrupt", key: bad });
      const missing = await keyFor(algo, blob("verify-missing"));
      expect(await c.store.verify(missing)).toEqual({ ok: false, failure: { reason: "missing", key: missing } });
    });

    it("open streams the object's bytes; a missing one is a failure", { timeout: t }, async () => {
      const c = await setup();
      const b = blob("open", 3 * 1024 * 1024 + 17);
      const k = await keyFor(algo, b);
      await add(c, k, b);
      const r = await c.store.open(k);
      expect(r.ok).toBe(true);
      if (r.ok) expect((await readAll(r.value)).equals(b)).toBe(true);
      const missing = await keyFor(algo, blob("open-missing"));
      expect(await c.store.open(missing)).toEqual({ ok: false, failure: { reason: "missing", key: missing } });
    });

    it("list reports every object with its key, and no temp debris", { timeout: t }, async () => {
      const c = await setup();
      const keys: ObjectKey[] = [];
      for (const [i, a] of algos.entries()) {
        const b = blob(`list-${i}`, 100 + i);
        const k = await keyFor(a, b);
        await add(c, k, b);
        keys.push(k);
        const m = blob(`manifest-${i}`);
        const dk = await keyFor(a, m, true);
        await add(c, dk, m);
        keys.push(dk);
      }
      await c.seedGarbage?.();
      const listed = await all(c.store.list());
      expect(listed.map((o) => keyString(o.key)).sort()).toEqual(keys.map(keyString).sort());
      for (const o of listed) if (o.size !== undefined) expect(o.size).toBeGreaterThan(0);
    });

    // Only the branch that applies is registered (not skipped): a skipped test would read as a gap in CI.
    if (ro) describe("read-only stores", () => {
      it("refuse put and remove with `read-only`, and keep the object", { timeout: t }, async () => {
        const c = await setup();
        const b = blob("ro");
        const k = await keyFor(algo, b);
        await c.seed(k, b);
        const src = path.join(scratch!, "src");
        writeFileSync(src, b);
        expect(await c.store.putFile(k, src)).toMatchObject({ ok: false, failure: { reason: "read-only" } });
        expect(await c.store.putStream(k, Readable.from([b]), b.length)).toMatchObject({ ok: false, failure: { reason: "read-only" } });
        expect(await c.store.remove(k)).toMatchObject({ ok: false, failure: { reason: "read-only" } });
        expect(await c.store.has(k)).toEqual({ ok: true, value: true });
        // A corrupt object is reported, and a read-only store leaves it where it is.
        const bad = await keyFor(algo, blob("ro-good"));
        await c.seed(bad, blob("ro-bad"));
        expect(await c.store.verify(bad)).toMatchObject({ ok: false, failure: { reason: "corrupt" } });
        expect(await c.store.has(bad)).toEqual({ ok: true, value: true });
      });
    });

    if (!ro) describe("writable stores", () => {
      it("putFile stores, then finds the object present; remove removes it", { timeout: t }, async () => {
        const c = await setup();
        const b = blob("put", 2000);
        const k = await keyFor(algo, b);
        const src = path.join(scratch!, "src");
        writeFileSync(src, b);
        expect(await c.store.putFile(k, src)).toEqual({ ok: true, value: "stored" });
        expect(await c.store.putFile(k, src)).toEqual({ ok: true, value: "present" });
        expect(await c.store.verify(k)).toEqual({ ok: true, value: undefined });
        expect(await c.store.remove(k)).toEqual({ ok: true, value: undefined });
        expect(await c.store.has(k)).toEqual({ ok: true, value: false });
        // Removing what is not there is fine.
        expect(await c.store.remove(k)).toEqual({ ok: true, value: undefined });
      });

      it("putStream stores all of the bytes, small and large", { timeout: t }, async () => {
        const c = await setup();
        for (const size of [0, 10, 5 * 1024 * 1024 + 3]) {
          const b = blob(`stream-${size}`, size);
          const k = await keyFor(algo, b);
          const chunks: Buffer[] = [];
          for (let off = 0; off < b.length; off += 64 * 1024) chunks.push(b.subarray(off, off + 64 * 1024));
          expect(await c.store.putStream(k, Readable.from(chunks), b.length)).toMatchObject({ ok: true, value: "stored" });
          const dest = path.join(scratch!, `got-${size}`);
          expect((await c.store.getToFile(k, dest)).ok).toBe(true);
          expect(readFileSync(dest).equals(b)).toBe(true);
        }
      });

      it("a stream that fails mid-way leaves no object under the name, and nothing in list", { timeout: t }, async () => {
        const c = await setup();
        const b = blob("cut", 200 * 1024);
        const k = await keyFor(algo, b);
        const r = await c.store.putStream(k, failingStream(b.subarray(0, 64 * 1024)), b.length);
        expect(r.ok).toBe(false);
        expect(await c.store.has(k)).toEqual({ ok: true, value: false });
        expect(await all(c.store.list())).toEqual([]);
        // Running it again (the resumed transfer) stores it.
        expect(await c.store.putStream(k, Readable.from([b]), b.length)).toMatchObject({ ok: true, value: "stored" });
        expect(await c.store.verify(k)).toEqual({ ok: true, value: undefined });
      });

      it("a short stream is not stored under the name", { timeout: t }, async () => {
        const c = await setup();
        const b = blob("short", 4096);
        const k = await keyFor(algo, b);
        const r = await c.store.putStream(k, Readable.from([b.subarray(0, 1000)]), b.length);
        expect(r.ok).toBe(false);
        expect(await c.store.has(k)).toEqual({ ok: true, value: false });
      });

      it("a put over a corrupt object replaces it", { timeout: t }, async () => {
        const c = await setup();
        const b = blob("repair");
        const k = await keyFor(algo, b);
        await c.seed(k, blob("repair-damaged"));
        const src = path.join(scratch!, "src");
        writeFileSync(src, b);
        const r = await c.store.putFile(k, src);
        expect(r.ok).toBe(true);
        // A store that cannot tell (no re-hash on put) may say `present`: verify is the judge.
        if (r.ok && r.value === "present") return;
        expect(await c.store.verify(k)).toEqual({ ok: true, value: undefined });
      });
    });
  });
}
