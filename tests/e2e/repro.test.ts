/**
 * `pipe repro` end to end: the built CLI in temp projects, real shell commands that append to `runs.log` so each
 * test can say exactly which commands ran.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, exists, gitInit, makeProject, PIPE_BIN, read, runPipe, treeSnapshot, writeFiles } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

const runs = (dir: string): string[] => (exists(dir, "runs.log") ? read(dir, "runs.log").trim().split("\n").filter(Boolean) : []);
const clearRuns = (dir: string): void => rmSync(path.join(dir, "runs.log"), { force: true });

/** prepare -> featurize -> train -> evaluate, driven by params.yaml; every command logs itself to runs.log. */
function mlProject(): string {
  return makeProject({
    ".pipe/config.yaml": "",
    "data.csv": "a,b\n1,2\n3,4\n",
    "params.yaml": "featurize:\n  scale: 2\ntrain:\n  lr: 0.1\n  epochs: 3\n",
    "pipe.yaml": [
      "stages:",
      "  prepare:",
      "    cmd: echo prepare >> runs.log && tail -n +2 data.csv > prepared.csv",
      "    deps: [data.csv]",
      "    outs: [prepared.csv]",
      "  featurize:",
      "    cmd: echo featurize >> runs.log && mkdir -p features && cp prepared.csv features/x.csv && echo ${featurize.scale} > features/scale.txt",
      "    deps: [prepared.csv]",
      "    params: [featurize.scale]",
      "    outs: [features]",
      "  train:",
      "    cmd: echo train >> runs.log && cat features/x.csv params.yaml > model.bin",
      "    deps: [features]",
      "    params: [train.lr, train.epochs]",
      "    outs: [model.bin]",
      "  evaluate:",
      "    cmd: echo evaluate >> runs.log && wc -c < model.bin > score.txt && printf '{\"acc\":0.9}' > metrics.json",
      "    deps: [model.bin]",
      "    outs: [score.txt]",
      "    metrics:",
      "      - metrics.json:",
      "          cache: false",
      "",
    ].join("\n"),
  });
}

