import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Ajv from "ajv";
import { afterEach, describe, expect, it } from "vitest";
import { nodeHashFs, type HashFs } from "../../src/hash/fs.js";
import { LockStore } from "../../src/lock/read.js";
import { writeLockEntry } from "../../src/lock/write.js";
import type { CmdPiece, DepEntry, OutEntry, ParamsDep, Pipeline, Stage, StageGraph } from "../../src/core/model.js";
import { explainCommandChange } from "../../src/status/cmd-vars.js";
import { pipelineStatus } from "../../src/status/pipeline.js";
import { staleAddressesIn } from "../../src/status/stale.js";
import { recordStage } from "../../src/status/record.js";
import { renderStatusText, statusJson } from "../../src/report/status.js";
import { stringifyJson } from "../../src/params/format.js";
import { stageStatus } from "../../src/status/stage.js";
import type { StageStatus } from "../../src/status/types.js";
import { checkStage, openWorkspace } from "../../src/status/workspace.js";
import { CORPUS, REPO_ROOT } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function project(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(tmpdir(), "pipe-status-"));
  dirs.push(d);
  write(d, files);
  return d;
}
function write(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
}
/** Moves every mtime an hour back, as if the files had been written long ago (not racy for the stat cache). */
function age(root: string, rels: string[]): void {
  const t = Date.now() / 1000 - 3600;
  for (const r of rels) utimesSync(path.join(root, r), t, t);
}

