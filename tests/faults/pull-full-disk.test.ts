/**
 * A full disk during `pull` from a real S3 server (radosgw): the clone lives on a small tmpfs, so the cache runs out
 * of room while objects arrive. The pull must end with exit 1 and a plain message saying to free space, leave only
 * whole, verified objects in the cache (no partial file under any name), and finish when run again with room.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { freeBytes, tmpfsDir } from "../helpers/mounts.js";
import { cacheFiles, git, gitCommitAll, gitInit, makeProject, runPipe } from "../helpers/project.js";
import { isRoot, requires } from "../helpers/require.js";
import { hasS3, s3Server } from "../helpers/servers.js";
import { digestBytes } from "../../src/hash/algorithms.js";

describe.runIf(requires("root", isRoot(), "run the tests as root (bash .ci/run does): they mount tmpfs file systems") && hasS3())("a full disk during pull (S3)", () => {
  const srv = s3Server()!;

  it("exit 1 saying to free space, only whole verified objects in the cache, and the next pull finishes", async () => {
    const bucket = `pipe-full-${randomBytes(5).toString("hex")}`;
    await new S3Client({ endpoint: srv.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: srv.accessKey, secretAccessKey: srv.secretKey } }).send(
      new CreateBucketCommand({ Bucket: bucket }),
    );
    const a = makeProject({
      "pipe.yaml": "stages:\n  gen:\n    cmd: mkdir -p data && for i in 1 2 3 4; do head -c 400000 /dev/urandom > data/$i.bin; done\n    outs: [data]\n",
    });
    gitInit(a);
    expect(runPipe(a, ["repro"]).code).toBe(0);
    expect(runPipe(a, ["remote", "add", "-d", "storage", `s3://${bucket}/full`]).code).toBe(0);
    expect(runPipe(a, ["remote", "modify", "storage", "endpointurl", srv.endpoint]).code).toBe(0);
    gitCommitAll(a, "data");
    const keys = { AWS_ACCESS_KEY_ID: srv.accessKey, AWS_SECRET_ACCESS_KEY: srv.secretKey };
    const push = runPipe(a, ["push"], keys);
    expect(push.code, push.stderr).toBe(0);

    // The clone on a 5 MiB disk with ~900 kB free: two of the four objects fit, not all four.
    const b = tmpfsDir("5m");
    git(path.dirname(b), ["clone", "-q", a, b]);
    expect(spawnSync("sh", ["-c", `head -c ${freeBytes(b) - 900_000} /dev/zero > filler.bin`], { cwd: b }).status).toBe(0);
    const full = runPipe(b, ["pull", "-j", "1"], keys);
    expect(full.code, full.stderr).toBe(1);
    expect(full.stderr).toMatch(/no space|No space left/i);
    expect(full.stderr).toMatch(/free space/);
    expect(full.stderr).not.toMatch(/internal error|^\s+at /m);
    // Whatever arrived is whole: every file under the cache is an object whose bytes hash to its name.
    const arrived = cacheFiles(b).filter((f) => f !== "verified" && !f.startsWith("runs/"));
    for (const f of arrived) {
      expect(f).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{14}(\.dir)?$/);
      expect(await digestBytes("xxh64", readFileSync(path.join(b, ".pipe/cache", f)))).toBe(f.replace("/", "").replace(/\.dir$/, ""));
    }
    expect(arrived.length).toBeLessThan(5);

    rmSync(path.join(b, "filler.bin"));
    const again = runPipe(b, ["pull"], keys);
    expect(again.code, again.stderr).toBe(0);
    for (const i of [1, 2, 3, 4]) expect(readFileSync(path.join(b, `data/${i}.bin`)).equals(readFileSync(path.join(a, `data/${i}.bin`)))).toBe(true);
  }, 180_000);
});