describe("pipe repro: the basic cycle", () => {
  it("first run runs every stage in order, prints the stage lines and a summary; a second run does nothing", () => {
    const dir = mlProject();
    const r = runPipe(dir, ["repro"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(runs(dir)).toEqual(["prepare", "featurize", "train", "evaluate"]);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("Running 'prepare'");
    expect(lines[1]).toBe("> echo prepare >> runs.log && tail -n +2 data.csv > prepared.csv");
    expect(lines[2]).toMatch(/^'prepare' finished in \d+\.\ds$/);
    expect(r.stdout).toContain("Running 'evaluate'\n");
    expect(lines.at(-2)).toMatch(/^Summary: 4 ran, 0 restored, 0 up to date, 0 failed \(\d+\.\ds\)$/);
    const lock = read(dir, "pipe.lock");
    expect(lock.startsWith("schema: '2.0'\nstages:\n  prepare:\n")).toBe(true);
    expect(lock).toContain("xxh64:");
    expect(lock).toMatch(/path: features\n\s+hash: xxh64\n\s+xxh64: [0-9a-f]{16}\.dir\n\s+size: \d+\n\s+nfiles: 2/);
    expect(read(dir, ".gitignore")).toBe("/features\n/model.bin\n/prepared.csv\n/score.txt\n");

    clearRuns(dir);
    const again = runPipe(dir, ["repro"]);
    expect(again.code).toBe(0);
    expect(runs(dir)).toEqual([]);
    expect(again.stdout).toBe(
      ["'prepare' is up to date", "'featurize' is up to date", "'train' is up to date", "'evaluate' is up to date", "Pipeline is up to date.", ""].join("\n"),
    );
    // Running twice leaves the lock byte-identical.
    expect(read(dir, "pipe.lock")).toBe(lock);
  });

  it("one params change re-runs exactly the affected stages; changing it back restores from the run-cache with no command run", () => {
    const dir = mlProject();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const model1 = read(dir, "model.bin");
    clearRuns(dir);
    writeFiles(dir, { "params.yaml": "featurize:\n  scale: 2\ntrain:\n  lr: 0.2\n  epochs: 3\n" });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(0);
    // evaluate re-runs because model.bin changed (it contains params.yaml).
    expect(runs(dir)).toEqual(["train", "evaluate"]);
    expect(r.stdout).toContain("'featurize' is up to date\n");

    clearRuns(dir);
    writeFiles(dir, { "params.yaml": "featurize:\n  scale: 2\ntrain:\n  lr: 0.1\n  epochs: 3\n" });
    const back = runPipe(dir, ["repro"]);
    expect(back.code).toBe(0);
    // train is restored; evaluate has an uncached output (metrics.json), which the run-cache cannot restore (spec 3:
    // `cache: false` outputs are never stored nor restored), so it runs.
    expect(runs(dir)).toEqual(["evaluate"]);
    expect(back.stdout).toContain("Restored 'train' from run-cache\n");
    expect(back.stdout).toMatch(/Summary: 1 ran, 1 restored, 2 up to date, 0 failed/);
    expect(read(dir, "model.bin")).toBe(model1);
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  });

  it("with every output cached, changing a param back restores the whole chain from the run-cache with zero command invocations", () => {
    const dir = mlProject();
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("      - metrics.json:\n          cache: false\n", "      - metrics.json\n") });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const before = treeSnapshot(dir);
    writeFiles(dir, { "params.yaml": "featurize:\n  scale: 3\ntrain:\n  lr: 0.1\n  epochs: 3\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    clearRuns(dir);
    writeFiles(dir, { "params.yaml": "featurize:\n  scale: 2\ntrain:\n  lr: 0.1\n  epochs: 3\n" });
    const back = runPipe(dir, ["repro"]);
    expect(back.code, back.stderr).toBe(0);
    expect(runs(dir)).toEqual([]);
    expect(back.stdout).toMatch(
      /^'prepare' is up to date\nRestored 'featurize' from run-cache\nRestored 'train' from run-cache\nRestored 'evaluate' from run-cache\nSummary: 0 ran, 3 restored, 1 up to date, 0 failed \(\d+\.\ds\)\n$/,
    );
    // The workspace (lock and .gitignore included, outputs byte for byte) is what the first run left.
    const after = treeSnapshot(dir);
    for (const k of [...before.keys()].filter((k) => !k.startsWith(".pipe/") && k !== "runs.log")) expect(after.get(k), k).toBe(before.get(k));
  });

  it("a stage driven by params alone goes through the run-cache too (DVC counts params as deps), in every link mode", () => {
    for (const type of ["reflink,copy", "hardlink", "symlink"]) {
      const dir = makeProject({
        ".pipe/config.yaml": `cache:\n  type: ${type}\n`,
        "params.yaml": "n: 1\n",
        "pipe.yaml": [
          "stages:",
          "  gen:",
          "    cmd: echo gen >> runs.log && mkdir -p d && echo ${n} > d/n.txt && echo ${n} > m.txt",
          "    params: [n]",
          "    outs: [d, m.txt]",
          "",
        ].join("\n"),
      });
      expect(runPipe(dir, ["repro"]).code).toBe(0);
      writeFiles(dir, { "params.yaml": "n: 2\n" });
      expect(runPipe(dir, ["repro"]).code).toBe(0);
      writeFiles(dir, { "params.yaml": "n: 1\n" });
      const r = runPipe(dir, ["repro"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout, type).toContain("Restored 'gen' from run-cache\n");
      expect(runs(dir)).toEqual(["gen", "gen"]);
      expect(read(dir, "m.txt")).toBe("1\n");
      expect(read(dir, "d/n.txt")).toBe("1\n");
      expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
    }
  });

  it("--no-run-cache runs the command instead of restoring", () => {
    const dir = mlProject();
    runPipe(dir, ["repro"]);
    writeFiles(dir, { "params.yaml": "featurize:\n  scale: 2\ntrain:\n  lr: 0.2\n  epochs: 3\n" });
    runPipe(dir, ["repro"]);
    writeFiles(dir, { "params.yaml": "featurize:\n  scale: 2\ntrain:\n  lr: 0.1\n  epochs: 3\n" });
    clearRuns(dir);
    const r = runPipe(dir, ["repro", "--no-run-cache"]);
    expect(r.code).toBe(0);
    expect(runs(dir)).toEqual(["train", "evaluate"]);
  });

  it("a deleted output is restored from the cache without running anything (files and directories)", () => {
    const dir = mlProject();
    runPipe(dir, ["repro"]);
    const before = treeSnapshot(path.join(dir, "features"));
    const model = read(dir, "model.bin");
    rmSync(path.join(dir, "features"), { recursive: true });
    rmSync(path.join(dir, "model.bin"));
    clearRuns(dir);
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(0);
    expect(runs(dir)).toEqual([]);
    expect(r.stdout).toContain("Restored 'featurize' from cache\n");
    expect(r.stdout).toContain("Restored 'train' from cache\n");
    expect(treeSnapshot(path.join(dir, "features"))).toEqual(before);
    expect(read(dir, "model.bin")).toBe(model);
    // Restored files are ordinary writable files (reflink,copy).
    expect(statSync(path.join(dir, "model.bin")).mode & 0o200).toBe(0o200);
  });

  it("a deleted output whose cache object is corrupt is never materialised: the object goes, a warning says so, the stage runs", () => {
    const dir = mlProject();
    runPipe(dir, ["repro"]);
    const model = read(dir, "model.bin");
    const id = /path: model\.bin\n\s+hash: xxh64\n\s+xxh64: ([0-9a-f]{16})/.exec(read(dir, "pipe.lock"))![1]!;
    const obj = path.join(dir, ".pipe/cache", id.slice(0, 2), id.slice(2));
    chmodSync(obj, 0o644);
    writeFileSync(obj, "bit rot");
    rmSync(path.join(dir, "model.bin"));
    clearRuns(dir);
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: cache object ${id} of 'model.bin' was corrupt and has been removed; running 'train' instead\n`);
    expect(runs(dir)).toEqual(["train"]);
    expect(read(dir, "model.bin")).toBe(model);
    // Re-running stored a good object again.
    expect(readFileSync(obj, "utf8")).toBe(model);
  });

  it("a stage that regenerates identical bytes stops the propagation (early cutoff)", () => {
    const dir = mlProject();
    runPipe(dir, ["repro"]);
    clearRuns(dir);
    // Only the header line changes: prepared.csv (data without header) stays byte-identical.
    writeFiles(dir, { "data.csv": "x,y\n1,2\n3,4\n" });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(0);
    expect(runs(dir)).toEqual(["prepare"]);
    expect(r.stdout).toContain("'featurize' is up to date\n");
  });

  it("--force-downstream runs the dependents of a stage that ran even though their deps are unchanged", () => {
    const dir = mlProject();
    runPipe(dir, ["repro"]);
    clearRuns(dir);
    writeFiles(dir, { "data.csv": "x,y\n1,2\n3,4\n" });
    const r = runPipe(dir, ["repro", "--force-downstream"]);
    expect(r.code).toBe(0);
    expect(runs(dir)).toEqual(["prepare", "featurize", "train", "evaluate"]);
  });

  it("-f runs a fresh target again, but not its fresh upstream", () => {
    const dir = mlProject();
    runPipe(dir, ["repro"]);
    clearRuns(dir);
    const r = runPipe(dir, ["repro", "-f", "train"]);
    expect(r.code).toBe(0);
    expect(runs(dir)).toEqual(["train"]);
    clearRuns(dir);
    expect(runPipe(dir, ["repro", "-f"]).code).toBe(0);
    expect(runs(dir)).toEqual(["prepare", "featurize", "train", "evaluate"]);
  });

  it("--dry runs nothing and leaves every file of the project byte-identical, and says what would happen", () => {
    const dir = mlProject();
    const snap0 = fullTree(dir);
    const first = runPipe(dir, ["repro", "--dry"]);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe("");
    expect(fullTree(dir)).toBe(snap0);
    expect(first.stdout).toBe(
      [
        "Would run 'prepare': no lock entry",
        "Would run 'featurize': no lock entry; upstream 'prepare' will run",
        "Would run 'train': no lock entry; upstream 'featurize' will run",
        "Would run 'evaluate': no lock entry; upstream 'train' will run",
        "Dry run: 4 would run, 0 would be restored, 0 up to date; nothing was changed.",
        "",
      ].join("\n"),
    );
    runPipe(dir, ["repro"]);
    writeFiles(dir, { "params.yaml": "featurize:\n  scale: 2\ntrain:\n  lr: 0.2\n  epochs: 3\n" });
    runPipe(dir, ["repro"]);
    writeFiles(dir, { "params.yaml": "featurize:\n  scale: 2\ntrain:\n  lr: 0.1\n  epochs: 3\n" });
    rmSync(path.join(dir, "prepared.csv"));
    writeFiles(dir, { "score.txt": "edited by hand\n" });
    const snap = fullTree(dir);
    const d = runPipe(dir, ["repro", "--dry", "-v"]);
    expect(d.code).toBe(0);
    // Files, directories, modes, link targets and modification times: nothing was touched (not the stat cache, not
    // the lock, not .gitignore, not a temp file).
    expect(fullTree(dir)).toBe(snap);
    expect(runPipe(dir, ["repro", "--dry", "-f", "-d", "prepare"]).code).toBe(0);
    expect(fullTree(dir)).toBe(snap);
    expect(d.stdout).toContain("Would restore 'prepare' from cache\n");
    expect(d.stdout).toContain("Would restore 'train' from run-cache\n");
  });
});

describe("pipe repro: restoring a directory output", () => {
  it("a restore from the run-cache leaves what .dvcignore leaves out of the directory alone", () => {
    const dir = makeProject({
      ".pipe/config.yaml": "",
      ".dvcignore": "*.log\n",
      "params.yaml": "n: 1\n",
      "pipe.yaml": "stages:\n  make:\n    cmd: echo make >> runs.log && mkdir -p out && echo ${n} > out/n.txt\n    params: [n]\n    outs: [out]\n",
    });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFiles(dir, { "params.yaml": "n: 2\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFiles(dir, { "out/debug.log": "kept\n", "params.yaml": "n: 1\n" });
    clearRuns(dir);
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Restored 'make' from run-cache\n");
    expect(r.stderr).toBe("");
    expect(runs(dir)).toEqual([]);
    expect(read(dir, "out/n.txt")).toBe("1\n");
    expect(read(dir, "out/debug.log")).toBe("kept\n");
  });
});

describe("pipe repro --dry with a corrupt cache", () => {
  it("a corrupt directory manifest is named, not removed: the tree stays byte-identical and the stage would run, not be restored", () => {
    const dir = mlProject();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const id = /path: features\n\s+hash: xxh64\n\s+xxh64: ([0-9a-f]{16}\.dir)/.exec(read(dir, "pipe.lock"))![1]!;
    const obj = path.join(dir, ".pipe/cache", id.slice(0, 2), id.slice(2));
    chmodSync(obj, 0o644);
    writeFileSync(obj, "[]");
    // Only the missing output makes featurize stale: with a good manifest it would be restored from the cache.
    rmSync(path.join(dir, "features"), { recursive: true });
    clearRuns(dir);
    const snap = fullTree(dir);
    const d = runPipe(dir, ["repro", "--dry"]);
    expect(d.code, d.stderr).toBe(0);
    expect(fullTree(dir)).toBe(snap);
    expect(readFileSync(obj, "utf8")).toBe("[]");
    expect(d.stdout).toContain("Would run 'featurize': changed outs: deleted features\n");
    expect(d.stdout).not.toContain("Would restore 'featurize'");
    expect(d.stderr).toBe(`warning: cache object ${id} of 'features' is corrupt and cannot be restored (a real run removes it)\n`);
    expect(runs(dir)).toEqual([]);
    // The real run removes it, says so, and runs the stage, which stores a good manifest again.
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: cache object ${id} of 'features' was corrupt and has been removed\n`);
    expect(runs(dir)).toEqual(["featurize"]);
    expect(readFileSync(obj, "utf8")).toContain('"relpath":"x.csv"');
  });
});

describe("pipe repro: failures", () => {
  function failing(): string {
    return makeProject({
      "pipe.yaml": [
        "stages:",
        "  a:",
        "    cmd: echo a >> runs.log && echo a > a.txt",
        "    outs: [a.txt]",
        "  b:",
        "    cmd: echo b >> runs.log && cat a.txt flag.txt > b.txt && grep -q ok flag.txt || (echo 'boom - flag is not ok' >&2; exit 3)",
        "    deps: [a.txt, flag.txt]",
        "    outs: [b.txt]",
        "  c:",
        "    cmd: echo c >> runs.log && cat b.txt > c.txt",
        "    deps: [b.txt]",
        "    outs: [c.txt]",
        "  d:",
        "    cmd: echo d >> runs.log && echo d > d.txt",
        "    outs: [d.txt]",
        "",
      ].join("\n"),
      "flag.txt": "ok\n",
    });
  }

  it("a failing stage in the middle of a chain: earlier stages recorded, its lock entry and cached outputs untouched, nothing after it run, exit 1", () => {
    const dir = failing();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const lockBefore = read(dir, "pipe.lock");
    const bBefore = read(dir, "b.txt");
    const cacheBefore = fullTree(path.join(dir, ".pipe/cache"));
    clearRuns(dir);
    writeFiles(dir, { "flag.txt": "bad\n" });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(runs(dir)).toEqual(["b"]);
    // The failed command wrote a new b.txt before failing: none of it reached the cache.
    expect(read(dir, "b.txt")).not.toBe(bBefore);
    expect(fullTree(path.join(dir, ".pipe/cache"))).toBe(cacheBefore);
    expect(exists(dir, "c.txt")).toBe(true);
    expect(r.stderr).toContain("error: 'b' failed with exit code 3\n  last 1 line of output:\n  | boom - flag is not ok\n");
    expect(r.stdout).toMatch(/Summary: 0 ran, 0 restored, 1 up to date, 1 failed, 2 not run/);
    // The lock still describes the last successful run of b, and checkout brings its output back.
    expect(read(dir, "pipe.lock")).toBe(lockBefore);
    writeFiles(dir, { "flag.txt": "ok\n" });
    rmSync(path.join(dir, "b.txt"), { force: true });
    expect(runPipe(dir, ["checkout", "b"]).code).toBe(0);
    expect(read(dir, "b.txt")).toBe(bBefore);
  });

  it("stops at the first failure by default; with -k independent stages still run", () => {
    const dir = failing();
    writeFiles(dir, { "flag.txt": "bad\n" });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(runs(dir)).toEqual(["a", "b"]);
    clearRuns(dir);
    const k = runPipe(dir, ["repro", "-k"]);
    expect(k.code).toBe(1);
    expect(runs(dir)).toEqual(["b", "d"]);
    expect(k.stdout).toContain("'c' not run: upstream 'b' failed\n");
    expect(read(dir, "pipe.lock")).toMatch(/^ {2}d:/m);
    expect(read(dir, "pipe.lock")).not.toMatch(/^ {2}c:/m);
  });

  it("a params file or key a stage needs that does not exist fails that stage before it runs, located; others still run", () => {
    const dir = makeProject({
      "params.yaml": "x: 1\n",
      "pipe.yaml": [
        "stages:",
        "  a:",
        "    cmd: echo a >> runs.log && echo a > a.txt",
        "    outs: [a.txt]",
        "  t:",
        "    cmd: echo t >> runs.log && echo t > t.txt",
        "    params:",
        "      - missing.yaml: [a]",
        "      - b.c",
        "    outs: [t.txt]",
        "",
      ].join("\n"),
    });
    const r = runPipe(dir, ["repro", "-k"]);
    expect(r.code).toBe(1);
    expect(runs(dir)).toEqual(["a"]);
    expect(r.stderr).toBe(
      `note: initialised .pipe/ in ${dir}\n` +
        "pipe.yaml:8:9: error: stage 't': params file 'missing.yaml' does not exist\n" +
        "pipe.yaml:9:9: error: stage 't': params 'b.c' not found in 'params.yaml'\n",
    );
    expect(read(dir, "pipe.lock")).toContain("  a:\n");
    expect(read(dir, "pipe.lock")).not.toContain("  t:\n");
  });

  it("a dep that does not exist and that no stage produces stops repro before anything runs", () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  a:",
        "    cmd: echo a >> runs.log && echo a > a.txt",
        "    outs: [a.txt]",
        "  b:",
        "    cmd: echo b >> runs.log && cat raw/input.csv > b.txt",
        "    deps: [a.txt, raw/input.csv]",
        "    outs: [b.txt]",
        "",
      ].join("\n"),
    });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(runs(dir)).toEqual([]);
    expect(r.stderr).toMatch(/^note: initialised \.pipe\/ in .+\npipe\.yaml:\d+:\d+: error: stage 'b': dependency 'raw\/input.csv' does not exist and no stage produces it\n/);
    expect(exists(dir, "pipe.lock")).toBe(false);
    // --dry never fails on an upstream output that does not exist yet.
    const chain = makeProjectWithChain();
    const tree = fullTree(chain);
    const d = runPipe(chain, ["repro", "--dry"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toBe("");
    expect(d.stdout).toContain("Would run 'b': no lock entry; upstream 'a' will run\n");
    // Not even .pipe/ is created.
    expect(fullTree(chain)).toBe(tree);
    expect(exists(chain, ".pipe")).toBe(false);
  });

  it("a declared output the command did not create fails the stage", () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  a:\n    cmd: echo hi\n    outs: [never.txt]\n",
    });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stage 'a' did not create its output 'never.txt'");
    expect(exists(dir, "pipe.lock")).toBe(false);
  });

  it("a stage that ran earlier in a run that then fails is recorded in the lock and the cache; the failed one is not", () => {
    const dir = failing();
    writeFiles(dir, { "flag.txt": "bad\n" });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    // 'a' ran in this very run, before 'b' failed.
    expect(runs(dir)).toEqual(["a", "b"]);
    const lock = read(dir, "pipe.lock");
    expect(lock).toMatch(/^ {2}a:\n {4}cmd: echo a >> runs\.log && echo a > a\.txt\n/m);
    expect(lock).not.toMatch(/^ {2}b:/m);
    const id = lockedId(dir, "a.txt");
    expect(readFileSync(objectPath(dir, id), "utf8")).toBe("a\n");
    expect(runPipe(dir, ["status", "--quiet", "a"]).code).toBe(0);
  });

  it("a declared output the command did not create, with a lock entry from an earlier run: lock and cache byte-identical", () => {
    const dir = makeProject({ "pipe.yaml": "stages:\n  a:\n    cmd: echo 1 > x.txt && echo 2 > y.txt\n    outs: [x.txt, y.txt]\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const lock = read(dir, "pipe.lock");
    const cache = fullTree(path.join(dir, ".pipe/cache"));
    // Now the command writes new bytes to one output and never creates the other.
    writeFiles(dir, { "pipe.yaml": "stages:\n  a:\n    cmd: echo 3 > x.txt\n    outs: [x.txt, y.txt]\n" });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stage 'a' did not create its output 'y.txt'");
    expect(read(dir, "pipe.lock")).toBe(lock);
    // Not even the output that was created ("3") reached the cache.
    expect(fullTree(path.join(dir, ".pipe/cache"))).toBe(cache);
    writeFiles(dir, { "pipe.yaml": "stages:\n  a:\n    cmd: echo 1 > x.txt && echo 2 > y.txt\n    outs: [x.txt, y.txt]\n" });
    const back = runPipe(dir, ["checkout"]);
    expect(back.code, back.stderr).toBe(0);
    expect([read(dir, "x.txt"), read(dir, "y.txt")]).toEqual(["1\n", "2\n"]);
  });

  it("a list cmd prints each command just before it runs: none after the failing item", () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  a:\n    cmd:\n      - echo one\n      - echo two && false\n      - echo three > o.txt\n    outs: [o.txt]\n",
    });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Running 'a'\n> echo one\none\n> echo two && false\ntwo\nSummary: /);
    expect(r.stdout).not.toContain("three");
    expect(r.stderr).toContain("error: 'a' failed with exit code 1 (command: echo two && false)");
  });

  it("never deletes through a symlinked directory that leaves the project, and the refusal names the stage", () => {
    const outside = makeProject({ "victim.txt": "keep me\n" });
    const dir = makeProject({ "pipe.yaml": "stages:\n  a:\n    cmd: echo x > linkdir/victim.txt\n    outs: [linkdir/victim.txt]\n" });
    symlinkSync(outside, path.join(dir, "linkdir"));
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: stage 'a': refusing to delete 'linkdir\/victim\.txt': its directory resolves to .*, outside the project\n/);
    expect(read(outside, "victim.txt")).toBe("keep me\n");
    expect(exists(dir, "pipe.lock")).toBe(false);
  });

  it("a multi-line cmd stops at its first failing line and a cd carries over", () => {
    const dir = makeProject({
      "sub/.keep": "",
      "pipe.yaml": ["stages:", "  a:", "    cmd: |", "      cd sub", "      echo here > where.txt", "      false", "      echo after > after.txt", "    outs: [out.txt]", ""].join("\n"),
    });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(exists(dir, "sub/where.txt")).toBe(true);
    expect(exists(dir, "sub/after.txt")).toBe(false);
  });
});

