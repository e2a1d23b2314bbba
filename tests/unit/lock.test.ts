import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Pipeline, Stage } from "../../src/core/model.js";
import { fastParseLockLayout, fastParseYaml } from "../../src/lock/fast-yaml.js";
import { parseLock, readLockIn } from "../../src/lock/read.js";
import type { LockEntry } from "../../src/lock/types.js";
import { pathKey } from "../../src/lock/types.js";
import { serializeLock, writeFileAtomic, writeLockEntry, yamlString } from "../../src/lock/write.js";
import { CORPUS } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), "pipe-lock-"));
  dirs.push(d);
  return d;
}

function corpusLocks(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n === "dvc.lock") out.push(p);
    }
  };
  walk(path.join(CORPUS, "dvc-real"));
  return out.sort();
}

const ENTRY: LockEntry = {
  cmd: "python train.py --lr 0.1",
  deps: [
    { path: "train.py", algo: "xxh64", hash: "9a1b2c3d4e5f6071", size: 1576 },
    { path: "data/prepared", algo: "xxh64", hash: "3f6c1a9b0e2d4c58.dir", size: 8437363, nfiles: 2 },
  ],
  params: { "params.yaml": { "train.lr": 0.1, "train.epochs": 10 } },
  outs: [{ path: "model.pkl", algo: "xxh64", hash: "0b1c2d3e4f506172", size: 4096 }],
};

describe("canonical pipe.lock", () => {
  it("is exactly the layout of spec 3", () => {
    expect(serializeLock([["train", ENTRY]])).toBe(`schema: '2.0'
stages:
  train:
    cmd: python train.py --lr 0.1
    deps:
    - path: data/prepared
      hash: xxh64
      xxh64: 3f6c1a9b0e2d4c58.dir
      size: 8437363
      nfiles: 2
    - path: train.py
      hash: xxh64
      xxh64: 9a1b2c3d4e5f6071
      size: 1576
    params:
      params.yaml:
        train.epochs: 10
        train.lr: 0.1
    outs:
    - path: model.pkl
      hash: xxh64
      xxh64: 0b1c2d3e4f506172
      size: 4096
`);
  });

  it("round-trips awkward values through both readers identically", () => {
    const e: LockEntry = {
      cmd: ["echo 'a: b' # not a comment", "multi\nline\tcmd", "true", "0.10", "-x", "yes", "café", ""],
      deps: [{ path: "weird: name.csv", algo: "md5", hash: "0f73e4cad20754a1eec8c0884f93c799", size: 1 }],
      params: {
        "p.yaml": { "a.list": [1, "two", [3, { x: null }], { k: "v", n: { m: [] } }], "a.map": { z: 1, b: { c: "'q'" } }, e: {}, f: 1e-7, g: -0.5, h: "2024-01-02", i: null, j: false },
        "empty.yaml": {},
      },
      outs: [{ path: "u", algo: "none", hash: "", extra: { checksum: '"abc"', etag: "x" } }, { path: "old", algo: "legacy-md5", hash: "b500f516ede1a34763d53f06e53714e0", size: 28 }],
    };
    const text = serializeLock([["s@1", e], ["plain", ENTRY]]);
    expect(parse(text)).toEqual(fastParseYaml(text) ?? parse(text));
    const r = parseLock("pipe.lock", text, "pipe");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const back = r.value.stages.get("s@1")!;
    expect(back.cmd).toEqual(e.cmd);
    expect(back.params).toEqual(e.params);
    expect(back.outs.find((o) => o.path === "u")).toEqual({ path: "u", algo: "none", hash: "", extra: { checksum: '"abc"', etag: "x" } });
    expect(back.outs.find((o) => o.path === "old")!.algo).toBe("legacy-md5");
    expect(serializeLock(r.value.stages)).toBe(text);
  });

  it("quotes only what needs it", () => {
    expect(yamlString("python train.py")).toBe("python train.py");
    expect(yamlString("2.0")).toBe("'2.0'");
    expect(yamlString("null")).toBe("'null'");
    expect(yamlString("it's")).toBe("it's");
    expect(yamlString("'x'")).toBe("'''x'''");
    expect(yamlString("a\nb")).toBe('"a\\nb"');
  });
});

