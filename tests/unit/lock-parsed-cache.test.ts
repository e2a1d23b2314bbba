/**
 * The parsed-lock cache (`lock/parsed-cache.ts`) through `readLockIn`, on real temp projects: a read through the
 * cache equals a fresh parse of the same text exactly; every edit of the text is seen, including a same-size edit
 * that keeps the file's stat (the cache is keyed by content); a changed entry is re-read alone; a damaged cache or a
 * layout outside the one `pipe` writes falls back to the full reader (with its located diagnostics); nothing is
 * written without `.pipe/`. On every corpus `dvc.lock`, the cached read (cold, then warm) equals the full reader's.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { lockCacheFile, parseLockCached } from "../../src/lock/parsed-cache.js";
import { parseLock, readLockIn, validateLock } from "../../src/lock/read.js";
import { CORPUS, makeProject } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

function entry(name: string, hash: string, extra = ""): string {
  return [
    `  ${name}:`,
    `    cmd: python ${name}.py`,
    "    deps:",
    `    - path: ${name}.py`,
    "      hash: xxh64",
    `      xxh64: ${hash}`,
    "      size: 12",
    "    params:",
    "      params.yaml:",
    "        lr: 0.1",
    "    outs:",
    `    - path: out/${name}`,
    "      hash: xxh64",
    `      xxh64: ${hash}`,
    "      size: 3",
    extra,
  ]
    .filter((l) => l !== "")
    .join("\n");
}

const LOCK = `schema: '2.0'\nstages:\n${entry("a", "0123456789abcdef")}\n${entry("b", "fedcba9876543210")}\n${entry("c", "00112233445566ff")}\n`;

function project(lock = LOCK): string {
  const root = makeProject({ "pipe.lock": lock });
  mkdirSync(path.join(root, ".pipe"));
  return root;
}

async function readBoth(root: string): Promise<{ cached: unknown; fresh: unknown }> {
  const r = await readLockIn(root, "");
  const text = readFileSync(path.join(root, "pipe.lock"), "utf8");
  const f = parseLock("pipe.lock", text, "pipe");
  return { cached: r.ok ? [...(r.value?.stages ?? [])] : r.errors, fresh: f.ok ? [...f.value.stages] : f.errors };
}

describe("parsed-lock cache", () => {
  it("answers an unchanged lock from the cache, equal to a fresh parse", async () => {
    const root = project();
    const first = await readBoth(root);
    const cache = lockCacheFile(root, "pipe.lock");
    expect(existsSync(cache)).toBe(true);
    const written = statSync(cache).mtimeMs;
    const second = await readBoth(root);
    expect(second.cached).toEqual(second.fresh);
    expect(first.cached).toEqual(second.cached);
    expect((second.cached as unknown[]).length).toBe(3);
    // A hit writes nothing.
    expect(statSync(cache).mtimeMs).toBe(written);
  });

  it("sees a same-size edit that keeps the lock's stat", async () => {
    const root = project();
    await readLockIn(root, "");
    const lock = path.join(root, "pipe.lock");
    const before = statSync(lock);
    writeFileSync(lock, LOCK.replace("fedcba9876543210", "fedcba9876543211"));
    utimesSync(lock, before.atime, before.mtime);
    const { cached, fresh } = await readBoth(root);
    expect(cached).toEqual(fresh);
    const b = (cached as [string, { deps: { hash: string }[] }][]).find(([n]) => n === "b");
    expect(b?.[1].deps[0]?.hash).toBe("fedcba9876543211");
  });

  it("re-reads a changed, added or removed entry and keeps the others", async () => {
    const root = project();
    await readLockIn(root, "");
    const edited = `schema: '2.0'\nstages:\n${entry("a", "0123456789abcdef")}\n${entry("d", "aaaaaaaaaaaaaaaa")}\n${entry("c", "00112233445566ff", "    - path: extra\n      hash: xxh64\n      xxh64: bbbbbbbbbbbbbbbb")}\n`;
    writeFileSync(path.join(root, "pipe.lock"), edited);
    const { cached, fresh } = await readBoth(root);
    expect(cached).toEqual(fresh);
    expect((cached as [string][]).map(([n]) => n)).toEqual(["a", "d", "c"]);
    // The cache was rewritten with the current text only: reading again is a hit with the same answer.
    expect(readFileSync(lockCacheFile(root, "pipe.lock"), "utf8").includes("fedcba9876543210")).toBe(false);
    expect((await readBoth(root)).cached).toEqual(fresh);
  });

  it("never takes a repeated stage name from the cache: the full reader reports it", async () => {
    const root = project();
    await readLockIn(root, "");
    writeFileSync(path.join(root, "pipe.lock"), `${LOCK}${entry("a", "0123456789abcdef")}\n`);
    const r = await readLockIn(root, "");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.location?.file).toBe("pipe.lock");
  });

  it("falls back to the full reader for another layout and for a damaged entry", async () => {
    const root = project(`schema: '2.0'\nstages:\n  a: # a comment\n    cmd: x\n`);
    const r = await readLockIn(root, "");
    expect(r.ok && [...(r.value?.stages.keys() ?? [])]).toEqual(["a"]);
    expect(existsSync(lockCacheFile(root, "pipe.lock"))).toBe(false);
    writeFileSync(path.join(root, "pipe.lock"), LOCK.replace("xxh64: 00112233445566ff", "xxh64: nothex"));
    const bad = await readLockIn(root, "");
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]?.location?.line).toBeGreaterThan(1);
  });

  it("treats a damaged or foreign cache file as a miss", async () => {
    const root = project();
    await readLockIn(root, "");
    const cache = lockCacheFile(root, "pipe.lock");
    const text = readFileSync(cache, "utf8");
    // Offsets that point elsewhere in the stored text, then garbage, then another file's cache.
    for (const damaged of [text.replace("[[22,", "[[23,"), "garbage\n", text.replace('"file":"pipe.lock"', '"file":"sub/pipe.lock"')]) {
      writeFileSync(cache, damaged);
      const { cached, fresh } = await readBoth(root);
      expect(cached).toEqual(fresh);
    }
  });

  it("writes nothing when asked not to (repro --dry), and still reads right", async () => {
    const root = project();
    const r = await readLockIn(root, "", undefined, { writeCache: false });
    expect(r.ok && r.value?.stages.size).toBe(3);
    expect(existsSync(lockCacheFile(root, "pipe.lock"))).toBe(false);
  });

  it("writes nothing in a project without .pipe/", async () => {
    const root = makeProject({ "pipe.lock": LOCK });
    const { cached, fresh } = await readBoth(root);
    expect(cached).toEqual(fresh);
    expect(existsSync(path.join(root, ".pipe"))).toBe(false);
  });

  it.runIf(hasCorpus())("reads every corpus dvc.lock as the full reader does, cold and warm", () => {
    const locks: string[] = [];
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const p = path.join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (n === "dvc.lock") locks.push(p);
      }
    };
    walk(path.join(CORPUS, "dvc-real"));
    expect(locks.length).toBeGreaterThan(0);
    const root = makeProject({});
    mkdirSync(path.join(root, ".pipe"));
    let answered = 0;
    for (const f of locks.sort()) {
      const text = readFileSync(f, "utf8");
      const fresh = parseLock("dvc.lock", text, "dvc");
      for (const round of ["cold", "warm"]) {
        const c = parseLockCached(root, "dvc.lock", text, "dvc", validateLock);
        if (c === undefined) continue;
        if (round === "warm") answered++;
        expect(c.ok && fresh.ok ? [...c.value.stages] : c, `${f} (${round})`).toEqual(fresh.ok ? [...fresh.value.stages] : fresh);
      }
    }
    // Many DVC locks are in the layout the cache takes (a third of the corpus's; the rest have comments, flow or
    // block scalars, or DVC 1's flat layout).
    expect(answered).toBeGreaterThan(locks.length / 5);
  });
});
