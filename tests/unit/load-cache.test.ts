/**
 * The load cache (`project/load-cache.ts`) through `loadPipelineCached`, on real temp projects: a second load of an
 * unchanged project comes from the cache and equals a fresh load exactly (pipeline, warnings, source texts); every
 * input it is keyed on invalidates it (the stages files, `params.yaml`, vars files, a new or removed stages file, a
 * file that was absent, pipe's build, the project root); a damaged cache is a miss; nothing is written for an invalid
 * project, a project without `.pipe/`, or files too fresh to be trusted. The clock is injected as "far in the
 * future" so that files written by the test are old enough to be trusted, except where freshness is the point.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../../src/core/diagnostic.js";
import { LOAD_CACHE_FILE, jsonFaithful } from "../../src/project/load-cache.js";
import { loadPipeline, loadPipelineCached, type LoadCacheOptions } from "../../src/project/load.js";
import { CORPUS, makeProject, writeFiles } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

const LATER: LoadCacheOptions = { now: () => (BigInt(Date.now()) + 3_600_000n) * 1_000_000n };

const PIPE = `vars:
  - config/vars.yaml
stages:
  train:
    cmd: python train.py --lr \${lr} --layers \${model.layers} --seed \${seed}
    deps:
      - train.py
    params:
      - lr
    outs:
      - model.pkl:
          checkpoint: true
  build:
    foreach: \${targets}
    do:
      cmd: make \${item}
      outs:
        - out/\${item}
`;

function project(extra: Record<string, string> = {}): string {
  return makeProject({
    ".pipe/config.yaml": "",
    "pipe.yaml": PIPE,
    "dvc.yaml": "stages:\n  ignored:\n    cmd: echo\n",
    "params.yaml": "lr: 0.1\nmodel:\n  layers: 3\ntargets: [a, b]\n",
    "config/vars.yaml": "seed: 7\n",
    ...extra,
  });
}

async function load(dir: string, opts: LoadCacheOptions = LATER) {
  const sources = new Map<string, string>();
  const r = await loadPipelineCached(dir, sources, opts);
  return { ...r, sources };
}

/** Loads and caches, then checks that the next load is a hit. */
async function primed(dir: string): Promise<void> {
  const first = await load(dir);
  expect(first.result.ok, first.result.ok ? "" : renderDiagnostics(first.result.errors, first.sources)).toBe(true);
  expect(first.fromCache).toBe(false);
  expect(first.remember()).toBe(true);
  expect((await load(dir)).fromCache).toBe(true);
}

function cmds(r: Awaited<ReturnType<typeof load>>): Record<string, string | string[]> {
  if (!r.result.ok) throw new Error(renderDiagnostics(r.result.errors, r.sources));
  return Object.fromEntries(r.result.value.stages.map((s) => [s.address, s.cmd]));
}