function makeProjectWithChain(): string {
  return makeProject({
    "pipe.yaml": [
      "stages:",
      "  a:",
      "    cmd: echo a > a.txt",
      "    outs: [a.txt]",
      "  b:",
      "    cmd: cat a.txt > b.txt",
      "    deps: [a.txt]",
      "    outs: [b.txt]",
      "",
    ].join("\n"),
  });
}

describe("pipe repro: output flags and stage flags", () => {
  it("persist: true outputs survive a run; other outputs are removed before it", () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  grow:",
        "    cmd: echo line >> history.txt && (test -e fresh.txt && echo stale-found >> runs.log || true) && echo new > fresh.txt",
        "    deps: [input.txt]",
        "    outs:",
        "      - history.txt:",
        "          persist: true",
        "      - fresh.txt",
        "",
      ].join("\n"),
      "input.txt": "1\n",
    });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFiles(dir, { "input.txt": "2\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    expect(read(dir, "history.txt")).toBe("line\nline\n");
    expect(runs(dir)).toEqual([]);
  });

  it("cache: false outputs are recorded in the lock but not stored in the cache nor gitignored", () => {
    const dir = makeProject({
      "pipe.yaml": ["stages:", "  a:", "    cmd: printf '{\"x\":1}' > m.json", "    metrics:", "      - m.json:", "          cache: false", ""].join("\n"),
    });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    expect(read(dir, "pipe.lock")).toContain("path: m.json");
    expect(treeSnapshotOrEmpty(path.join(dir, ".pipe/cache")).size).toBe(0);
    expect(exists(dir, ".gitignore")).toBe(false);
    // Deleting it makes the stage stale and it is re-run (it cannot be restored).
    rmSync(path.join(dir, "m.json"));
    const r = runPipe(dir, ["repro"]);
    expect(r.stdout).toContain("Running 'a'\n");
  });

  it("--no-commit runs and writes the lock but stores nothing in the cache", () => {
    const dir = makeProjectWithChain();
    const r = runPipe(dir, ["repro", "--no-commit"]);
    expect(r.code).toBe(0);
    expect(read(dir, "pipe.lock")).toContain("b.txt");
    expect(treeSnapshotOrEmpty(path.join(dir, ".pipe/cache")).size).toBe(0);
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
    // Committing later stores the outputs.
    expect(runPipe(dir, ["commit"]).code).toBe(0);
    // a.txt and b.txt hold the same bytes: one object.
    expect(treeSnapshotOrEmpty(path.join(dir, ".pipe/cache")).size).toBe(1);
  });

  it("frozen stages never run unless forced; always_changed stages always run", () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  ice:",
        "    cmd: echo ice >> runs.log && echo ice > ice.txt",
        "    outs: [ice.txt]",
        "    frozen: true",
        "  clock:",
        "    cmd: echo clock >> runs.log && date +%N > clock.txt",
        "    outs: [clock.txt]",
        "    always_changed: true",
        "",
      ].join("\n"),
    });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("'ice' is frozen, not run\n");
    runPipe(dir, ["repro"]);
    expect(runs(dir)).toEqual(["clock", "clock"]);
    clearRuns(dir);
    expect(runPipe(dir, ["repro", "-f", "ice"]).code).toBe(0);
    expect(runs(dir)).toEqual(["ice"]);
  });

  it("runs the command in wdir with PIPE_STAGE and PIPE_ROOT set", () => {
    const dir = makeProject({
      "sub/pipe.yaml": ["stages:", "  env:", "    cmd: echo \"$PIPE_STAGE $PIPE_ROOT\" > env.txt && pwd > pwd.txt", "    wdir: job", "    outs: [env.txt, pwd.txt]", ""].join("\n"),
      "sub/job/.keep": "",
      ".pipe/config.yaml": "",
    });
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(read(dir, "sub/job/env.txt").trim()).toMatch(/^sub(\/pipe\.yaml)?:env /);
    expect(read(dir, "sub/job/env.txt").trim().endsWith(" " + dir)).toBe(true);
    expect(read(dir, "sub/job/pwd.txt").trim().endsWith("/sub/job")).toBe(true);
    expect(read(dir, "sub/.gitignore")).toBe("/job/env.txt\n/job/pwd.txt\n");
  });

  it("-j 2 runs independent stages at once and prefixes their output with the stage name", () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  left:",
        "    cmd: touch left.started && i=0; while [ ! -e right.started ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done; test -e right.started && echo from-left && echo l > l.txt",
        "    outs: [l.txt]",
        "  right:",
        "    cmd: touch right.started && i=0; while [ ! -e left.started ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done; test -e left.started && echo from-right && echo r > r.txt",
        "    outs: [r.txt]",
        "",
      ].join("\n"),
    });
    const r = runPipe(dir, ["repro", "-j", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("[left] from-left\n");
    expect(r.stdout).toContain("[right] from-right\n");
    expect(runPipe(dir, ["repro", "-j", "zero"]).code).toBe(2);
  });

  it("-j 2 overlaps two independent stages (each starts before the other finishes); -j 1 never does", () => {
    // Proof by markers, not by the clock: each stage leaves a start marker, then waits (up to ~20 s) for the other's,
    // and finishes only once it has seen it. Both succeeding means each started before the other finished. A loaded
    // machine only makes the waits longer.
    const stage = (me: string, other: string): string[] => [
      `  ${me}:`,
      `    cmd: touch ${me}.started && i=0; while [ ! -e ${other}.started ] && [ $i -lt 1000 ]; do sleep 0.02; i=$((i+1)); done; test -e ${other}.started || exit 7; echo ${me} > ${me}.txt`,
      `    outs: [${me}.txt]`,
    ];
    const files = { "pipe.yaml": ["stages:", ...stage("x", "y"), ...stage("y", "x"), ""].join("\n") };
    const par = makeProject(files);
    const r = runPipe(par, ["repro", "-j", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(read(par, "x.txt")).toBe("x\n");
    expect(read(par, "y.txt")).toBe("y\n");
    // -j 1: the same markers show that the stages did not overlap (the check can fail). The first stage gives up
    // after a shorter bounded wait (about 1 s) and exits 7; the second never started.
    const seq = makeProject({ "pipe.yaml": files["pipe.yaml"].replaceAll("$i -lt 1000", "$i -lt 50") });
    const s1 = runPipe(seq, ["repro", "-j", "1"]);
    expect(s1.code).toBe(1);
    expect(s1.stderr).toContain("error: 'x' failed with exit code 7");
    expect(exists(seq, "y.started")).toBe(false);
  });

  it("-j 4 respects dependencies and writes the same lock, byte for byte, as -j 1", () => {
    const seq = dvcGraph();
    expect(runPipe(seq, ["repro"]).code).toBe(0);
    const par = dvcGraph();
    const r = runPipe(par, ["repro", "-j", "4"]);
    expect(r.code, r.stderr).toBe(0);
    const order = runs(par);
    expect([...order].sort()).toEqual(["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"]);
    const deps: Record<string, string[]> = { s1: ["s2", "s3"], s2: ["s4", "s5"], s3: ["s6", "s7"], s8: ["s9"] };
    for (const [s, ups] of Object.entries(deps)) for (const u of ups) expect(order.indexOf(u)).toBeLessThan(order.indexOf(s));
    expect(read(par, "pipe.lock")).toBe(read(seq, "pipe.lock"));
    expect(read(par, ".gitignore")).toBe(read(seq, ".gitignore"));
    expect(r.stdout).toMatch(/Summary: 9 ran, 0 restored, 0 up to date, 0 failed/);
    // jobs from .pipe/config.yaml is the default for -j.
    writeFiles(par, { ".pipe/config.yaml": "jobs: 2\n", "in4.txt": "v2\n" });
    const c = runPipe(par, ["repro", "-f", "s4"]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain("[s4] ");
  });

  it("-j 2 -k: a failure does not stop an independent branch already running or still to start", () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  bad:",
        "    cmd: echo bad >> runs.log && echo $$ > bad.pid.tmp && mv bad.pid.tmp bad.pid && exit 4",
        "    outs: [bad.txt]",
        "  after:",
        "    cmd: echo after >> runs.log && cat bad.txt > after.txt",
        "    deps: [bad.txt]",
        "    outs: [after.txt]",
        // 'one' ends only after 'bad' has exited and pipe has reaped it (`kill -0` fails once the zombie is gone), so
        // pipe always learns of the failure before 'one' finishes, however loaded the machine: no sleep to guess.
        "  one:",
        "    cmd: i=0; while { [ ! -e bad.pid ] || kill -0 $(cat bad.pid) 2>/dev/null; } && [ $i -lt 1500 ]; do sleep 0.02; i=$((i+1)); done; echo one >> runs.log && echo 1 > one.txt",
        "    outs: [one.txt]",
        "  two:",
        "    cmd: echo two >> runs.log && cat one.txt > two.txt",
        "    deps: [one.txt]",
        "    outs: [two.txt]",
        "",
      ].join("\n"),
    });
    const r = runPipe(dir, ["repro", "-j", "2", "-k"]);
    expect(r.code).toBe(1);
    expect([...runs(dir)].sort()).toEqual(["bad", "one", "two"]);
    expect(r.stderr).toContain("error: 'bad' failed with exit code 4");
    expect(r.stdout).toContain("'after' not run: upstream 'bad' failed\n");
    expect(r.stdout).toMatch(/Summary: 2 ran, 0 restored, 0 up to date, 1 failed, 1 not run/);
    // Without -k the running stage finishes (and is recorded), but nothing new starts.
    const again = makeProject({ "pipe.yaml": read(dir, "pipe.yaml") });
    const s = runPipe(again, ["repro", "-j", "2"]);
    expect(s.code).toBe(1);
    expect([...runs(again)].sort()).toEqual(["bad", "one"]);
    expect(read(again, "pipe.lock")).toMatch(/^ {2}one:/m);
    expect(read(again, "pipe.lock")).not.toMatch(/^ {2}two:/m);
  });
});

