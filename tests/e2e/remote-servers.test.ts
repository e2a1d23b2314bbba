/**
 * Remote storage end to end against the real servers (radosgw, OpenSSH, Apache): `pull --json` naming what it
 * restored, `diff` reading directory manifests from the remote, per-output `remote:` across two remotes, credentials
 * from an AWS profile and from the SSH agent, wrong credentials, unknown SSH hosts, and endpoints that refuse or
 * never answer.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Ajv } from "ajv";
import { afterAll, describe, expect, it } from "vitest";
import { digestBytes } from "../../src/hash/algorithms.js";
import { git, gitCommitAll, gitInit, makeProject, read, runPipe, writeFiles, type RunResult } from "../helpers/project.js";
import { hasDav, hasS3, hasSftp, s3Server, sftpKnownHosts, sftpServer, type S3Server, type SftpServer } from "../helpers/servers.js";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const validateTransfer = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas/transfer.schema.json"), "utf8")) as object);

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "pipe-remote-e2e-"));
  made.push(d);
  return d;
}

function client(srv: S3Server): S3Client {
  return new S3Client({ endpoint: srv.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: srv.accessKey, secretAccessKey: srv.secretKey } });
}

async function newBucket(srv: S3Server): Promise<string> {
  const bucket = `pipe-e2e-${randomBytes(5).toString("hex")}`;
  await client(srv).send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

async function keysUnder(srv: S3Server, bucket: string, prefix: string): Promise<string[]> {
  const r = await client(srv).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + "/" }));
  return (r.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)).sort();
}

function ok(r: RunResult): RunResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** An S3 remote NAME on the server, keys in the git-ignored local file. */
function addS3(dir: string, name: string, srv: S3Server, url: string, dflt = true): void {
  ok(runPipe(dir, ["remote", "add", ...(dflt ? ["-d"] : []), name, url]));
  ok(runPipe(dir, ["remote", "modify", name, "endpointurl", srv.endpoint]));
  s3Keys(dir, name, srv);
}

function s3Keys(dir: string, name: string, srv: S3Server): void {
  ok(runPipe(dir, ["remote", "modify", "--local", name, "access_key_id", srv.accessKey]));
  ok(runPipe(dir, ["remote", "modify", "--local", name, "secret_access_key", srv.secretKey]));
}

/** An SFTP remote NAME under a fresh folder of the server's root; its key file and known_hosts in the local file. */
function addSftp(dir: string, name: string, srv: SftpServer, folder: string, opts: { keyfile?: boolean } = {}): void {
  ok(runPipe(dir, ["remote", "add", name, `ssh://${srv.user}@${srv.host}:${srv.port}${path.join(srv.root, folder)}`]));
  sftpLocal(dir, name, srv, opts);
}

function sftpLocal(dir: string, name: string, srv: SftpServer, opts: { keyfile?: boolean } = {}): void {
  if (opts.keyfile !== false) ok(runPipe(dir, ["remote", "modify", "--local", name, "keyfile", srv.keyFile]));
  ok(runPipe(dir, ["remote", "modify", "--local", name, "known_hosts", sftpKnownHosts(srv)]));
}

const PIPELINE = {
  "pipe.yaml": "stages:\n  gen:\n    cmd: mkdir -p data && echo ${n} > data/n.txt && echo fixed > data/fixed.txt && echo model-${n} > model.bin\n    params: [n]\n    outs: [data, model.bin]\n",
  "params.yaml": "n: 1\n",
};

function cloneOf(a: string): string {
  const b = path.join(tempDir(), "clone");
  git(path.dirname(b), ["clone", "-q", a, b]);
  return b;
}

