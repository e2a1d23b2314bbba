/** The SFTP remote against a real OpenSSH server: the remote contract, ~/.ssh/config, a wrong key, a closed port. */
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RemoteSpec, RemoteStore } from "../../src/remotes/remote.js";
import { knownKeys, openSsh, parseSshUrl, sshConfigFor, sshTarget } from "../../src/remotes/ssh.js";
import { hasSftp, sftpKnownHosts, sftpServer, type SftpServer } from "../helpers/servers.js";
import { keyOf, remoteContract } from "./remote-contract.js";
import { objectStoreContract } from "./object-store-contract.js";
import { keyPath } from "../../src/storage/object-store.js";

function spec(srv: SftpServer, dir: string, extra: Record<string, string> = {}): RemoteSpec {
  return { name: "box", url: `ssh://${srv.user}@${srv.host}:${srv.port}${dir}`, options: { keyfile: srv.keyFile, known_hosts: sftpKnownHosts(srv), ...extra }, source: ".pipe/config.yaml" };
}

function open(s: RemoteSpec): RemoteStore {
  const r = openSsh(s, { root: "/", env: { HOME: "/nonexistent" } });
  if (!r.ok) throw new Error(r.errors[0]!.message);
  return r.value;
}

async function walk(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(path.join(root, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(root, r)));
    else out.push(r);
  }
  return out;
}

describe("ssh URLs and ~/.ssh/config", () => {
  it("parse user, host, port and path", () => {
    expect(parseSshUrl("ssh://ann@example.org:2200/srv/cache")).toEqual({ user: "ann", host: "example.org", port: 2200, path: "/srv/cache" });
    expect(parseSshUrl("ssh://box/data")).toEqual({ host: "box", path: "/data" });
  });

  it("take HostName, User, Port and IdentityFile from the matching Host block, the URL and options first", () => {
    const cfg = "Host other\n  User nobody\nHost box *.lab\n  HostName 10.0.0.5\n  User ann\n  Port 2022\n  IdentityFile ~/.ssh/lab_key\nHost *\n  User fallback\n";
    expect(sshConfigFor(cfg, "box", "/home/a")).toEqual({ hostName: "10.0.0.5", user: "ann", port: 2022, identityFiles: ["/home/a/.ssh/lab_key"] });
    const t = sshTarget({ name: "r", url: "ssh://box/data", options: { port: "2200" }, source: "x" }, { HOME: "/home/a" }, cfg);
    expect(t.ok && t.value).toMatchObject({ host: "10.0.0.5", user: "ann", port: 2200, root: "/data" });
  });
});

describe("known_hosts", () => {
  it("finds a host's keys by plain and hashed names, with the port in brackets when it is not 22", () => {
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("[box]:2222").digest("base64")}`;
    const text = `# comment\nbox ssh-ed25519 AAAA1\n[box]:2222,10.0.0.5 ssh-ed25519 AAAA2\n${hashed} ssh-rsa AAAA3\n@revoked box ssh-ed25519 AAAA4\n`;
    expect(knownKeys(text, "box", 22)).toEqual(["AAAA1"]);
    expect(knownKeys(text, "box", 2222)).toEqual(["AAAA2", "AAAA3"]);
    expect(knownKeys(text, "other", 22)).toEqual([]);
  });
});

describe.runIf(hasSftp())("ssh remote on OpenSSH", () => {
  const srv = sftpServer()!;

  remoteContract("ssh (OpenSSH)", async () => {
    const dir = `pipe-test-${randomBytes(5).toString("hex")}`;
    const base = path.join(srv.root, dir);
    return {
      store: open(spec(srv, base)),
      async writeRaw(rel, data) {
        await mkdir(path.dirname(path.join(base, rel)), { recursive: true });
        await writeFile(path.join(base, rel), data);
      },
      listRaw: () => walk(base),
      cleanup: () => rm(base, { recursive: true, force: true }),
    };
  });

  it("reports a key the server does not accept as `auth`, naming what to check", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "pipe-ssh-key-"));
    const key = path.join(dir, "stranger");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const store = open(spec(srv, srv.root, { keyfile: key }));
    const r = await store.has(await keyOf("x"));
    await store.close();
    await rm(dir, { recursive: true, force: true });
    expect(r.ok ? "ok" : r.failure.reason).toBe("auth");
    if (!r.ok) expect(JSON.stringify(r.failure)).toMatch(/key file.*authorized_keys/);
  }, 30_000);

  it("reports a closed port as `unreachable`, naming host and port", async () => {
    const store = open(spec({ ...srv, port: 9 }, srv.root));
    const r = await store.has(await keyOf("x"));
    await store.close();
    expect(r.ok ? "ok" : r.failure.reason).toBe("unreachable");
    if (!r.ok) expect(JSON.stringify(r.failure)).toContain(`${srv.host}:9`);
  }, 30_000);
});