/** DVC's plan_repro graph {1:[2,3], 2:[4,5], 3:[6,7], 8:[9]}: stage -> the stages it depends on. */
function dvcGraph(): string {
  const deps: Record<number, number[]> = { 1: [2, 3], 2: [4, 5], 3: [6, 7], 8: [9] };
  const lines = ["stages:"];
  for (let i = 1; i <= 9; i++) {
    lines.push(`  s${i}:`, `    cmd: echo s${i} >> runs.log && echo ${i} > ${i}.txt`);
    const d = (deps[i] ?? []).map((j) => `${j}.txt`);
    if (i === 4) d.push("in4.txt");
    if (d.length > 0) lines.push(`    deps: [${d.join(", ")}]`);
    lines.push(`    outs: [${i}.txt]`);
  }
  return makeProject({ "pipe.yaml": lines.join("\n") + "\n", "in4.txt": "v1\n" });
}

describe("pipe repro: selection matches DVC's plan_repro", () => {
  it("runs every stage in the order 4,5,2,6,7,3,1,9,8", () => {
    const dir = dvcGraph();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    expect(runs(dir)).toEqual(["s4", "s5", "s2", "s6", "s7", "s3", "s1", "s9", "s8"]);
  });

  it("a target brings its upstream: repro s1 = 4,5,2,6,7,3,1", () => {
    const dir = dvcGraph();
    runPipe(dir, ["repro", "s1"]);
    expect(runs(dir)).toEqual(["s4", "s5", "s2", "s6", "s7", "s3", "s1"]);
  });

  it("-p selects the whole connected component: -p s9 = 9,8 and -p s2 = 4,5,2,6,7,3,1", () => {
    const dir = dvcGraph();
    runPipe(dir, ["repro", "-p", "s9"]);
    expect(runs(dir)).toEqual(["s9", "s8"]);
    clearRuns(dir);
    runPipe(dir, ["repro", "-p", "s2"]);
    expect(runs(dir)).toEqual(["s4", "s5", "s2", "s6", "s7", "s3", "s1"]);
  });

  it("-d selects the targets and their downstream: --dry -d s4 = 4,2,1 and -d s2 s3 = 2,3,1", () => {
    const dir = dvcGraph();
    const d = runPipe(dir, ["repro", "--dry", "-d", "s4"]);
    expect(d.stdout.split("\n").filter((l) => l.startsWith("Would run")).map((l) => /'(s\d)'/.exec(l)![1])).toEqual(["s4", "s2", "s1"]);
    runPipe(dir, ["repro"]);
    clearRuns(dir);
    runPipe(dir, ["repro", "-f", "-d", "s2", "s3"]);
    expect(runs(dir)).toEqual(["s2", "s3", "s1"]);
  });

  it("-s runs only the target", () => {
    const dir = dvcGraph();
    runPipe(dir, ["repro"]);
    clearRuns(dir);
    runPipe(dir, ["repro", "-f", "-s", "s2"]);
    expect(runs(dir)).toEqual(["s2"]);
  });

  it("--force-downstream: a change in 4's input re-runs 4, and with the flag 2 and 1 as well", () => {
    const dir = dvcGraph();
    runPipe(dir, ["repro"]);
    clearRuns(dir);
    writeFiles(dir, { "in4.txt": "v2\n" });
    runPipe(dir, ["repro"]);
    expect(runs(dir)).toEqual(["s4"]);
    clearRuns(dir);
    writeFiles(dir, { "in4.txt": "v3\n" });
    runPipe(dir, ["repro", "--force-downstream"]);
    expect(runs(dir)).toEqual(["s4", "s2", "s1"]);
  });

  it("an unknown target is a usage error", () => {
    const dir = dvcGraph();
    const r = runPipe(dir, ["repro", "s10"]);
    expect(r.code).toBe(2);
    expect(runs(dir)).toEqual([]);
  });
});