describe("fast reader", () => {
  it.runIf(hasCorpus())("agrees with the full YAML parser on every corpus dvc.lock it accepts, and accepts most of them", () => {
    let accepted = 0;
    const files = corpusLocks();
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      const fast = fastParseYaml(text);
      if (fast === undefined) continue;
      accepted++;
      expect(fast, f).toEqual(parse(text));
    }
    expect(files.length).toBeGreaterThan(50);
    expect(accepted).toBe(files.length);
  });

  it.runIf(hasCorpus())("the layout reader agrees with the full parser wherever it answers, and answers for what pipe writes", () => {
    let answered = 0;
    for (const f of corpusLocks()) {
      const text = readFileSync(f, "utf8");
      const v = fastParseLockLayout(text);
      if (v === undefined) continue;
      answered++;
      expect(v, f).toEqual(parse(text));
    }
    expect(answered).toBeGreaterThan(10);
    const digits: LockEntry = { ...ENTRY, deps: [{ path: "1.5", algo: "xxh64", hash: "1234567890123456", size: 0 }, { path: "e", algo: "xxh64", hash: "1e10000000000000" }] };
    const text = serializeLock([["a", ENTRY], ["b", digits]]);
    expect(fastParseLockLayout(text)).toEqual(parse(text));
    const r = parseLock("pipe.lock", text, "pipe");
    expect(r.ok && r.value.stages.get("b")!.deps).toEqual(digits.deps);
  });

  it("declines what it does not understand", () => {
    for (const t of ["a: &x 1\nb: *x\n", "a: |\n  x\n", "a: b\n  c: d\n", "a: 1 # c\n", "a: 1\na: 2\n", "a:\r\n  b: 1\r\n", "- - x\n", "a: {b: 1}\n"]) {
      expect(fastParseYaml(t), t).toBeUndefined();
    }
  });

  it("reads multi-line plain and quoted scalars as the full parser does", () => {
    const cases = [
      "a: b\n  c\n\n  d\n",
      "- path:\n    long/path/on/next/line.csv\n  hash: md5\n",
      'cmd: "x \\\n  \\ y\\n\n  z"\n',
      "cmd: 'it''s\n  folded'\n",
      "k: --flag\nl: -1\nm: 0.5\nn: 1e3\no: ~\np: True\nq: '1'\n",
      'u: "\\u00e9\\x41\\t"\n',
      "x:\n- a\n- b: 1\n  c:\n  - d\n",
    ];
    for (const t of cases) {
      const fast = fastParseYaml(t);
      expect(fast, t).not.toBeUndefined();
      expect(fast, t).toEqual(parse(t));
    }
  });
});

