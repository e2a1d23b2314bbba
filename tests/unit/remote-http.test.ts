/**
 * The read-only HTTP remote against a real Apache serving a DVC-layout directory: reads, DVC 2's layout, a corrupt
 * object, read-only refusals, a closed port. Objects are placed in the served directory as a web server's owner would.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openHttp } from "../../src/remotes/http.js";
import type { RemoteStore } from "../../src/remotes/remote.js";
import { keyPath, keyString, type ObjectKey } from "../../src/storage/object-store.js";
import { hasHttp, httpServer } from "../helpers/servers.js";
import { objectStoreContract } from "./object-store-contract.js";
import { keyOf } from "./remote-contract.js";

describe.runIf(hasHttp())("http remote on Apache (read-only)", () => {
  const srv = httpServer()!;
  const dir = `pipe-test-${randomBytes(5).toString("hex")}`;
  const base = path.join(srv.root, dir);
  let store: RemoteStore;
  let local: string;

  async function place(rel: string, data: string | Buffer): Promise<void> {
    await mkdir(path.dirname(path.join(base, rel)), { recursive: true });
    await writeFile(path.join(base, rel), data);
  }

  beforeAll(async () => {
    const r = openHttp({ name: "web", url: `${srv.url}/${dir}`, options: {}, source: ".pipe/config.yaml" }, { root: "/", env: {} });
    if (!r.ok) throw new Error(r.errors[0]!.message);
    store = r.value;
    local = await mkdtemp(path.join(tmpdir(), "pipe-http-"));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
    await rm(local, { recursive: true, force: true });
  });

  it("reads objects in DVC 3's and DVC 2's layouts, verified, and answers has/hasMany", async () => {
    const a = "served object\n";
    const ka = await keyOf(a);
    await place(keyPath(ka), a);
    const b = "dvc 2 object\n";
    const kb = await keyOf(b, "md5");
    await place(`${kb.id.slice(0, 2)}/${kb.id.slice(2)}`, b);
    const kc: ObjectKey = await keyOf("absent");
    expect(store.readOnly).toBe(true);
    expect(await store.has(ka)).toEqual({ ok: true, value: true });
    expect(await store.hasMany([ka, kb, kc])).toEqual({ ok: true, value: new Set([keyString(ka), keyString(kb)]) });
    expect((await store.getToFile(kb, path.join(local, "b"))).ok).toBe(true);
    expect(await readFile(path.join(local, "b"), "utf8")).toBe(b);
    expect((await store.verify(ka)).ok).toBe(true);
    const missing = await store.getToFile(kc, path.join(local, "c"));
    expect(missing).toEqual({ ok: false, failure: { reason: "missing", key: kc } });
  });

  it("reports a corrupt object and materialises nothing", async () => {
    const k = await keyOf("right bytes");
    await place(keyPath(k), "wrong bytes");
    const r = await store.getToFile(k, path.join(local, "corrupt"));
    expect(r.ok ? "ok" : r.failure.reason).toBe("corrupt");
    await expect(stat(path.join(local, "corrupt"))).rejects.toThrow();
  });

  it("refuses puts and removes as read-only, and reads run-cache entries", async () => {
    const k = await keyOf("p");
    await writeFile(path.join(local, "p"), "p");
    expect(await store.putFile(k, path.join(local, "p"))).toEqual({ ok: false, failure: { reason: "read-only", store: store.label } });
    expect((await store.putStream(k, Readable.from([Buffer.from("p")]), 1)).ok).toBe(false);
    expect(await store.remove(k)).toEqual({ ok: false, failure: { reason: "read-only", store: store.label } });
    await place("runs/ab/cd/ef", "outs: []\n");
    expect((await store.getRun("ab/cd/ef")).ok && (await store.getRun("ab/cd/ef"))).toEqual({ ok: true, value: Buffer.from("outs: []\n") });
    expect(await store.getRun("ab/cd/none")).toEqual({ ok: true, value: undefined });
  });

  it("reports a closed port as `unreachable` naming the URL", async () => {
    const r = openHttp({ name: "web", url: "http://127.0.0.1:9/x", options: {}, source: "x" }, { root: "/", env: {} });
    if (!r.ok) throw new Error("open");
    const h = await r.value.has(await keyOf("x"));
    expect(h.ok ? "ok" : h.failure.reason).toBe("unreachable");
    if (!h.ok) expect(JSON.stringify(h.failure)).toContain("http://127.0.0.1:9/x");
  });
});

describe.runIf(hasHttp())("http remote on Apache, shared contract", () => {
  const srv = httpServer()!;
  objectStoreContract(
    "http remote (Apache, read-only)",
    async () => {
      const dir = `pipe-test-${randomBytes(5).toString("hex")}`;
      const base = path.join(srv.root, dir);
      await mkdir(base, { recursive: true });
      const r = openHttp({ name: "web", url: `${srv.url}/${dir}`, options: {}, source: ".pipe/config.yaml" }, { root: "/", env: {} });
      if (!r.ok) throw new Error(r.errors[0]!.message);
      const put = async (rel: string, data: Uint8Array): Promise<void> => {
        await mkdir(path.dirname(path.join(base, rel)), { recursive: true });
        await writeFile(path.join(base, rel), data);
      };
      return {
        store: r.value,
        seed: (key, bytes) => put(keyPath(key), bytes),
        seedGarbage: () => put("files/xxh64/ab/.cdef0123456789ab.pipe-tmp-1-0", Buffer.from("half")),
        cleanup: () => rm(base, { recursive: true, force: true }),
      };
    },
    { readOnly: true, timeout: 60_000 },
  );

  it("lists through index pages, and says clearly when a server shows none", async () => {
    const dir = `pipe-test-${randomBytes(5).toString("hex")}`;
    const base = path.join(srv.root, dir);
    const k = await keyOf("listed");
    await mkdir(path.dirname(path.join(base, keyPath(k))), { recursive: true });
    await writeFile(path.join(base, keyPath(k)), "listed");
    await mkdir(path.join(base, "runs/ab/cd"), { recursive: true });
    await writeFile(path.join(base, "runs/ab/cd/ef"), "outs: []\n");
    const r = openHttp({ name: "web", url: `${srv.url}/${dir}`, options: {}, source: "x" }, { root: "/", env: {} });
    if (!r.ok) throw new Error("open");
    const keys: string[] = [];
    for await (const o of r.value.list()) if (o.ok) keys.push(keyString(o.value.key));
    expect(keys).toEqual([keyString(k)]);
    const runs: string[] = [];
    for await (const o of r.value.listRuns()) if (o.ok) runs.push(o.value);
    expect(runs).toEqual(["ab/cd/ef"]);
    await rm(base, { recursive: true, force: true });
    // The WebDAV area of the same server answers a GET of a directory without an index page (auth first: 401).
    const dav = openHttp({ name: "web", url: `${srv.url.replace(/\/public$/, "")}/somewhere`, options: {}, source: "x" }, { root: "/", env: {} });
    if (!dav.ok) throw new Error("open");
    const first = await dav.value.list()[Symbol.asyncIterator]().next();
    expect(first.value).toMatchObject({ ok: false, failure: { reason: "auth" } });
  });
});
