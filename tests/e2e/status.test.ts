/**
 * `pipe status` end to end: real temp projects, the built CLI. Lock entries are created with the library's own
 * record function (the one `repro` calls), never written by hand.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, utimesSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../src/graph/graph.js";
import { writeLockEntry } from "../../src/lock/write.js";
import { lockCacheFile } from "../../src/lock/parsed-cache.js";
import { loadPipeline } from "../../src/project/load.js";
import { recordStage } from "../../src/status/record.js";
import { openWorkspace } from "../../src/status/workspace.js";
import { backdate, CORPUS, exists, makeProject, PIPE_BIN, read, REPO_ROOT, runPipe, runPipeIn, treeSnapshot, writeFiles } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

/** Records the current workspace state of `addresses` (default: every stage) into pipe.lock, as `repro` does after running them. */
async function record(root: string, addresses?: string[]): Promise<void> {
  const p = await loadPipeline(root, new Map());
  if (!p.ok) throw new Error(`load failed: ${JSON.stringify(p.errors)}`);
  const g = buildGraph(p.value);
  if (!g.ok) throw new Error(`graph failed: ${JSON.stringify(g.errors)}`);
  const ws = openWorkspace(root);
  for (const a of addresses ?? g.value.order) {
    const s = g.value.stages.get(a)!;
    const r = await recordStage(ws, s);
    if (!r.ok) throw new Error(`record ${a} failed: ${JSON.stringify(r.errors)}`);
    const w = await writeLockEntry(p.value, s, r.value.entry);
    if (!w.ok) throw new Error(JSON.stringify(w.errors));
  }
  ws.hasher.save();
}

/** Every file's mtime an hour back: written "long ago", so the stat cache may trust them. */
function age(root: string): void {
  const t = Date.now() / 1000 - 3600;
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else utimesSync(p, t, t);
    }
  };
  walk(root);
}

