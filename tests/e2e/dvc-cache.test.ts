/**
 * A DVC project adopting `pipe`: outputs DVC recorded (md5, `dvc.lock`) whose bytes are only in DVC's own cache
 * (`.dvc/cache`, DVC 3's `files/md5/<2>/<30>` and DVC 2's `<2>/<30>` layouts, or the `cache.dir` of `.dvc/config`)
 * are restored from it, verified, by `pipe checkout` and `pipe repro`, without running anything; a corrupt DVC object
 * is named and not used (and left in DVC's cache).
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, read, runPipe } from "../helpers/project.js";

const md5 = (s: string | Buffer): string => createHash("md5").update(s).digest("hex");

const FILES: Record<string, string> = { "a.txt": "part a\n", "sub/b.txt": "part b\n" };
const CLEAN = "hello, clean\n";
/** DVC's manifest bytes: Python's `json.dumps(entries, sort_keys=True)`. */
const MANIFEST = `[${Object.entries(FILES)
  .map(([rel, text]) => `{"md5": "${md5(text)}", "relpath": "${rel}"}`)
  .join(", ")}]`;
const DIR_ID = `${md5(MANIFEST)}.dir`;

function dvcProject(): string {
  const dir = makeProject({
    "dvc.yaml": [
      "stages:",
      "  prepare:",
      "    cmd: echo prepare >> runs.log && cp raw.txt clean.txt",
      "    deps: [raw.txt]",
      "    outs: [clean.txt]",
      "  split:",
      "    cmd: echo split >> runs.log && mkdir -p parts/sub && echo 'part a' > parts/a.txt && echo 'part b' > parts/sub/b.txt",
      "    deps: [raw.txt]",
      "    outs: [parts]",
      "",
    ].join("\n"),
    "raw.txt": "raw\n",
    "dvc.lock": [
      "schema: '2.0'",
      "stages:",
      "  prepare:",
      "    cmd: echo prepare >> runs.log && cp raw.txt clean.txt",
      "    deps:",
      "    - path: raw.txt",
      "      hash: md5",
      `      md5: ${md5("raw\n")}`,
      "      size: 4",
      "    outs:",
      "    - path: clean.txt",
      "      hash: md5",
      `      md5: ${md5(CLEAN)}`,
      `      size: ${CLEAN.length}`,
      "  split:",
      "    cmd: echo split >> runs.log && mkdir -p parts/sub && echo 'part a' > parts/a.txt && echo 'part b' > parts/sub/b.txt",
      "    deps:",
      "    - path: raw.txt",
      "      hash: md5",
      `      md5: ${md5("raw\n")}`,
      "      size: 4",
      "    outs:",
      "    - path: parts",
      "      hash: md5",
      `      md5: ${DIR_ID}`,
      `      size: ${Object.values(FILES).reduce((n, t) => n + t.length, 0)}`,
      `      nfiles: ${Object.keys(FILES).length}`,
      "",
    ].join("\n"),
  });
  mkdirSync(path.join(dir, ".dvc"));
  writeFileSync(path.join(dir, ".dvc/config"), "");
  return dir;
}

/** Writes an object into a DVC cache directory: DVC 3's layout (`files/md5/`) or DVC 2's. */
function putDvcObject(cacheDir: string, id: string, bytes: string, layout: 2 | 3): string {
  const p = layout === 3 ? path.join(cacheDir, "files/md5", id.slice(0, 2), id.slice(2)) : path.join(cacheDir, id.slice(0, 2), id.slice(2));
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, bytes);
  chmodSync(p, 0o444);
  return p;
}

/** The file output in DVC 3's layout, the directory output (manifest and files) in DVC 2's. */
function fillDvcCache(cacheDir: string): void {
  putDvcObject(cacheDir, md5(CLEAN), CLEAN, 3);
  putDvcObject(cacheDir, DIR_ID, MANIFEST, 2);
  for (const text of Object.values(FILES)) putDvcObject(cacheDir, md5(text), text, 2);
}