const dep = (p: string): DepEntry => ({ path: p, rootPath: p, external: /^[a-z]+:\/\//.test(p), outside: false });
const out = (p: string): OutEntry => ({ path: p, rootPath: p, external: /^[a-z]+:\/\//.test(p), kind: "outs", cache: true, persist: false, flags: {} });
const params = (file: string, keys: string[] | null): ParamsDep => ({ file, rootPath: file, keys });

function stage(name: string, o: Partial<Stage> = {}): Stage {
  return {
    address: name,
    name,
    file: "pipe.yaml",
    dir: "",
    wdir: "",
    cmd: `run ${name}`,
    deps: [],
    outs: [],
    params: [],
    frozen: false,
    alwaysChanged: false,
    loc: { file: "pipe.yaml", line: 1, col: 1 },
    ...o,
  };
}

function graphOf(root: string, stages: Stage[], upstream: Record<string, string[]> = {}): StageGraph {
  const pipeline: Pipeline = { root, files: [], stages, params: [], metrics: [], plots: [] };
  const down = new Map<string, string[]>();
  for (const [a, us] of Object.entries(upstream)) for (const u of us) down.set(u, [...(down.get(u) ?? []), a]);
  return {
    pipeline,
    stages: new Map(stages.map((s) => [s.address, s])),
    upstream: new Map(stages.map((s) => [s.address, upstream[s.address] ?? []])),
    downstream: new Map(stages.map((s) => [s.address, down.get(s.address) ?? []])),
    order: stages.map((s) => s.address),
  };
}

/** Records every stage through the library's record function and writes the lock, as `repro` will. */
async function recordAll(root: string, stages: Stage[]): Promise<void> {
  const ws = openWorkspace(root);
  const pipeline: Pipeline = { root, files: [], stages, params: [], metrics: [], plots: [] };
  for (const s of stages) {
    const r = await recordStage(ws, s);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const w = await writeLockEntry(pipeline, s, r.value.entry);
    if (!w.ok) throw new Error(JSON.stringify(w.errors));
  }
  ws.hasher.save();
}

async function statusOf(root: string, stages: Stage[], upstream: Record<string, string[]> = {}, fs?: HashFs): Promise<StageStatus[]> {
  const ws = openWorkspace(root, fs ? { fs } : {});
  const r = await pipelineStatus(graphOf(root, stages, upstream), ws, new LockStore(root));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  ws.hasher.save();
  return r.value.stages;
}

const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas/status.schema.json"), "utf8")) as object;
const validate = new Ajv({ allErrors: true }).compile(schema);
function checkJson(stages: StageStatus[]): void {
  const doc = JSON.parse(stringifyJson(statusJson(stages))) as unknown;
  expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
}

const BASE = {
  "pipe.yaml": "stages: {}\n",
  "params.yaml": "train:\n  lr: 0.1\n  epochs: 10\nseed: 1\n",
  "data/raw/a.csv": "a\n",
  "data/raw/b.csv": "b\n",
  "src/train.py": "print(1)\n",
  "model.pkl": "model",
};

function trainStage(o: Partial<Stage> = {}): Stage {
  return stage("train", {
    cmd: "python src/train.py --lr 0.1",
    deps: [dep("data/raw"), dep("src/train.py")],
    params: [params("params.yaml", ["train.epochs", "train.lr"])],
    outs: [out("model.pkl")],
    ...o,
  });
}

describe("stage staleness", () => {
  it("never run: only `no lock entry`, and nothing is hashed", async () => {
    const root = project(BASE);
    const [s] = await statusOf(root, [trainStage()]);
    expect(s).toEqual({ address: "train", stale: true, frozen: false, reasons: [{ kind: "no-lock-entry" }], external: [] });
    expect(renderStatusText([s!], { verbose: false })).toBe("train:\n    no lock entry\n");
  });

  it("a no-op after recording reads no file contents", async () => {
    const root = project({ ...BASE, ".pipe/config.yaml": "" });
    age(root, Object.keys(BASE));
    await recordAll(root, [trainStage()]);
    // First status after recording may still use the recorded stat cache; the second certainly must.
    let bytes = 0;
    const counting: HashFs = {
      stat: nodeHashFs.stat,
      readdir: nodeHashFs.readdir,
      readChunks: (p, n) => ({
        async *[Symbol.asyncIterator]() {
          for await (const c of nodeHashFs.readChunks(p, n)) {
            bytes += c.length;
            yield c;
          }
        },
      }),
    };
    const [s] = await statusOf(root, [trainStage()], {}, counting);
    expect(s!.stale).toBe(false);
    expect(bytes).toBe(0);
    expect(renderStatusText([s!], { verbose: false })).toBe("Pipeline is up to date.\n");
  });

  it("reports edited, deleted, added and removed deps and outs", async () => {
    const root = project(BASE);
    await recordAll(root, [trainStage()]);
    write(root, { "data/raw/c.csv": "c\n", "src/train.py": "print(2)\n" });
    unlinkSync(path.join(root, "model.pkl"));
    const changed = trainStage({ deps: [dep("data/raw"), dep("extra.txt")], outs: [out("model.pkl"), out("metrics.json")] });
    write(root, { "extra.txt": "x" });
    const [s] = await statusOf(root, [changed]);
    expect(s!.reasons).toEqual([
      {
        kind: "changed-deps",
        changes: [
          { path: "data/raw", rootPath: "data/raw", change: "modified", old: { algo: "xxh64", hash: expect.stringMatching(/\.dir$/) as unknown }, new: { algo: "xxh64", hash: expect.stringMatching(/\.dir$/) as unknown } },
          { path: "extra.txt", rootPath: "extra.txt", change: "new" },
          { path: "src/train.py", rootPath: "src/train.py", change: "removed", old: { algo: "xxh64", hash: expect.any(String) as unknown } },
        ],
      },
      {
        kind: "changed-outs",
        changes: [
          { path: "model.pkl", rootPath: "model.pkl", change: "deleted", old: { algo: "xxh64", hash: expect.any(String) as unknown } },
          { path: "metrics.json", rootPath: "metrics.json", change: "new" },
        ],
      },
    ]);
    expect(renderStatusText([s!], { verbose: false })).toBe(
      "train:\n    changed deps:\n        modified:   data/raw\n        new:        extra.txt\n        removed:    src/train.py\n    changed outs:\n        deleted:    model.pkl\n        new:        metrics.json\n",
    );
    checkJson([s!]);
  });

  it("params: modified, new, deleted and removed keys with values; whole files gaining keys", async () => {
    const root = project({ ...BASE, "cfg.yaml": "a: 1\nb: {c: 2, e: 1, f: {g: [1]}}\n" });
    await recordAll(root, [trainStage({ params: [params("params.yaml", ["seed", "train.epochs", "train.lr"]), params("cfg.yaml", null)] })]);
    write(root, { "params.yaml": "train:\n  lr: 0.2\n  epochs: 10\n  new_key: 5\n", "cfg.yaml": "a: 1\nb: {c: 3, f: {g: [1, 2]}, h: x}\nd: [1, 2]\n" });
    const now = trainStage({ params: [params("params.yaml", ["train.epochs", "train.lr", "train.new_key", "train.gone"]), params("cfg.yaml", null)] });
    const [s] = await statusOf(root, [now]);
    const p = s!.reasons.find((r) => r.kind === "changed-params");
    expect(p).toEqual({
      kind: "changed-params",
      files: [
        {
          file: "params.yaml",
          rootPath: "params.yaml",
          changes: [
            { key: "train.lr", change: "modified", old: 0.1, new: 0.2 },
            { key: "train.new_key", change: "new", new: 5 },
            { key: "train.gone", change: "deleted" },
            { key: "seed", change: "removed", old: 1 },
          ],
        },
        // A map changed on both sides is reported key by key, recursively; lists are compared whole.
        {
          file: "cfg.yaml",
          rootPath: "cfg.yaml",
          changes: [
            { key: "b.c", change: "modified", old: 2, new: 3 },
            { key: "b.f.g", change: "modified", old: [1], new: [1, 2] },
            { key: "b.h", change: "new", new: "x" },
            { key: "b.e", change: "deleted", old: 1 },
            { key: "d", change: "new", new: [1, 2] },
          ],
        },
      ],
    });
    expect(renderStatusText([s!], { verbose: false })).toBe(
      [
        "train:",
        "    changed params:",
        "        params.yaml:",
        "            modified:   train.lr  0.1 -> 0.2",
        "            new:        train.new_key  5",
        "            deleted:    train.gone",
        "            removed:    seed  (was 1)",
        "        cfg.yaml:",
        "            modified:   b.c  2 -> 3",
        "            modified:   b.f.g  [1] -> [1, 2]",
        "            new:        b.h  x",
        "            deleted:    b.e  (was 1)",
        "            new:        d  [1, 2]",
        "",
      ].join("\n"),
    );
    checkJson([s!]);
  });

  it("changed command names the ${...} variables whose values changed", async () => {
    const root = project(BASE);
    await recordAll(root, [trainStage()]);
    const lr = (head: string, v: string): Partial<Stage> => ({
      cmd: `${head} src/train.py --lr ${v}`,
      cmdTemplate: [[`${head} src/train.py --lr `, { v: "train.lr", text: v }, ""]],
    });
    const [s] = await statusOf(root, [trainStage(lr("python", "0.2"))]);
    expect(s!.reasons).toEqual([
      { kind: "changed-command", old: "python src/train.py --lr 0.1", new: "python src/train.py --lr 0.2", vars: [{ name: "train.lr", old: "0.1", new: "0.2" }], explained: true },
    ]);
    expect(renderStatusText([s!], { verbose: false })).toBe("train:\n    changed command: ${train.lr} 0.1 -> 0.2\n");
    checkJson([s!]);
    // A literal edit names no variable; the old and new commands are shown instead.
    const [t] = await statusOf(root, [trainStage(lr("python3", "0.1"))]);
    expect(renderStatusText([t!], { verbose: false })).toBe("train:\n    changed command\n        old:        python src/train.py --lr 0.1\n        new:        python3 src/train.py --lr 0.1\n");
    // Both: the variable is named, and the commands still show that the text changed too.
    const [u] = await statusOf(root, [trainStage(lr("python3", "0.2"))]);
    expect(renderStatusText([u!], { verbose: false })).toBe(
      "train:\n    changed command: ${train.lr} 0.1 -> 0.2\n        old:        python src/train.py --lr 0.1\n        new:        python3 src/train.py --lr 0.2\n",
    );
    expect(u!.reasons[0]).toMatchObject({ kind: "changed-command", explained: false });
    checkJson([u!]);
  });

  it("frozen stages are never stale; always_changed ones always are; URLs are listed, not checked", async () => {
    const root = project(BASE);
    const f = stage("fetch", { frozen: true, deps: [dep("https://example.com/d.csv")], outs: [out("model.pkl")] });
    const a = stage("always", { alwaysChanged: true, deps: [dep("src/train.py")] });
    await recordAll(root, [a]);
    unlinkSync(path.join(root, "model.pkl"));
    const [fs, as] = await statusOf(root, [f, a]);
    expect(fs).toEqual({ address: "fetch", stale: false, frozen: true, reasons: [{ kind: "no-lock-entry" }], external: ["https://example.com/d.csv"] });
    expect(as!.reasons).toEqual([{ kind: "always-changed" }]);
    expect(renderStatusText([fs!, as!], { verbose: false })).toBe("fetch:\n    frozen, never run (no lock entry)\n    external (not checked): https://example.com/d.csv\nalways:\n    always changed\n");
    checkJson([fs!, as!]);
  });

  it("a three-stage chain whose first input changed: downstream stages carry the cause chain", async () => {
    const root = project({ "in.txt": "1", "a.out": "a", "b.out": "b", "c.out": "c" });
    const a = stage("a", { deps: [dep("in.txt")], outs: [out("a.out")] });
    const b = stage("b", { deps: [dep("a.out")], outs: [out("b.out")] });
    const c = stage("c", { deps: [dep("b.out")], outs: [out("c.out")] });
    await recordAll(root, [a, b, c]);
    write(root, { "in.txt": "2" });
    const st = await statusOf(root, [a, b, c], { b: ["a"], c: ["b"] });
    expect(st.map((s) => s.reasons.at(-1))).toEqual([
      { kind: "changed-deps", changes: [expect.objectContaining({ path: "in.txt", change: "modified" }) as unknown] },
      { kind: "upstream-stale", chain: ["a"] },
      { kind: "upstream-stale", chain: ["a", "b"] },
    ]);
    expect(renderStatusText(st, { verbose: false })).toBe("a:\n    changed deps:\n        modified:   in.txt\nb:\n    upstream stale: a\nc:\n    upstream stale: a -> b\n");
    // Asking for c alone still explains it through its upstream.
    const ws = openWorkspace(root);
    const only = await pipelineStatus(graphOf(root, [a, b, c], { b: ["a"], c: ["b"] }), ws, new LockStore(root), ["c"]);
    expect(only.ok && only.value.stages.map((s) => [s.address, s.reasons])).toEqual([["c", [{ kind: "upstream-stale", chain: ["a", "b"] }]]]);
  });

  it("-v shows old and new hashes", async () => {
    const root = project(BASE);
    await recordAll(root, [trainStage()]);
    write(root, { "src/train.py": "print(3)\n" });
    const [s] = await statusOf(root, [trainStage()]);
    expect(renderStatusText([s!], { verbose: true })).toMatch(/^train:\n {4}changed deps:\n {8}modified: {3}src\/train\.py {2}[0-9a-f]{16} -> [0-9a-f]{16}\n$/);
  });

  it.runIf(hasCorpus())("a dvc.lock is verified with md5: the DVC vector project is up to date", async () => {
    const root = project({});
    const src = path.join(CORPUS, "dvc-vectors/project");
    for (const rel of ["dvc.lock", "params.yaml", "src/prepare.py", "data/prepared.csv", "data/raw/a.csv", "data/raw/sub/b.txt", "data/raw/sub/café.txt"]) {
      write(root, { [rel]: readFileSync(path.join(src, rel), "utf8") });
    }
    const prepare = stage("prepare", {
      cmd: "python src/prepare.py data/raw",
      deps: [dep("data/raw"), dep("src/prepare.py")],
      params: [params("params.yaml", ["prepare.seed", "prepare.split"])],
      outs: [out("data/prepared.csv")],
    });
    const [s] = await statusOf(root, [prepare]);
    expect(s!.reasons).toEqual([]);
    write(root, { "data/raw/sub/café.txt": "cafe\n" });
    const [t] = await statusOf(root, [prepare]);
    expect(t!.reasons).toEqual([{ kind: "changed-deps", changes: [{ path: "data/raw", rootPath: "data/raw", change: "modified", old: { algo: "md5", hash: "038d10e5fa37bd45e8442e439353957a.dir" }, new: { algo: "md5", hash: expect.stringMatching(/^[0-9a-f]{32}\.dir$/) as unknown } }] }]);
  });

  it("legacy DVC 2 entries (md5 without hash:) verify with md5-dos2unix", async () => {
    const root = project({ "f.txt": "a\r\nb\r\n" });
    // DVC 2 hashed text files with CRLF turned into LF.
    const md5 = createHash("md5").update("a\nb\n").digest("hex");
    write(root, { "dvc.lock": `f:\n  cmd: x\n  deps:\n  - path: f.txt\n    md5: ${md5}\n` });
    const s = stage("f", { cmd: "x", deps: [dep("f.txt")] });
    expect((await statusOf(root, [s]))[0]!.reasons).toEqual([]);
  });

  it("a malformed lock is a located error", async () => {
    const root = project({ "pipe.lock": "schema: '2.0'\nstages:\n  train:\n    cmd: x\n    deps:\n    - path: a\n      hash: xxh64\n      xxh64: 12\n" });
    const ws = openWorkspace(root);
    const r = await pipelineStatus(graphOf(root, [trainStage()]), ws, new LockStore(root));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors[0]!.location).toMatchObject({ file: "pipe.lock", line: 8 });
  });
});

describe("record", () => {
  it("fails naming the stage and what is missing", async () => {
    const root = project(BASE);
    const ws = openWorkspace(root);
    const r = await recordStage(ws, trainStage({ deps: [dep("nope.csv")], params: [params("params.yaml", ["train.nope"])], outs: [out("missing.pkl")] }));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors.map((e) => e.message)).toEqual([
      "stage 'train': dependency 'nope.csv' does not exist",
      "stage 'train': params 'train.nope' not found in 'params.yaml'",
      "stage 'train' did not create its output 'missing.pkl'",
    ]);
  });

  it("returns the out hashes with directory manifests for the cache", async () => {
    const root = project({ ...BASE, "outdir/x": "1", "outdir/y/z": "2" });
    const r = await recordStage(openWorkspace(root), trainStage({ outs: [out("outdir")] }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const h = r.value.outs[0]!.hashed!;
    expect(h.kind).toBe("dir");
    expect(h.kind === "dir" && h.manifest.entries.map((e) => e.relpath)).toEqual(["x", "y/z"]);
    expect(r.value.entry.outs[0]).toEqual({ path: "outdir", algo: "xxh64", hash: h.hash, size: 2, nfiles: 2 });
  });
});

/**
 * A template as the expander builds it, from `${name}` markers and the texts the variables produce now: the pieces,
 * and the command they join to.
 */
function tpl(template: string, texts: Record<string, string>): CmdPiece[] {
  const pieces: CmdPiece[] = [];
  let at = 0;
  for (const m of template.matchAll(/\$\{([^}]+)\}/g)) {
    pieces.push(template.slice(at, m.index), { v: m[1]!, text: texts[m[1]!]! });
    at = m.index + m[0].length;
  }
  pieces.push(template.slice(at));
  return pieces;
}
const joined = (pieces: readonly CmdPiece[]): string => pieces.map((p) => (typeof p === "string" ? p : p.text)).join("");
function explain(old: string, template: string, texts: Record<string, string>): ReturnType<typeof explainCommandChange> {
  const t = tpl(template, texts);
  return explainCommandChange(old, joined(t), [t]);
}

describe("explainCommandChange", () => {
  it("names the variable by its place, not by the first place its new value appears", () => {
    // seed 5 -> 3 while folds stays 3: the new value 3 also appears where folds is.
    expect(explain("python cv.py --seed 5 --folds 3", "python cv.py --seed ${seed} --folds ${folds}", { seed: "3", folds: "3" })).toEqual({
      vars: [{ name: "seed", old: "5", new: "3" }],
      explained: true,
    });
    expect(explain("train --lr 0.1 --ep 1", "train --lr ${lr} --ep ${ep}", { lr: "1", ep: "1" })).toEqual({ vars: [{ name: "lr", old: "0.1", new: "1" }], explained: true });
    // Both changed, in the other order of appearance.
    expect(explain("t --a 1 --b 2", "t --a ${a} --b ${b}", { a: "2", b: "1" })).toEqual({
      vars: [
        { name: "a", old: "1", new: "2" },
        { name: "b", old: "2", new: "1" },
      ],
      explained: true,
    });
  });

  it("embedded, dictionary and repeated variables", () => {
    expect(explain("train --lr=0.1 --e 3", "train --lr=${lr} --e 3", { lr: "0.25" })).toEqual({ vars: [{ name: "lr", old: "0.1", new: "0.25" }], explained: true });
    expect(explain("train --lr 0.1 --epochs 2 --fast", "train ${args}", { args: "--lr 0.1 --epochs 5 --fast" })).toEqual({
      vars: [{ name: "args", old: "--lr 0.1 --epochs 2 --fast", new: "--lr 0.1 --epochs 5 --fast" }],
      explained: true,
    });
    expect(explain("cp a out/a", "cp ${f} out/${f}", { f: "b" })).toEqual({ vars: [{ name: "f", old: "a", new: "b" }], explained: true });
    // Two places of one variable that disagree in the old command: its text cannot be told, and the literal changed.
    expect(explain("cp a out/c", "cp ${f} out/${f}", { f: "b" })).toEqual({ vars: [], explained: false });
  });

  it("a list cmd item by item", () => {
    const a = tpl("a ${n}", { n: "2" });
    const b = tpl("b ${s}", { s: "y" });
    expect(explainCommandChange(["a 1", "b x"], [joined(a), joined(b)], [a, b])).toEqual({
      vars: [
        { name: "n", old: "1", new: "2" },
        { name: "s", old: "x", new: "y" },
      ],
      explained: true,
    });
    // An item added: the text changed, whatever the variables did.
    expect(explainCommandChange(["a 1"], [joined(a), joined(b)], [a, b]).explained).toBe(false);
  });

  it("an edit of the literal text is never hidden behind a variable", () => {
    expect(explain("python train.py --lr 0.1", "python3 train.py --lr ${train.lr}", { "train.lr": "0.2" })).toEqual({
      vars: [{ name: "train.lr", old: "0.1", new: "0.2" }],
      explained: false,
    });
    expect(explain("python t.py --lr=0.1 --ep 1", "python3 t.py --lr=${lr} --ep ${ep}", { lr: "1", ep: "1" })).toEqual({
      vars: [{ name: "lr", old: "0.1", new: "1" }],
      explained: false,
    });
    // Unchanged variables are not reported even when they appear in a changed command.
    expect(explain("python a.py 3", "python3 a.py ${k}", { k: "3" })).toEqual({ vars: [], explained: false });
  });

  it("an ambiguous alignment names only what every alignment agrees on", () => {
    // `124` splits into a and b in four ways.
    expect(explain("124", "${a}${b}", { a: "12", b: "3" })).toEqual({ vars: [], explained: false });
    expect(explain("12 --lr 0.1", "${a}${b} --lr ${lr}", { a: "1", b: "2", lr: "0.2" })).toEqual({ vars: [{ name: "lr", old: "0.1", new: "0.2" }], explained: false });
  });

  it("without a template (or one that does not build the command) nothing is named", () => {
    expect(explainCommandChange("a 1", "a 2", undefined)).toEqual({ vars: [], explained: false });
    expect(explainCommandChange("a 1", "a 2", [tpl("a ${n}", { n: "3" })])).toEqual({ vars: [], explained: false });
  });
});

describe("laziness", () => {
  it("a new dep is hashed only when the report asks for its hash", async () => {
    const root = project({ ...BASE, "extra.txt": "x" });
    age(root, [...Object.keys(BASE), "extra.txt"]);
    await recordAll(root, [trainStage()]);
    const lock = await new LockStore(root).forDir("");
    if (!lock.ok || !lock.value) throw new Error("no lock written");
    const entry = lock.value.stages.get("train");
    const grown = trainStage({ deps: [dep("data/raw"), dep("extra.txt"), dep("src/train.py")] });
    const fs = countingReads();
    const plain = await checkStage(openWorkspace(root, { fs }), grown, entry);
    expect(plain.reasons).toEqual([{ kind: "changed-deps", changes: [{ path: "extra.txt", rootPath: "extra.txt", change: "new" }] }]);
    expect(fs.opened).not.toContain("extra.txt");
    const shown = await checkStage(openWorkspace(root, { fs }), grown, entry, { hashNew: true });
    expect(shown.reasons).toEqual([{ kind: "changed-deps", changes: [{ path: "extra.txt", rootPath: "extra.txt", change: "new", new: { algo: "xxh64", hash: expect.stringMatching(/^[0-9a-f]{16}$/) } }] }]);
  });

  it("a stage without a lock entry costs no hashing at all", async () => {
    const root = project(BASE);
    const ws = openWorkspace(root);
    const s = await checkStage(ws, trainStage(), undefined);
    expect(s.reasons).toEqual([{ kind: "no-lock-entry" }]);
    expect(ws.hasher.stats).toEqual({ bytesRead: 0, bytesQueued: 0, filesRead: 0, statCacheHits: 0, dirCacheHits: 0 });
    expect(stageStatus(trainStage({ frozen: true }), undefined, { paths: new Map(), params: new Map() }).stale).toBe(false);
  });
});

/** The real file system, remembering the base names of the files whose contents were read. */
function countingReads(): HashFs & { opened: string[] } {
  const fs = {
    opened: [] as string[],
    stat: nodeHashFs.stat,
    readdir: nodeHashFs.readdir,
    readChunks: (p: string, n: number) => {
      fs.opened.push(path.basename(p));
      return nodeHashFs.readChunks(p, n);
    },
  };
  return fs;
}

describe("staleAddressesIn (dag --status)", () => {
  const counting = countingReads;

  it("agrees with pipelineStatus, and hashes nothing below a stage already stale", async () => {
    const files = { "in.txt": "1", "a.out": "a", "b.out": "b", "c.out": "c", "side.txt": "s", "d.out": "d" };
    const root = project(files);
    age(root, Object.keys(files));
    const a = stage("a", { deps: [dep("in.txt")], outs: [out("a.out")] });
    const b = stage("b", { deps: [dep("a.out")], outs: [out("b.out")] });
    const c = stage("c", { deps: [dep("b.out")], outs: [out("c.out")] });
    const d = stage("d", { deps: [dep("side.txt")], outs: [out("d.out")] });
    const never = stage("never", { deps: [dep("side.txt")] });
    const up = { b: ["a"], c: ["b"] };
    await recordAll(root, [a, b, c, d]);
    write(root, { "in.txt": "2" });
    const all = [a, b, c, d, never];
    const expected = new Set((await statusOf(root, all, up)).filter((s) => s.stale).map((s) => s.address));
    expect(expected).toEqual(new Set(["a", "b", "c", "never"]));

    const fs = counting();
    const ws = openWorkspace(root, { fs, stateFile: null });
    const r = await staleAddressesIn(graphOf(root, all, up), ws, new LockStore(root));
    expect(r.ok && [...r.value]).toEqual(["a", "b", "c", "never"]);
    // Only a's and d's own files are read: b and c are stale through a without being looked at.
    expect(fs.opened.sort()).toEqual(["a.out", "d.out", "in.txt", "side.txt"]);

    // Targets: only what was asked for, still judged through its upstream.
    const only = await staleAddressesIn(graphOf(root, all, up), openWorkspace(root), new LockStore(root), ["c", "d"]);
    expect(only.ok && [...only.value]).toEqual(["c"]);
  });

  it("a frozen stage stops the propagation, as in pipelineStatus", async () => {
    const root = project({ "in.txt": "1", "a.out": "a", "b.out": "b", "c.out": "c" });
    const a = stage("a", { deps: [dep("in.txt")], outs: [out("a.out")] });
    const b = stage("b", { frozen: true, deps: [dep("a.out")], outs: [out("b.out")] });
    const c = stage("c", { deps: [dep("b.out")], outs: [out("c.out")] });
    const up = { b: ["a"], c: ["b"] };
    await recordAll(root, [a, b, c]);
    write(root, { "in.txt": "2" });
    const st = await statusOf(root, [a, b, c], up);
    expect(st.map((s) => s.stale)).toEqual([true, false, false]);
    const r = await staleAddressesIn(graphOf(root, [a, b, c], up), openWorkspace(root), new LockStore(root));
    expect(r.ok && [...r.value]).toEqual(["a"]);
  });

  it("a malformed lock is the same located error", async () => {
    const root = project({ "pipe.lock": "schema: '2.0'\nstages:\n  a:\n    cmd: [x\n" });
    const r = await staleAddressesIn(graphOf(root, [stage("a")]), openWorkspace(root), new LockStore(root));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors[0]!.location?.file).toBe("pipe.lock");
  });
});
