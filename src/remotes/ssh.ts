/**
 * SSH/SFTP remotes (`ssh://user@host:port/path`, `sftp://` too) with `ssh2-sftp-client`. Who logs in and how comes
 * from, in order: the URL and the remote's options (`user`, `port`, `keyfile`, `password`), the `Host` block of
 * `~/.ssh/config` that matches the host (`HostName`, `User`, `Port`, `IdentityFile`), the SSH agent
 * (`SSH_AUTH_SOCK`) and the default key files (`~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`). Objects are uploaded to
 * a temp name in their directory and renamed into place (atomic on the server), so a reader never sees half of one.
 * A few connections are opened lazily and shared (SFTP runs many requests on one channel at once).
 */
import { createHash, createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { SFTPWrapper } from "ssh2";
import SftpClient from "ssh2-sftp-client";
import { TEMP_MARK } from "../core/atomic-write.js";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { keyPath, keyString, type ListedObject, type ObjectKey, type PutOutcome, type StoreFailure, type StoreResult } from "../storage/object-store.js";
import { BadDigest, candidatePaths, checkKey, CONNECT_TIMEOUT_MS, failed, timeoutOption, hashTap, jobsOf, keyOfPath, labelOf, okv, scrub, ShortData, writeVerified, verifyByDownload, putOutcome, sourceSize, downloadVerified } from "./common.js";
import type { RemoteContext } from "./index.js";
import type { RemoteSpec, RemoteStore } from "./remote.js";

/** What `~/.ssh/config` says for one host (the first value of each keyword wins, as in ssh). */
export interface SshHostConfig {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
}

function globMatch(pattern: string, host: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(host);
}

/** Parses the `Host` blocks of an ssh_config text for `host` (negated patterns and `Match` blocks are honoured as "no match"). */
export function sshConfigFor(text: string, host: string, home = homedir()): SshHostConfig {
  const out: SshHostConfig = { identityFiles: [] };
  let applies = true;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(\S+?)\s*(?:=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const kw = m[1]!.toLowerCase();
    const value = m[2]!.replace(/^"(.*)"$/, "$1");
    if (kw === "host") {
      const pats = value.split(/\s+/);
      applies = pats.some((p) => !p.startsWith("!") && globMatch(p, host)) && !pats.some((p) => p.startsWith("!") && globMatch(p.slice(1), host));
      continue;
    }
    if (kw === "match") {
      applies = false;
      continue;
    }
    if (!applies) continue;
    if (kw === "hostname") out.hostName ??= value.replace(/%h/g, host);
    else if (kw === "user") out.user ??= value;
    else if (kw === "port") out.port ??= Number(value);
    else if (kw === "identityfile") out.identityFiles.push(value.replace(/^~(?=\/)/, home));
  }
  return out;
}

/**
 * What `~/.ssh/known_hosts` says of `host` (port 22) or `[host]:port`: the base64 key blobs recorded for it, plain or
 * hashed (`|1|salt|hmac`) names alike. Empty when the host is not recorded.
 */
export function knownKeys(text: string, host: string, port: number): string[] {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    if (parts[0]!.startsWith("@")) continue; // @cert-authority / @revoked lines are not plain keys
    const [names, , blob] = parts;
    if (names === undefined || blob === undefined) continue;
    const match = names.split(",").some((n) => {
      const h = /^\|1\|([^|]+)\|(.+)$/.exec(n);
      if (h) return createHmac("sha1", Buffer.from(h[1]!, "base64")).update(name).digest("base64") === h[2];
      return n === name;
    });
    if (match) out.push(blob);
  }
  return out;
}

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Absolute directory on the server. */
  root: string;
  keyFile?: string;
  password?: string;
  agent?: string;
  /** Keys the known-hosts file records for the host; the server must show one of them. */
  knownKeys: string[];
  /** The known-hosts file read (`~/.ssh/known_hosts`, or the remote's `known_hosts` option), for messages. */
  knownHostsFile: string;
  /**
   * `yes` (ssh's default): an unknown host is refused; `accept-new`: an unknown host is accepted (a recorded one must
   * still match); `no`: no check at all. A changed key is refused under `yes` and `accept-new`.
   */
  hostKeyCheck: HostKeyCheck;
  /** Milliseconds a connection may take to reach the SFTP session (the remote's `timeout` option, in seconds). */
  connectTimeoutMs: number;
}

export type HostKeyCheck = "yes" | "accept-new" | "no";

