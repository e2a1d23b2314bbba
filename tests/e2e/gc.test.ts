import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { exists, makeProject, read, runPipe, treeSnapshot, writeFiles } from "../helpers/project.js";

function project(): string {
  return makeProject({
    "params.yaml": "n: 1\n",
    "pipe.yaml": [
      "stages:",
      "  gen:",
      "    cmd: echo gen >> runs.log && mkdir -p d && echo ${n} > d/n.txt && echo same > d/same.txt && echo model-${n} > model.bin",
      "    deps: [params.yaml]",
      "    outs: [d, model.bin]",
      "",
    ].join("\n"),
  });
}

function objectIds(dir: string): string[] {
  const cache = path.join(dir, ".pipe/cache");
  if (!exists(dir, ".pipe/cache")) return [];
  // Shards only: `verified` (objects read back) may appear whenever a check finds objects older than the racy window.
  return readdirSync(cache)
    .filter((shard) => shard !== "verified")
    .flatMap((shard) => readdirSync(path.join(cache, shard)).map((n) => shard + n))
    .sort();
}

const runs = (dir: string): string[] => (exists(dir, "runs.log") ? read(dir, "runs.log").trim().split("\n") : []);

describe("pipe gc", () => {
  it("removes objects and run-cache entries no lock references, keeps referenced ones; --dry only lists", () => {
    const dir = project();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const first = objectIds(dir);
    // n.txt, same.txt, the manifest, model.bin
    expect(first).toHaveLength(4);
    writeFiles(dir, { "params.yaml": "n: 2\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const both = objectIds(dir);
    // New n.txt, manifest and model; same.txt is shared.
    expect(both).toHaveLength(7);

    const snap = treeSnapshot(dir);
    const dry = runPipe(dir, ["gc", "-w", "--dry"]);
    expect(dry.code).toBe(0);
    expect(treeSnapshot(dir)).toEqual(snap);
    const listed = dry.stdout.split("\n").filter((l) => l.startsWith("would remove  ") && !l.includes(" run "));
    expect(listed).toHaveLength(3);
    const listedIds = listed.map((l) => l.split(/\s+/)[2]!);
    for (const id of listedIds) expect(first).toContain(id);
    expect(dry.stdout).toMatch(/Would remove 3 cache objects, 1 run-cache entry, freeing \d+ B\.\n$/);

    const r = runPipe(dir, ["gc", "-w", "-f"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Removed 3 cache objects, 1 run-cache entry, freed \d+ B\. Kept 4 objects\.\n$/);
    const left = objectIds(dir);
    expect(left).toHaveLength(4);
    // What the lock references is still restorable.
    rmSync(path.join(dir, "d"), { recursive: true });
    rmSync(path.join(dir, "model.bin"));
    expect(runPipe(dir, ["checkout"]).code).toBe(0);
    expect(read(dir, "d/n.txt")).toBe("2\n");
    expect(read(dir, "model.bin")).toBe("model-2\n");
    // The run-cache entry of n: 1 went with its objects: switching back runs the command.
    writeFiles(dir, { "params.yaml": "n: 1\n" });
    rmSync(path.join(dir, "runs.log"));
    runPipe(dir, ["repro"]);
    expect(runs(dir)).toEqual(["gen"]);
    expect(runPipe(dir, ["gc", "-w", "-f"]).stdout).toMatch(/^Removed 3 cache objects/);
    expect(runPipe(dir, ["gc", "-w", "-f"]).stdout).toBe("Nothing to remove: every cache object is referenced by a lock file.\n");
  });

  it("refuses to remove anything when a lock file cannot be read", () => {
    const dir = project();
    runPipe(dir, ["repro"]);
    const before = objectIds(dir);
    writeFiles(dir, { "pipe.lock": "schema: '2.0'\nstages: [not, a, mapping\n" });
    const r = runPipe(dir, ["gc", "-w", "-f"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("nothing was removed");
    expect(objectIds(dir)).toEqual(before);
  });
});