/** `pipe status` in process (`runPipeIn`): its report is the point, not the process. */
async function status(root: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runPipeIn(root, ["status", ...args]);
  expect(r.stderr).not.toMatch(/internal error/);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas/status.schema.json"), "utf8")) as object;
const validate = new Ajv({ allErrors: true }).compile(schema);

const ML = {
  "pipe.yaml": `stages:
  prepare:
    cmd: python prepare.py data/raw
    deps:
    - data/raw
    - prepare.py
    params:
    - prepare.split
    outs:
    - data/prepared.csv
  train:
    cmd: python train.py --lr \${train.lr}
    deps:
    - data/prepared.csv
    - train.py
    params:
    - train.epochs
    - train.lr
    outs:
    - model.pkl
  evaluate:
    cmd: python evaluate.py
    deps:
    - model.pkl
    - evaluate.py
    metrics:
    - metrics.json:
        cache: false
`,
  "params.yaml": "prepare:\n  split: 0.2\ntrain:\n  lr: 0.1\n  epochs: 10\n",
  "prepare.py": "# prepare\n",
  "train.py": "# train\n",
  "evaluate.py": "# evaluate\n",
  "data/raw/a.csv": "a\n",
  "data/raw/b.csv": "b\n",
  "data/prepared.csv": "prepared\n",
  "model.pkl": "model\n",
  "metrics.json": '{"acc": 0.9}\n',
};

async function recorded(files: Record<string, string> = ML): Promise<string> {
  const root = makeProject(files);
  age(root);
  expect((await runPipeIn(root, ["init"])).code).toBe(0);
  await record(root);
  return root;
}

describe("pipe status", () => {
  it("a never-run pipeline: every stage has no lock entry; -q and --check exit 1", async () => {
    const root = makeProject(ML);
    const r = await status(root);
    expect(r.code).toBe(0);
    expect(r.out).toBe("prepare:\n    no lock entry\ntrain:\n    no lock entry\nevaluate:\n    no lock entry\n");
    const q = await status(root, "-q");
    expect([q.code, q.out]).toEqual([1, ""]);
    const c = await status(root, "--check");
    expect(c.code).toBe(1);
    expect(c.out).toBe(r.out);
    const doc = JSON.parse((await status(root, "--json")).out) as { stages: Record<string, unknown> };
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.stages["train"]).toEqual({ stale: true, frozen: false, reasons: [{ kind: "no-lock-entry" }], external: [] });
    expect(Object.keys(doc.stages)).toEqual(["prepare", "train", "evaluate"]);
  });

  it("a no-op after recording is up to date and reads no file contents", async () => {
    const root = await recorded();
    const first = await status(root, "-v");
    expect(first.out).toBe("Pipeline is up to date.\n");
    expect(first.err).toMatch(/^Checked 3 stages: read 0 bytes of 0 files, \d+ from the stat cache\n$/);
    expect((await status(root, "-q")).code).toBe(0);
    expect((await status(root, "--check")).code).toBe(0);
    const j = await status(root, "--json");
    const doc = JSON.parse(j.out) as unknown;
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc).toEqual({
      stages: {
        prepare: { stale: false, frozen: false, reasons: [], external: [] },
        train: { stale: false, frozen: false, reasons: [], external: [] },
        evaluate: { stale: false, frozen: false, reasons: [], external: [] },
      },
    });
  });

  it("status writes nothing but the stat cache, the load cache and the parsed-lock cache", async () => {
    const root = await recorded();
    rmSync(path.join(root, ".pipe/tmp/load-cache"), { force: true });
    rmSync(lockCacheFile(root, "pipe.lock"), { force: true });
    const before = treeSnapshot(root);
    before.delete(".pipe/state");
    await status(root);
    const after = treeSnapshot(root);
    after.delete(".pipe/state");
    expect(after.delete(".pipe/tmp/load-cache")).toBe(true);
    expect(after.delete(path.relative(root, lockCacheFile(root, "pipe.lock")))).toBe(true);
    expect(after).toEqual(before);
  });

  it("editing a file dep (same size, same second) makes its stage stale and downstream upstream-stale", async () => {
    const root = await recorded();
    await status(root); // warm the stat cache
    writeFiles(root, { "prepare.py": "# PREPARE\n" });
    const t = Date.now() / 1000 - 3600;
    utimesSync(path.join(root, "prepare.py"), t + 0.25, t + 0.25);
    const r = await status(root, "--check");
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      "prepare:\n    changed deps:\n        modified:   prepare.py\ntrain:\n    upstream stale: prepare\nevaluate:\n    upstream stale: prepare -> train\n",
    );
    const j = JSON.parse((await status(root, "--json")).out) as unknown;
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
  });

  it("editing, adding and deleting files inside a directory dep", async () => {
    const root = await recorded();
    writeFiles(root, { "data/raw/a.csv": "A\n" });
    expect((await status(root, "prepare")).out).toBe("prepare:\n    changed deps:\n        modified:   data/raw\n");
    writeFiles(root, { "data/raw/a.csv": "a\n" });
    expect((await status(root, "prepare")).out).toBe("Pipeline is up to date.\n");
    writeFiles(root, { "data/raw/sub/c.csv": "c\n" });
    expect((await status(root, "prepare")).out).toBe("prepare:\n    changed deps:\n        modified:   data/raw\n");
    unlinkSync(path.join(root, "data/raw/sub/c.csv"));
    unlinkSync(path.join(root, "data/raw/b.csv"));
    const v = await status(root, "-v", "prepare");
    expect(v.out).toMatch(/^prepare:\n {4}changed deps:\n {8}modified: {3}data\/raw {2}[0-9a-f]{16}\.dir -> [0-9a-f]{16}\.dir\n$/);
  });

  it("params: a changed key, an added key, a removed key; a whole-file params dep gaining a key", async () => {
    const root = await recorded({
      ...ML,
      "pipe.yaml": ML["pipe.yaml"].replace("    - train.lr\n", "    - train.lr\n    - cfg.yaml:\n"),
      "cfg.yaml": "depth: 3\n",
    });
    writeFiles(root, { "params.yaml": "prepare:\n  split: 0.2\ntrain:\n  lr: 0.1\n  epochs: 20\n", "cfg.yaml": "depth: 3\nwidth: 8\n" });
    expect((await status(root, "train")).out).toBe(
      "train:\n    changed params:\n        params.yaml:\n            modified:   train.epochs  10 -> 20\n        cfg.yaml:\n            new:        width  8\n",
    );
    // Track a new key and stop tracking one, in the stages file.
    writeFiles(root, { "params.yaml": "prepare:\n  split: 0.2\ntrain:\n  lr: 0.1\n  epochs: 10\n  seed: 7\n", "cfg.yaml": "depth: 3\n" });
    writeFiles(root, { "pipe.yaml": read(root, "pipe.yaml").replace("    - train.epochs\n", "    - train.seed\n") });
    expect((await status(root, "train")).out).toBe(
      "train:\n    changed params:\n        params.yaml:\n            new:        train.seed  7\n            removed:    train.epochs  (was 10)\n",
    );
    // A tracked key deleted from the file.
    writeFiles(root, { "params.yaml": "prepare:\n  split: 0.2\ntrain:\n  lr: 0.1\n" });
    expect((await status(root, "train")).out).toMatch(/deleted: {4}train\.seed/);
  });

  it("changing cmd, and changing only a ${var} that cmd uses", async () => {
    const root = await recorded();
    writeFiles(root, { "params.yaml": "prepare:\n  split: 0.2\ntrain:\n  lr: 0.2\n  epochs: 10\n" });
    expect((await status(root, "train")).out).toBe(
      "train:\n    changed command: ${train.lr} 0.1 -> 0.2\n    changed params:\n        params.yaml:\n            modified:   train.lr  0.1 -> 0.2\n",
    );
    writeFiles(root, { "params.yaml": ML["params.yaml"], "pipe.yaml": ML["pipe.yaml"].replace("python evaluate.py", "python3 evaluate.py") });
    expect((await status(root, "evaluate")).out).toBe("evaluate:\n    changed command\n        old:        python evaluate.py\n        new:        python3 evaluate.py\n");
  });

  it("changed command names the variable whose value changed, by its place, and shows the commands when the text changed too", async () => {
    const root = await recorded({
      "pipe.yaml": "stages:\n  cv:\n    cmd: python cv.py --seed ${seed} --folds ${folds} --lr ${lr} --ep ${ep}\n    deps:\n    - cv.py\n",
      "params.yaml": "seed: 5\nfolds: 3\nlr: 0.1\nep: 1\n",
      "cv.py": "# cv\n",
    });
    // The new value of seed (3) is also printed by folds; the new value of lr (1) also by ep.
    writeFiles(root, { "params.yaml": "seed: 3\nfolds: 3\nlr: 1\nep: 1\n" });
    expect((await status(root)).out).toBe("cv:\n    changed command: ${seed} 5 -> 3, ${lr} 0.1 -> 1\n");
    const j = JSON.parse((await status(root, "--json")).out) as { stages: Record<string, { reasons: unknown[] }> };
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    expect(j.stages["cv"]!.reasons).toEqual([
      {
        kind: "changed-command",
        old: "python cv.py --seed 5 --folds 3 --lr 0.1 --ep 1",
        new: "python cv.py --seed 3 --folds 3 --lr 1 --ep 1",
        vars: [
          { name: "seed", old: "5", new: "3" },
          { name: "lr", old: "0.1", new: "1" },
        ],
        explained: true,
      },
    ]);
    // An edit of the literal text as well: the variable is still named, and the commands show the rest.
    writeFiles(root, { "pipe.yaml": read(root, "pipe.yaml").replace("python cv.py", "python3 cv.py"), "params.yaml": "seed: 5\nfolds: 3\nlr: 0.2\nep: 1\n" });
    expect((await status(root)).out).toBe(
      "cv:\n    changed command: ${lr} 0.1 -> 0.2\n        old:        python cv.py --seed 5 --folds 3 --lr 0.1 --ep 1\n        new:        python3 cv.py --seed 5 --folds 3 --lr 0.2 --ep 1\n",
    );
    const k = JSON.parse((await status(root, "--json")).out) as { stages: Record<string, { reasons: { explained?: boolean }[] }> };
    expect(validate(k), JSON.stringify(validate.errors)).toBe(true);
    expect(k.stages["cv"]!.reasons[0]!.explained).toBe(false);
  });

  it("a directory dep follows .pipeignore: an ignored file never makes it stale, a rule change that lets it in does", async () => {
    const root = await recorded({ ...ML, ".pipeignore": "*.log\n", "data/raw/run.log": "1\n" });
    expect((await status(root, "prepare")).out).toBe("Pipeline is up to date.\n");
    writeFiles(root, { "data/raw/run.log": "2\n", "data/raw/other.log": "3\n" });
    expect((await status(root, "prepare")).out).toBe("Pipeline is up to date.\n");
    writeFiles(root, { ".pipeignore": "*.tmp\n" });
    expect((await status(root, "prepare")).out).toBe("prepare:\n    changed deps:\n        modified:   data/raw\n");
  });

  it("is not blocked while a repro holds the write lock: it reads and reports, and the repro finishes afterwards", async () => {
    const root = makeProject({
      "pipe.yaml": "stages:\n  slow:\n    cmd: touch started && while [ ! -f release ]; do sleep 0.05; done && echo done > out.txt\n    outs:\n    - out.txt\n",
    });
    expect((await runPipeIn(root, ["init"])).code).toBe(0);
    const env: Record<string, string> = { NO_COLOR: "1" };
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PIPE_") && !k.startsWith("GIT_")) env[k] ??= v;
    const repro = spawn(process.execPath, [PIPE_BIN, "repro"], { cwd: root, env, stdio: "ignore" });
    let ended = false;
    const exited = new Promise<number | null>((resolve) => repro.on("exit", (code) => ((ended = true), resolve(code))));
    try {
      // The stage says when it is running; by then the repro holds the write lock. (A repro that failed to start its
      // stage ends the wait too, and the test with it.)
      while (!exists(root, "started") && !ended) await new Promise((r) => setTimeout(r, 20));
      expect(exists(root, "started")).toBe(true);
      expect(exists(root, ".pipe/tmp/write.lock")).toBe(true);
      const r = await status(root, "--check");
      // Still stale (it has no lock entry yet), and said to be running rather than by its reasons.
      expect([r.code, r.out, r.err]).toEqual([1, `slow:\n    running in pipe ${repro.pid}\n`, ""]);
    } finally {
      writeFileSync(path.join(root, "release"), "");
    }
    expect(await exited).toBe(0);
    expect(await status(root, "--check")).toMatchObject({ code: 0, out: "Pipeline is up to date.\n" });
  });

  it("a fifo inside a directory dep is reported as an error naming it, not a crash and not a hang", async () => {
    const root = await recorded();
    execFileSync("mkfifo", [path.join(root, "data/raw/pipe.fifo")]);
    const r = await status(root, "prepare", "--check");
    expect(r.code).toBe(1);
    expect(r.out).toBe("prepare:\n    changed deps:\n        error:      data/raw  ('data/raw/pipe.fifo' is a special file (not a regular file, directory or symlink))\n");
    // Ignored, it is no part of the directory.
    writeFiles(root, { ".pipeignore": "*.fifo\n" });
    expect(await status(root, "prepare", "--check")).toMatchObject({ code: 0, out: "Pipeline is up to date.\n" });
  });

  it("a symlinked file dep is hashed by the content it points at", async () => {
    const root = makeProject({ "pipe.yaml": "stages:\n  use:\n    cmd: cat link.txt\n    deps:\n    - link.txt\n", "real.txt": "one\n", "copy.txt": "one\n" });
    symlinkSync("real.txt", path.join(root, "link.txt"));
    age(root);
    expect((await runPipeIn(root, ["init"])).code).toBe(0);
    await record(root);
    expect(await status(root, "--check")).toMatchObject({ code: 0, out: "Pipeline is up to date.\n" });
    // Another target with the same bytes: unchanged.
    unlinkSync(path.join(root, "link.txt"));
    symlinkSync("copy.txt", path.join(root, "link.txt"));
    expect(await status(root, "--check")).toMatchObject({ code: 0, out: "Pipeline is up to date.\n" });
    // The target edited: the dep changed.
    writeFiles(root, { "copy.txt": "two\n" });
    expect((await status(root)).out).toBe("use:\n    changed deps:\n        modified:   link.txt\n");
    // The target gone: the dep is deleted.
    unlinkSync(path.join(root, "copy.txt"));
    expect((await status(root)).out).toBe("use:\n    changed deps:\n        deleted:    link.txt\n");
  });

  it("deleting an out, editing an out", async () => {
    const root = await recorded();
    unlinkSync(path.join(root, "model.pkl"));
    expect((await status(root)).out).toBe(
      "train:\n    changed outs:\n        deleted:    model.pkl\nevaluate:\n    changed deps:\n        deleted:    model.pkl\n    upstream stale: train\nUp to date: prepare\n",
    );
    writeFiles(root, { "model.pkl": "model\n", "metrics.json": '{"acc": 1.0}\n' });
    expect((await status(root)).out).toBe("evaluate:\n    changed outs:\n        modified:   metrics.json\nUp to date: prepare, train\n");
  });

  it("adding and removing a dep in the stages file", async () => {
    const root = await recorded();
    writeFiles(root, { "pipe.yaml": ML["pipe.yaml"].replace("    - evaluate.py\n", "    - params.yaml\n") });
    expect((await status(root, "evaluate")).out).toBe("evaluate:\n    changed deps:\n        new:        params.yaml\n        removed:    evaluate.py\n");
    // -v and --json show the new dep's hash (what the next run records), as they show a modified one's.
    const v = (await status(root, "evaluate", "-v")).out;
    expect(v).toMatch(/^evaluate:\n {4}changed deps:\n {8}new: {8}params\.yaml {2}- -> [0-9a-f]{16}\n {8}removed: {4}evaluate\.py {2}[0-9a-f]{16} -> -\n$/);
    const j = JSON.parse((await status(root, "evaluate", "--json")).out) as { stages: Record<string, { reasons: { changes?: unknown[] }[] }> };
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    expect(j.stages["evaluate"]!.reasons[0]!.changes![0]).toEqual({ path: "params.yaml", change: "new", new: { algo: "xxh64", hash: v.match(/- -> ([0-9a-f]{16})/)![1] } });
  });

  it("a stage that has not run and whose params key or file is missing names them (file and key), in text and JSON", async () => {
    const root = makeProject({
      "pipe.yaml": "stages:\n  train:\n    cmd: echo > m.txt\n    params:\n    - lr\n    - model.depth\n    - conf.yaml:\n      - batch\n    outs:\n    - m.txt\n",
      "params.yaml": "lr: 0.1\nmodel:\n  width: 3\n",
    });
    expect((await status(root)).out).toBe("train:\n    no lock entry\n    missing params in params.yaml: model.depth\n    missing params file: conf.yaml\n");
    const j = JSON.parse((await status(root, "--json")).out) as { stages: Record<string, { reasons: unknown[] }> };
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    expect(j.stages["train"]!.reasons).toEqual([
      { kind: "no-lock-entry" },
      { kind: "missing-params", file: "params.yaml", keys: ["model.depth"] },
      { kind: "missing-params", file: "conf.yaml", keys: [] },
    ]);
  });

  it("frozen and always_changed", async () => {
    const root = await recorded({
      "pipe.yaml": "stages:\n  fetch:\n    cmd: echo fetch\n    frozen: true\n    deps:\n    - in.txt\n    outs:\n    - f.txt\n  clock:\n    cmd: date\n    always_changed: true\n    deps:\n    - f.txt\n",
      "in.txt": "1",
      "f.txt": "f",
    });
    writeFiles(root, { "in.txt": "2" });
    const r = await status(root, "--check");
    // A frozen stage whose outputs are as locked is named after the verdict, not given a heading of its own.
    expect(r.out).toBe("clock:\n    always changed\nFrozen, outputs match the lock: fetch\n");
    expect(r.code).toBe(1);
    const j = JSON.parse((await status(root, "--json")).out) as { stages: Record<string, unknown> };
    expect(j.stages["fetch"]).toEqual({ stale: false, frozen: true, reasons: [], external: [] });
    expect(j.stages["clock"]).toEqual({ stale: true, frozen: false, reasons: [{ kind: "always-changed" }], external: [] });
  });

  it("--json lists stages in execution order, stages named like numbers included", async () => {
    const root = makeProject({
      "pipe.yaml": "stages:\n  '2':\n    cmd: cat ten > two\n    deps: [ten]\n    outs: [two]\n  '10':\n    cmd: cat bee > ten\n    deps: [bee]\n    outs: [ten]\n  b:\n    cmd: echo > bee\n    outs: [bee]\n",
    });
    const r = await status(root, "--json");
    const order = [...r.out.matchAll(/^ {4}"([^"]+)": \{/gm)].map((m) => m[1]);
    expect(order).toEqual(["b", "10", "2"]);
    expect(validate(JSON.parse(r.out)), JSON.stringify(validate.errors)).toBe(true);
  });

  it("a frozen stage's deleted or edited output is shown under 'frozen', and the stage stays not stale", async () => {
    const root = await recorded({
      "pipe.yaml": "stages:\n  fetch:\n    cmd: echo fetch\n    frozen: true\n    deps:\n    - in.txt\n    outs:\n    - f.txt\n",
      "in.txt": "1",
      "f.txt": "f",
    });
    age(root);
    expect((await status(root)).out).toBe("'fetch' is frozen; its outputs match the lock.\n");
    expect((await status(root, "fetch")).out).toBe("'fetch' is frozen; its outputs match the lock.\n");
    // Only frozen stages in the report: no "up to date" verdict beside what is said of them.
    unlinkSync(path.join(root, "f.txt"));
    const r = await status(root, "--check");
    expect(r.out).toBe("fetch:\n    frozen, outputs differ from the lock:\n    changed outs:\n        deleted:    f.txt\n");
    expect(r.code).toBe(0);
    const j = JSON.parse((await status(root, "--json")).out) as { stages: Record<string, { stale: boolean; reasons: unknown[] }> };
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    expect(j.stages["fetch"]!.stale).toBe(false);
    expect(j.stages["fetch"]!.reasons).toEqual([{ kind: "changed-outs", changes: [{ path: "f.txt", change: "deleted", old: { algo: "xxh64", hash: expect.stringMatching(/^[0-9a-f]{16}$/) as unknown } }] }]);
    writeFiles(root, { "f.txt": "edited" });
    expect((await status(root)).out).toBe("fetch:\n    frozen, outputs differ from the lock:\n    changed outs:\n        modified:   f.txt\n");
    // The status memo, written while the output was as recorded, must not hide the edit either.
    writeFiles(root, { "f.txt": "f" });
    backdate(root);
    expect((await status(root)).out).toBe("'fetch' is frozen; its outputs match the lock.\n");
    const memo = await status(root, "-v");
    expect(memo.out).toBe("'fetch' is frozen; its outputs match the lock.\n");
    expect(memo.err).toBe("Checked 1 stage from .pipe/tmp/status-memo: 1 path unchanged since the last full check\n");
    unlinkSync(path.join(root, "f.txt"));
    expect((await status(root)).out).toBe("fetch:\n    frozen, outputs differ from the lock:\n    changed outs:\n        deleted:    f.txt\n");
  });

  it("a three-stage chain whose first input changed", async () => {
    const root = await recorded();
    writeFiles(root, { "data/raw/b.csv": "bb\n" });
    expect((await status(root)).out).toBe(
      "prepare:\n    changed deps:\n        modified:   data/raw\ntrain:\n    upstream stale: prepare\nevaluate:\n    upstream stale: prepare -> train\n",
    );
    expect((await status(root, "evaluate")).out).toBe("evaluate:\n    upstream stale: prepare -> train\n");
  });

  it("a matrix group addressed by its group name", async () => {
    const root = await recorded({
      "pipe.yaml": "stages:\n  build:\n    matrix:\n      model: [cnn, rnn]\n    cmd: echo ${item.model}\n    deps:\n    - src-${item.model}.txt\n  other:\n    cmd: echo other\n",
      "src-cnn.txt": "c",
      "src-rnn.txt": "r",
    });
    writeFiles(root, { "src-rnn.txt": "R" });
    expect((await status(root, "build")).out).toBe("build@rnn:\n    changed deps:\n        modified:   src-rnn.txt\nUp to date: build@cnn\n");
    expect((await status(root, "build@cnn")).out).toBe("Pipeline is up to date.\n");
    const bad = await status(root, "buidl");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown stage 'buidl'[\s\S]*did you mean .*'build/);
  });

  it("a truncated pipe.lock is a located error, exit 2", async () => {
    const root = await recorded();
    const text = read(root, "pipe.lock");
    const cut = text.indexOf("xxh64: ") + "xxh64: ".length + 5;
    truncateSync(path.join(root, "pipe.lock"), cut);
    const r = await status(root);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^pipe\.lock:\d+:\d+: error: .*16 lowercase hex digits/);
    expect(r.err).toMatch(/git checkout -- pipe\.lock/);
    // Nothing written: not the lock, not the stat cache.
    const before = treeSnapshot(root);
    for (const args of [[], ["-q"], ["--check"], ["--json"], ["train"]]) {
      const again = await status(root, ...args);
      expect([again.code, again.out], args.join(" ")).toEqual([2, ""]);
    }
    expect(treeSnapshot(root)).toEqual(before);
  });

  it("the no-op proof: a same-size overwrite whose mtime_ns is put back is not seen, because nothing is read", async () => {
    const root = await recorded();
    expect((await status(root, "-q")).code).toBe(0);
    const p = path.join(root, "data/raw/a.csv");
    const mtimeNs = statSync(p, { bigint: true }).mtimeNs;
    const ino = statSync(p).ino;
    writeFileSync(p, "Z\n"); // same size, new content, same inode
    const sec = mtimeNs / 1_000_000_000n;
    const ns = (mtimeNs % 1_000_000_000n).toString().padStart(9, "0");
    execFileSync("touch", ["-m", "-d", `@${sec}.${ns}`, p]);
    expect([statSync(p, { bigint: true }).mtimeNs, statSync(p).ino]).toEqual([mtimeNs, ino]);
    const r = await status(root, "-v");
    expect(r.out).toBe("Pipeline is up to date.\n");
    expect(r.err).toMatch(/read 0 bytes of 0 files/);
    // Without the stat cache the edit is found: the answer above came from the cache alone.
    unlinkSync(path.join(root, ".pipe/state"));
    expect((await status(root, "prepare")).out).toBe("prepare:\n    changed deps:\n        modified:   data/raw\n");
  });

  it("agrees with what `pipe repro` recorded", async () => {
    const root = makeProject({
      "pipe.yaml": "stages:\n  copy:\n    cmd: cp in.txt mid.txt\n    deps:\n    - in.txt\n    outs:\n    - mid.txt\n  upper:\n    cmd: tr a-z A-Z < mid.txt > out.txt\n    deps:\n    - mid.txt\n    outs:\n    - out.txt\n",
      "in.txt": "hello\n",
    });
    expect((await runPipeIn(root, ["init"])).code).toBe(0);
    expect((await status(root)).out).toBe("copy:\n    no lock entry\nupper:\n    no lock entry\n");
    const rep = runPipe(root, ["repro"]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(await status(root, "--check")).toMatchObject({ code: 0, out: "Pipeline is up to date.\n" });
    writeFiles(root, { "in.txt": "bye\n" });
    expect(await status(root, "--check")).toMatchObject({ code: 1, out: "copy:\n    changed deps:\n        modified:   in.txt\nupper:\n    upstream stale: copy\n" });
  });

  it("editing a cached out", async () => {
    const root = await recorded();
    writeFiles(root, { "model.pkl": "MODEL\n" });
    expect((await status(root)).out).toBe("train:\n    changed outs:\n        modified:   model.pkl\nevaluate:\n    changed deps:\n        modified:   model.pkl\n    upstream stale: train\nUp to date: prepare\n");
  });

  it("URL deps and outs are listed as external (not checked)", async () => {
    const root = await recorded({ "pipe.yaml": "stages:\n  dl:\n    cmd: curl -o d.csv https://example.com/d.csv\n    deps:\n    - https://example.com/d.csv\n    outs:\n    - d.csv\n  up:\n    cmd: aws s3 cp d.csv s3://bucket/d.csv\n    deps:\n    - d.csv\n    outs:\n    - s3://bucket/d.csv\n", "d.csv": "d" });
    // Not stale, so no headings: the verdict first, then what could not be checked.
    expect((await status(root)).out).toBe("Pipeline is up to date.\nExternal (not checked):\n    dl: https://example.com/d.csv\n    up: s3://bucket/d.csv\n");
    const doc = JSON.parse((await status(root, "--json")).out) as { stages: Record<string, unknown> };
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.stages["up"]).toEqual({ stale: false, frozen: false, reasons: [], external: ["s3://bucket/d.csv"] });
  });

  it("a stages file in a subdirectory has its own lock beside it", async () => {
    const root = await recorded({
      "pipe.yaml": "stages:\n  top:\n    cmd: echo top\n    deps:\n    - t.txt\n",
      "t.txt": "t",
      "sub/pipe.yaml": "stages:\n  inner:\n    cmd: echo inner\n    deps:\n    - in.txt\n",
      "sub/in.txt": "i",
    });
    expect(read(root, "sub/pipe.lock")).toMatch(/^schema: '2\.0'\nstages:\n {2}inner:\n {4}cmd: echo inner\n {4}deps:\n {4}- path: in\.txt\n/);
    expect(read(root, "pipe.lock")).not.toContain("inner");
    expect(await status(root, "--check")).toMatchObject({ code: 0, out: "Pipeline is up to date.\n" });
    writeFiles(root, { "sub/in.txt": "I" });
    // Paths and addresses relative to where the command runs, as DVC prints them.
    expect((await status(root)).out).toBe("sub/pipe.yaml:inner:\n    changed deps:\n        modified:   sub/in.txt\nUp to date: top\n");
    expect((await status(path.join(root, "sub"), "inner")).out).toBe("inner:\n    changed deps:\n        modified:   in.txt\n");
    writeFiles(root, { "sub/pipe.lock": "schema: '2.0'\nstages:\n  inner:\n    cmd: 3\n" });
    const bad = await status(root);
    expect([bad.code, bad.out]).toEqual([2, ""]);
    expect(bad.err).toMatch(/^sub\/pipe\.lock:4:10: error: 'cmd' must be a string/);
  });
});

