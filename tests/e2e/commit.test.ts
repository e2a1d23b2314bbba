import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { exists, makeProject, read, runPipe, writeFiles } from "../helpers/project.js";

function project(): string {
  return makeProject({
    "pipe.yaml": [
      "stages:",
      "  label:",
      "    cmd: echo label >> runs.log && echo automatic > labels.csv",
      "    deps: [raw.csv]",
      "    outs: [labels.csv]",
      "",
    ].join("\n"),
    "raw.csv": "x\n1\n",
  });
}

function objects(dir: string): number {
  const cache = path.join(dir, ".pipe/cache");
  if (!exists(dir, ".pipe/cache")) return 0;
  // Shards only: `verified` (objects read back) may appear whenever a check finds objects older than the racy window.
  return readdirSync(cache)
    .filter((shard) => shard !== "verified")
    .reduce((n, shard) => n + readdirSync(path.join(cache, shard)).length, 0);
}

describe("pipe commit", () => {
  it("records outputs produced by hand into the lock and the cache, without running anything", () => {
    const dir = project();
    writeFiles(dir, { "labels.csv": "labelled by hand\n" });
    const r = runPipe(dir, ["commit"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("Committed 'label'\n");
    expect(exists(dir, "runs.log")).toBe(false);
    expect(read(dir, "pipe.lock")).toContain("path: labels.csv");
    expect(objects(dir)).toBe(1);
    expect(read(dir, ".gitignore")).toBe("/labels.csv\n");
    // Now the stage is up to date: repro runs nothing, and a deleted output comes back from the cache.
    expect(runPipe(dir, ["repro"]).stdout).toContain("'label' is up to date\n");
    rmSync(path.join(dir, "labels.csv"));
    expect(runPipe(dir, ["repro"]).stdout).toContain("Restored 'label' from cache\n");
    expect(read(dir, "labels.csv")).toBe("labelled by hand\n");
    expect(exists(dir, "runs.log")).toBe(false);
  });

  it("says so when there is nothing new, and commits a changed output again", () => {
    const dir = project();
    writeFiles(dir, { "labels.csv": "v1\n" });
    runPipe(dir, ["commit"]);
    expect(runPipe(dir, ["commit"]).stdout).toBe("Nothing to commit: the lock matches the workspace.\n");
    writeFiles(dir, { "labels.csv": "v2\n" });
    expect(runPipe(dir, ["commit", "label"]).stdout).toBe("Committed 'label'\n");
    expect(objects(dir)).toBe(2);
  });

  it("a missing output is an error naming the stage and the output; nothing is recorded", () => {
    const dir = project();
    const r = runPipe(dir, ["commit"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stage 'label' did not create its output 'labels.csv'");
    expect(exists(dir, "pipe.lock")).toBe(false);
  });
});

describe("pipe commit: the record path repro takes", () => {
  it("a cache object damaged in place is replaced and named with its stage, in repro's words", () => {
    const dir = makeProject({ "pipe.yaml": "stages:\n  a:\n    cmd: echo 1 > x.txt\n    outs: [x.txt]\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const id = /path: x\.txt\n\s+hash: xxh64\n\s+xxh64: ([0-9a-f]{16})/.exec(read(dir, "pipe.lock"))?.[1];
    expect(id).toBeDefined();
    const obj = path.join(dir, ".pipe/cache", id!.slice(0, 2), id!.slice(2));
    chmodSync(obj, 0o644);
    writeFileSync(obj, "damage\n");
    const r = runPipe(dir, ["commit"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: cache object ${id} of 'x.txt' (stage 'a') no longer matched its name`);
    expect(readFileSync(obj, "utf8")).toBe("1\n");
    expect(r.stdout).toBe("Nothing to commit: the lock matches the workspace.\n");
  });
});