describe.runIf(hasSftp())("ssh remote on OpenSSH, shared contract", () => {
  const srv = sftpServer()!;
  objectStoreContract(
    "ssh remote (OpenSSH)",
    async () => {
      const base = path.join(srv.root, `pipe-test-${randomBytes(5).toString("hex")}`);
      const store = open(spec(srv, base));
      const put = async (rel: string, data: Uint8Array): Promise<void> => {
        await mkdir(path.dirname(path.join(base, rel)), { recursive: true });
        await writeFile(path.join(base, rel), data);
      };
      return {
        store,
        seed: (key, bytes) => put(keyPath(key), bytes),
        seedGarbage: () => put("files/xxh64/ab/.cdef0123456789ab.pipe-tmp-1-0", Buffer.from("half")),
        cleanup: async () => {
          await store.close();
          await rm(base, { recursive: true, force: true });
        },
      };
    },
    { timeout: 60_000 },
  );
});

describe.runIf(hasSftp())("ssh remote: host keys", () => {
  const srv = sftpServer()!;
  const homes: string[] = [];
  /** A store whose ~/.ssh/known_hosts holds `line` ("" for no file), with these extra options. */
  async function withKnownHosts(line: string, extra: Record<string, string> = {}): Promise<RemoteStore> {
    const home = await mkdtemp(path.join(tmpdir(), "pipe-ssh-home-"));
    homes.push(home);
    await mkdir(path.join(home, ".ssh"));
    if (line !== "") await writeFile(path.join(home, ".ssh/known_hosts"), `${line}\n`);
    const { known_hosts: _ignored, ...options } = spec(srv, srv.root).options;
    const r = openSsh({ ...spec(srv, srv.root), options: { ...options, ...extra } }, { root: "/", env: { HOME: home } });
    if (!r.ok) throw new Error(r.errors[0]!.message);
    return r.value;
  }
  async function probe(store: RemoteStore): Promise<{ reason: string; text: string }> {
    const r = await store.has(await keyOf("x"));
    await store.close();
    return r.ok ? { reason: "ok", text: "" } : { reason: r.failure.reason, text: JSON.stringify(r.failure) };
  }
  const hostLine = async (file: string): Promise<string> => {
    const [type, blob] = (await readFile(file, "utf8")).trim().split(/\s+/);
    return `[${srv.host}]:${srv.port} ${type} ${blob}`;
  };

  it("connects when known_hosts records the server's key, and refuses a changed key loudly, naming the file and the fix", async () => {
    expect(await probe(await withKnownHosts(await hostLine(path.join(path.dirname(srv.keyFile), "host_key.pub"))))).toEqual({ reason: "ok", text: "" });
    const changed = await probe(await withKnownHosts(await hostLine(srv.keyFile + ".pub")));
    expect(changed.reason).toBe("auth");
    expect(changed.text).toMatch(/host key of \[127\.0\.0\.1\]:\d+ has CHANGED/);
    expect(changed.text).toMatch(/ssh-keygen -f \S+known_hosts -R/);
    // host_key_check no: no check at all (a user's explicit choice).
    expect((await probe(await withKnownHosts(await hostLine(srv.keyFile + ".pub"), { host_key_check: "no" }))).reason).toBe("ok");
    // accept-new accepts an unknown host, never a changed one.
    expect((await probe(await withKnownHosts(await hostLine(srv.keyFile + ".pub"), { host_key_check: "accept-new" }))).reason).toBe("auth");
  }, 30_000);

  it("refuses an unknown host with its fingerprint and how to trust it; accept-new and the known_hosts option let it in", async () => {
    const unknown = await probe(await withKnownHosts(""));
    expect(unknown.reason).toBe("auth");
    expect(unknown.text).toMatch(/is not known .*SHA256:[A-Za-z0-9+/]{43}/);
    expect(unknown.text).toContain(`ssh-keyscan -p ${srv.port} ${srv.host} >> `);
    expect((await probe(await withKnownHosts("", { host_key_check: "accept-new" }))).reason).toBe("ok");
    expect((await probe(await withKnownHosts("", { known_hosts: sftpKnownHosts(srv) }))).reason).toBe("ok");
    for (const h of homes.splice(0)) await rm(h, { recursive: true, force: true });
  }, 30_000);

  it("refuses a host_key_check value ssh does not know", () => {
    const r = openSsh(spec(srv, srv.root, { host_key_check: "maybe" }), { root: "/", env: { HOME: "/nonexistent" } });
    expect(r.ok ? "" : r.errors[0]!.message).toMatch(/host_key_check is 'yes', 'accept-new' or 'no', not 'maybe'/);
  });
});

