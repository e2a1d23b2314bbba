/** The S3 remote against a real radosgw: the remote contract, wrong credentials, a closed port, a missing bucket. */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { openS3, parseS3Url } from "../../src/remotes/s3.js";
import type { RemoteSpec, RemoteStore } from "../../src/remotes/remote.js";
import { hasS3, s3Server, type S3Server } from "../helpers/servers.js";
import { keyOf, remoteContract } from "./remote-contract.js";
import { objectStoreContract } from "./object-store-contract.js";
import { keyPath } from "../../src/storage/object-store.js";

function spec(srv: S3Server, url: string, extra: Record<string, string> = {}): RemoteSpec {
  return {
    name: "storage",
    url,
    options: { endpointurl: srv.endpoint, access_key_id: srv.accessKey, secret_access_key: srv.secretKey, ...extra },
    source: ".pipe/config.local.yaml",
  };
}

function open(s: RemoteSpec): RemoteStore {
  const r = openS3(s, { root: "/", env: {} });
  if (!r.ok) throw new Error(r.errors[0]!.message);
  return r.value;
}

function rawClient(srv: S3Server): S3Client {
  return new S3Client({
    endpoint: srv.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: srv.accessKey, secretAccessKey: srv.secretKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

async function newBucket(srv: S3Server): Promise<string> {
  const bucket = `pipe-test-${randomBytes(5).toString("hex")}`;
  await rawClient(srv).send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

describe("s3 URLs", () => {
  it("name a bucket and a prefix without slashes at either end", () => {
    expect(parseS3Url("s3://bucket/a/b/")).toEqual({ bucket: "bucket", prefix: "a/b", gcs: false });
    expect(parseS3Url("gs://b")).toEqual({ bucket: "b", prefix: "", gcs: true });
    expect(parseS3Url("s3:/nope")).toBeUndefined();
  });
});

describe.runIf(hasS3())("s3 remote on radosgw", () => {
  const srv = s3Server()!;

  remoteContract("s3 (radosgw)", async () => {
    const bucket = await newBucket(srv);
    const client = rawClient(srv);
    const prefix = "team/cache";
    return {
      store: open(spec(srv, `s3://${bucket}/${prefix}`)),
      async writeRaw(rel, data) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${rel}`, Body: data }));
      },
      async listRaw() {
        const out: string[] = [];
        let token: string | undefined;
        do {
          const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
          for (const o of r.Contents ?? []) out.push(o.Key!.slice(prefix.length + 1));
          token = r.IsTruncated ? r.NextContinuationToken : undefined;
        } while (token);
        return out;
      },
      cleanup: async () => client.destroy(),
    };
  });

  it("reports wrong credentials as `auth`, naming what to check and never the secret", async () => {
    const bucket = await newBucket(srv);
    const store = open(spec(srv, `s3://${bucket}`, { secret_access_key: "WRONG-SECRET-value-42" }));
    const r = await store.has(await keyOf("x"));
    await store.close();
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure.reason).toBe("auth");
    const words = JSON.stringify(r.failure);
    expect(words).toMatch(/credentials/);
    expect(words).toContain("remote 'storage'");
    expect(words).not.toContain("WRONG-SECRET-value-42");
  });

  it("reports a closed port as `unreachable` naming the endpoint to check", async () => {
    const store = open(spec({ ...srv, endpoint: "http://127.0.0.1:9" }, "s3://bucket/p"));
    const r = await store.hasMany([await keyOf("x"), await keyOf("y")]);
    await store.close();
    expect(r.ok ? "ok" : r.failure.reason).toBe("unreachable");
    if (!r.ok) expect(JSON.stringify(r.failure)).toMatch(/endpointurl/);
  }, 60_000);

  it("names a missing bucket", async () => {
    const store = open(spec(srv, "s3://no-such-bucket-pipe-test/p"));
    const r = await store.hasMany([await keyOf("x"), await keyOf("y")]);
    await store.close();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(JSON.stringify(r.failure)).toMatch(/bucket 'no-such-bucket-pipe-test' does not exist/);
  });
});

describe.runIf(hasS3())("s3 remote on radosgw, shared contract", () => {
  const srv = s3Server()!;
  let bucket: Promise<string> | undefined;
  objectStoreContract(
    "s3 remote (radosgw)",
    async () => {
      // One bucket, a fresh prefix per test (creating buckets is slow on radosgw).
      bucket ??= newBucket(srv);
      const b = await bucket;
      const prefix = `t-${randomBytes(5).toString("hex")}`;
      const client = rawClient(srv);
      const store = open(spec(srv, `s3://${b}/${prefix}`));
      const put = async (rel: string, data: Uint8Array): Promise<void> => {
        await client.send(new PutObjectCommand({ Bucket: b, Key: `${prefix}/${rel}`, Body: data }));
      };
      return {
        store,
        seed: (key, bytes) => put(keyPath(key), bytes),
        seedGarbage: () => put("files/xxh64/ab/.cdef0123456789ab.pipe-tmp-1-0", Buffer.from("half")),
        cleanup: async () => {
          await store.close();
          client.destroy();
        },
      };
    },
    { timeout: 60_000 },
  );
});

describe.runIf(hasS3())("s3 remote: large objects in ranges", () => {
  const srv = s3Server()!;
  it("downloads a large object in parallel ranges, verified, and reports a corrupt one without materialising it", async () => {
    const bucket = await newBucket(srv);
    const r = openS3(spec(srv, `s3://${bucket}/big`), { root: "/", env: {} }, { rangedGetFrom: 1024 * 1024, rangeSize: 256 * 1024 });
    if (!r.ok) throw new Error("open");
    const store = r.value;
    const data = randomBytes(1024 * 1024 + 12345);
    const key = await keyOf(data);
    const dir = await mkdtemp(path.join(tmpdir(), "pipe-s3-range-"));
    await writeFile(path.join(dir, "src"), data);
    expect(await store.putFile(key, path.join(dir, "src"))).toEqual({ ok: true, value: "stored" });
    expect(await store.getToFile(key, path.join(dir, "got"))).toEqual({ ok: true, value: undefined });
    expect((await readFile(path.join(dir, "got"))).equals(data)).toBe(true);
    const other = await keyOf(randomBytes(10));
    await rawClient(srv).send(new PutObjectCommand({ Bucket: bucket, Key: `big/${keyPath(other)}`, Body: data }));
    const bad = await store.getToFile(other, path.join(dir, "bad"));
    expect(bad.ok ? "ok" : bad.failure.reason).toBe("corrupt");
    expect(existsSync(path.join(dir, "bad"))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(["got", "src"]);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);
});