describe("pipe repro: DVC projects", () => {
  it("a DVC project with a valid dvc.lock runs nothing on the first pipe repro and writes pipe.lock", () => {
    const md5 = (s: string): string => createHash("md5").update(s).digest("hex");
    const dir = makeProject({
      "dvc.yaml": ["stages:", "  prepare:", "    cmd: echo prepare >> runs.log && cp raw.txt clean.txt", "    deps: [raw.txt]", "    outs: [clean.txt]", ""].join("\n"),
      "raw.txt": "hello\n",
      "clean.txt": "hello\n",
      "dvc.lock": [
        "schema: '2.0'",
        "stages:",
        "  prepare:",
        "    cmd: echo prepare >> runs.log && cp raw.txt clean.txt",
        "    deps:",
        "    - path: raw.txt",
        "      hash: md5",
        `      md5: ${md5("hello\n")}`,
        "      size: 6",
        "    outs:",
        "    - path: clean.txt",
        "      hash: md5",
        `      md5: ${md5("hello\n")}`,
        "      size: 6",
        "",
      ].join("\n"),
    });
    mkdirSync(path.join(dir, ".dvc"));
    const dvcLock = read(dir, "dvc.lock");
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(runs(dir)).toEqual([]);
    expect(r.stdout).toContain("'prepare' is up to date\n");
    expect(read(dir, "pipe.lock")).toContain("xxh64:");
    expect(read(dir, "dvc.lock")).toBe(dvcLock);
    const again = runPipe(dir, ["repro"]);
    expect(again.stdout).toContain("Pipeline is up to date.");
    expect(runs(dir)).toEqual([]);
  });
});