const runs = (dir: string): string[] => (existsSync(path.join(dir, "runs.log")) ? read(dir, "runs.log").trim().split("\n") : []);

function expectRestored(dir: string): void {
  expect(read(dir, "clean.txt")).toBe(CLEAN);
  for (const [rel, text] of Object.entries(FILES)) expect(read(dir, `parts/${rel}`)).toBe(text);
}

describe("DVC's local cache as a read-only source", () => {
  it("pipe checkout restores outputs found only in .dvc/cache (both layouts); then status is up to date and repro runs nothing", () => {
    const dir = dvcProject();
    fillDvcCache(path.join(dir, ".dvc/cache"));
    const r = runPipe(dir, ["checkout"]);
    expect(r.code, r.stderr).toBe(0);
    expectRestored(dir);
    // Copied into pipe's cache as it expects objects (DVC's cache is left as it was).
    const obj = path.join(dir, ".pipe/cache", md5(CLEAN).slice(0, 2), md5(CLEAN).slice(2));
    expect(readFileSync(obj, "utf8")).toBe(CLEAN);
    expect(readFileSync(path.join(dir, ".dvc/cache/files/md5", md5(CLEAN).slice(0, 2), md5(CLEAN).slice(2)), "utf8")).toBe(CLEAN);
    const st = runPipe(dir, ["status"]);
    expect(st.stdout, st.stderr).toBe("Pipeline is up to date.\n");
    const rep = runPipe(dir, ["repro"]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(runs(dir)).toEqual([]);
  });

  it("pipe repro restores missing outputs from .dvc/cache instead of running the stages", () => {
    const dir = dvcProject();
    fillDvcCache(path.join(dir, ".dvc/cache"));
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(runs(dir)).toEqual([]);
    expect(r.stdout).toContain("Restored 'prepare' from cache\n");
    expect(r.stdout).toContain("Restored 'split' from cache\n");
    expectRestored(dir);
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  });

  it("honours cache.dir of .dvc/config (relative to .dvc/)", () => {
    const dir = dvcProject();
    writeFileSync(path.join(dir, ".dvc/config"), "[core]\n    remote = storage\n[cache]\n    dir = ../elsewhere/cache\n");
    fillDvcCache(path.join(dir, "elsewhere/cache"));
    const r = runPipe(dir, ["checkout"]);
    expect(r.code, r.stderr).toBe(0);
    expectRestored(dir);
  });

  it("a corrupt object in .dvc/cache is named, not used and left in place; the rest is restored", () => {
    const dir = dvcProject();
    const cache = path.join(dir, ".dvc/cache");
    fillDvcCache(cache);
    const bad = putDvcObject(cache, md5(CLEAN), "not what the lock says\n", 3);
    const r = runPipe(dir, ["checkout"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot restore 'clean.txt' (stage 'prepare'): its cache object ${md5(CLEAN)} is corrupt in DVC's cache`);
    expect(existsSync(path.join(dir, "clean.txt"))).toBe(false);
    expect(existsSync(path.join(dir, ".pipe/cache", md5(CLEAN).slice(0, 2), md5(CLEAN).slice(2)))).toBe(false);
    expect(readFileSync(bad, "utf8")).toBe("not what the lock says\n");
    // The other output did not depend on it.
    for (const [rel, text] of Object.entries(FILES)) expect(read(dir, `parts/${rel}`)).toBe(text);
    // repro does not use it either: the stage runs (and its output then matches the lock again).
    writeFileSync(path.join(dir, "raw.txt"), "raw\n");
    rmSync(path.join(dir, "parts"), { recursive: true });
    const rep = runPipe(dir, ["repro"]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stderr).toContain(`${md5(CLEAN)} of 'clean.txt' in DVC's cache`);
    expect(runs(dir)).toEqual(["prepare"]);
  });
});