describe.runIf(hasS3())("S3 (radosgw): pull --json and diff through the remote", () => {
  const srv = s3Server()!;

  it("a fresh clone diffs two revisions file by file with the manifests on the remote, and pull --json names what it restored", async () => {
    const bucket = await newBucket(srv);
    const a = makeProject(PIPELINE);
    gitInit(a);
    ok(runPipe(a, ["repro"]));
    addS3(a, "storage", srv, `s3://${bucket}/d`);
    gitCommitAll(a, "n=1");
    ok(runPipe(a, ["push"]));
    writeFiles(a, { "params.yaml": "n: 2\n" });
    ok(runPipe(a, ["repro"]));
    gitCommitAll(a, "n=2");
    ok(runPipe(a, ["push"]));

    const b = cloneOf(a);
    s3Keys(b, "storage", srv);
    // B's cache is empty: both revisions' manifests come from the bucket, so data/ is compared file by file.
    const diff = ok(runPipe(b, ["diff", "HEAD~1", "HEAD", "--json"]));
    expect(diff.stderr).toBe("");
    const doc = JSON.parse(diff.stdout) as { modified: { path: string }[] };
    expect(doc.modified.map((m) => m.path)).toEqual(["data/", "data/n.txt", "model.bin"]);
    // The diff read; it did not fill the cache (that is fetch's job, under the lock).
    expect(runPipe(b, ["status", "-c"]).stdout).toContain("deleted:");

    const pull = ok(runPipe(b, ["pull", "--json"]));
    const out = JSON.parse(pull.stdout) as { restored: string[]; transferred: number };
    expect(validateTransfer(out), JSON.stringify(validateTransfer.errors)).toBe(true);
    expect(out.restored).toEqual(["data", "model.bin"]);
    expect(out.transferred).toBe(4);
    expect(read(b, "model.bin")).toBe("model-2\n");
    // Nothing left to restore: an empty list, still one document.
    const again = JSON.parse(ok(runPipe(b, ["pull", "--json"])).stdout) as { restored: string[] };
    expect(again.restored).toEqual([]);
  }, 180_000);

  it("a diff whose remote lacks a manifest warns once, naming the directory", async () => {
    const bucket = await newBucket(srv);
    const a = makeProject(PIPELINE);
    gitInit(a);
    ok(runPipe(a, ["repro"]));
    addS3(a, "storage", srv, `s3://${bucket}/d`);
    gitCommitAll(a, "n=1");
    writeFiles(a, { "params.yaml": "n: 2\n" });
    ok(runPipe(a, ["repro"]));
    gitCommitAll(a, "n=2");
    const b = cloneOf(a);
    s3Keys(b, "storage", srv);
    const diff = ok(runPipe(b, ["diff", "HEAD~1", "HEAD"]));
    expect(diff.stderr).toMatch(/warning: the file list of data\/ is not in the cache nor on remote 'storage'/);
    expect(diff.stdout).toContain("data/");
    expect(diff.stdout).not.toContain("data/n.txt");
  }, 120_000);
});