export function parseSshUrl(url: string): { user?: string; host: string; port?: number; path: string } | undefined {
  const m = /^(?:ssh|sftp):\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)?$/i.exec(url);
  if (!m) return undefined;
  return {
    ...(m[1] !== undefined ? { user: decodeURIComponent(m[1].split(":")[0]!) } : {}),
    host: m[2]!.replace(/^\[|\]$/g, ""),
    ...(m[3] !== undefined ? { port: Number(m[3]) } : {}),
    path: m[4] ?? "/",
  };
}

/** Where to connect and with what, from the URL, the options, `~/.ssh/config` and the environment. */
export function sshTarget(spec: RemoteSpec, env: NodeJS.ProcessEnv, configText?: string): Result<SshTarget> {
  const u = parseSshUrl(spec.url);
  if (!u) return fail([error("usage", `remote '${spec.name}' (${spec.source}): '${spec.url}' is not an ssh://[user@]host[:port]/path URL`)]);
  const home = env.HOME ?? homedir();
  const cfgPath = path.join(home, ".ssh", "config");
  const text = configText ?? (existsSync(cfgPath) ? readFileSync(cfgPath, "utf8") : "");
  const c = sshConfigFor(text, u.host, home);
  const o = spec.options;
  const port = Number(o.port ?? u.port ?? c.port ?? 22);
  let keyFile = o.keyfile ?? o.key_filename;
  if (keyFile !== undefined) keyFile = keyFile.replace(/^~(?=\/)/, home);
  keyFile ??= [...c.identityFiles, ...["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => path.join(home, ".ssh", n))].find((f) => existsSync(f));
  const check = hostKeyCheckOf(o.host_key_check);
  if (check === undefined) {
    return fail([error("usage", `remote '${spec.name}' (${spec.source}): host_key_check is 'yes', 'accept-new' or 'no', not '${o.host_key_check}'`)]);
  }
  const timeout = timeoutOption(o.timeout);
  if (timeout === undefined) return fail([error("usage", `remote '${spec.name}' (${spec.source}): timeout is a number of seconds, not '${o.timeout}'`)]);
  const knownHostsFile = (o.known_hosts ?? path.join(home, ".ssh", "known_hosts")).replace(/^~(?=\/)/, home);
  return ok({
    host: c.hostName ?? u.host,
    port,
    user: o.user ?? u.user ?? c.user ?? env.USER ?? userInfo().username,
    root: u.path.replace(/\/+$/, "") || "/",
    ...(keyFile !== undefined ? { keyFile } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {}),
    knownKeys: readKnownKeys(knownHostsFile, c.hostName ?? u.host, port),
    knownHostsFile,
    hostKeyCheck: check,
    connectTimeoutMs: timeout ?? CONNECT_TIMEOUT_MS,
  });
}

/** `host_key_check` as ssh's StrictHostKeyChecking spells it (yes/true, accept-new, no/false); undefined if neither. */
function hostKeyCheckOf(v: string | undefined): HostKeyCheck | undefined {
  const t = (v ?? "yes").trim().toLowerCase();
  if (t === "yes" || t === "true") return "yes";
  if (t === "no" || t === "false") return "no";
  return t === "accept-new" ? "accept-new" : undefined;
}

/** ssh's SHA256 fingerprint of a host key blob (`SHA256:...`, base64 without padding), for messages. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

function readKnownKeys(f: string, host: string, port: number): string[] {
  try {
    return existsSync(f) ? knownKeys(readFileSync(f, "utf8"), host, port) : [];
  } catch {
    return [];
  }
}

export function openSsh(spec: RemoteSpec, ctx: RemoteContext): Result<RemoteStore> {
  const t = sshTarget(spec, ctx.env);
  if (!t.ok) return t;
  if (t.value.keyFile !== undefined && !existsSync(t.value.keyFile) && spec.options.keyfile !== undefined) {
    return fail([error("usage", `remote '${spec.name}' (${spec.source}): keyfile '${t.value.keyFile}' does not exist`)]);
  }
  return ok(new SshStore(labelOf(spec), t.value, jobsOf(spec, "ssh")));
}

function isNotFound(e: unknown): boolean {
  const err = e as { code?: unknown; message?: string };
  return err?.code === 2 || err?.code === "ENOENT" || /No such file/i.test(err?.message ?? "");
}

/**
 * An object's bytes in order, read with `depth` requests in flight on the raw SFTP channel (ssh2's own read stream
 * waits for each read before sending the next, so a large object would be bound by the round trip).
 */
class ParallelReader extends Readable {
  private next = 0;
  private emitted = 0;
  private inflight = 0;
  private wanting = true;
  private readonly ready = new Map<number, Buffer>();
  /** Ranges a short read left to ask again, before new ones. */
  private readonly gaps: [number, number][] = [];

  constructor(
    private readonly w: SFTPWrapper,
    private readonly handle: Buffer,
    private readonly size: number,
    private readonly chunk: number,
    private readonly depth: number,
  ) {
    super();
  }

  override _read(): void {
    this.wanting = true;
    this.pump();
  }

  private pump(): void {
    while (this.wanting && this.inflight < this.depth && this.ready.size < this.depth && (this.gaps.length > 0 || this.next < this.size)) {
      let pos: number;
      let len: number;
      const gap = this.gaps.shift();
      if (gap) [pos, len] = gap;
      else {
        pos = this.next;
        len = Math.min(this.chunk, this.size - pos);
        this.next += len;
      }
      this.inflight++;
      const buf = Buffer.allocUnsafe(len);
      this.w.read(this.handle, buf, 0, len, pos, (err, n) => {
        this.inflight--;
        if (this.destroyed) return;
        if (err) return void this.destroy(err);
        if (n === 0) return void this.destroy(new ShortData(pos, this.size));
        this.ready.set(pos, buf.subarray(0, n));
        if (n < len) this.gaps.push([pos + n, len - n]);
        this.flush();
      });
    }
    if (this.size === 0 && this.emitted === 0) this.flush();
  }

  private flush(): void {
    for (let b = this.ready.get(this.emitted); b !== undefined; b = this.ready.get(this.emitted)) {
      this.ready.delete(this.emitted);
      this.emitted += b.length;
      if (!this.push(b)) this.wanting = false;
    }
    if (this.emitted >= this.size) {
      this.w.close(this.handle, () => this.push(null));
      this.emitted = Infinity;
      return;
    }
    this.pump();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.w.close(this.handle, () => cb(err));
  }
}

/** ssh2's callback calls on the raw channel as promises (the requests of one object are pipelined with them). */
const sftpOpen = (w: SFTPWrapper, p: string, flags: "r" | "wx"): Promise<Buffer> =>
  new Promise((resolve, reject) => w.open(p, flags, (err, h) => (err ? reject(err) : resolve(h))));
const sftpClose = (w: SFTPWrapper, h: Buffer): Promise<void> => new Promise((resolve, reject) => w.close(h, (err) => (err ? reject(err) : resolve())));
const sftpFstat = (w: SFTPWrapper, h: Buffer): Promise<number> =>
  new Promise((resolve, reject) => w.fstat(h, (err, st) => (err ? reject(err) : resolve(st.size))));
const sftpRead = (w: SFTPWrapper, h: Buffer, buf: Buffer, off: number, len: number, pos: number): Promise<number> =>
  new Promise((resolve, reject) => w.read(h, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
const sftpWrite = (w: SFTPWrapper, h: Buffer, buf: Buffer, off: number, len: number, pos: number): Promise<void> =>
  new Promise((resolve, reject) => w.write(h, buf, off, len, pos, (err) => (err ? reject(err) : resolve())));

/**
 * The whole of an open file of `size` bytes whose first `first.length` bytes (`got` of them) were read with the size:
 * the rest in reads of XFER_CHUNK, all in flight at once (a small object is at most a few of them); a short read is
 * asked again from where it stopped.
 */
async function readRest(w: SFTPWrapper, h: Buffer, size: number, first: Buffer, got: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  first.copy(buf, 0, 0, Math.min(got, size));
  const fill = async (from: number, to: number): Promise<void> => {
    for (let pos = from; pos < to; ) {
      const n = await sftpRead(w, h, buf, pos, to - pos, pos);
      if (n === 0) throw new ShortData(pos, size);
      pos += n;
    }
  };
  const parts: Promise<void>[] = [];
  for (let pos = Math.min(got, size); pos < size; pos += XFER_CHUNK) parts.push(fill(pos, Math.min(size, pos + XFER_CHUNK)));
  await Promise.all(parts);
  return buf;
}

/** Connections opened per remote at most: SFTP pipelines requests on one channel; a few spread the encryption work. */
const MAX_CONNECTIONS = 4;

/** Objects larger than this are downloaded with fastGet (parallel reads) instead of a stream. */
const FAST_GET_FROM = 1 << 20;
/** Bytes per SFTP read/write request of a large transfer (OpenSSH serves up to 256 KiB per request). */
const XFER_CHUNK = 128 * 1024;
/** Reads of a large object in flight at once (4 MiB): enough to keep the channel's window full on a fast link. */
const READ_DEPTH = 32;

export class SshStore implements RemoteStore {
  readonly kind = "ssh" as const;
  readonly readOnly = false;
  private readonly conns: Promise<SftpClient>[] = [];
  private nextConn = 0;
  /** Directories known to exist (created or seen), so a push creates each once. */
  private readonly dirs = new Map<string, Promise<void>>();
  /** The ssh2 SFTP channel under each client, for the one-call small-file write the client does not offer. */
  private readonly raw = new WeakMap<SftpClient, SFTPWrapper>();

  constructor(
    readonly label: string,
    private readonly t: SshTarget,
    readonly jobs: number,
  ) {}

  /** What the host-key check refused, set by the verifier before the connection fails. */
  private hostKeyRefused: { changed: boolean; fingerprint: string } | undefined;

  failure(e: unknown, what: string): StoreFailure {
    const err = (e ?? {}) as { code?: unknown; message?: string; level?: string };
    const refused = this.hostKeyRefused;
    if (refused) {
      const name = this.t.port === 22 ? this.t.host : `[${this.t.host}]:${this.t.port}`;
      const scan = `ssh-keyscan ${this.t.port === 22 ? "" : `-p ${this.t.port} `}${this.t.host} >> ${this.t.knownHostsFile}`;
      return {
        reason: "auth",
        store: this.label,
        detail: refused.changed
          ? `${what}: WARNING: the host key of ${name} has CHANGED (it shows ${refused.fingerprint}, which ${this.t.knownHostsFile} does not record for it): someone may be intercepting the connection, or the server's key was replaced. Refused. If the change is expected, remove the old key (ssh-keygen -f ${this.t.knownHostsFile} -R '${name}') and trust the new one (${scan})`
          : `${what}: the host ${name} is not known (${this.t.knownHostsFile} has no key for it; it shows ${refused.fingerprint}). To trust it, check that fingerprint with the server's administrator, then run '${scan}' (or connect once with 'ssh -p ${this.t.port} ${this.t.host}'), or set the remote's known_hosts option to a file that records it`,
      };
    }
    const msg = scrub(`${what}: ${err.message ?? String(e)}`, [this.t.password]);
    const code = typeof err.code === "string" ? err.code : "";
    if (err.level === "client-authentication" || /authentication methods failed|auth/i.test(err.message ?? "")) {
      return {
        reason: "auth",
        store: this.label,
        detail: `${msg}; check the user (${this.t.user}), the key file (${this.t.keyFile ?? "none found"}) or the SSH agent, and that the key is in the server's authorized_keys`,
      };
    }
    if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET"].includes(code) || /ECONNREFUSED|ENOTFOUND|Timed out|timeout/i.test(err.message ?? "")) {
      return { reason: "unreachable", store: this.label, detail: `${msg}; check the host and port (${this.t.host}:${this.t.port}) and that the SSH server is running` };
    }
    if (err.code === 3 || /permission denied/i.test(err.message ?? "")) {
      return { reason: "permission", store: this.label, detail: `${msg}; check that ${this.t.user} may write ${this.t.root} on ${this.t.host}` };
    }
    if (/no space|quota/i.test(err.message ?? "")) return { reason: "no-space", store: this.label };
    return { reason: "other", store: this.label, detail: msg };
  }

  /** A connection (opened on first use, up to MAX_CONNECTIONS, handed out in turn). */
  private async conn(): Promise<StoreResult<SftpClient>> {
    const n = Math.min(MAX_CONNECTIONS, Math.max(1, this.jobs));
    let p: Promise<SftpClient>;
    if (this.conns.length < n) {
      const c = new SftpClient();
      p = c
        .connect({
          host: this.t.host,
          port: this.t.port,
          username: this.t.user,
          readyTimeout: this.t.connectTimeoutMs,
          ...(this.t.keyFile !== undefined ? { privateKey: readFileSync(this.t.keyFile) } : {}),
          ...(this.t.password !== undefined ? { password: this.t.password } : {}),
          ...(this.t.agent !== undefined ? { agent: this.t.agent } : {}),
          // As ssh's StrictHostKeyChecking: a recorded host must show a recorded key (a changed key may be a man in the
          // middle); an unknown host is refused unless host_key_check says accept-new (nothing is written) or no.
          hostVerifier: (key: Buffer) => {
            if (this.t.hostKeyCheck === "no") return true;
            if (this.t.knownKeys.includes(key.toString("base64"))) return true;
            if (this.t.knownKeys.length === 0 && this.t.hostKeyCheck === "accept-new") return true;
            this.hostKeyRefused = { changed: this.t.knownKeys.length > 0, fingerprint: fingerprintOf(key) };
            return false;
          },
          // ssh2-sftp-client retries a refused connection by default; one try gives a clear error quickly.
          retries: 0,
        })
        .then((w) => {
          this.raw.set(c, w);
          // The client adds listeners per operation in flight: more than 10 at once is expected here, not a leak.
          (c as unknown as { client?: { setMaxListeners(n: number): void } }).client?.setMaxListeners(0);
          return c;
        });
      this.conns.push(p);
    } else {
      p = this.conns[this.nextConn++ % this.conns.length]!;
    }
    try {
      return okv(await p);
    } catch (e) {
      // A failed connection is not kept: the next call tries again (and reports again).
      const i = this.conns.indexOf(p);
      if (i >= 0) this.conns.splice(i, 1);
      return failed(this.failure(e, "cannot connect"));
    }
  }

  private abs(rel: string): string {
    return path.posix.join(this.t.root, rel);
  }

  private async size(c: SftpClient, rel: string): Promise<StoreResult<number | undefined>> {
    try {
      const st = await c.stat(this.abs(rel));
      return okv(st.isFile === false ? undefined : st.size);
    } catch (e) {
      if (isNotFound(e)) return okv(undefined);
      return failed(this.failure(e, `cannot check ${rel}`));
    }
  }

  private async locate(key: ObjectKey): Promise<StoreResult<{ rel: string; size: number } | undefined>> {
    const c = await this.conn();
    if (!c.ok) return c;
    return this.locateOn(c.value, key);
  }

  private async locateOn(c: SftpClient, key: ObjectKey): Promise<StoreResult<{ rel: string; size: number } | undefined>> {
    for (const rel of candidatePaths(key)) {
      const s = await this.size(c, rel);
      if (!s.ok) return s;
      if (s.value !== undefined) return okv({ rel, size: s.value });
    }
    return okv(undefined);
  }

  async has(key: ObjectKey): Promise<StoreResult<boolean>> {
    const r = await this.locate(key);
    return r.ok ? okv(r.value !== undefined) : r;
  }

  /** Names in a directory of the remote (empty when it does not exist). */
  private async names(c: SftpClient, dir: string): Promise<StoreResult<Map<string, number>>> {
    try {
      const list = await c.list(this.abs(dir));
      return okv(new Map(list.filter((f) => f.type === "-").map((f) => [f.name, f.size])));
    } catch (e) {
      if (isNotFound(e)) return okv(new Map());
      return failed(this.failure(e, `cannot list ${dir}`));
    }
  }

  async hasMany(keys: readonly ObjectKey[]): Promise<StoreResult<Set<string>>> {
    const found = new Set<string>();
    const byDir = new Map<string, { base: string; key: ObjectKey }[]>();
    for (const key of keys) {
      for (const rel of candidatePaths(key)) {
        const dir = path.posix.dirname(rel);
        let l = byDir.get(dir);
        if (!l) byDir.set(dir, (l = []));
        l.push({ base: path.posix.basename(rel), key });
      }
    }
    const tasks = [...byDir.entries()];
    let failure: StoreFailure | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < tasks.length) {
        const [dir, wanted] = tasks[next++]!;
        const c = await this.conn();
        if (!c.ok) {
          failure = c.failure;
          return;
        }
        // One listing answers a directory in one round trip; a single key is one stat.
        if (wanted.length > 1) {
          const n = await this.names(c.value, dir);
          if (!n.ok) {
            failure = n.failure;
            return;
          }
          for (const w of wanted) if (n.value.has(w.base)) found.add(keyString(w.key));
        } else {
          const s = await this.size(c.value, `${dir}/${wanted[0]!.base}`);
          if (!s.ok) {
            failure = s.failure;
            return;
          }
          if (s.value !== undefined) found.add(keyString(wanted[0]!.key));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.jobs * 2, Math.max(1, tasks.length)) }, worker));
    return failure ? failed(failure) : okv(found);
  }

  async open(key: ObjectKey): Promise<StoreResult<Readable>> {
    const at = await this.locate(key);
    if (!at.ok) return at;
    if (at.value === undefined) return failed({ reason: "missing", key });
    const c = await this.conn();
    if (!c.ok) return c;
    const w = this.raw.get(c.value);
    if (w && at.value.size > FAST_GET_FROM) {
      const abs = this.abs(at.value.rel);
      const size = at.value.size;
      try {
        const handle = await new Promise<Buffer>((resolve, reject) => w.open(abs, "r", (err, h) => (err ? reject(err) : resolve(h))));
        return okv(new ParallelReader(w, handle, size, XFER_CHUNK, READ_DEPTH));
      } catch (e) {
        return failed(isNotFound(e) ? { reason: "missing", key } : this.failure(e, `cannot read ${keyString(key)}`));
      }
    }
    // Larger reads than the default 64 KiB: a stream waits one round trip per read.
    return okv(c.value.createReadStream(this.abs(at.value.rel), { highWaterMark: XFER_CHUNK }) as unknown as Readable);
  }

  /**
   * A small object's bytes in three round trips on the raw channel: open; its size and its first XFER_CHUNK bytes
   * asked together; close (the client's `get` takes six: stat, open, a read per 64 KiB, a read for the end, close).
   * `large` when the object is larger than FAST_GET_FROM (its handle closed), undefined when it is not there.
   */
  private async getSmall(w: SFTPWrapper, key: ObjectKey): Promise<StoreResult<Buffer | "large" | undefined>> {
    for (const rel of candidatePaths(key)) {
      let h: Buffer;
      try {
        h = await sftpOpen(w, this.abs(rel), "r");
      } catch (e) {
        if (isNotFound(e)) continue;
        return failed(this.failure(e, `cannot read ${keyString(key)}`));
      }
      try {
        const first = Buffer.allocUnsafe(XFER_CHUNK);
        // A read at the end of the file answers EOF, which ssh2 gives as 0 bytes.
        const [size, got] = await Promise.all([sftpFstat(w, h), sftpRead(w, h, first, 0, XFER_CHUNK, 0)]);
        if (size > FAST_GET_FROM) return okv("large");
        return okv(await readRest(w, h, size, first, got));
      } catch (e) {
        if (e instanceof ShortData) return failed({ reason: "other", store: this.label, detail: `${keyString(key)}: ${e.message}` });
        return failed(this.failure(e, `cannot download ${keyString(key)}`));
      } finally {
        await sftpClose(w, h).catch(() => undefined);
      }
    }
    return okv(undefined);
  }

  async getToFile(key: ObjectKey, destAbs: string): Promise<StoreResult<void>> {
    const c0 = await this.conn();
    if (!c0.ok) return c0;
    const w0 = this.raw.get(c0.value);
    if (w0 !== undefined) {
      const small = await this.getSmall(w0, key);
      if (!small.ok) return small;
      if (small.value === undefined) return failed({ reason: "missing", key });
      if (small.value !== "large") return writeVerified(key, small.value, destAbs);
    }
    const at = await this.locate(key);
    if (!at.ok) return at;
    if (at.value === undefined) return failed({ reason: "missing", key });
    // A large object: reads of XFER_CHUNK, READ_DEPTH in flight on the raw channel, taken in order, so the bytes are
    // hashed as they are written to the temp file beside the destination (fastGet writes them out of order, which
    // needed a second pass over the file to hash it: 1.2-2 s per GiB here).
    const c = await this.conn();
    if (!c.ok) return c;
    const w = this.raw.get(c.value);
    if (w === undefined) return failed({ reason: "other", store: this.label, detail: "no SFTP channel" });
    const abs = this.abs(at.value.rel);
    const size = at.value.size;
    return downloadVerified(
      key,
      destAbs,
      async () => {
        try {
          const handle = await new Promise<Buffer>((resolve, reject) => w.open(abs, "r", (err, h) => (err ? reject(err) : resolve(h))));
          return okv(new ParallelReader(w, handle, size, XFER_CHUNK, READ_DEPTH));
        } catch (e) {
          return failed(isNotFound(e) ? { reason: "missing", key } : this.failure(e, `cannot read ${keyString(key)}`));
        }
      },
      (e) => this.failure(e, `cannot download ${keyString(key)}`),
    );
  }

  /**
   * Creates `dir` (relative to the root) and its parents, one level at a time. Concurrent uploads into one directory
   * share one creation (a recursive mkdir of two uploads at once fails on the directory the other just made).
   */
  private mkdirs(c: SftpClient, dir: string): Promise<void> {
    let p = this.dirs.get(dir);
    if (!p) {
      p = (async () => {
        if (dir === "." || dir === "") {
          if (!(await c.exists(this.t.root))) await c.mkdir(this.t.root, true).catch(async (e: unknown) => {
            if ((await c.exists(this.t.root)) !== "d") throw e;
          });
          return;
        }
        await this.mkdirs(c, path.posix.dirname(dir));
        try {
          await c.mkdir(this.abs(dir), false);
        } catch (e) {
          if ((await c.exists(this.abs(dir))) !== "d") throw e;
        }
      })();
      // A failed creation is not remembered: the next upload tries again.
      p.catch(() => this.dirs.delete(dir));
      this.dirs.set(dir, p);
    }
    return p;
  }

  /** Uploads through `send` to a temp name beside the object, then renames it into place. */
  private async place(key: ObjectKey, send: (c: SftpClient, tmpAbs: string) => Promise<void>): Promise<StoreResult<void>> {
    const c = await this.conn();
    if (!c.ok) return c;
    const rel = keyPath(key);
    const dest = this.abs(rel);
    const tmp = `${path.posix.dirname(dest)}/.${path.posix.basename(dest)}${TEMP_MARK}${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
    try {
      await this.mkdirs(c.value, path.posix.dirname(rel));
      await send(c.value, tmp);
      // posix-rename (an OpenSSH extension) replaces a damaged object in one step; plain SFTP rename refuses to.
      await c.value.posixRename(tmp, dest);
      return okv(undefined);
    } catch (e) {
      await c.value.delete(tmp, true).catch(() => undefined);
      if (e instanceof BadDigest) return failed({ reason: "corrupt", key, actual: e.actual });
      if (e instanceof ShortData) return failed({ reason: "other", store: this.label, detail: `${keyString(key)}: ${e.message}` });
      return failed(this.failure(e, `cannot upload ${keyString(key)}`));
    }
  }

  private async before(key: ObjectKey, size: number): Promise<StoreResult<PutOutcome>> {
    return putOutcome(await this.locate(key), size);
  }

  async putFile(key: ObjectKey, srcAbs: string): Promise<StoreResult<PutOutcome>> {
    checkKey(key);
    const sized = await sourceSize(srcAbs, this.label);
    if (!sized.ok) return sized;
    const size = sized.value;
    if (size <= FAST_GET_FROM) {
      const c = await this.conn();
      if (!c.ok) return c;
      const w = this.raw.get(c.value);
      if (w !== undefined) return this.putSmall(c.value, w, key, await readFile(srcAbs));
    }
    const b = await this.before(key, size);
    if (!b.ok || b.value === "present") return b;
    // fastPut sends several chunks of a large file at once (a stream waits one round trip per 32 KiB).
    const r = await this.place(key, async (c, tmp) => void (await c.fastPut(srcAbs, tmp, { concurrency: 32, chunkSize: XFER_CHUNK })));
    return r.ok ? okv(b.value) : r;
  }

  /**
   * A small object in three round trips on the raw channel: the check of what is there and the open of the temp
   * file together; the writes and the close together (requests on one handle are served in order); the rename over
   * the object's name once the close has answered (the bytes are complete on the server).
   */
  private async putSmall(c: SftpClient, w: SFTPWrapper, key: ObjectKey, buf: Buffer): Promise<StoreResult<PutOutcome>> {
    const rel = keyPath(key);
    const dest = this.abs(rel);
    const tmp = `${path.posix.dirname(dest)}/.${path.posix.basename(dest)}${TEMP_MARK}${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
    let h: Buffer | undefined;
    try {
      await this.mkdirs(c, path.posix.dirname(rel));
      const [there, opened] = await Promise.all([this.locateOn(c, key), sftpOpen(w, tmp, "wx")]);
      h = opened;
      const outcome = putOutcome(there, buf.length);
      if (!outcome.ok || outcome.value === "present") {
        await sftpClose(w, h);
        h = undefined;
        await c.delete(tmp, true).catch(() => undefined);
        return outcome;
      }
      const writes: Promise<void>[] = [];
      for (let pos = 0; pos < buf.length; pos += XFER_CHUNK) writes.push(sftpWrite(w, h, buf, pos, Math.min(XFER_CHUNK, buf.length - pos), pos));
      const closed = sftpClose(w, h);
      h = undefined;
      await Promise.all([...writes, closed]);
      await new Promise<void>((resolve, reject) => w.ext_openssh_rename(tmp, dest, (err) => (err ? reject(err) : resolve())));
      return okv(outcome.value);
    } catch (e) {
      if (h !== undefined) await sftpClose(w, h).catch(() => undefined);
      await c.delete(tmp, true).catch(() => undefined);
      return failed(this.failure(e, `cannot upload ${keyString(key)}`));
    }
  }

  async putStream(key: ObjectKey, data: Readable, size: number): Promise<StoreResult<PutOutcome>> {
    checkKey(key);
    const b = await this.before(key, size);
    if (!b.ok || b.value === "present") {
      data.destroy();
      return b;
    }
    const tap = await hashTap(key, size);
    data.on("error", (e) => tap.destroy(e));
    const r = await this.place(key, async (c, tmp) => {
      // The tap fails the stream when it ends short or the bytes do not hash to the key; the temp file is removed.
      let tapError: unknown;
      tap.on("error", (e) => (tapError = e));
      try {
        await c.put(data.pipe(tap), tmp);
      } catch (e) {
        throw tapError ?? e;
      }
      if (tapError) throw tapError;
    });
    return r.ok ? okv(b.value) : r;
  }

  async *list(): AsyncIterable<StoreResult<ListedObject>> {
    const c = await this.conn();
    if (!c.ok) return yield c;
    const dirsOf = async (top: string): Promise<StoreResult<string[]>> => {
      try {
        const l = await c.value.list(this.abs(top));
        return okv(l.filter((f) => f.type === "d" && /^[0-9a-f]{2}$/.test(f.name)).map((f) => (top ? `${top}/${f.name}` : f.name)));
      } catch (e) {
        return isNotFound(e) ? okv([]) : failed(this.failure(e, `cannot list ${top || "the remote"}`));
      }
    };
    for (const top of ["files/xxh64", "files/md5", ""]) {
      const dirs = await dirsOf(top);
      if (!dirs.ok) return yield dirs;
      for (const d of dirs.value) {
        const n = await this.names(c.value, d);
        if (!n.ok) return yield n;
        for (const [name, size] of n.value) {
          if (name.startsWith(".") || name.includes(TEMP_MARK)) continue;
          const key = keyOfPath(`${d}/${name}`);
          if (key) yield okv({ key, size });
        }
      }
    }
  }

  async remove(key: ObjectKey): Promise<StoreResult<void>> {
    const c = await this.conn();
    if (!c.ok) return c;
    for (const rel of candidatePaths(key)) {
      try {
        await c.value.delete(this.abs(rel), true);
      } catch (e) {
        if (!isNotFound(e)) return failed(this.failure(e, `cannot remove ${keyString(key)}`));
      }
    }
    return okv(undefined);
  }

  verify(key: ObjectKey): Promise<StoreResult<void>> {
    return verifyByDownload(this, key);
  }

  async *listRuns(): AsyncIterable<StoreResult<string>> {
    const c = await this.conn();
    if (!c.ok) return yield c;
    const walk = async function* (this: SshStore, rel: string): AsyncGenerator<StoreResult<string>> {
      let entries;
      try {
        entries = await c.value.list(this.abs(rel));
      } catch (e) {
        if (isNotFound(e)) return;
        return yield failed(this.failure(e, `cannot list ${rel}`));
      }
      for (const f of entries) {
        if (f.name.startsWith(".") || f.name.includes(TEMP_MARK)) continue;
        if (f.type === "d") yield* walk.call(this, `${rel}/${f.name}`);
        else if (f.type === "-") yield okv(`${rel}/${f.name}`.slice("runs/".length));
      }
    };
    yield* walk.call(this, "runs");
  }

  async getRun(rel: string): Promise<StoreResult<Buffer | undefined>> {
    const c = await this.conn();
    if (!c.ok) return c;
    try {
      return okv((await c.value.get(this.abs(`runs/${rel}`))) as Buffer);
    } catch (e) {
      if (isNotFound(e)) return okv(undefined);
      return failed(this.failure(e, `cannot read run-cache entry ${rel}`));
    }
  }

  async putRun(rel: string, data: Uint8Array): Promise<StoreResult<void>> {
    const c = await this.conn();
    if (!c.ok) return c;
    const dest = this.abs(`runs/${rel}`);
    const tmp = `${path.posix.dirname(dest)}/.${path.posix.basename(dest)}${TEMP_MARK}${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
    try {
      await this.mkdirs(c.value, path.posix.dirname(`runs/${rel}`));
      await c.value.put(Buffer.from(data), tmp);
      await c.value.posixRename(tmp, dest);
      return okv(undefined);
    } catch (e) {
      await c.value.delete(tmp, true).catch(() => undefined);
      return failed(this.failure(e, `cannot store run-cache entry ${rel}`));
    }
  }

  async close(): Promise<void> {
    const all = this.conns.splice(0);
    await Promise.all(all.map((p) => p.then((c) => c.end()).catch(() => undefined)));
  }
}
