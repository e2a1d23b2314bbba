/**
 * Hashing a directory of many large files on worker threads (`hash/pool.ts`) gives the same answer as the main
 * thread, byte for byte: the hash, the manifest, what the stat cache remembers.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Hasher } from "../../src/hash/hasher.js";
import { nodeHashFs, type HashFs } from "../../src/hash/fs.js";
import { hashPool, poolSize } from "../../src/hash/pool.js";
import { recordingFs } from "../../src/status/memo.js";

/** 12 files of 2 MiB (over the pool's thresholds), distinct contents, made old enough for the stat cache. */
function bigDir(): { root: string; dir: string } {
  const root = mkdtempSync(path.join(tmpdir(), "pipe-pool-"));
  const dir = path.join(root, "data");
  mkdirSync(path.join(dir, "sub"), { recursive: true });
  for (let i = 0; i < 12; i++) {
    const buf = Buffer.alloc(2 << 20, i);
    buf.write(`file ${i}`);
    writeFileSync(path.join(dir, i % 3 === 0 ? "sub" : "", `f${i}.bin`), buf);
  }
  return { root, dir };
}

const farFuture = (): bigint => BigInt(Date.now() + 60_000) * 1_000_000n;

describe.runIf(poolSize() >= 2)("hashing on worker threads", () => {
  it.each(["xxh64", "md5"] as const)("gives the main thread's %s hash, manifest and stat-cache entries", async (algo) => {
    const { root, dir } = bigDir();
    const pooled = new Hasher({ root, now: farFuture });
    const alone = new Hasher({ root, now: farFuture, workers: false });
    const before = hashPool()?.filesHashed ?? 0;
    const a = await pooled.hashPath(dir, algo);
    // The workers did the reading, not the main thread.
    expect(hashPool()!.filesHashed - before).toBe(12);
    const b = await alone.hashPath(dir, algo);
    expect(a.kind).toBe("dir");
    expect(a).toEqual(b);
    expect(pooled.stats.filesRead).toBe(12);
    expect(pooled.stats.bytesRead).toBe(12 * (2 << 20));
    // Each file's hash is remembered as the main thread would remember it.
    const one = path.join(dir, "f1.bin");
    const again = new Hasher({ root, statCache: pooled.state, now: farFuture });
    expect(again.peek(one, algo)).toEqual(await alone.hashPath(one, algo));
    if (algo === "md5" && a.kind === "dir") {
      const entry = a.manifest.entries.find((e) => e.relpath === "f1.bin");
      const buf = Buffer.alloc(2 << 20, 1);
      buf.write("file 1");
      expect(entry?.hash).toBe(createHash("md5").update(buf).digest("hex"));
    }
    expect(hashPool()).toBeDefined();
  });

  it("still hashes on the workers behind the status memo's stat-recording file system", async () => {
    // `status` wraps the file system to record the stats its verdict used; that once sent every byte through the
    // main thread.
    const { root, dir } = bigDir();
    const before = hashPool()?.filesHashed ?? 0;
    const h = new Hasher({ root, fs: recordingFs(new Set([dir])).fs, now: farFuture });
    const a = await h.hashPath(dir, "xxh64");
    expect(hashPool()!.filesHashed - before).toBe(12);
    expect(h.stats.bytesRead).toBe(12 * (2 << 20));
    expect(a).toEqual(await new Hasher({ root, now: farFuture, workers: false }).hashPath(dir, "xxh64"));
  });

  it("reads through a file system that counts or alters content, on the main thread", async () => {
    const { root, dir } = bigDir();
    let counted = 0;
    const counting: HashFs = {
      stat: (p) => nodeHashFs.stat(p),
      readdir: (p) => nodeHashFs.readdir(p),
      readChunks: (p, size) => ({
        async *[Symbol.asyncIterator]() {
          for await (const c of nodeHashFs.readChunks(p, size)) {
            counted += c.length;
            yield c;
          }
        },
      }),
    };
    const before = hashPool()?.filesHashed ?? 0;
    const a = await new Hasher({ root, fs: counting, now: farFuture }).hashPath(dir, "md5");
    expect(a.kind).toBe("dir");
    expect(counted).toBe(12 * (2 << 20));
    expect(hashPool()?.filesHashed ?? 0).toBe(before);
  });

  it.each(["xxh64", "md5"] as const)("hashes one large file on a worker, as the main thread does (%s)", async (algo) => {
    const root = mkdtempSync(path.join(tmpdir(), "pipe-pool-"));
    const file = path.join(root, "big.bin");
    // 64 MiB and a bit: over the single-file threshold of a running pool, not a multiple of the workers' read size.
    const buf = Buffer.alloc((64 << 20) + 12345);
    for (let i = 0; i < buf.length; i += 4096) buf.writeUInt32LE(i, i);
    writeFileSync(file, buf);
    // Started already (as by a directory hashed earlier): below 256 MiB a file alone does not start the workers.
    const before = hashPool()!.filesHashed;
    const pooled = new Hasher({ root, now: farFuture });
    const a = await pooled.hashPath(file, algo);
    expect(hashPool()!.filesHashed - before).toBe(1);
    expect(pooled.stats.bytesRead).toBe(buf.length);
    expect(a).toEqual(await new Hasher({ root, now: farFuture, workers: false }).hashPath(file, algo));
    if (algo === "md5") expect(a.kind === "file" && a.hash).toBe(createHash("md5").update(buf).digest("hex"));
    // Remembered in the stat cache as a main-thread read would be.
    expect(new Hasher({ root, statCache: pooled.state, now: farFuture }).peek(file, algo)).toEqual(a);
  });

  it("answers several runs at once (a stage's large deps hashed together)", async () => {
    const { root, dir } = bigDir();
    const other = bigDir();
    const h = new Hasher({ root, now: farFuture });
    const [a, b] = await Promise.all([h.hashPath(dir, "xxh64"), new Hasher({ root: other.root, now: farFuture }).hashPath(other.dir, "xxh64")]);
    expect(a).toEqual(b);
    expect(a).toEqual(await new Hasher({ root, now: farFuture, workers: false }).hashPath(dir, "xxh64"));
  });
});