describe.runIf(hasS3())("S3 (radosgw): status --cloud of a directory, and gc -c with run-cache entries", () => {
  const srv = s3Server()!;

  it("status --cloud takes a directory's manifest on the remote as its files' presence, as push does", async () => {
    const bucket = await newBucket(srv);
    const a = makeProject(PIPELINE);
    gitInit(a);
    ok(runPipe(a, ["repro"]));
    addS3(a, "storage", srv, `s3://${bucket}/st`);
    ok(runPipe(a, ["push"]));
    const id = await digestBytes("xxh64", Buffer.from("1\n"));
    const fileKey = `st/files/xxh64/${id.slice(0, 2)}/${id.slice(2)}`;
    const dirKey = (await keysUnder(srv, bucket, "st")).find((k) => k.endsWith(".dir"))!;
    // A file of the directory gone behind pipe's back: the manifest still vouches for it, for status and push alike.
    await client(srv).send(new DeleteObjectCommand({ Bucket: bucket, Key: fileKey }));
    const statusOf = (): Record<string, string> =>
      Object.fromEntries((JSON.parse(ok(runPipe(a, ["status", "-c", "--json"])).stdout) as { outputs: { path: string; status: string }[] }).outputs.map((o) => [o.path, o.status]));
    expect(statusOf()).toEqual({ data: "in-sync", "model.bin": "in-sync" });
    expect(ok(runPipe(a, ["push"])).stdout).toBe("Everything is up to date (4 files already there).\n");
    // Without the manifest, each file is asked for: the directory is new to the remote, and push sends what lacks.
    await client(srv).send(new DeleteObjectCommand({ Bucket: bucket, Key: `st/${dirKey}` }));
    expect(statusOf()).toEqual({ data: "new", "model.bin": "in-sync" });
    expect(ok(runPipe(a, ["push"])).stdout).toMatch(/^2 files pushed, .*, 2 already there\n$/);
    expect(statusOf()).toEqual({ data: "in-sync", "model.bin": "in-sync" });
  }, 120_000);

  it("gc -c keeps run-cache entries (as DVC's gc does); one whose objects went makes repro --pull run the stage", async () => {
    const bucket = await newBucket(srv);
    const a = makeProject(PIPELINE);
    gitInit(a);
    ok(runPipe(a, ["repro"]));
    addS3(a, "storage", srv, `s3://${bucket}/rc`);
    ok(runPipe(a, ["push", "--run-cache"]));
    writeFiles(a, { "params.yaml": "n: 2\n" });
    ok(runPipe(a, ["repro"]));
    gitCommitAll(a, "n=2");
    ok(runPipe(a, ["push", "--run-cache"]));
    const runs = (await keysUnder(srv, bucket, "rc")).filter((k) => k.startsWith("runs/"));
    expect(runs).toHaveLength(2);
    ok(runPipe(a, ["gc", "-c", "-w", "-f"]));
    const after = await keysUnder(srv, bucket, "rc");
    expect(after.filter((k) => k.startsWith("runs/"))).toEqual(runs);
    expect(after.filter((k) => k.startsWith("files/"))).toHaveLength(4);

    // n=1's entry is still there but its objects are not: a clone going back to n=1 runs the stage, no error.
    const b = cloneOf(a);
    s3Keys(b, "storage", srv);
    writeFiles(b, { "params.yaml": "n: 1\n" });
    const r = ok(runPipe(b, ["repro", "--pull"]));
    expect(r.stdout).toContain("Running");
    expect(read(b, "model.bin")).toBe("model-1\n");
  }, 180_000);
});

describe.runIf(hasS3() && hasSftp())("per-output remote: across S3 and SFTP", () => {
  const s3 = s3Server()!;
  const sftp = sftpServer()!;

  it("an output with remote: box goes to box on push, comes from it on pull, and status --cloud checks it there", async () => {
    const bucket = await newBucket(s3);
    const folder = `pipe-e2e-${randomBytes(5).toString("hex")}`;
    const a = makeProject({
      "pipe.yaml": "stages:\n  gen:\n    cmd: mkdir -p data && echo 1 > data/n.txt && echo model > model.bin\n    outs:\n      - data\n      - model.bin:\n          remote: box\n",
    });
    gitInit(a);
    ok(runPipe(a, ["repro"]));
    addS3(a, "storage", s3, `s3://${bucket}/main`);
    addSftp(a, "box", sftp, folder);
    gitCommitAll(a, "two remotes");
    const push = ok(runPipe(a, ["push"]));
    expect(push.stdout).toMatch(/^3 files pushed/);
    // The directory (a file and its manifest) on S3; the model on the SFTP server, and nowhere else.
    const onS3 = await keysUnder(s3, bucket, "main");
    expect(onS3).toHaveLength(2);
    const onBox = execFileSync("find", [path.join(sftp.root, folder), "-type", "f", "-printf", "%P\n"], { encoding: "utf8" }).trim().split("\n");
    expect(onBox).toHaveLength(1);
    expect(onBox[0]).toMatch(/^files\/xxh64\/[0-9a-f]{2}\/[0-9a-f]{14}$/);
    expect(onS3).not.toContain(onBox[0]);
    expect(ok(runPipe(a, ["status", "-c"])).stdout).toBe("Cache and remotes 'storage', 'box' are in sync.\n");

    const b = cloneOf(a);
    s3Keys(b, "storage", s3);
    sftpLocal(b, "box", sftp);
    const pull = ok(runPipe(b, ["pull"]));
    expect(pull.stdout).toContain("3 files fetched");
    expect(read(b, "model.bin")).toBe("model\n");
    expect(read(b, "data/n.txt")).toBe("1\n");

    // The model gone from box: status --cloud says so for it alone (it is not looked for on S3).
    rmSync(path.join(sftp.root, folder, "files"), { recursive: true });
    const st = runPipe(a, ["status", "-c", "--json"]);
    const outputs = (JSON.parse(st.stdout) as { outputs: { path: string; status: string }[] }).outputs;
    expect(outputs.find((o) => o.path === "model.bin")?.status).toBe("new");
    expect(outputs.find((o) => o.path === "data")?.status).toBe("in-sync");
    // -r names one remote for everything: the model is then looked for on S3 (where it is not).
    const forced = JSON.parse(runPipe(a, ["status", "-c", "-r", "storage", "--json"]).stdout) as { outputs: { path: string; status: string }[] };
    expect(forced.outputs.find((o) => o.path === "model.bin")?.status).toBe("new");
  }, 180_000);
});

