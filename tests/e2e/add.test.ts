/**
 * `pipe add`, `.dvc` files as data sources, `pipe remove`: the built CLI in real git repositories.
 */
import { readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { exists, git, gitCommitAll, gitInit, makeProject, read, runPipe, treeSnapshot, writeFiles } from "../helpers/project.js";

function repo(files: Record<string, string> = {}): string {
  const dir = makeProject({ ".pipe/config.yaml": "", ...files });
  gitInit(dir);
  return dir;
}

/** Every cache object's id (`<2 hex><rest>`). */
function cacheIds(dir: string): string[] {
  const cache = path.join(dir, ".pipe/cache");
  if (!exists(dir, ".pipe/cache")) return [];
  const ids: string[] = [];
  for (const shard of readdirSync(cache)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const rest of readdirSync(path.join(cache, shard))) ids.push(shard + rest);
  }
  return ids.sort();
}

/** The project's files, without git's and the rebuildable scratch directory's. */
function snapshot(dir: string): Map<string, string> {
  const all = treeSnapshot(dir);
  for (const k of [...all.keys()]) if (k.startsWith(".git/") || k.startsWith(".pipe/tmp/")) all.delete(k);
  return all;
}



describe("pipe add", () => {
  it("tracks a file: caches it, writes PATH.dvc in DVC 3's layout with xxh64, ignores it in git", () => {
    const dir = repo({ "data/data.xml": "<xml/>\n" });
    const r = runPipe(dir, ["add", "data/data.xml"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("Added 'data/data.xml'\n\nTo track the changes with git, run:\n\n\tgit add data/.gitignore data/data.xml.dvc\n");
    const dvc = read(dir, "data/data.xml.dvc");
    const m = /^outs:\n- xxh64: ([0-9a-f]{16})\n {2}size: 7\n {2}hash: xxh64\n {2}path: data\.xml\n$/.exec(dvc);
    expect(m, dvc).not.toBeNull();
    expect(read(dir, "data/.gitignore")).toBe("/data.xml\n");
    expect(cacheIds(dir)).toEqual([m![1]]);
    // git sees the record, not the data.
    expect(git(dir, ["status", "--porcelain", "--untracked-files=all", "data"]).split("\n").filter(Boolean).sort()).toEqual(["?? data/.gitignore", "?? data/data.xml.dvc"]);
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  });

  it("tracks a 1,000-file directory, and adding again after a change updates the record", () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) files[`images/${String(i).padStart(4, "0")}.txt`] = `image ${i}\n`;
    const dir = repo(files);
    expect(runPipe(dir, ["add", "images"]).code).toBe(0);
    const first = read(dir, "images.dvc");
    const m = /^outs:\n- xxh64: ([0-9a-f]{16}\.dir)\n {2}size: (\d+)\n {2}nfiles: 1000\n {2}hash: xxh64\n {2}path: images\n$/.exec(first);
    expect(m, first).not.toBeNull();
    // 1,000 distinct files and the manifest.
    expect(cacheIds(dir)).toHaveLength(1001);
    expect(cacheIds(dir)).toContain(m![1]);
    expect(read(dir, ".gitignore")).toBe("/images\n");

    // Unchanged: nothing rewritten.
    const again = runPipe(dir, ["add", "images"]);
    expect(again.stdout).toBe("'images' is unchanged: images.dvc records it already\n");
    expect(read(dir, "images.dvc")).toBe(first);

    writeFiles(dir, { "images/new.txt": "new\n" });
    rmSync(path.join(dir, "images/0000.txt"));
    const st = runPipe(dir, ["status"]);
    expect(st.stdout).toBe("images.dvc:\n    changed outs:\n        modified:   images\n");
    expect(runPipe(dir, ["add", "images"]).stdout).toContain("Added 'images'");
    const second = read(dir, "images.dvc");
    expect(second).toMatch(/nfiles: 1000\n/);
    expect(second).not.toBe(first);
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  });

  it("--glob expands patterns with fast-glob, one .dvc file per match", () => {
    const dir = repo({ "raw/a.csv": "a\n", "raw/b.csv": "b\n", "raw/notes.txt": "n\n" });
    const r = runPipe(dir, ["add", "--glob", "raw/*.csv"]);
    expect(r.code, r.stderr).toBe(0);
    expect(exists(dir, "raw/a.csv.dvc") && exists(dir, "raw/b.csv.dvc")).toBe(true);
    expect(exists(dir, "raw/notes.txt.dvc")).toBe(false);
    expect(read(dir, "raw/.gitignore")).toBe("/a.csv\n/b.csv\n");
    const none = runPipe(dir, ["add", "--glob", "raw/*.parquet"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("the pattern 'raw/*.parquet' matches nothing");
  });

  it("reads DVC's .dvc files (DVC 2 and DVC 3 layouts, md5), verifies them with md5, and rewrites one in pipe's form on add", () => {
    const dir = repo({
      // md5("abc\n") and md5("hello\n")
      "legacy.txt": "abc\n",
      "legacy.txt.dvc": "md5: 1a2b\nouts:\n- md5: 0bee89b07a248e27c83fc3d5951213c1\n  size: 4\n  path: legacy.txt\n  desc: the legacy data\nmeta:\n  owner: data team\n",
      "v3.txt": "hello\n",
      "v3.txt.dvc": "outs:\n- md5: b1946ac92492d2347c6235b4d2611184\n  size: 6\n  hash: md5\n  path: v3.txt\n",
    });
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
    writeFiles(dir, { "v3.txt": "changed\n" });
    expect(runPipe(dir, ["status"]).stdout).toBe("v3.txt.dvc:\n    changed outs:\n        modified:   v3.txt\nUp to date: legacy.txt.dvc\n");

    const r = runPipe(dir, ["add", "legacy.txt"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("note: legacy.txt.dvc was written by DVC (md5): rewritten in pipe's form (xxh64)");
    // Hashes in pipe's form; the output's flags and the file's other keys kept; DVC 1's stage md5 dropped.
    expect(read(dir, "legacy.txt.dvc")).toMatch(/^outs:\n- xxh64: [0-9a-f]{16}\n {2}size: 4\n {2}hash: xxh64\n {2}path: legacy\.txt\n {2}desc: the legacy data\nmeta:\n {2}owner: data team\n$/);
    expect(runPipe(dir, ["status", "legacy.txt.dvc"]).stdout).toBe("Pipeline is up to date.\n");
  });

  it("pipe remove X.dvc stops tracking: the .dvc file and its .gitignore line go, the data stays", () => {
    const dir = repo({ "a.txt": "a\n", "b.txt": "b\n" });
    expect(runPipe(dir, ["add", "a.txt", "b.txt"]).code).toBe(0);
    expect(read(dir, ".gitignore")).toBe("/a.txt\n/b.txt\n");
    const r = runPipe(dir, ["remove", "a.txt.dvc"]);
    expect(r.code, r.stderr).toBe(0);
    expect(exists(dir, "a.txt.dvc")).toBe(false);
    expect(read(dir, "a.txt")).toBe("a\n");
    expect(read(dir, ".gitignore")).toBe("/b.txt\n");
    expect(cacheIds(dir)).toHaveLength(2);
    const bad = runPipe(dir, ["remove", "a.txt.dvc"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("'a.txt.dvc' is not a .dvc file of this project");
  });

  describe("refuses bad paths: exit 2, nothing written", () => {
    const stagesFile = "stages:\n  prep:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n";
    const cases: [string, string[], RegExp][] = [
      ["an output of a stage (located)", ["out.txt"], /^pipe\.yaml:5:12: error: cannot add 'out\.txt': it is an output of stage 'prep'/m],
      ["a path in .git", [".git/config"], /cannot add '\.git\/config': it lies in '\.git', which is never data/],
      ["a path in .pipe", [".pipe/config.yaml"], /cannot add '\.pipe\/config\.yaml': it lies in '\.pipe'/],
      ["a path outside the root", ["../elsewhere.txt"], /cannot add '\.\.\/elsewhere\.txt': it is outside the project root/],
      ["a path that does not exist", ["missing.txt"], /cannot add 'missing\.txt': it does not exist/],
      ["one bad path among good ones", ["in.txt", "out.txt"], /it is an output of stage 'prep'/],
    ];
    for (const [what, args, message] of cases) {
      it(what, () => {
        const dir = repo({ "pipe.yaml": stagesFile, "in.txt": "in\n", "out.txt": "out\n" });
        const before = snapshot(dir);
        const r = runPipe(dir, ["add", ...args]);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(snapshot(dir)).toEqual(before);
      });
    }
  });

  it("refuses a path whose .dvc file git would ignore (it could not be committed): exit 2, nothing written", () => {
    const dir = repo({ ".gitignore": "/data\n", "data/raw.csv": "x\n" });
    const before = snapshot(dir);
    const r = runPipe(dir, ["add", "data/raw.csv"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot add 'data/raw.csv': its record data/raw.csv.dvc would be ignored by git ('/data' in .gitignore:1)");
    expect(snapshot(dir)).toEqual(before);
  });

  it("a stage depending on an added path: a dag edge, status after the data changes, repro records and runs", () => {
    const dir = repo({
      "data.xml": "one\n",
      "pipe.yaml": "stages:\n  prep:\n    cmd: cp data.xml prepared.txt\n    deps: [data.xml]\n    outs: [prepared.txt]\n",
    });
    expect(runPipe(dir, ["add", "data.xml"]).code).toBe(0);
    const dag = runPipe(dir, ["dag", "--dot"]);
    expect(dag.stdout).toContain('"data.xml.dvc" -> "prep"');
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    gitCommitAll(dir, "tracked");
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");

    writeFiles(dir, { "data.xml": "two\n" });
    expect(runPipe(dir, ["status"]).stdout).toBe(
      "data.xml.dvc:\n    changed outs:\n        modified:   data.xml\nprep:\n    changed deps:\n        modified:   data.xml\n    upstream stale: data.xml.dvc\n",
    );
    const before = read(dir, "data.xml.dvc");
    const dry = runPipe(dir, ["repro", "--dry"]);
    expect(dry.stdout).toContain("Would record the changed data of 'data.xml.dvc'\n");
    expect(read(dir, "data.xml.dvc")).toBe(before);
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Recorded the changed data of 'data.xml.dvc'\nRunning 'prep'");
    expect(read(dir, "prepared.txt")).toBe("two\n");
    // The data source's record follows the data, as DVC's repro does for a changed .dvc output.
    expect(read(dir, "data.xml.dvc")).not.toBe(before);
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  });

  it("repro fails, naming it, a data source whose data is gone and not in the cache; it restores one the cache has", () => {
    const dir = repo({ "d.txt": "d\n", "pipe.yaml": "stages:\n  s:\n    cmd: cp d.txt e.txt\n    deps: [d.txt]\n    outs: [e.txt]\n" });
    expect(runPipe(dir, ["add", "d.txt"]).code).toBe(0);
    rmSync(path.join(dir, "d.txt"));
    const restored = runPipe(dir, ["repro"]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain("Restored 'd.txt.dvc' from cache");
    expect(read(dir, "d.txt")).toBe("d\n");
    rmSync(path.join(dir, "d.txt"));
    rmSync(path.join(dir, ".pipe/cache"), { recursive: true, force: true });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: data source 'd.txt.dvc': 'd.txt' is missing, and the cache does not have it");
    expect(r.stdout).not.toContain("Running 's'");
  });

  it("checkout restores an added file (deleted, or modified by hand) from the cache", () => {
    const dir = repo({ "model.bin": "weights v1\n", "data/set/1.txt": "1\n", "data/set/2.txt": "2\n" });
    expect(runPipe(dir, ["add", "model.bin", "data/set"]).code).toBe(0);
    rmSync(path.join(dir, "model.bin"));
    rmSync(path.join(dir, "data/set"), { recursive: true });
    const r = runPipe(dir, ["checkout"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("A       data/set/\nA       model.bin\nRestored 2 outputs.\n");
    expect(read(dir, "model.bin")).toBe("weights v1\n");
    expect(read(dir, "data/set/2.txt")).toBe("2\n");
    writeFileSync(path.join(dir, "model.bin"), "edited\n");
    expect(runPipe(dir, ["checkout", "model.bin.dvc"]).stdout).toBe("M       model.bin\nRestored 1 output.\n");
    expect(read(dir, "model.bin")).toBe("weights v1\n");
    expect(statSync(path.join(dir, "model.bin")).isFile()).toBe(true);
  });
});