describe("reading locks", () => {
  it.runIf(hasCorpus())("reads every corpus dvc.lock", () => {
    for (const f of corpusLocks()) {
      const r = parseLock(path.relative(CORPUS, f), readFileSync(f, "utf8"), "dvc");
      expect(r.ok ? "" : JSON.stringify(r.errors), f).toBe("");
    }
  });

  it.runIf(hasCorpus())("reads the DVC vector lock as md5 entries, and DVC 1 flat locks as legacy md5", () => {
    const r = parseLock("dvc.lock", readFileSync(path.join(CORPUS, "dvc-vectors/project/dvc.lock"), "utf8"), "dvc");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const e = r.value.stages.get("prepare")!;
    expect(e.deps[0]).toEqual({ path: "data/raw", algo: "md5", hash: "038d10e5fa37bd45e8442e439353957a.dir", size: 33, nfiles: 3 });
    expect(e.params).toEqual({ "params.yaml": { "prepare.seed": 42, "prepare.split": 0.2 } });
    const flat = parseLock("dvc.lock", readFileSync(path.join(CORPUS, "dvc-real/simonlevine__x-transformer-icd/dvc.lock"), "utf8"), "dvc");
    expect(flat.ok).toBe(true);
    if (!flat.ok) return;
    expect(flat.value.stages.get("initialize_environment")!.deps[4]).toEqual({ path: "xbert/", algo: "legacy-md5", hash: "63b53a9cc232ce4cdc9b796343751d6a.dir" });
  });

  it("a malformed lock is a located error", () => {
    const bad = "schema: '2.0'\nstages:\n  train:\n    cmd: x\n    deps:\n    - path: a\n      hash: xxh64\n      xxh64: nothex\n";
    const r = parseLock("pipe.lock", bad, "pipe");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors[0]!.location).toEqual({ file: "pipe.lock", line: 8, col: 14, length: 6 });
    expect(r.errors[0]!.message).toMatch(/'xxh64' must be 16 lowercase hex digits/);

    const unknown = parseLock("pipe.lock", "schema: '2.0'\nstages:\n  t:\n    cmd: x\n    dep: []\n", "pipe");
    expect(!unknown.ok && unknown.errors[0]!.location).toMatchObject({ line: 5, col: 5 });

    const syntax = parseLock("pipe.lock", "schema: '2.0'\nstages:\n  t:\n    cmd: 'unterminated\n", "pipe");
    expect(!syntax.ok && syntax.errors[0]!.reason).toBe("yaml-syntax");
    expect(!syntax.ok && syntax.errors[0]!.location?.line).toBeGreaterThanOrEqual(4);

    const schema = parseLock("pipe.lock", "schema: '3.0'\nstages: {}\n", "pipe");
    expect(!schema.ok && schema.errors[0]!.message).toMatch(/unsupported lock schema/);
  });

  it("nested aliases and alias bombs are located lock errors, never exceptions", () => {
    const nested = "a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
    const n = parseLock("dvc.lock", nested, "dvc");
    expect(!n.ok && n.errors.map((e) => [e.reason, e.location?.line])).toEqual([
      ["lock", 1],
      ["lock", 2],
      ["lock", 3],
      ["lock", 4],
    ]);
    const bomb = ["a: &l0 [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(", ")}]`)].join("\n") + "\n";
    const b = parseLock("dvc.lock", bomb, "dvc");
    expect(b.ok).toBe(false);
    if (b.ok) return;
    expect(b.errors).toHaveLength(1);
    expect(b.errors[0]).toMatchObject({ reason: "yaml-syntax", location: { file: "dvc.lock", line: 9, col: 10 } });
    expect(b.errors[0]!.message).toMatch(/alias bomb/);
    expect(b.errors[0]!.hint).toMatch(/git checkout -- dvc\.lock/);
    const cycle = parseLock("dvc.lock", "schema: '2.0'\nstages:\n  s: &x\n    cmd: x\n    deps: [*x]\n", "dvc");
    expect(!cycle.ok && cycle.errors[0]!.location).toMatchObject({ line: 5, col: 12 });
  });

  it("a byte order mark before the first key is not part of it", () => {
    const text = "schema: '2.0'\nstages:\n  s:\n    cmd: echo\n";
    const r = parseLock("dvc.lock", `\ufeff${text}`, "dvc");
    expect(r.ok && [...r.value.stages.keys()]).toEqual(["s"]);
    // Positions count from the first character after the mark.
    const bad = parseLock("dvc.lock", `\ufeff${text}    bad: 1\n`, "dvc");
    expect(!bad.ok && bad.errors[0]!.location).toMatchObject({ line: 5, col: 5 });
  });

  it("every truncation of a lock is either an error or a lock with fewer/equal entries, never a crash", () => {
    const text = serializeLock([["a", ENTRY], ["b", ENTRY]]);
    let errors = 0;
    for (let n = 0; n < text.length; n += 7) {
      const r = parseLock("pipe.lock", text.slice(0, n), "pipe");
      if (!r.ok) errors++;
      else expect(r.value.stages.size).toBeLessThanOrEqual(2);
    }
    expect(errors).toBeGreaterThan(0);
  });

  it("pathKey normalises as written paths", () => {
    expect(pathKey("./data/")).toBe("data");
    expect(pathKey("a/../b")).toBe("b");
    expect(pathKey("../x")).toBe("../x");
    expect(pathKey("https://x.org/a//b")).toBe("https://x.org/a//b");
  });
});