describe.runIf(hasS3())("S3 (radosgw): credentials", () => {
  const srv = s3Server()!;

  it("reads keys from an AWS profile (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), and wrong keys are a clear error, exit 1", async () => {
    const bucket = await newBucket(srv);
    const aws = tempDir();
    writeFileSync(path.join(aws, "credentials"), `[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONGWRONG\n\n[team]\naws_access_key_id = ${srv.accessKey}\naws_secret_access_key = ${srv.secretKey}\n`);
    writeFileSync(path.join(aws, "config"), "[profile team]\nregion = us-east-1\n");
    const env = { AWS_CONFIG_FILE: path.join(aws, "config"), AWS_SHARED_CREDENTIALS_FILE: path.join(aws, "credentials"), AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "" };
    const a = makeProject(PIPELINE);
    gitInit(a);
    ok(runPipe(a, ["repro"]));
    ok(runPipe(a, ["remote", "add", "-d", "storage", `s3://${bucket}/p`]));
    ok(runPipe(a, ["remote", "modify", "storage", "endpointurl", srv.endpoint]));
    ok(runPipe(a, ["remote", "modify", "storage", "profile", "team"]));
    const push = runPipe(a, ["push"], env);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/^4 files pushed/);
    expect(await keysUnder(srv, bucket, "p")).toHaveLength(4);

    // The default profile's keys are wrong: the server refuses them, and the message says what to check.
    ok(runPipe(a, ["remote", "modify", "storage", "profile", "--unset"]));
    const wrong = runPipe(a, ["push"], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/remote 'storage' \(s3:\/\/[^)]+\)/);
    expect(wrong.stderr).toMatch(/credential|access key|InvalidAccessKeyId|SignatureDoesNotMatch/i);
    expect(wrong.stderr).not.toMatch(/^\s+at /m);
    expect(wrong.stderr).not.toContain("WRONGWRONG");
  }, 180_000);
});

describe.runIf(hasSftp())("SFTP (OpenSSH): the agent and host keys", () => {
  const srv = sftpServer()!;
  let agent: { sock: string; pid: string } | undefined;
  afterAll(() => {
    if (agent) process.kill(Number(agent.pid));
  });

  it("logs in with the key the SSH agent holds (no key file anywhere)", () => {
    const out = execFileSync("ssh-agent", ["-s", "-a", path.join(tempDir(), "agent.sock")], { encoding: "utf8" });
    agent = { sock: /SSH_AUTH_SOCK=([^;]+);/.exec(out)![1]!, pid: /SSH_AGENT_PID=(\d+);/.exec(out)![1]! };
    execFileSync("ssh-add", [srv.keyFile], { env: { ...process.env, SSH_AUTH_SOCK: agent.sock }, stdio: "pipe" });
    const home = tempDir();
    const env = { HOME: home, SSH_AUTH_SOCK: agent.sock };
    const a = makeProject(PIPELINE);
    gitInit(a);
    ok(runPipe(a, ["repro"]));
    ok(runPipe(a, ["remote", "add", "-d", "box", `ssh://${srv.user}@${srv.host}:${srv.port}${path.join(srv.root, `pipe-e2e-${randomBytes(5).toString("hex")}`)}`]));
    sftpLocal(a, "box", srv, { keyfile: false });
    const push = runPipe(a, ["push"], env);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/^4 files pushed/);
    // Without the agent there is no way in: an auth error naming the agent among what to check.
    const none = runPipe(a, ["status", "-c"], { HOME: home, SSH_AUTH_SOCK: "" });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/SSH agent/);
  }, 120_000);

  it("an unknown host is refused, exit 1, with the fingerprint and how to trust it", () => {
    const a = makeProject(PIPELINE);
    gitInit(a);
    ok(runPipe(a, ["repro"]));
    ok(runPipe(a, ["remote", "add", "-d", "box", `ssh://${srv.user}@${srv.host}:${srv.port}${path.join(srv.root, "never")}`]));
    ok(runPipe(a, ["remote", "modify", "--local", "box", "keyfile", srv.keyFile]));
    const r = runPipe(a, ["push"], { HOME: tempDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the host \[127\.0\.0\.1\]:\d+ is not known .* SHA256:\S+\)\. To trust it/);
    expect(r.stderr).toContain(`ssh-keyscan -p ${srv.port} ${srv.host} >> `);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  }, 60_000);
});