describe.runIf(hasSftp())("ssh remote: large objects", () => {
  const srv = sftpServer()!;
  it("streams a large object with reads in flight, in order, and stores it back whole", async () => {
    const base = path.join(srv.root, `pipe-test-${randomBytes(5).toString("hex")}`);
    const store = open(spec(srv, base));
    const data = randomBytes(3 * 1024 * 1024 + 4321);
    const key = await keyOf(data);
    const dir = await mkdtemp(path.join(tmpdir(), "pipe-ssh-big-"));
    await writeFile(path.join(dir, "src"), data);
    expect(await store.putFile(key, path.join(dir, "src"))).toEqual({ ok: true, value: "stored" });
    const s = await store.open(key);
    if (!s.ok) throw new Error(JSON.stringify(s.failure));
    const parts: Buffer[] = [];
    for await (const c of s.value) parts.push(c as Buffer);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(await store.getToFile(key, path.join(dir, "got"))).toEqual({ ok: true, value: undefined });
    expect((await readFile(path.join(dir, "got"))).equals(data)).toBe(true);
    await store.close();
    await rm(dir, { recursive: true, force: true });
    await rm(base, { recursive: true, force: true });
  }, 60_000);

  it("gets objects of no bytes, one read and several reads whole; a corrupt large one is named and nothing is written", async () => {
    const base = path.join(srv.root, `pipe-test-${randomBytes(5).toString("hex")}`);
    const store = open(spec(srv, base));
    const dir = await mkdtemp(path.join(tmpdir(), "pipe-ssh-get-"));
    for (const size of [0, 1000, 128 * 1024, 300 * 1024 + 7, 1024 * 1024]) {
      const data = randomBytes(size);
      const key = await keyOf(data);
      await writeFile(path.join(dir, "src"), data);
      expect(await store.putFile(key, path.join(dir, "src"))).toEqual({ ok: true, value: "stored" });
      expect(await store.putFile(key, path.join(dir, "src"))).toEqual({ ok: true, value: "present" });
      expect(await store.getToFile(key, path.join(dir, `got-${size}`))).toEqual({ ok: true, value: undefined });
      expect((await readFile(path.join(dir, `got-${size}`))).equals(data)).toBe(true);
    }
    const big = randomBytes(2 * 1024 * 1024 + 5);
    const key = await keyOf(big);
    big[1_500_000] ^= 1;
    await mkdir(path.dirname(path.join(base, keyPath(key))), { recursive: true });
    await writeFile(path.join(base, keyPath(key)), big);
    const r = await store.getToFile(key, path.join(dir, "corrupt"));
    expect(r.ok === false && r.failure.reason).toBe("corrupt");
    expect((await readdir(dir)).filter((n) => !n.startsWith("got-") && n !== "src")).toEqual([]);
    await store.close();
    await rm(dir, { recursive: true, force: true });
    await rm(base, { recursive: true, force: true });
  }, 60_000);
});