describe.runIf(hasCorpus())("pipe repro: the DVC 3 vectors project of the corpus", () => {
  it("runs nothing on the first repro (dvc.lock is valid), writes pipe.lock with xxh64 and caches the outputs", () => {
    const dir = makeProject();
    cpSync(path.join(CORPUS, "dvc-vectors/project"), dir, { recursive: true });
    mkdirSync(path.join(dir, ".dvc"), { recursive: true });
    const dvcLock = read(dir, "dvc.lock");
    const prepared = read(dir, "data/prepared.csv");
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("'prepare' is up to date\n");
    expect(r.stdout).not.toContain("Running");
    expect(read(dir, "dvc.lock")).toBe(dvcLock);
    expect(read(dir, "data/prepared.csv")).toBe(prepared);
    const lock = read(dir, "pipe.lock");
    expect(lock).toMatch(/path: data\/raw\n\s+hash: xxh64\n\s+xxh64: [0-9a-f]{16}\.dir\n\s+size: 33\n\s+nfiles: 3/);
    expect(lock).toContain("prepare.seed: 42");
    expect(lock).not.toContain("md5");
    expect(read(dir, ".gitignore")).toBe("/data/prepared.csv\n");
    // Now pipe.lock rules: a second run and status agree that nothing is stale.
    expect(runPipe(dir, ["repro"]).stdout).toContain("Pipeline is up to date.");
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
    // The output went into the cache: deleting it restores it without running (the command would need python).
    rmSync(path.join(dir, "data/prepared.csv"));
    const back = runPipe(dir, ["repro"]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain("Restored 'prepare' from cache\n");
    expect(read(dir, "data/prepared.csv")).toBe(prepared);
  });
});

describe.runIf(hasCorpus())("pipe repro: a DVC project converted one stage at a time", () => {
  it("keeps dvc.lock entries of stages not yet run, and records them with xxh64 (outputs cached) once found fresh", () => {
    const dir = makeProject();
    cpSync(path.join(CORPUS, "dvc-vectors/project"), dir, { recursive: true });
    mkdirSync(path.join(dir, ".dvc"), { recursive: true });
    writeFiles(dir, { "dvc.yaml": read(dir, "dvc.yaml") + "  other:\n    cmd: echo other > other.txt\n    outs: [other.txt]\n" });
    expect(runPipe(dir, ["repro", "other"]).code).toBe(0);
    // pipe.lock now exists: prepare's DVC entry was carried into it, so prepare is still fresh.
    expect(read(dir, "pipe.lock")).toMatch(/ {2}prepare:\n[^]*hash: md5/);
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("Running");
    expect(read(dir, "pipe.lock")).not.toContain("md5");
    rmSync(path.join(dir, "data/prepared.csv"));
    expect(runPipe(dir, ["repro"]).stdout).toContain("Restored 'prepare' from cache\n");
  });
});

describe("pipe repro: external and outside-the-root paths", () => {
  it("URL deps and outs are neither hashed nor cached, with one warning; a dep outside the root is tracked, never written", () => {
    const shared = makeProject({ "shared.csv": "v1\n" });
    const sharedCsv = path.join(shared, "shared.csv");
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  a:",
        "    cmd: echo a >> runs.log && echo a > a.txt",
        "    deps: [https://example.com/data.csv]",
        "    outs: [a.txt, s3://bucket/model.bin]",
        "  b:",
        `    cmd: echo b >> runs.log && cat a.txt ${sharedCsv} > b.txt`,
        `    deps: [a.txt, https://example.com/data.csv, ${sharedCsv}]`,
        "    outs: [b.txt]",
        "",
      ].join("\n"),
    });
    const sharedTree = fullTree(shared);
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(runs(dir)).toEqual(["a", "b"]);
    expect(r.stderr.match(/warning: external dependencies and outputs are not checked or cached/g)).toHaveLength(1);
    expect(r.stderr).toContain("https://example.com/data.csv, s3://bucket/model.bin");
    const lock = read(dir, "pipe.lock");
    expect(lock).toMatch(/- path: https:\/\/example\.com\/data\.csv\n/);
    expect(lock).toMatch(/- path: s3:\/\/bucket\/model\.bin\n/);
    expect(lock).toContain(`- path: ${sharedCsv}\n      hash: xxh64\n`);
    expect(read(dir, ".gitignore")).toBe("/a.txt\n/b.txt\n");
    // A change to the outside dep re-runs only its stage; the outside directory is never written.
    clearRuns(dir);
    writeFiles(shared, { "shared.csv": "v2\n" });
    const sharedTree2 = fullTree(shared);
    expect(sharedTree2).not.toBe(sharedTree);
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    expect(runs(dir)).toEqual(["b"]);
    expect(read(dir, "b.txt")).toBe("a\nv2\n");
    expect(fullTree(shared)).toBe(sharedTree2);
  });
});

describe("pipe repro: concurrency and interrupts", () => {
  function slow(): string {
    return makeProject({
      "pipe.yaml": [
        "stages:",
        "  fast:",
        "    cmd: echo fast > fast.txt",
        "    outs: [fast.txt]",
        "  slow:",
        // The pid file appears whole (renamed into place) once the stage's shell runs: that, not a word in the
        // output (repro echoes the command line, which holds every word of it), says the stage has started.
        "    cmd: echo $$ > slow.pid.tmp && mv slow.pid.tmp slow.pid && sleep 30 && echo done > slow.txt",
        "    deps: [fast.txt]",
        "    outs: [slow.txt]",
        "",
      ].join("\n"),
    });
  }

  /** Starts `pipe repro` in the background and resolves once the slow stage has started. */
  function startSlow(dir: string) {
    const child = spawn(process.execPath, [PIPE_BIN, "repro"], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    const started = new Promise<void>((res, rej) => {
      const t = setInterval(() => {
        if (existsSync(path.join(dir, "slow.pid"))) {
          clearInterval(t);
          res();
        }
      }, 20);
      void exited.then(() => {
        clearInterval(t);
        rej(new Error(`repro exited early: ${out} ${err}`));
      });
    });
    return { child, started, exited, out: () => out, err: () => err };
  }

  it("the project lock of a pipe killed with SIGKILL is taken over by the next repro", async () => {
    const dir = slow();
    const first = startSlow(dir);
    await first.started;
    const stagePid = Number(read(dir, "slow.pid").trim());
    first.child.kill("SIGKILL");
    await first.exited;
    // The orphaned stage is the test's to clean up (its process group is its own).
    try {
      process.kill(-stagePid, "SIGKILL");
    } catch {
      process.kill(stagePid, "SIGKILL");
    }
    expect(existsSync(path.join(dir, ".pipe/tmp/write.lock"))).toBe(true);
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("sleep 30", "true") });
    const next = runPipe(dir, ["repro"]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain("'fast' is up to date\n");
    expect(next.stdout).toContain("Running 'slow'\n");
    expect(existsSync(path.join(dir, ".pipe/tmp/write.lock"))).toBe(false);
  });

  it("a second writer fails naming the holder; Ctrl-C stops the first with 130, kills its stage, records only what finished", async () => {
    const dir = slow();
    const first = startSlow(dir);
    await first.started;
    const second = runPipe(dir, ["repro"]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`another pipe process is writing this project: pipe repro \\(pid ${first.child.pid} on .+, started \\d{4}-`));
    const stagePid = Number(read(dir, "slow.pid").trim());
    expect(processAlive(stagePid)).toBe(true);
    first.child.kill("SIGINT");
    const code = await first.exited;
    expect(code).toBe(130);
    expect(first.err()).toContain("Interrupted");
    // Killed before pipe exited; reaping the orphan is the system's business, so wait for it (no fixed delay).
    await waitFor(() => !processAlive(stagePid));
    expect(processAlive(stagePid)).toBe(false);
    const lock = read(dir, "pipe.lock");
    expect(lock).toMatch(/^ {2}fast:/m);
    expect(lock).not.toMatch(/^ {2}slow:/m);
    expect(existsSync(path.join(dir, ".pipe/tmp/write.lock"))).toBe(false);
    // The next run takes the lock and runs only the unfinished stage.
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("sleep 30", "true") });
    const next = runPipe(dir, ["repro"]);
    expect(next.code).toBe(0);
    expect(next.stdout).toContain("'fast' is up to date\n");
    expect(next.stdout).toContain("Running 'slow'\n");
  });
});