/** A TCP server that accepts connections and never says a word. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => void sockets.push(s));
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = await silentServer();
  await s.close();
  return s.port;
}

/** `pipe status -c` run as a child process without blocking this one (the silent server must keep accepting). */
function pipeAsync(cwd: string, args: string[]): Promise<RunResult & { ms: number }> {
  const start = Date.now();
  return new Promise((res) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PIPE_")) env[k] = v;
    const child: ChildProcess = spawn(process.execPath, [path.join(REPO_ROOT, "bin/pipe.js"), ...args], { cwd, env: { ...env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => res({ code: code ?? -1, stdout, stderr, ms: Date.now() - start }));
  });
}

describe("unreachable and silent endpoints", () => {
  const kinds: { kind: string; url: (port: number) => string; setup: (dir: string) => void }[] = [
    {
      kind: "S3",
      url: () => "s3://bucket/p",
      setup: (dir) => {
        ok(runPipe(dir, ["remote", "modify", "--local", "storage", "access_key_id", "K"]));
        ok(runPipe(dir, ["remote", "modify", "--local", "storage", "secret_access_key", "SECRETKEY"]));
      },
    },
    {
      kind: "SFTP",
      url: (port) => `ssh://someone@127.0.0.1:${port}/data`,
      setup: (dir) => ok(runPipe(dir, ["remote", "modify", "--local", "storage", "keyfile", sftpServer()!.keyFile])),
    },
    { kind: "WebDAV", url: (port) => `webdav://127.0.0.1:${port}/dav`, setup: () => undefined },
  ];
  const need = hasS3() && hasSftp() && hasDav();

  for (const k of kinds) {
    it.runIf(need)(`${k.kind}: a closed port is a clear error at once, and a server that never answers one within the remote's timeout; exit 1`, async () => {
      for (const mode of ["closed", "silent"] as const) {
        const silent = mode === "silent" ? await silentServer() : undefined;
        const port = silent?.port ?? (await closedPort());
        const dir = makeProject(PIPELINE);
        ok(runPipe(dir, ["repro"]));
        ok(runPipe(dir, ["remote", "add", "-d", "storage", k.url(port)]));
        if (k.kind === "S3") ok(runPipe(dir, ["remote", "modify", "storage", "endpointurl", `http://127.0.0.1:${port}`]));
        ok(runPipe(dir, ["remote", "modify", "storage", "timeout", "2"]));
        k.setup(dir);
        const r = await pipeAsync(dir, ["status", "-c"]);
        await silent?.close();
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(/remote 'storage'/);
        expect(r.stderr).toMatch(/check the (remote's endpointurl|host and port|URL)/);
        expect(r.stderr).not.toMatch(/^\s+at /m);
        // 2 s per try (the S3 client tries 3 times), well below the 3 minutes the default (60 s) would take.
        expect(r.ms).toBeLessThan(60_000);
      }
    }, 120_000);
  }
});
