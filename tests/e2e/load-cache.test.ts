/**
 * The load cache (`.pipe/tmp/load-cache`) seen from the command line. Files are back-dated before each run that
 * should write the cache, because a file modified within the last 2 s is never trusted (racy timestamps).
 *
 * That a run is answered from the cache is observed two ways, with no debug hook: the cache file is not rewritten by
 * a run (a miss on a valid project rewrites it, a hit never does), and a value planted in the cache's payload shows
 * up in the output until a change to the project invalidates it.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { backdate, exists, makeProject, read, runPipe, runPipeIn, treeSnapshot, type RunResult, writeFiles } from "../helpers/project.js";

const CACHE = ".pipe/tmp/load-cache";

async function mlProject(): Promise<string> {
  const dir = makeProject({
    "pipe.yaml": `vars:
  - config/vars.yaml
stages:
  prepare:
    cmd: cp data.txt prepared.txt
    deps:
      - data.txt
    outs:
      - prepared.txt
  train:
    cmd: cat prepared.txt > model.txt && echo lr=\${lr} seed=\${seed} >> model.txt
    deps:
      - prepared.txt
    outs:
      - model.txt:
          checkpoint: true
`,
    // Loses to pipe.yaml, with a warning that must be replayed on a cache hit.
    "dvc.yaml": "stages:\n  ignored:\n    cmd: echo\n",
    "params.yaml": "lr: 0.1\n",
    "config/vars.yaml": "seed: 7\n",
    "data.txt": "data\n",
  });
  expect((await runPipeIn(dir, ["init"])).code).toBe(0);
  return dir;
}

function cacheIno(dir: string): bigint {
  return statSync(path.join(dir, CACHE), { bigint: true }).ino;
}

/** Runs `pipe stage list --json` and returns the cmd of every stage by address. */
async function cmds(dir: string): Promise<Record<string, string>> {
  const r = await runPipeIn(dir, ["stage", "list", "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return Object.fromEntries((JSON.parse(r.stdout) as { address: string; cmd: string }[]).map((s) => [s.address, s.cmd]));
}

/** Writes the cache (back-dating first), then plants a different command for `prepare` in it and checks it shows. */
async function primeAndPlant(dir: string): Promise<void> {
  backdate(dir);
  rmSync(path.join(dir, CACHE), { force: true });
  expect((await cmds(dir))["prepare"]).toBe("cp data.txt prepared.txt");
  const text = read(dir, CACHE);
  expect(text).toContain('"cmd":"cp data.txt prepared.txt"');
  writeFileSync(path.join(dir, CACHE), text.replace('"cmd":"cp data.txt prepared.txt"', '"cmd":"planted"'));
  expect((await cmds(dir))["prepare"]).toBe("planted");
}

describe("load cache", () => {
  it("a second run reads the cache; an edit of pipe.yaml, params.yaml or a vars file, or a new stages file, invalidates it", async () => {
    const dir = await mlProject();
    await primeAndPlant(dir);
    // Still planted: nothing changed.
    expect((await cmds(dir))["prepare"]).toBe("planted");

    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("echo lr=", "echo LR=") });
    expect(await cmds(dir)).toEqual({ prepare: "cp data.txt prepared.txt", train: "cat prepared.txt > model.txt && echo LR=0.1 seed=7 >> model.txt" });

    await primeAndPlant(dir);
    writeFiles(dir, { "params.yaml": "lr: 0.2\n" });
    expect(await cmds(dir)).toEqual({ prepare: "cp data.txt prepared.txt", train: "cat prepared.txt > model.txt && echo LR=0.2 seed=7 >> model.txt" });

    await primeAndPlant(dir);
    writeFiles(dir, { "config/vars.yaml": "seed: 8\n" });
    expect(await cmds(dir)).toEqual({ prepare: "cp data.txt prepared.txt", train: "cat prepared.txt > model.txt && echo LR=0.2 seed=8 >> model.txt" });

    await primeAndPlant(dir);
    writeFiles(dir, { "sub/dvc.yaml": "stages:\n  more:\n    cmd: echo more\n" });
    expect(await cmds(dir)).toEqual({
      prepare: "cp data.txt prepared.txt",
      train: "cat prepared.txt > model.txt && echo LR=0.2 seed=8 >> model.txt",
      "sub/dvc.yaml:more": "echo more",
    });
  });

  it("status, dag and stage list print the same bytes from the cache as from the files", async () => {
    const dir = await mlProject();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFiles(dir, { "params.yaml": "lr: 0.3\n" });
    backdate(dir);
    const commands = [["status"], ["status", "--json"], ["status", "-v"], ["dag"], ["dag", "--json"], ["dag", "--status"], ["stage", "list"], ["stage", "list", "--json"]];
    const uncached = (args: string[]): Promise<RunResult> => {
      rmSync(path.join(dir, CACHE), { force: true });
      return runPipeIn(dir, args);
    };
    for (const args of commands) {
      const fresh = await uncached(args);
      expect(fresh.stderr).toContain("using pipe.yaml, ignoring dvc.yaml");
      expect(fresh.stderr).toContain("checkpoint");
      const ino = cacheIno(dir);
      const cached = await runPipeIn(dir, args);
      // Not rewritten: answered from the cache.
      expect(cacheIno(dir), args.join(" ")).toBe(ino);
      expect(cached, args.join(" ")).toEqual(fresh);
    }
    // The same run without any cache file, for the record: also identical.
    expect(await uncached(["status", "--json"])).toEqual(await runPipeIn(dir, ["status", "--json"]));
  });

  it("an error found after loading quotes its source line from the cache exactly as from the file", async () => {
    const dir = makeProject({ "pipe.yaml": "stages:\n  a:\n    cmd: cat missing.txt > a.txt\n    deps:\n      - missing.txt\n    outs:\n      - a.txt\n" });
    expect((await runPipeIn(dir, ["init"])).code).toBe(0);
    backdate(dir);
    const fresh = runPipe(dir, ["repro"]);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toContain("pipe.yaml:5:9: error: stage 'a': dependency 'missing.txt' does not exist and no stage produces it\n  |\n5 |       - missing.txt\n  |         ^^^^^^^^^^^\n");
    const ino = cacheIno(dir);
    const cached = runPipe(dir, ["repro"]);
    expect(cacheIno(dir)).toBe(ino);
    expect(cached).toEqual(fresh);
  });

  it("is not written while the files it would be keyed on are fresh", async () => {
    const dir = await mlProject();
    expect((await runPipeIn(dir, ["status"])).code).toBe(0);
    expect(exists(dir, CACHE)).toBe(false);
    backdate(dir);
    expect((await runPipeIn(dir, ["status"])).code).toBe(0);
    expect(exists(dir, CACHE)).toBe(true);
  });

  it("is never written in a project without .pipe/, nor for an invalid project", async () => {
    const plain = makeProject({ "pipe.yaml": "stages:\n  a:\n    cmd: echo a\n" });
    backdate(plain);
    expect((await runPipeIn(plain, ["status"])).code).toBe(0);
    expect(exists(plain, ".pipe")).toBe(false);

    const bad = await mlProject();
    writeFiles(bad, { "pipe.yaml": read(bad, "pipe.yaml").replace("    deps:\n      - data.txt", "    deps:\n      - prepared.txt") });
    backdate(bad);
    const before = treeSnapshot(bad);
    const r = await runPipeIn(bad, ["stage", "list"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^pipe\.yaml:\d+:\d+: error: /);
    expect(treeSnapshot(bad)).toEqual(before);
  });

  it("repro --dry does not write it", async () => {
    const dir = await mlProject();
    backdate(dir);
    const before = treeSnapshot(dir);
    expect(runPipe(dir, ["repro", "--dry"]).code).toBe(0);
    expect(treeSnapshot(dir)).toEqual(before);
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    expect(exists(dir, CACHE)).toBe(true);
  });

  it("a damaged cache file is a miss, and the next run replaces it", async () => {
    const dir = await mlProject();
    backdate(dir);
    const expected = await runPipeIn(dir, ["stage", "list", "--json"]);
    writeFileSync(path.join(dir, CACHE), readFileSync(path.join(dir, CACHE), "utf8").slice(0, 1000));
    expect(await runPipeIn(dir, ["stage", "list", "--json"])).toEqual(expected);
    expect(read(dir, CACHE).length).toBeGreaterThan(1000);
  });
});
