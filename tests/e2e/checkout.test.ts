import { chmodSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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

  it("leaves alone what .dvcignore leaves out of a directory output: not saved, not removed, not counted", () => {
    const dir = project();
    writeFiles(dir, { ".dvcignore": "*.log\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    // Objects only: `verified` (which objects were read back) gains lines whenever a check finds objects older than the
    // racy window, which on a loaded machine can be during this test.
    const objects = (): Map<string, string> => new Map([...treeSnapshot(path.join(dir, ".pipe/cache"))].filter(([k]) => k !== "verified"));
    const cacheBefore = objects();
    writeFiles(dir, { "out/debug.log": "a log line\n", "out/deeper/run.log": "another\n" });
    // Hashing leaves the logs out, so the output is still what the lock records.
    const st = runPipe(dir, ["status"]);
    expect(st.stdout).toBe("Pipeline is up to date.\n");
    const same = runPipe(dir, ["checkout"]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toBe("Nothing to restore: outputs match the lock.\n");
    expect(same.stderr).toBe("");
    expect(read(dir, "out/debug.log")).toBe("a log line\n");
    // A directory holding only ignored files is not pruned either.
    expect(read(dir, "out/deeper/run.log")).toBe("another\n");
    // Nothing was saved to the cache for them.
    expect(objects()).toEqual(cacheBefore);

    // An edit to a tracked file is restored; the logs survive it.
    writeFileSync(path.join(dir, "out/1.txt"), "edited\n");
    expect(runPipe(dir, ["status"]).stdout).toContain("modified:   out\n");
    const r = runPipe(dir, ["checkout"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("M       out/\nRestored 1 output.\n");
    expect(r.stderr).toMatch(/^note: 'out\/1\.txt' had content that was not in the cache; it was saved there as [0-9a-f]{16} before being replaced\n$/);
    expect(read(dir, "out/1.txt")).toBe("one\n");
    expect(read(dir, "out/debug.log")).toBe("a log line\n");
    expect(read(dir, "out/deeper/run.log")).toBe("another\n");
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");

    // Without the rule the log is part of the directory again, and checkout makes the directory its manifest.
    rmSync(path.join(dir, ".dvcignore"));
    const strict = runPipe(dir, ["checkout"]);
    expect(strict.code, strict.stderr).toBe(0);
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
    expect(r.stderr).toContain("run 'pipe pull make' if a remote has it, or 'pipe repro make' to produce it again");
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
    expect(n.stdout).toBe("Nothing to restore: no stage has a lock entry yet ('pipe repro' runs them).\n");
    expect(exists(dir, "n.txt")).toBe(false);
  });
});

describe("pipe checkout: a directory output holding a symlinked directory (symlinks inside directories are followed)", () => {
  /** A stage whose output directory links to a directory outside the project; returns both directories. */
  function linked(config = ""): { dir: string; ext: string } {
    const ext = makeProject({ "k.txt": "outside\n" });
    const dir = makeProject({
      ".pipe/config.yaml": config,
      "pipe.yaml": `stages:\n  a:\n    cmd: mkdir -p d && echo 1 > d/own.txt && ln -sfn ${ext} d/ext\n    outs: [d]\n`,
    });
    return { dir, ext };
  }

  /** Everything about the outside file that a write through the link would change. */
  const outsideState = (ext: string) => {
    const st = statSync(path.join(ext, "k.txt"));
    return { ino: st.ino, nlink: st.nlink, mode: st.mode, mtimeMs: st.mtimeMs, text: readFileSync(path.join(ext, "k.txt"), "utf8"), names: readdirSync(ext) };
  };

  it("checkout materialises the linked directory as a real one, complete; the link's target is never touched", () => {
    const { dir, ext } = linked();
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const outside = outsideState(ext);
    const r = runPipe(dir, ["checkout"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("M       d/\nRestored 1 output.\n");
    expect(lstatSync(path.join(dir, "d/ext")).isDirectory()).toBe(true);
    expect(read(dir, "d/ext/k.txt")).toBe("outside\n");
    expect(read(dir, "d/own.txt")).toBe("1\n");
    expect(runPipe(dir, ["status", "--quiet"]).code).toBe(0);
    expect(runPipe(dir, ["checkout"]).stdout).toBe("Nothing to restore: outputs match the lock.\n");
    // Deleted whole, it comes back the same way.
    rmSync(path.join(dir, "d"), { recursive: true });
    expect(runPipe(dir, ["checkout"]).stdout).toBe("A       d/\nRestored 1 output.\n");
    expect(read(dir, "d/ext/k.txt")).toBe("outside\n");
    expect(outsideState(ext)).toEqual(outside);
  });

  it("hardlink: storing the output links real files into a real directory, never writing through the link", () => {
    const { dir, ext } = linked("cache:\n  type: hardlink\n");
    const outside = outsideState(ext);
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(outsideState(ext)).toEqual(outside);
    expect(outside.nlink).toBe(1);
    expect(lstatSync(path.join(dir, "d/ext")).isDirectory()).toBe(true);
    // d/ext/k.txt is now a link of the cache object, not of the outside file.
    expect(statSync(path.join(dir, "d/ext/k.txt")).nlink).toBe(2);
    expect(statSync(path.join(dir, "d/ext/k.txt")).ino).not.toBe(outside.ino);
    expect(runPipe(dir, ["status", "--quiet"]).code).toBe(0);
    expect(runPipe(dir, ["checkout"]).stdout).toBe("Nothing to restore: outputs match the lock.\n");
  });
});
