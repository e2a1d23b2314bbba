/** The WebDAV remote against a real Apache mod_dav: the remote contract, a wrong password, a closed port. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createClient, type FileStat } from "webdav";
import type { RemoteSpec, RemoteStore } from "../../src/remotes/remote.js";
import { httpUrlOf, openWebdav } from "../../src/remotes/webdav.js";
import { davServer, hasDav, type DavServer } from "../helpers/servers.js";
import { keyOf, remoteContract } from "./remote-contract.js";
import { objectStoreContract } from "./object-store-contract.js";
import { keyPath } from "../../src/storage/object-store.js";

function spec(srv: DavServer, dir: string, extra: Record<string, string> = {}): RemoteSpec {
  return { name: "dav", url: `${srv.url.replace(/^http/, "webdav")}/${dir}`, options: { user: srv.user, password: srv.password, ...extra }, source: ".pipe/config.local.yaml" };
}

function open(s: RemoteSpec): RemoteStore {
  const r = openWebdav(s, { root: "/", env: {} });
  if (!r.ok) throw new Error(r.errors[0]!.message);
  return r.value;
}

describe("webdav URLs", () => {
  it("map webdav:// to http:// and webdavs:// to https://", () => {
    expect(httpUrlOf("webdav://h:8/a")).toBe("http://h:8/a");
    expect(httpUrlOf("webdavs://h/a")).toBe("https://h/a");
  });
});

describe.runIf(hasDav())("webdav remote on Apache mod_dav", () => {
  const srv = davServer()!;

  remoteContract("webdav (Apache)", async () => {
    const dir = `pipe-test-${randomBytes(5).toString("hex")}/nested`;
    const client = createClient(`${srv.url}/${dir}`, { username: srv.user, password: srv.password });
    const mk = async (d: string): Promise<void> => {
      const parts = d.split("/").filter(Boolean);
      for (let i = 1; i <= parts.length; i++) await createClient(srv.url, { username: srv.user, password: srv.password }).createDirectory(`/${parts.slice(0, i).join("/")}`).catch(() => undefined);
    };
    return {
      store: open(spec(srv, dir)),
      async writeRaw(rel, data) {
        await mk(`${dir}/${rel.split("/").slice(0, -1).join("/")}`);
        await client.putFileContents(`/${rel}`, Buffer.from(data));
      },
      async listRaw() {
        // Apache refuses PROPFIND with Depth: infinity, so walk level by level.
        const walk = async (d: string): Promise<string[]> => {
          const out: string[] = [];
          for (const f of (await client.getDirectoryContents(d)) as FileStat[]) {
            const rel = d === "/" ? f.basename : `${d.slice(1)}/${f.basename}`;
            if (f.type === "directory") out.push(...(await walk(`/${rel}`)));
            else out.push(rel);
          }
          return out;
        };
        return walk("/");
      },
    };
  });

  it("reports a wrong password as `auth`, never printing it", async () => {
    const store = open(spec(srv, "x", { password: "not-the-password-77" }));
    const r = await store.has(await keyOf("x"));
    expect(r.ok ? "ok" : r.failure.reason).toBe("auth");
    if (!r.ok) {
      expect(JSON.stringify(r.failure)).toMatch(/user and password/);
      expect(JSON.stringify(r.failure)).not.toContain("not-the-password-77");
    }
  });

  it("reports a closed port as `unreachable`", async () => {
    const store = open({ ...spec(srv, "x"), url: "webdav://127.0.0.1:9/x" });
    const r = await store.putStream(await keyOf("y"), (await import("node:stream")).Readable.from([Buffer.from("y")]), 1);
    expect(r.ok ? "ok" : r.failure.reason).toBe("unreachable");
  }, 60_000);
});

describe.runIf(hasDav())("webdav remote on Apache, shared contract", () => {
  const srv = davServer()!;
  objectStoreContract(
    "webdav remote (Apache)",
    async () => {
      const dir = `pipe-test-${randomBytes(5).toString("hex")}`;
      const store = open(spec(srv, dir));
      const root = createClient(srv.url, { username: srv.user, password: srv.password });
      const put = async (rel: string, data: Uint8Array): Promise<void> => {
        const parts = `${dir}/${rel}`.split("/");
        for (let i = 1; i < parts.length; i++) await root.createDirectory(`/${parts.slice(0, i).join("/")}`).catch(() => undefined);
        await root.putFileContents(`/${dir}/${rel}`, Buffer.from(data));
      };
      return {
        store,
        seed: (key, bytes) => put(keyPath(key), bytes),
        seedGarbage: () => put("files/xxh64/ab/.cdef0123456789ab.pipe-tmp-1-0", Buffer.from("half")),
        cleanup: async () => {
          await store.close();
          await root.deleteFile(`/${dir}`).catch(() => undefined);
        },
      };
    },
    { timeout: 60_000 },
  );
});
