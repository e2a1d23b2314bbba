/**
 * `pipe diff`: tracked files between two commits and between a commit and the workspace, a directory output expanded
 * to its files, in the three shapes `dvc diff` prints (text, `--json`, `--md`). Real git, the built CLI.
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { gitCommitAll, gitInit, makeProject, REPO_ROOT, runPipe, writeFiles } from "../helpers/project.js";

const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas/diff.schema.json"), "utf8")) as object);

/**
 * Commit one: data.xml and images/{1,2,3,4}.txt added, a stage concatenating the images into model.bin. Commit two:
 * images/5.txt added, 1.txt deleted, 2.txt renamed to 22.txt, data.xml changed; re-added, re-run.
 */
function history(): string {
  const files: Record<string, string> = {
    ".pipe/config.yaml": "",
    "data.xml": "one\n",
    "pipe.yaml": "stages:\n  train:\n    cmd: cat images/* > model.bin\n    deps: [images]\n    outs: [model.bin]\n",
  };
  for (let i = 1; i <= 4; i++) files[`images/${i}.txt`] = `image ${i}\n`;
  const dir = makeProject(files);
  gitInit(dir);
  expect(runPipe(dir, ["add", "data.xml", "images"]).code).toBe(0);
  expect(runPipe(dir, ["repro"]).code).toBe(0);
  gitCommitAll(dir, "one");
  writeFiles(dir, { "images/5.txt": "image 5\n", "data.xml": "two\n" });
  rmSync(path.join(dir, "images/1.txt"));
  renameSync(path.join(dir, "images/2.txt"), path.join(dir, "images/22.txt"));
  expect(runPipe(dir, ["add", "data.xml", "images"]).code).toBe(0);
  expect(runPipe(dir, ["repro"]).code).toBe(0);
  gitCommitAll(dir, "two");
  return dir;
}

const TWO_COMMITS_TEXT = [
  "Added:",
  "    images/5.txt",
  "",
  "Deleted:",
  "    images/1.txt",
  "",
  "Renamed:",
  "    images/2.txt -> images/22.txt",
  "",
  "Modified:",
  "    data.xml",
  "    images/",
  "    model.bin",
  "",
  "files summary: 1 added, 1 deleted, 1 renamed, 2 modified",
  "",
].join("\n");

