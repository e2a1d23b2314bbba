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
import { hashPool, poolSize } from "../../src/hash/pool.js";

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
    const a = await pooled.hashPath(dir, algo);
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
});