describe("loadPipelineCached", () => {
  it("answers an unchanged project from the cache with exactly what a fresh load gives", async () => {
    const dir = project();
    const fresh = new Map<string, string>();
    const expected = await loadPipeline(dir, fresh);
    const first = await load(dir);
    expect(first.fromCache).toBe(false);
    expect(first.result).toStrictEqual(expected);
    expect(first.remember()).toBe(true);
    expect(existsSync(path.join(dir, LOAD_CACHE_FILE))).toBe(true);

    const second = await load(dir);
    expect(second.fromCache).toBe(true);
    expect(second.remember()).toBe(false);
    // Pipeline (every stage with its source locations), warnings (discovery's and validation's), source texts.
    expect(second.result).toStrictEqual(expected);
    expect([...second.sources]).toStrictEqual([...fresh]);
    expect(second.result.warnings.map((w) => w.message)).toEqual([
      "both pipe.yaml and dvc.yaml are in the project root: using pipe.yaml, ignoring dvc.yaml",
      expect.stringContaining("checkpoint"),
    ]);
  });

  it("sees an edit of the stages file, even one that keeps its size", async () => {
    const dir = project();
    await primed(dir);
    writeFiles(dir, { "pipe.yaml": PIPE.replace("make ${item}", "mike ${item}") });
    const r = await load(dir);
    expect(r.fromCache).toBe(false);
    expect(cmds(r)["build@a"]).toBe("mike a");
  });

  it("sees an edit of params.yaml and of a vars file", async () => {
    const dir = project();
    await primed(dir);
    writeFiles(dir, { "params.yaml": "lr: 0.2\nmodel:\n  layers: 3\ntargets: [a, b]\n" });
    let r = await load(dir);
    expect(r.fromCache).toBe(false);
    expect(cmds(r)["train"]).toBe("python train.py --lr 0.2 --layers 3 --seed 7");
    expect(r.remember()).toBe(true);
    writeFiles(dir, { "config/vars.yaml": "seed: 8\n" });
    r = await load(dir);
    expect(r.fromCache).toBe(false);
    expect(cmds(r)["train"]).toBe("python train.py --lr 0.2 --layers 3 --seed 8");
  });

  it("sees a params.yaml appear where there was none, and a stage's vars file in its wdir", async () => {
    const dir = makeProject({
      ".pipe/config.yaml": "",
      "pipe.yaml": "stages:\n  s:\n    wdir: sub\n    vars:\n      - local.yaml\n    cmd: echo ${x}\n",
      "sub/local.yaml": "x: 1\n",
    });
    await primed(dir);
    writeFiles(dir, { "sub/local.yaml": "x: 2\n" });
    let r = await load(dir);
    expect(cmds(r)["s"]).toBe("echo 2");
    expect(r.remember()).toBe(true);
    // The root's params.yaml is loaded first when present: now it defines x too, which is an error.
    writeFiles(dir, { "params.yaml": "x: 3\n" });
    r = await load(dir);
    expect(r.fromCache).toBe(false);
    expect(!r.result.ok && r.result.errors.map((d) => d.reason)).toEqual(["vars-redefined"]);
  });

  it("sees a stages file added in a subdirectory, and one removed", async () => {
    const dir = project();
    await primed(dir);
    writeFiles(dir, { "sub/dvc.yaml": "stages:\n  more:\n    cmd: echo more\n" });
    let r = await load(dir);
    expect(r.fromCache).toBe(false);
    expect(cmds(r)["sub/dvc.yaml:more"]).toBe("echo more");
    expect(r.remember()).toBe(true);
    expect((await load(dir)).fromCache).toBe(true);
    rmSync(path.join(dir, "sub"), { recursive: true });
    r = await load(dir);
    expect(r.fromCache).toBe(false);
    expect(cmds(r)["sub/dvc.yaml:more"]).toBeUndefined();
  });

  it("sees an edit whose mtime was put back (ctime is part of the key)", async () => {
    const dir = project();
    const file = path.join(dir, "config/vars.yaml");
    const before = statSync(file);
    await primed(dir);
    writeFileSync(file, "seed: 9\n");
    utimesSync(file, before.atime, before.mtime);
    expect(cmds(await load(dir))["train"]).toBe("python train.py --lr 0.1 --layers 3 --seed 9");
  });

  it("is not used for a project moved elsewhere (same inodes, another root)", async () => {
    const dir = project();
    await primed(dir);
    const moved = `${dir}-moved`;
    renameSync(dir, moved);
    try {
      const r = await load(moved);
      expect(r.fromCache).toBe(false);
      expect(r.result.ok && r.result.value.root).toBe(moved);
    } finally {
      renameSync(moved, dir);
    }
  });

  it("treats a damaged cache, or one from another format or build, as a miss", async () => {
    const dir = project();
    const file = path.join(dir, LOAD_CACHE_FILE);
    const expected = await loadPipeline(dir, new Map());
    await primed(dir);
    const good = readFileSync(file, "utf8");
    const [head, body] = good.split("\n") as [string, string];
    const damaged = [
      "",
      "garbage",
      good.slice(0, good.length / 2),
      `${head}\n{"pipeline": 1}\n`,
      `${head}\n[]\n`,
      `${head.replace(/"pipe-load-cache \d+"/, '"pipe-load-cache 0"')}\n${body}\n`,
      `${head.replace(/"build":"[^"]*"/, '"build":"0.0.1 1:1"')}\n${body}\n`,
      `null\n${body}\n`,
    ];
    for (const text of damaged) {
      writeFileSync(file, text);
      const r = await load(dir);
      expect(r.fromCache, text.slice(0, 80)).toBe(false);
      expect(r.result).toStrictEqual(expected);
    }
    expect((await load(dir)).remember()).toBe(true);
    expect((await load(dir)).fromCache).toBe(true);
  });

  it("never caches an invalid project, and an edit that breaks a cached one gives the located errors", async () => {
    const dir = project();
    await primed(dir);
    writeFiles(dir, { "pipe.yaml": PIPE.replace("    deps:", "    dep:") });
    const r = await load(dir);
    expect(r.fromCache).toBe(false);
    expect(!r.result.ok && renderDiagnostics(r.result.errors, r.sources)).toMatch(/^pipe\.yaml:6:5: error: unknown stage key 'dep'\n/);
    expect(r.remember()).toBe(false);
    expect((await load(dir)).fromCache).toBe(false);
  });

  it("writes nothing when the project has no .pipe/ (and never creates it)", async () => {
    const dir = project();
    rmSync(path.join(dir, ".pipe"), { recursive: true });
    const r = await load(dir);
    expect(r.result.ok).toBe(true);
    expect(r.remember()).toBe(false);
    expect(existsSync(path.join(dir, ".pipe"))).toBe(false);
  });

  it("creates .pipe/tmp/ inside an existing .pipe/", async () => {
    const dir = project();
    expect(existsSync(path.join(dir, ".pipe", "tmp"))).toBe(false);
    await primed(dir);
    expect(readdirSync(path.join(dir, ".pipe", "tmp"))).toEqual(["load-cache"]);
  });

  it("does not trust a file modified within the racy window, until it is old enough", async () => {
    const dir = project();
    const now = BigInt(Date.now()) * 1_000_000n;
    // Just written: too fresh at the real clock.
    let r = await load(dir, { now: () => now });
    expect(r.result.ok).toBe(true);
    expect(r.remember()).toBe(false);
    expect(existsSync(path.join(dir, LOAD_CACHE_FILE))).toBe(false);
    // Only one of the inputs is fresh (the vars file): still not trusted.
    const old = new Date(Date.now() - 60_000);
    for (const f of ["pipe.yaml", "dvc.yaml", "params.yaml"]) utimesSync(path.join(dir, f), old, old);
    r = await load(dir, { now: () => now });
    expect(r.remember()).toBe(false);
    utimesSync(path.join(dir, "config/vars.yaml"), old, old);
    r = await load(dir, { now: () => now });
    expect(r.remember()).toBe(true);
    expect((await load(dir, { now: () => now })).fromCache).toBe(true);
  });

  it("does not cache what JSON cannot carry exactly (an infinite number in meta), but loads it", async () => {
    const dir = makeProject({ ".pipe/config.yaml": "", "pipe.yaml": "stages:\n  s:\n    cmd: echo\n    meta:\n      limit: .inf\n" });
    const r = await load(dir);
    expect(r.result.ok && r.result.value.stages[0]?.meta).toEqual({ limit: Infinity });
    expect(r.remember()).toBe(false);
  });

  it("can be turned off", async () => {
    const dir = project();
    const r = await load(dir, { ...LATER, cacheFile: null });
    expect(r.result.ok).toBe(true);
    expect(r.remember()).toBe(false);
    expect(existsSync(path.join(dir, ".pipe", "tmp"))).toBe(false);
  });
});