describe.runIf(hasCorpus())("pipe status on the DVC 3 vector project (dvc.lock only)", () => {
  function vectors(): string {
    const root = makeProject();
    cpSync(path.join(CORPUS, "dvc-vectors/project"), root, { recursive: true });
    chmodSync(root, 0o755);
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const p = path.join(d, n);
        chmodSync(p, statSync(p).isDirectory() ? 0o755 : 0o644);
        if (statSync(p).isDirectory()) walk(p);
      }
    };
    walk(root);
    return root;
  }

  it("is up to date, and status creates nothing in it", async () => {
    const root = vectors();
    const before = treeSnapshot(root);
    const r = await status(root, "--check");
    expect([r.code, r.out]).toEqual([0, "Pipeline is up to date.\n"]);
    expect(treeSnapshot(root)).toEqual(before);
    expect(exists(root, ".pipe")).toBe(false);
  });

  const edits: [string, Record<string, string>, string][] = [
    ["a file under data/raw", { "data/raw/a.csv": "id,label\n1,cat\n2,cow\n" }, "    changed deps:\n        modified:   data/raw\n"],
    ["a non-ASCII file name under data/raw", { "data/raw/sub/café.txt": "cafe\n" }, "    changed deps:\n        modified:   data/raw\n"],
    ["a new file in data/raw", { "data/raw/new.txt": "x" }, "    changed deps:\n        modified:   data/raw\n"],
    ["src/prepare.py", { "src/prepare.py": "import sys\nprint('x')\n" }, "    changed deps:\n        modified:   src/prepare.py\n"],
    ["data/prepared.csv", { "data/prepared.csv": "id,label\n" }, "    changed outs:\n        modified:   data/prepared.csv\n"],
    ["prepare.split", { "params.yaml": "prepare:\n  split: 0.3\n  seed: 42\n" }, "    changed params:\n        params.yaml:\n            modified:   prepare.split  0.2 -> 0.3\n"],
    ["prepare.seed", { "params.yaml": "prepare:\n  split: 0.2\n  seed: 7\n" }, "    changed params:\n        params.yaml:\n            modified:   prepare.seed  42 -> 7\n"],
  ];
  it("is stale after deleting a file in data/raw, deleting the out, or changing cmd in dvc.yaml", async () => {
    let root = vectors();
    unlinkSync(path.join(root, "data/raw/sub/b.txt"));
    expect((await status(root)).out).toBe("prepare:\n    changed deps:\n        modified:   data/raw\n");
    root = vectors();
    unlinkSync(path.join(root, "data/prepared.csv"));
    expect((await status(root)).out).toBe("prepare:\n    changed outs:\n        deleted:    data/prepared.csv\n");
    root = vectors();
    writeFiles(root, { "dvc.yaml": read(root, "dvc.yaml").replace("data/raw\n", "data/raw --fast\n") });
    expect((await status(root)).out).toBe("prepare:\n    changed command\n        old:        python src/prepare.py data/raw\n        new:        python src/prepare.py data/raw --fast\n");
  });

  it("a malformed dvc.lock is a located error, exit 2, nothing written", async () => {
    const cases: [string, string, RegExp][] = [
      ["b500f516ede1a34763d53f06e53714e0", "b500f516", /^dvc\.lock:13:12: error: 'md5' must be 32 lowercase hex digits/],
      ["    cmd: python", "    command: python", /^dvc\.lock:4:5: error: unknown key 'command' in a lock entry/],
      ["    params:\n", "    params: [\n", /^dvc\.lock:\d+:\d+: error: invalid YAML in lock file/],
    ];
    for (const [from, to, message] of cases) {
      const root = vectors();
      writeFiles(root, { "dvc.lock": read(root, "dvc.lock").replace(from, to) });
      const before = treeSnapshot(root);
      for (const args of [[], ["-q"], ["--json"]]) {
        const r = await status(root, ...args);
        expect([r.code, r.out], to).toEqual([2, ""]);
        expect(r.err, to).toMatch(message);
        expect(r.err, to).toMatch(/git checkout -- dvc\.lock/);
      }
      expect(treeSnapshot(root)).toEqual(before);
    }
  });

  it("a dvc.lock of nested aliases is a located lock error (exit 2), and one of an alias bomb too", async () => {
    const nested = "a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
    const bomb = ["a: &l0 [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(", ")}]`)].join("\n") + "\n";
    for (const [text, message] of [
      [nested, /^dvc\.lock:1:7: error: expected the stage's lock entry/],
      [bomb, /^dvc\.lock:9:10: error: invalid YAML in lock file: aliases expand this document/],
    ] as const) {
      const root = vectors();
      writeFiles(root, { "dvc.lock": text });
      const r = await status(root);
      expect([r.code, r.out]).toEqual([2, ""]);
      expect(r.err).toMatch(message);
    }
  });

  it("files .dvcignore rules or DVC's defaults leave out of data/raw do not make it stale, as in DVC", async () => {
    const root = vectors();
    mkdirSync(path.join(root, ".dvc"));
    writeFiles(root, {
      ".dvcignore": "*.log\n",
      "data/raw/debug.log": "j\n",
      "data/raw/.git/HEAD": "ref\n",
      "data/.dvcignore": "raw/**/*.tmp\n",
      "data/raw/sub/x.tmp": "x\n",
    });
    expect(await status(root, "--check")).toMatchObject({ code: 0, out: "Pipeline is up to date.\n" });
    // The rules match case-sensitively, as DVC's do.
    writeFiles(root, { "data/raw/DEBUG.LOG": "j\n" });
    expect((await status(root)).out).toBe("prepare:\n    changed deps:\n        modified:   data/raw\n");
  });

  it("a DVC 2 dvc.lock (no `hash: md5` lines) is verified with DVC 2's md5: up to date, then stale after an edit", async () => {
    const root = vectors();
    const legacy = read(root, "dvc.lock").replace(/^ +hash: md5\n/gm, "");
    expect(legacy).not.toMatch(/hash:/);
    writeFiles(root, { "dvc.lock": legacy });
    expect(await status(root, "--check")).toMatchObject({ code: 0, out: "Pipeline is up to date.\n" });
    const j = JSON.parse((await status(root, "--json", "-v")).out) as { stages: Record<string, { stale: boolean }> };
    expect(j.stages["prepare"]!.stale).toBe(false);
    writeFiles(root, { "data/raw/a.csv": "id,label\n1,cat\n2,cow\n", "src/prepare.py": "import sys\nprint('x')\n" });
    const r = await status(root, "--check", "-v");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^prepare:\n {4}changed deps:\n {8}modified: {3}data\/raw {2}038d10e5fa37bd45e8442e439353957a\.dir -> [0-9a-f]{32}\.dir\n {8}modified: {3}src\/prepare\.py {2}b500f516ede1a34763d53f06e53714e0 -> [0-9a-f]{32}\n$/);
  });

  it("a dvc.lock that starts with a byte order mark is read", async () => {
    const root = vectors();
    writeFiles(root, { "dvc.lock": `\ufeff${read(root, "dvc.lock")}` });
    expect(await status(root, "--check")).toMatchObject({ code: 0, out: "Pipeline is up to date.\n" });
  });

  for (const [what, files, reason] of edits) {
    it(`is stale after editing ${what}`, async () => {
      const root = vectors();
      writeFiles(root, files);
      const r = await status(root, "--check");
      expect(r.out).toBe(`prepare:\n${reason}`);
      expect(r.code).toBe(1);
    });
  }
});
