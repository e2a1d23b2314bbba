/**
 * The team workflow against a real S3 server (radosgw): A configures the bucket (endpoint committed, keys in the
 * git-ignored local file), runs and pushes; a fresh clone B adds its own keys, pulls, is up to date and runs
 * nothing; B changes a param, runs, pushes; A pulls and is up to date. `status --cloud` and `gc -c` on the bucket too.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { git, gitCommitAll, gitInit, makeProject, read, runPipe, writeFiles } from "../helpers/project.js";
import { hasS3, s3Server, type S3Server } from "../helpers/servers.js";

function client(srv: S3Server): S3Client {
  return new S3Client({
    endpoint: srv.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: srv.accessKey, secretAccessKey: srv.secretKey },
  });
}

async function keysUnder(srv: S3Server, bucket: string, prefix: string): Promise<string[]> {
  const r = await client(srv).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + "/" }));
  return (r.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)).sort();
}

/** The keys of the server, in the git-ignored local file (as a user types them). */
function credentials(dir: string, srv: S3Server): void {
  for (const [k, v] of [
    ["access_key_id", srv.accessKey],
    ["secret_access_key", srv.secretKey],
  ]) {
    const r = runPipe(dir, ["remote", "modify", "--local", "storage", k!, v!]);
    expect(r.code, r.stderr).toBe(0);
  }
}

describe.runIf(hasS3())("the team workflow on S3 (radosgw)", () => {
  const srv = s3Server()!;

  it("A pushes, a fresh clone pulls and runs nothing, B pushes a change, A pulls it", async () => {
    const bucket = `pipe-team-${randomBytes(5).toString("hex")}`;
    await client(srv).send(new CreateBucketCommand({ Bucket: bucket }));
    const a = makeProject({
      "pipe.yaml": "stages:\n  gen:\n    cmd: mkdir -p data && echo ${n} > data/n.txt && echo model-${n} > model.bin\n    params: [n]\n    outs: [data, model.bin]\n",
      "params.yaml": "n: 1\n",
    });
    gitInit(a);
    expect(runPipe(a, ["repro"]).code).toBe(0);
    expect(runPipe(a, ["remote", "add", "-d", "storage", `s3://${bucket}/team`]).code).toBe(0);
    expect(runPipe(a, ["remote", "modify", "storage", "endpointurl", srv.endpoint]).code).toBe(0);
    credentials(a, srv);
    expect(read(a, ".pipe/config.yaml")).not.toContain(srv.secretKey);
    gitCommitAll(a, "pipeline and remote");
    expect(runPipe(a, ["status", "-c"]).stdout).toContain("new:");
    const push = runPipe(a, ["push"]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/^3 files pushed, /);
    expect((await keysUnder(srv, bucket, "team")).every((k) => /^files\/xxh64\/[0-9a-f]{2}\/[0-9a-f]{14}(\.dir)?$/.test(k))).toBe(true);
    expect(runPipe(a, ["status", "-c"]).stdout).toBe("Cache and remote 'storage' are in sync.\n");

    const b = path.join(makeProject(), "b");
    git(path.dirname(b), ["clone", "-q", a, b]);
    // The local file with the keys is not in git: B has none yet, and says so plainly.
    expect(existsSync(path.join(b, ".pipe/config.local.yaml"))).toBe(false);
    credentials(b, srv);
    const pull = runPipe(b, ["pull"]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(read(b, "model.bin")).toBe("model-1\n");
    expect(runPipe(b, ["status"]).stdout).toBe("Pipeline is up to date.\n");
    expect(runPipe(b, ["repro"]).stdout).not.toContain("Running");

    writeFiles(b, { "params.yaml": "n: 2\n" });
    expect(runPipe(b, ["repro"]).code).toBe(0);
    expect(runPipe(b, ["push"]).code).toBe(0);
    gitCommitAll(b, "n=2");
    git(a, ["pull", "-q", b, "main"]);
    const pullA = runPipe(a, ["pull"]);
    expect(pullA.code, pullA.stderr).toBe(0);
    expect(read(a, "model.bin")).toBe("model-2\n");
    expect(runPipe(a, ["status"]).stdout).toBe("Pipeline is up to date.\n");

    // gc -c -w: n=1's objects go from the bucket, n=2's stay.
    const before = await keysUnder(srv, bucket, "team");
    const gc = runPipe(a, ["gc", "-c", "-w", "-f"]);
    expect(gc.code, gc.stderr).toBe(0);
    const after = await keysUnder(srv, bucket, "team");
    expect(after.length).toBe(3);
    expect(before.length).toBeGreaterThan(after.length);
    expect(runPipe(a, ["status", "-c"]).stdout).toBe("Cache and remote 'storage' are in sync.\n");
  }, 180_000);
});