describe("jsonFaithful", () => {
  it("accepts what JSON round-trips and rejects the rest", () => {
    expect(jsonFaithful({ a: [1, "x", true, null, { b: 0.5 }], __proto__x: 1 })).toBe(true);
    const unfaithful: unknown[] = [NaN, Infinity, -0, undefined, 1n, new Map(), new Date(0), new Array(2), { a: undefined }, Object.create(null), () => 1];
    unfaithful.forEach((v, i) => expect(jsonFaithful(v), `value ${i}`).toBe(false));
  });
});

describe.runIf(hasCorpus())("the real-world corpus through the cache", () => {
  const REAL = path.join(CORPUS, "dvc-real");
  const folders = existsSync(REAL) ? readdirSync(REAL).filter((f) => statSync(path.join(REAL, f)).isDirectory()).sort() : [];

  it("loads every project from the cache exactly as from its files, and never caches one that fails", async () => {
    expect(folders.length).toBeGreaterThan(0);
    const scratch = makeProject({ ".pipe/config.yaml": "" });
    let cached = 0;
    for (const folder of folders) {
      const root = path.join(REAL, folder);
      const cacheFile = path.join(scratch, LOAD_CACHE_FILE);
      rmSync(cacheFile, { force: true });
      const opts = { ...LATER, cacheFile };
      const expected = await loadPipeline(root, new Map());
      const first = await load(root, opts);
      expect(first.result, folder).toStrictEqual(expected);
      if (!expected.ok) {
        expect(first.remember(), folder).toBe(false);
        continue;
      }
      expect(first.remember(), folder).toBe(true);
      const second = await load(root, opts);
      expect(second.fromCache, folder).toBe(true);
      expect(second.result, folder).toStrictEqual(expected);
      expect([...second.sources], folder).toStrictEqual([...first.sources]);
      cached++;
    }
    expect(cached).toBeGreaterThan(folders.length / 2);
  });
});

describe("a copy of a cached project", () => {
  it("is loaded afresh (another root), then cached on its own", async () => {
    const dir = project();
    await primed(dir);
    const copy = makeProject();
    cpSync(dir, copy, { recursive: true, preserveTimestamps: true });
    mkdirSync(path.join(copy, ".pipe", "tmp"), { recursive: true });
    const r = await load(copy);
    expect(r.fromCache).toBe(false);
    expect(r.result.ok && r.result.value.root).toBe(copy);
    expect(r.remember()).toBe(true);
    expect((await load(copy)).fromCache).toBe(true);
  });
});