describe("pipe diff", () => {
  it("between two commits: text, --json (the schema's shape) and --md, with the directory output expanded", () => {
    const dir = history();
    const text = runPipe(dir, ["diff", "HEAD~1", "HEAD"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(TWO_COMMITS_TEXT);
    expect(text.stderr).toBe("");

    const json = runPipe(dir, ["diff", "HEAD~1", "HEAD", "--json"]);
    const doc = JSON.parse(json.stdout) as unknown;
    expect(doc).toEqual({
      added: [{ path: "images/5.txt" }],
      deleted: [{ path: "images/1.txt" }],
      modified: [{ path: "data.xml" }, { path: "images/" }, { path: "model.bin" }],
      renamed: [{ path: { old: "images/2.txt", new: "images/22.txt" } }],
    });
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);

    const md = runPipe(dir, ["diff", "HEAD~1", "HEAD", "--md"]);
    expect(md.stdout).toBe(
      [
        "| Status   | Path                          |",
        "|----------|-------------------------------|",
        "| added    | images/5.txt                  |",
        "| deleted  | images/1.txt                  |",
        "| modified | data.xml                      |",
        "| modified | images/                       |",
        "| modified | model.bin                     |",
        "| renamed  | images/2.txt -> images/22.txt |",
        "",
        "",
      ].join("\n"),
    );

    // --show-hash: 8 hex digits, old..new for a modification; --targets narrows to a path.
    const hashed = JSON.parse(runPipe(dir, ["diff", "HEAD~1", "HEAD", "--json", "--show-hash", "--targets", "images"]).stdout) as Record<string, { path: unknown; hash: unknown }[]>;
    expect(validate(hashed), JSON.stringify(validate.errors)).toBe(true);
    expect(Object.keys(hashed)).toEqual(["added", "deleted", "modified", "renamed"]);
    expect(hashed["modified"]!.map((e) => e.path)).toEqual(["images/"]);
    expect(hashed["modified"]![0]!.hash).toEqual({ old: expect.stringMatching(/^[0-9a-f]{16}\.dir$/), new: expect.stringMatching(/^[0-9a-f]{16}\.dir$/) });
    expect(runPipe(dir, ["diff", "HEAD~1", "HEAD", "--show-hash", "--targets", "data.xml"]).stdout).toMatch(/^Modified:\n {4}[0-9a-f]{8}\.\.[0-9a-f]{8} {2}data\.xml\n\nfiles summary: 1 modified\n$/);
  });

  it("a commit against the workspace (the default: HEAD and the workspace), hashing what is on disk now", () => {
    const dir = history();
    expect(runPipe(dir, ["diff"]).stdout).toBe("");
    expect(JSON.parse(runPipe(dir, ["diff", "--json"]).stdout)).toEqual({});
    writeFiles(dir, { "images/3.txt": "edited\n", "images/6.txt": "image 6\n" });
    rmSync(path.join(dir, "data.xml"));
    const r = runPipe(dir, ["diff"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(["Added:", "    images/6.txt", "", "Deleted:", "    data.xml", "", "Modified:", "    images/", "    images/3.txt", "", "files summary: 1 added, 1 deleted, 1 modified", ""].join("\n"));
    const doc = JSON.parse(runPipe(dir, ["diff", "--json"]).stdout) as Record<string, unknown>;
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc).toEqual({
      added: [{ path: "images/6.txt" }],
      deleted: [{ path: "data.xml" }],
      modified: [{ path: "images/" }, { path: "images/3.txt" }],
      renamed: [],
      "not in cache": [],
    });
    expect(runPipe(dir, ["diff", "HEAD~1"]).stdout).toContain("Renamed:\n    images/2.txt -> images/22.txt\n");
  });

  it("without the cache: the old side's objects are 'not in cache', and a directory it cannot list is named", () => {
    const dir = history();
    rmSync(path.join(dir, ".pipe/cache"), { recursive: true, force: true });
    const r = runPipe(dir, ["diff"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Not in cache:\n    data.xml\n    images/\n    model.bin\n\nfiles summary: 2 not in cache\n");
    expect(r.stderr).toContain("the file list of images/ is not in the cache");
    expect(runPipe(dir, ["diff", "--hide-missing"]).stdout).toBe("");
  });

  it("a DVC project: md5 records compare with the workspace hashed in md5, a directory listed from DVC's own cache", () => {
    const md5 = (t: string): string => createHash("md5").update(t).digest("hex");
    // DVC's manifest: Python's json.dumps(sort_keys=True) of {md5, relpath} entries.
    const manifest = `[{"md5": "${md5("one\n")}", "relpath": "1.txt"}, {"md5": "${md5("two\n")}", "relpath": "2.txt"}]`;
    const id = `${md5(manifest)}.dir`;
    const dir = makeProject({
      ".dvc/config": "",
      "images/1.txt": "one\n",
      "images/2.txt": "two\n",
      "images.dvc": `outs:\n- md5: ${id}\n  size: 8\n  nfiles: 2\n  hash: md5\n  path: images\n`,
      [`.dvc/cache/files/md5/${id.slice(0, 2)}/${id.slice(2)}`]: manifest,
    });
    gitInit(dir);
    writeFiles(dir, { ".gitignore": "/images\n/.dvc/cache\n" });
    gitCommitAll(dir, "dvc");
    expect(runPipe(dir, ["diff", "--hide-missing"]).stdout).toBe("");
    writeFiles(dir, { "images/2.txt": "deux\n", "images/3.txt": "three\n" });
    const r = runPipe(dir, ["diff", "--hide-missing"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Added:\n    images/3.txt\n\nModified:\n    images/\n    images/2.txt\n\nfiles summary: 1 added, 1 modified\n");
  });

  it("a revision whose pipeline does not load: its records are read as they are, with a warning", () => {
    const dir = makeProject({
      ".pipe/config.yaml": "",
      ".gitignore": "/local.yaml\n",
      "local.yaml": "x: 1\n",
      "pipe.yaml": "vars: [local.yaml]\nstages:\n  gen:\n    cmd: echo ${x} > out.txt\n    outs: [out.txt]\n",
    });
    gitInit(dir);
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    gitCommitAll(dir, "one");
    writeFiles(dir, { "local.yaml": "x: 2\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    const r = runPipe(dir, ["diff"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("the pipeline at HEAD does not load");
    expect(r.stdout).toBe("Modified:\n    out.txt\n\nfiles summary: 1 modified\n");
  });

  it("outside a git repository: exit 2", () => {
    const dir = makeProject({ ".pipe/config.yaml": "" });
    const r = runPipe(dir, ["diff"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("not a git repository");
  });
});