describe("pipe repro: SIGTERM with stages running in parallel", () => {
  it("kills every running stage's process group (background children too), records none of them, exits 130", async () => {
    const stage = (n: string): string[] => [
      `  ${n}:`,
      `    cmd: (sleep 30; echo late > ${n}.late) & echo $! > ${n}.bg && echo $$ > ${n}.pid && sleep 30 && echo ${n} > ${n}.txt`,
      `    outs: [${n}.txt]`,
    ];
    const dir = makeProject({ "pipe.yaml": ["stages:", ...stage("p"), ...stage("q"), "  r:", "    cmd: echo r > r.txt", "    outs: [r.txt]", ""].join("\n") });
    const child = spawn(process.execPath, [PIPE_BIN, "repro", "-j", "2"], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    // A file written with `>` exists (empty) before its content does: wait for whole lines, not for the names.
    const pidFiles = ["p.pid", "q.pid", "p.bg", "q.bg"];
    await waitFor(() => pidFiles.every((f) => exists(dir, f) && read(dir, f).endsWith("\n")));
    const pids = pidFiles.map((f) => Number(read(dir, f).trim()));
    for (const pid of pids) expect(processAlive(pid)).toBe(true);
    child.kill("SIGTERM");
    expect(await exited).toBe(130);
    await waitFor(() => pids.every((pid) => !processAlive(pid)));
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    // Neither stage is recorded, and r (which would have started next) never ran.
    expect(exists(dir, "pipe.lock")).toBe(false);
    expect(exists(dir, "r.txt")).toBe(false);
    expect(out).not.toContain("Running 'r'");
    expect(existsSync(path.join(dir, ".pipe/tmp/write.lock"))).toBe(false);
  });
});

describe("pipe repro: a cache object is never reused unchecked", () => {
  const oneStage = (config: string): string =>
    makeProject({ ".pipe/config.yaml": config, "pipe.yaml": "stages:\n  a:\n    cmd: echo 1 > x.txt\n    outs: [x.txt]\n" });

  for (const type of ["hardlink", "symlink"] as const) {
    it(`${type}: a hand edit through the link is saved, the object it damaged is replaced, the output is right again`, () => {
      const dir = oneStage(`cache:\n  type: ${type}\n`);
      expect(runPipe(dir, ["repro"]).code).toBe(0);
      const id = lockedId(dir, "x.txt");
      const obj = objectPath(dir, id);
      // What a user does to edit a read-only output (chmod follows a symlink): the edit lands in the cache object.
      chmodSync(path.join(dir, "x.txt"), 0o644);
      appendFileSync(path.join(dir, "x.txt"), "hand edit\n");
      expect(readFileSync(obj, "utf8")).toBe("1\nhand edit\n");
      const r = runPipe(dir, ["repro"]);
      expect(r.code, r.stderr).toBe(0);
      expect(read(dir, "x.txt")).toBe("1\n");
      expect(readFileSync(obj, "utf8")).toBe("1\n");
      expect(statSync(obj).mode & 0o222).toBe(0);
      expect(r.stderr).toContain(`warning: cache object ${id} of 'x.txt' (stage 'a') no longer matched its name`);
      // The hand edit was saved before the re-run, under its own id.
      const saved = /'x\.txt' was changed since 'a' last ran; that content was saved in the cache as ([0-9a-f]{16})/.exec(r.stderr)?.[1];
      expect(saved).toBeDefined();
      expect(readFileSync(objectPath(dir, saved!), "utf8")).toBe("1\nhand edit\n");
      expect(lockedId(dir, "x.txt")).toBe(id);
      expect(runPipe(dir, ["status", "--quiet"]).code).toBe(0);
      // And stable: the next run has nothing to do.
      expect(runPipe(dir, ["repro"]).stdout).toBe("'a' is up to date\nPipeline is up to date.\n");
    });
  }

  it("copy: an object damaged in the cache (same size, or not) is replaced when the stage produces its bytes again", () => {
    const dir = oneStage("");
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const id = lockedId(dir, "x.txt");
    const obj = objectPath(dir, id);
    for (const damage of ["2\n", "longer damage\n"]) {
      chmodSync(obj, 0o644);
      writeFileSync(obj, damage);
      const r = runPipe(dir, ["repro", "-f"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`warning: cache object ${id} of 'x.txt' (stage 'a') no longer matched its name`);
      // The lock names the object, and the object holds the bytes the name says.
      expect(lockedId(dir, "x.txt")).toBe(id);
      expect(readFileSync(obj, "utf8")).toBe("1\n");
    }
    rmSync(path.join(dir, "x.txt"));
    expect(runPipe(dir, ["checkout"]).code).toBe(0);
    expect(read(dir, "x.txt")).toBe("1\n");
  });
});

describe("pipe repro: what sits where an output goes is never lost", () => {
  it("a file or directory already there before the stage first ran is saved in the cache (a directory with its manifest)", () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  a:\n    cmd: echo new > x.txt && mkdir d && echo n > d/n.txt\n    outs: [x.txt, d]\n",
      "x.txt": "precious\n",
      "d/o.txt": "old\n",
    });
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(read(dir, "x.txt")).toBe("new\n");
    const file = /'x\.txt' was already there and 'a' has no record of producing it; that content was saved in the cache as ([0-9a-f]{16}) before the run/.exec(r.stderr)?.[1];
    expect(file).toBeDefined();
    expect(readFileSync(objectPath(dir, file!), "utf8")).toBe("precious\n");
    const manifest = /'d' was already there and 'a' has no record of producing it; that content was saved in the cache as ([0-9a-f]{16}\.dir) before the run/.exec(r.stderr)?.[1];
    expect(manifest).toBeDefined();
    const entries = JSON.parse(readFileSync(objectPath(dir, manifest!), "utf8")) as { relpath: string; hash: string }[];
    expect(entries.map((e) => e.relpath)).toEqual(["o.txt"]);
    expect(readFileSync(objectPath(dir, entries[0]!.hash), "utf8")).toBe("old\n");
    // Outputs that are what the lock records are not saved again (the stage produces them), so a forced run is quiet.
    const again = runPipe(dir, ["repro", "-f"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe("");
  });

  it("a file where a newly declared output goes is saved too (the stage has a lock entry, but not for that path)", () => {
    const dir = makeProject({ "pipe.yaml": "stages:\n  a:\n    cmd: echo 1 > x.txt\n    outs: [x.txt]\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFiles(dir, { "y.txt": "mine\n", "pipe.yaml": "stages:\n  a:\n    cmd: echo 1 > x.txt && echo 2 > y.txt\n    outs: [x.txt, y.txt]\n" });
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    const id = /^warning: 'y\.txt' was already there and 'a' has no record of producing it; that content was saved in the cache as ([0-9a-f]{16}) before the run$/.exec(lines[0]!)?.[1];
    expect(id).toBeDefined();
    expect(readFileSync(objectPath(dir, id!), "utf8")).toBe("mine\n");
    expect(read(dir, "y.txt")).toBe("2\n");
  });
});

describe("pipe repro: outputs a run would destroy are refused before anything runs", () => {
  it("'.git', a stages file and a lock file as outputs: exit 2, located, the repository and the tree untouched", () => {
    const dir = makeProject({ "f.txt": "tracked\n" });
    gitInit(dir);
    execFileSync("git", ["add", "f.txt"], { cwd: dir });
    execFileSync("git", ["commit", "-q", "-m", "init"], { cwd: dir });
    const before = treeSnapshot(dir);
    for (const out of [".git", "pipe.yaml", "pipe.lock", ".git/hooks"]) {
      writeFiles(dir, { "pipe.yaml": `stages:\n  a:\n    cmd: echo > f.txt\n    outs: [${out}]\n` });
      const snap = treeSnapshot(dir);
      const r = runPipe(dir, ["repro"]);
      expect(r.code, out).toBe(2);
      expect(r.stderr, out).toMatch(new RegExp(`^pipe\\.yaml:4:12: error: output '${out.replace(".", "\\.")}' (is|lies)`));
      expect(r.stdout).toBe("");
      expect(treeSnapshot(dir)).toEqual(snap);
    }
    writeFiles(dir, { "pipe.yaml": "" });
    expect(execFileSync("git", ["log", "--format=%s"], { cwd: dir, encoding: "utf8" })).toBe("init\n");
    expect(read(dir, "f.txt")).toBe("tracked\n");
    expect(exists(dir, ".pipe")).toBe(false);
    expect(treeSnapshot(dir).get(".git/HEAD")).toBe(before.get(".git/HEAD"));
  });
});

describe("pipe repro: what cannot be saved is not deleted", () => {
  it("something where an output goes that cannot be stored (a FIFO) fails the stage, and stays", () => {
    const dir = makeProject({ "pipe.yaml": "stages:\n  a:\n    cmd: echo 1 > x.txt\n    outs: [x.txt]\n" });
    execFileSync("mkfifo", [path.join(dir, "x.txt")]);
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: stage 'a': cannot save 'x.txt' before the run deletes it: ");
    expect(lstatSync(path.join(dir, "x.txt")).isFIFO()).toBe(true);
    expect(exists(dir, "pipe.lock")).toBe(false);
  });
});

describe("pipe repro: frozen stages and their outputs", () => {
  const frozenChain = (): string =>
    makeProject({
      "pipe.yaml": [
        "stages:",
        "  ice:",
        "    cmd: echo ice >> runs.log && echo ice > ice.txt",
        "    outs: [ice.txt]",
        "  down:",
        "    cmd: echo down >> runs.log && cat ice.txt > down.txt",
        "    deps: [ice.txt]",
        "    outs: [down.txt]",
        "",
      ].join("\n"),
    });
  const freeze = (dir: string): void => writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("    outs: [ice.txt]\n", "    outs: [ice.txt]\n    frozen: true\n") });

  it("a deleted output of a frozen stage is checked out from the cache (never by running the stage); the stage below is up to date", () => {
    const dir = frozenChain();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    freeze(dir);
    rmSync(path.join(dir, "ice.txt"));
    clearRuns(dir);
    expect(runPipe(dir, ["repro", "--dry"]).stdout).toBe(
      "Would restore 'ice' from cache\n'down' is up to date\nDry run: 0 would run, 1 would be restored, 1 up to date; nothing was changed.\n",
    );
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("Restored 'ice' from cache\n'down' is up to date\nSummary: 0 ran, 1 restored, 1 up to date, 0 failed (" + /\((.*)\)\n$/.exec(r.stdout)![1] + ")\n");
    expect(runs(dir)).toEqual([]);
    expect(read(dir, "ice.txt")).toBe("ice\n");
  });

  it("when the cache cannot restore it, a warning says so and the stage below fails naming the frozen producer", () => {
    const dir = frozenChain();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    freeze(dir);
    rmSync(path.join(dir, "ice.txt"));
    rmSync(path.join(dir, ".pipe/cache"), { recursive: true, force: true });
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("cat ice.txt > down.txt", "cat ice.txt > down.txt && echo v2 >> down.txt") });
    clearRuns(dir);
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(runs(dir)).toEqual([]);
    expect(r.stdout).toContain("'ice' is frozen, not run\n");
    expect(r.stderr).toContain("warning: frozen stage 'ice': 'ice.txt' is missing and cannot be restored from the cache; 'pipe repro -f ice' runs it\n");
    expect(r.stderr).toMatch(/error: stage 'down': dependency 'ice\.txt' does not exist \(its producing stage 'ice' is frozen, so it is not run to create it; 'pipe repro -f ice' does\)/);
    // The frozen stage runs when named with -f, and then everything is in order.
    expect(runPipe(dir, ["repro", "-f", "ice"]).code).toBe(0);
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    expect(read(dir, "down.txt")).toBe("ice\nv2\n");
  });
});

