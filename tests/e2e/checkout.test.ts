import { chmodSync, lstatSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { exists, makeProject, read, runPipe, treeSnapshot, writeFiles } from "../helpers/project.js";

function project(config = ""): string {
  return makeProject({
    ".pipe/config.yaml": config,
    "pipe.yaml": [
      "stages:",
      "  make:",
      "    cmd: mkdir -p out && echo one > out/1.txt && echo two > out/2.txt && echo model > model.bin",
      "    outs: [out, model.bin]",
      "",
    ].join("\n"),
  });
}

describe("pipe checkout", () => {
  it("restores deleted and modified outputs from the cache, printing A/M lines, and is a no-op afterwards", () => {
    const dir = project();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const before = treeSnapshot(path.join(dir, "out"));
    rmSync(path.join(dir, "out"), { recursive: true });
    writeFileSync(path.join(dir, "model.bin"), "hand edit");
    const r = runPipe(dir, ["checkout"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("A       out/\nM       model.bin\nRestored 2 outputs.\n");
    // The hand edit was not in the cache: it is saved there before being replaced, and said so.
    expect(r.stderr).toMatch(/note: 'model.bin' had content that was not in the cache; it was saved there as [0-9a-f]{16}/);
    expect(treeSnapshot(path.join(dir, "out"))).toEqual(before);
    expect(read(dir, "model.bin")).toBe("model\n");
    const again = runPipe(dir, ["checkout"]);
    expect(again.stdout).toBe("Nothing to restore: outputs match the lock.\n");
  });

  it("makes a directory output exactly its manifest: extra files go", () => {
    const dir = project();
    runPipe(dir, ["repro"]);
    writeFiles(dir, { "out/extra.txt": "stray" });
    const r = runPipe(dir, ["checkout", "make"]);
    expect(r.code).toBe(0);
    expect(readdirSync(path.join(dir, "out")).sort()).toEqual(["1.txt", "2.txt"]);
  });

  it("an output whose object is missing from the cache is an error naming it; the workspace is left alone", () => {
    const dir = project();
    runPipe(dir, ["repro"]);
    rmSync(path.join(dir, ".pipe/cache"), { recursive: true, force: true });
    rmSync(path.join(dir, "model.bin"));
    const r = runPipe(dir, ["checkout"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot restore 'model.bin' (stage 'make'): not in the cache");
    expect(r.stderr).toContain("run 'pipe repro make' to produce it again");
    expect(exists(dir, "model.bin")).toBe(false);
    expect(exists(dir, "out/1.txt")).toBe(true);
  });

  it("a corrupt cache object is reported, removed, and never materialised", () => {
    const dir = project();
    runPipe(dir, ["repro"]);
    const lock = read(dir, "pipe.lock");
    const id = /path: model\.bin\n\s+hash: xxh64\n\s+xxh64: ([0-9a-f]{16})/.exec(lock)![1]!;
    const obj = path.join(dir, ".pipe/cache", id.slice(0, 2), id.slice(2));
    chmodSync(obj, 0o644);
    writeFileSync(obj, "bit rot");
    rmSync(path.join(dir, "model.bin"));
    const r = runPipe(dir, ["checkout"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`its cache object ${id} was corrupt and has been removed`);
    expect(exists(dir, "model.bin")).toBe(false);
    expect(exists(dir, `.pipe/cache/${id.slice(0, 2)}/${id.slice(2)}`)).toBe(false);
    // repro then runs the stage again and the output is back.
    const re = runPipe(dir, ["repro"]);
    expect(re.code).toBe(0);
    expect(read(dir, "model.bin")).toBe("model\n");
  });

  it("with hardlink, outputs are read-only links to the cache and a re-run unprotects them first", () => {
    const dir = project("cache:\n  type: hardlink\n");
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const lock = read(dir, "pipe.lock");
    const id = /path: model\.bin\n\s+hash: xxh64\n\s+xxh64: ([0-9a-f]{16})/.exec(lock)![1]!;
    const obj = path.join(dir, ".pipe/cache", id.slice(0, 2), id.slice(2));
    expect(statSync(path.join(dir, "model.bin")).ino).toBe(statSync(obj).ino);
    expect(statSync(path.join(dir, "model.bin")).mode & 0o222).toBe(0);
    // A forced re-run writes new content; the cached object keeps the old bytes.
    writeFiles(dir, { "pipe.yaml": read(dir, "pipe.yaml").replace("echo model > model.bin", "echo model2 > model.bin") });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    expect(read(dir, "model.bin")).toBe("model2\n");
    expect(read(dir, path.relative(dir, obj))).toBe("model\n");
  });

  it("with symlink, outputs point into the cache", () => {
    const dir = project("cache:\n  type: symlink\n");
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    expect(lstatSync(path.join(dir, "model.bin")).isSymbolicLink()).toBe(true);
    rmSync(path.join(dir, "model.bin"));
    expect(runPipe(dir, ["checkout"]).code).toBe(0);
    expect(lstatSync(path.join(dir, "model.bin")).isSymbolicLink()).toBe(true);
    expect(read(dir, "model.bin")).toBe("model\n");
  });

  it("says why nothing happens to a missing cache: false output and to a named stage that never ran", () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  a:",
        "    cmd: echo a > a.txt && echo '{\"m\":1}' > m.json",
        "    outs: [a.txt]",
        "    metrics:",
        "      - m.json:",
        "          cache: false",
        "  never:",
        "    cmd: echo n > n.txt",
        "    outs: [n.txt]",
        "",
      ].join("\n"),
    });
    expect(runPipe(dir, ["repro", "a"]).code).toBe(0);
    rmSync(path.join(dir, "m.json"));
    rmSync(path.join(dir, "a.txt"));
    const r = runPipe(dir, ["checkout"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("A       a.txt\nRestored 1 output.\n");
    expect(r.stderr).toBe("note: 'm.json' (stage 'a') is missing and has cache: false, so it cannot be restored; 'pipe repro a' produces it again\n");
    expect(exists(dir, "m.json")).toBe(false);
    const n = runPipe(dir, ["checkout", "never"]);
    expect(n.code).toBe(0);
    expect(n.stderr).toContain("note: 'never' has no lock entry (it never ran): nothing to restore\n");
    expect(exists(dir, "n.txt")).toBe(false);
  });
});
