/**
 * What a gc scope names, read from git (`git/history.ts`, `cache/gc-refs.ts`): tags of every kind, a project in a
 * subdirectory of the repository, nested projects, `.dvc` files, symlinked locks at a revision, and the batch reader.
 */
import { execFileSync } from "node:child_process";
import { symlinkSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { collectReferences } from "../../src/storage/gc-refs.js";
import { CatFileBatch, parseTree } from "../../src/git/batch.js";
import { commitsInScope, dayStart } from "../../src/git/history.js";
import { git, gitCommitAll, gitInit, makeProject, writeFiles } from "../helpers/project.js";

// A leading letter: an all-digit hash would read as a YAML number (pipe's writer quotes one).
const hex = (n: number): string => "a" + n.toString(16).padStart(15, "0");

function lock(...hashes: number[]): string {
  const outs = hashes.map((h, i) => `    - path: o${i}\n      hash: xxh64\n      xxh64: ${hex(h)}\n      size: 1\n`).join("");
  return `schema: '2.0'\nstages:\n  s:\n    cmd: x\n    outs:\n${outs}`;
}

const dvcFile = (h: number): string => `outs:\n- hash: xxh64\n  xxh64: ${hex(h)}\n  size: 1\n  path: data.csv\n`;

describe("gc references at git revisions", () => {
  it("reads every lock and .dvc file of the project at each revision; skips nested projects and skipped directories", async () => {
    // The project is `proj/` inside the repository; `proj/inner` is a project of its own.
    const repo = makeProject({
      "pipe.lock": lock(99), // outside the project: not its business
      "proj/.pipe/config.yaml": "{}\n",
      "proj/pipe.yaml": "stages: {}\n",
      "proj/pipe.lock": lock(1),
      "proj/a/b/dvc.lock": lock(2),
      "proj/data/x.csv.dvc": dvcFile(3),
      "proj/inner/.pipe/config.yaml": "{}\n",
      "proj/inner/pipe.lock": lock(4),
      "proj/node_modules/m/pipe.lock": lock(5),
    });
    gitInit(repo);
    gitCommitAll(repo, "one");
    git(repo, ["tag", "-a", "-m", "annotated", "v1"]);
    writeFiles(repo, { "proj/pipe.lock": lock(6), "proj/a/b/dvc.lock": lock(7) });
    gitCommitAll(repo, "two");
    writeFiles(repo, { "proj/pipe.lock": lock(8) });
    git(repo, ["rm", "-q", "-r", "proj/a", "proj/data"]);
    const root = path.join(repo, "proj");

    const ws = await collectReferences(root, { workspace: true }, new Map());
    expect(ws.ok && [...ws.value.hashes].sort()).toEqual([hex(8)]);

    const tags = await collectReferences(root, { allTags: true }, new Map());
    expect(tags.ok && [...tags.value.hashes].sort()).toEqual([hex(1), hex(2), hex(3), hex(8)]);
    expect(tags.ok && tags.value.revisions).toBe(1);

    const all = await collectReferences(root, { allCommits: true }, new Map());
    expect(all.ok && [...all.value.hashes].sort()).toEqual([1, 2, 3, 6, 7, 8].map(hex));
  });

  it("a symlinked lock at a revision cannot be read: an error naming it, a warning with skipFailed", async () => {
    const repo = makeProject({ "pipe.yaml": "stages: {}\n", "real.lock": lock(1) });
    symlinkSync("real.lock", path.join(repo, "pipe.lock"));
    gitInit(repo);
    gitCommitAll(repo, "one");
    const sha = git(repo, ["rev-parse", "--short", "HEAD"]).trim();
    writeFiles(repo, {});
    const r = await collectReferences(repo, { rev: "HEAD" }, new Map());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    // The workspace's pipe.lock (the same symlink, on disk) reads fine; the one in git does not.
    expect(r.errors.map((d) => d.message)).toEqual([`cannot read ${sha}:pipe.lock: it is a symbolic link in git, so its content is unknown`]);
    const s = await collectReferences(repo, { rev: "HEAD", skipFailed: true }, new Map());
    expect(s.ok && [...s.value.hashes]).toEqual([hex(1)]);
    expect(s.warnings.map((d) => d.severity)).toEqual(["warning"]);
  });

  it("outside git, revision scopes are an error; the workspace alone works", async () => {
    const dir = makeProject({ "pipe.yaml": "stages: {}\n", "pipe.lock": lock(1) });
    const r = await collectReferences(dir, { allCommits: true }, new Map());
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors[0]!.message).toMatch(/^not a git repository/);
    const w = await collectReferences(dir, { workspace: true }, new Map());
    expect(w.ok && [...w.value.hashes]).toEqual([hex(1)]);
  });
});