function stage(name: string, dir = ""): Stage {
  return {
    address: dir ? `${dir}/pipe.yaml:${name}` : name,
    name,
    file: dir ? `${dir}/pipe.yaml` : "pipe.yaml",
    dir,
    wdir: dir,
    cmd: "x",
    deps: [],
    outs: [],
    params: [],
    frozen: false,
    alwaysChanged: false,
    loc: { file: "pipe.yaml", line: 1, col: 1 },
  };
}

describe("writeLockEntry", () => {
  it.runIf(hasCorpus())("keeps other entries, orders by the stages file, and seeds from dvc.lock", async () => {
    const root = tmp();
    writeFileSync(path.join(root, "dvc.lock"), readFileSync(path.join(CORPUS, "dvc-vectors/project/dvc.lock"), "utf8"));
    const stages = [stage("first"), stage("prepare"), stage("last")];
    const pipeline: Pipeline = { root, files: [], stages, params: [], metrics: [], plots: [] };
    const r1 = await writeLockEntry(pipeline, stages[2]!, ENTRY);
    expect(r1.ok).toBe(true);
    const r2 = await writeLockEntry(pipeline, stages[0]!, { ...ENTRY, cmd: "first" });
    expect(r2.ok).toBe(true);
    const text = readFileSync(path.join(root, "pipe.lock"), "utf8");
    expect([...text.matchAll(/^ {2}(\S+):$/gm)].map((m) => m[1])).toEqual(["first", "prepare", "last"]);
    expect(text).toContain("      hash: md5\n      md5: 038d10e5fa37bd45e8442e439353957a.dir\n");
    const back = await readLockIn(root, "");
    expect(back.ok && back.value?.flavor).toBe("pipe");
    // Concurrent writers in one process are serialised: nothing is lost.
    await Promise.all(["first", "prepare", "last"].map((n, i) => writeLockEntry(pipeline, stages[i]!, { ...ENTRY, cmd: `cmd ${n}` })));
    const after = await readLockIn(root, "");
    expect(after.ok && [...after.value!.stages.values()].map((e) => e.cmd)).toEqual(["cmd first", "cmd prepare", "cmd last"]);
    expect(readdirSync(root).filter((n) => n.includes("tmp"))).toEqual([]);
  });

  it("writes by rename: the old file is never written in place, and a failed write leaves no temp file", async () => {
    const root = tmp();
    const lock = path.join(root, "pipe.lock");
    writeFileSync(lock, "schema: '2.0'\nstages: {}\n");
    linkSync(lock, path.join(root, "old.lock")); // a second name for the old inode
    const s = stage("a");
    const r = await writeLockEntry({ root, files: [], stages: [s], params: [], metrics: [], plots: [] }, s, ENTRY);
    expect(r.ok).toBe(true);
    expect(readFileSync(path.join(root, "old.lock"), "utf8")).toBe("schema: '2.0'\nstages: {}\n");
    expect(readFileSync(lock, "utf8")).toContain("  a:\n    cmd: python train.py --lr 0.1\n");
    mkdirSync(path.join(root, "busy/x"), { recursive: true });
    await expect(writeFileAtomic(path.join(root, "busy"), "x")).rejects.toThrow();
    expect(readdirSync(root).sort()).toEqual(["busy", "old.lock", "pipe.lock"]);
  });

  it("refuses to overwrite a damaged lock", async () => {
    const root = tmp();
    mkdirSync(path.join(root, "sub"));
    writeFileSync(path.join(root, "sub/pipe.lock"), "schema: '2.0'\nstages:\n  a:\n    cmd: [unterminated\n");
    const s = stage("a", "sub");
    const r = await writeLockEntry({ root, files: [], stages: [s], params: [], metrics: [], plots: [] }, s, ENTRY);
    expect(r.ok).toBe(false);
    expect(readFileSync(path.join(root, "sub/pipe.lock"), "utf8")).toContain("unterminated");
  });
});