describe("pipe repro: the project root", () => {
  it("in git, with no .pipe/ yet, a subdirectory's stages file belongs to the outermost project: no split", () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  top:\n    cmd: echo top > top.txt\n    outs: [top.txt]\n",
      "sub/pipe.yaml": "stages:\n  inner:\n    cmd: echo inner > inner.txt\n    outs: [inner.txt]\n",
    });
    gitInit(dir);
    const sub = path.join(dir, "sub");
    const list = runPipe(sub, ["stage", "list"]);
    expect(list.code, list.stderr).toBe(0);
    // Addresses as DVC shows them from `sub/`: relative to the working directory.
    expect(list.stdout).toBe("../pipe.yaml:top  Outputs top.txt\ninner             Outputs inner.txt\n");
    const r = runPipe(sub, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    // .pipe/ is created implicitly, at the top, and said so once.
    expect(r.stderr).toBe(`note: initialised .pipe/ in ${dir}\n`);
    expect(exists(dir, ".pipe/.gitignore")).toBe(true);
    expect(exists(dir, "sub/.pipe")).toBe(false);
    expect(read(dir, "top.txt")).toBe("top\n");
    expect(read(dir, "sub/inner.txt")).toBe("inner\n");
    const again = runPipe(sub, ["repro"]);
    expect(again.stderr).toBe("");
    expect(again.stdout).toBe("'../pipe.yaml:top' is up to date\n'inner' is up to date\nPipeline is up to date.\n");
  });

  for (const [rules, file] of [["sub/\n", ".pipeignore"], ["/sub/\n", ".gitignore"]] as const) {
    it(`a subdirectory the outer project's ${file} leaves out is a project of its own`, () => {
      const dir = makeProject({
        "pipe.yaml": "stages:\n  top:\n    cmd: echo top > top.txt\n    outs: [top.txt]\n",
        "sub/pipe.yaml": "stages:\n  inner:\n    cmd: echo inner > inner.txt\n    outs: [inner.txt]\n",
        [file]: rules,
      });
      gitInit(dir);
      const sub = path.join(dir, "sub");
      // From the top, sub is not part of the project; from sub, sub is the project.
      expect(runPipe(dir, ["stage", "list"]).stdout).toBe("top  Outputs top.txt\n");
      expect(runPipe(sub, ["stage", "list"]).stdout).toBe("inner  Outputs inner.txt\n");
      const r = runPipe(sub, ["repro"]);
      expect(r.stderr).toBe(`note: initialised .pipe/ in ${sub}\n`);
      expect(exists(dir, "top.txt")).toBe(false);
    });
  }
});

/** The object id the lock records for an output of the root's stages file. */
function lockedId(dir: string, out: string): string {
  const m = new RegExp(`path: ${out.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\n\\s+hash: xxh64\\n\\s+xxh64: ([0-9a-f]{16}(?:\\.dir)?)`).exec(read(dir, "pipe.lock"));
  if (!m) throw new Error(`no lock entry for ${out}`);
  return m[1]!;
}

function objectPath(dir: string, id: string): string {
  return path.join(dir, ".pipe/cache", id.slice(0, 2), id.slice(2));
}

/** Polls until `cond` holds; throws after a generous deadline (a wait for an event, never a timing assertion). */
async function waitFor(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function treeSnapshotOrEmpty(dir: string): Map<string, string> {
  return existsSync(dir) ? treeSnapshot(dir) : new Map();
}

/**
 * One hash over everything under `dir`: every entry's path, type, mode, modification time, size, and a file's bytes
 * or a symlink's target. Directories count too, so an empty directory or a temp file created and removed shows.
 */
function fullTree(dir: string): string {
  const h = createHash("sha256");
  if (!existsSync(dir)) return "absent";
  const walk = (d: string): void => {
    const st = lstatSync(d);
    h.update(`${path.relative(dir, d)}\0${st.mode}\0${st.mtimeMs}\0`);
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const s = lstatSync(p);
      if (s.isDirectory()) walk(p);
      else {
        h.update(`${path.relative(dir, p)}\0${s.mode}\0${s.mtimeMs}\0${s.size}\0`);
        h.update(s.isSymbolicLink() ? readlinkSync(p) : readFileSync(p));
      }
    }
  };
  walk(dir);
  return h.digest("hex");
}