describe("commits in scope", () => {
  it("branches, tags (lightweight, annotated; not of a tree), --rev with -n, --date, each commit once", async () => {
    const dir = makeProject({ "f": "1" });
    gitInit(dir);
    // The committer date is what --date compares.
    const commit = (m: string, date: string): string => {
      git(dir, ["add", "-A"]);
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--no-gpg-sign", "-m", m], {
        cwd: dir,
        env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
      });
      return git(dir, ["rev-parse", "HEAD"]).trim();
    };
    const c1 = commit("1", "2020-01-01T12:00:00");
    git(dir, ["tag", "light"]);
    writeFiles(dir, { f: "2" });
    const c2 = commit("2", "2021-01-01T12:00:00");
    git(dir, ["tag", "-a", "-m", "x", "annotated"]);
    git(dir, ["tag", "tree-tag", "HEAD^{tree}"]);
    writeFiles(dir, { f: "3" });
    const c3 = commit("3", "2022-01-01T12:00:00");
    const repo = { root: dir };
    const shas = async (scope: Parameters<typeof commitsInScope>[1]): Promise<string[]> => {
      const r = await commitsInScope(repo, scope);
      expect(r.ok).toBe(true);
      return r.ok ? r.value.map((c) => c.sha).sort() : [];
    };
    expect(await shas({ allBranches: true })).toEqual([c3]);
    expect(await shas({ allTags: true })).toEqual([c1, c2].sort());
    expect(await shas({ allCommits: true })).toEqual([c1, c2, c3].sort());
    expect(await shas({ rev: "HEAD", num: 2 })).toEqual([c2, c3].sort());
    expect(await shas({ rev: "HEAD~2", num: 5 })).toEqual([c1]);
    expect(await shas({ date: "2021-01-01" })).toEqual([c2, c3].sort());
    expect(await shas({ date: "2030-01-01" })).toEqual([]);
    const both = await commitsInScope(repo, { allBranches: true, rev: "HEAD" });
    expect(both.ok && both.value).toEqual([{ sha: c3, names: ["main", "HEAD"] }]);
    expect(dayStart("2021-02-30")).toBeUndefined();
    expect(dayStart("21-02-03")).toBeUndefined();
    expect(dayStart("2021-02-03")).toBe(new Date(2021, 1, 3).getTime() / 1000);
  });
});

describe("cat-file --batch reader", () => {
  it("answers requests in order, missing names as missing, and parses trees", async () => {
    const dir = makeProject({ "a.txt": "hello\n", "d/b.txt": "b" });
    gitInit(dir);
    gitCommitAll(dir, "one");
    const batch = new CatFileBatch(dir);
    try {
      const [tree, blob, missing, newline] = await Promise.all([batch.get("HEAD^{tree}"), batch.get("HEAD:a.txt"), batch.get("HEAD:nope"), batch.get("a\nb")]);
      expect(blob).toMatchObject({ kind: "object", type: "blob" });
      expect(blob instanceof Error || blob.kind !== "object" ? "" : blob.body.toString()).toBe("hello\n");
      expect(missing).toEqual({ kind: "missing" });
      expect(newline).toEqual({ kind: "missing" });
      if (tree instanceof Error || tree.kind !== "object") throw new Error("no tree");
      const entries = parseTree(tree.body, tree.oid.length / 2);
      expect(entries.map((e) => [e.mode, e.name])).toEqual([
        ["100644", "a.txt"],
        ["40000", "d"],
      ]);
      expect(entries[1]!.oid).toBe(git(dir, ["rev-parse", "HEAD:d"]).trim());
    } finally {
      batch.close();
    }
  });
});
