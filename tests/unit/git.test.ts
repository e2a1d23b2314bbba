import { mkdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { listAllCommits, listFilesAt, openGitRepo, readFilesAt, resolveCommit } from "../../src/git/git.js";
import { openSide, projectGit } from "../../src/git/revision.js";
import { git, gitCommitAll, gitInit, makeProject, writeFiles } from "../helpers/project.js";

describe("git: reading files at revisions", () => {
  it("finds the work tree from a subdirectory, and nothing outside one", async () => {
    const dir = makeProject({ "a/b/x.txt": "x" });
    expect((await openGitRepo(path.join(dir, "a/b"))).ok && (await openGitRepo(path.join(dir, "a/b")))).toEqual({ ok: true, value: undefined, warnings: [] });
    gitInit(dir);
    const r = await openGitRepo(path.join(dir, "a/b"));
    expect(r.ok && r.value?.root).toBeTruthy();
    expect(r.ok && path.basename(r.value!.root)).toBe(path.basename(dir));
  });

  it("resolves HEAD, HEAD~1, branches, tags and short shas; unknown names are errors with a hint", async () => {
    const dir = makeProject({ "p.yaml": "a: 1\n" });
    gitInit(dir);
    gitCommitAll(dir, "one");
    git(dir, ["tag", "v1"]);
    writeFiles(dir, { "p.yaml": "a: 2\n" });
    gitCommitAll(dir, "two");
    git(dir, ["branch", "feature"]);
    const repo = { root: dir };
    const head = await resolveCommit(repo, "HEAD");
    const prev = await resolveCommit(repo, "HEAD~1");
    const tag = await resolveCommit(repo, "v1");
    const branch = await resolveCommit(repo, "feature");
    expect(head.ok && prev.ok && tag.ok && branch.ok).toBe(true);
    if (!head.ok || !prev.ok || !tag.ok || !branch.ok) return;
    expect(head.value.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(prev.value.sha).not.toBe(head.value.sha);
    expect(tag.value.sha).toBe(prev.value.sha);
    expect(branch.value.sha).toBe(head.value.sha);
    const short = await resolveCommit(repo, head.value.sha!.slice(0, 7));
    expect(short.ok && short.value.sha).toBe(head.value.sha);

    const bad = await resolveCommit(repo, "featur");
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors[0]?.message).toBe("unknown revision 'featur'");
      expect(bad.errors[0]?.hint).toBe("did you mean 'feature'?");
    }
    const opt = await resolveCommit(repo, "--all");
    expect(opt.ok).toBe(false);
    if (!opt.ok) expect(opt.errors[0]?.message).toBe("unknown revision '--all'");

    const all = await listAllCommits(repo);
    expect(all.ok && all.value.length).toBe(2);
  });

  it("resolves `:/message`, annotated tags and a detached HEAD; a name for a blob is not a commit", async () => {
    const dir = makeProject({ "p.yaml": "a: 1\n" });
    gitInit(dir);
    gitCommitAll(dir, "carrot one");
    git(dir, ["tag", "-a", "-m", "annotated", "v1"]);
    writeFiles(dir, { "p.yaml": "a: 2\n" });
    gitCommitAll(dir, "two");
    const repo = { root: dir };
    const first = git(dir, ["rev-parse", "HEAD~1"]).trim();
    // `:/carrot` searches commit messages: a `^{commit}` suffix would have been searched for too.
    const byMessage = await resolveCommit(repo, ":/carrot");
    expect(byMessage.ok && byMessage.value).toEqual({ name: ":/carrot", sha: first });
    // An annotated tag names a tag object; it is peeled to its commit.
    const tag = await resolveCommit(repo, "v1");
    expect(tag.ok && tag.value.sha).toBe(first);
    git(dir, ["checkout", "-q", "--detach", "HEAD~1"]);
    const detached = await resolveCommit(repo, "HEAD");
    expect(detached.ok && detached.value.sha).toBe(first);
    const blob = await resolveCommit(repo, "HEAD:p.yaml");
    expect(blob.ok).toBe(false);
    if (!blob.ok) expect(blob.errors[0]?.message).toBe("'HEAD:p.yaml' is not a commit");
  });

  it("--all-commits walks HEAD, branches, remote branches and tags, not the stash", async () => {
    const dir = makeProject({ "p.yaml": "a: 1\n" });
    gitInit(dir);
    const repo = { root: dir };
    // No commits at all: nothing to walk, and no failure.
    expect(await listAllCommits(repo)).toEqual({ ok: true, value: [], warnings: [] });
    gitCommitAll(dir, "one");
    writeFiles(dir, { "p.yaml": "a: 2\n" });
    git(dir, ["stash", "-q"]);
    writeFiles(dir, { "p.yaml": "a: 3\n" });
    gitCommitAll(dir, "two");
    git(dir, ["tag", "v2"]);
    git(dir, ["checkout", "-q", "--detach", "HEAD~1"]);
    writeFiles(dir, { "p.yaml": "a: 4\n" });
    gitCommitAll(dir, "detached");
    const all = await listAllCommits(repo);
    expect(all.ok).toBe(true);
    if (!all.ok) return;
    const full = await Promise.all(all.value.map(async (s) => git(dir, ["rev-parse", s]).trim()));
    const subjects = full.map((s) => git(dir, ["log", "-1", "--format=%s", s]).trim());
    expect([...subjects].sort()).toEqual(["detached", "one", "two"]);
    const stash = git(dir, ["rev-parse", "refs/stash"]).trim();
    expect(full).not.toContain(stash);
  });

  it("reads many files in one batch: contents, missing files, directories, binary-safe sizes", async () => {
    const dir = makeProject({ "p.yaml": "a: 1\n", "d/m.json": '{"é": "ünï"}', "space name.txt": "s p\n", "empty.txt": "" });
    gitInit(dir);
    gitCommitAll(dir, "one");
    const repo = { root: dir };
    const head = await resolveCommit(repo, "HEAD");
    if (!head.ok || head.value.sha === null) throw new Error("no HEAD");
    const r = await readFilesAt(repo, head.value.sha, ["p.yaml", "d/m.json", "nope.yaml", "d", "space name.txt", "empty.txt", "p.yaml"]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.get("p.yaml")).toEqual({ kind: "file", text: "a: 1\n", bytes: Buffer.from("a: 1\n") });
    expect(r.value.get("d/m.json")).toEqual({ kind: "file", text: '{"é": "ünï"}', bytes: Buffer.from('{"é": "ünï"}') });
    expect(r.value.get("nope.yaml")).toEqual({ kind: "missing" });
    expect(r.value.get("d")).toEqual({ kind: "dir" });
    expect(r.value.get("space name.txt")).toEqual({ kind: "file", text: "s p\n", bytes: Buffer.from("s p\n") });
    expect(r.value.get("empty.txt")).toEqual({ kind: "file", text: "", bytes: Buffer.from("") });
    const files = await listFilesAt(repo, head.value.sha);
    expect(files.ok && files.value).toEqual(["d/m.json", "empty.txt", "p.yaml", "space name.txt"]);
  });

  it("a repository without commits resolves HEAD and its branch to nothing, other names to errors", async () => {
    const dir = makeProject({ "p.yaml": "a: 1\n" });
    gitInit(dir);
    const repo = { root: dir };
    expect(await resolveCommit(repo, "HEAD")).toEqual({ ok: true, value: { name: "HEAD", sha: null }, warnings: [] });
    expect(await resolveCommit(repo, "main")).toEqual({ ok: true, value: { name: "main", sha: null }, warnings: [] });
    expect((await resolveCommit(repo, "HEAD~1")).ok).toBe(false);
  });

  it("a project in a subdirectory of the repository reads its files by project-relative paths", async () => {
    const dir = makeProject({ "proj/params.yaml": "a: 1\n", "proj/pipe.yaml": "stages: {}\n", "other/x": "x" });
    gitInit(dir);
    gitCommitAll(dir, "one");
    writeFiles(dir, { "proj/params.yaml": "a: 2\n" });
    const root = path.join(dir, "proj");
    const pg = await projectGit(root);
    expect(pg.ok && pg.value?.prefix).toBe("proj/");
    if (!pg.ok) return;
    const head = await openSide(root, pg.value, "HEAD", "test compares git revisions");
    const ws = await openSide(root, pg.value, "workspace", "test compares git revisions");
    if (!head.ok || !ws.ok) throw new Error("sides");
    const h = await head.value.read(["params.yaml", "missing.yaml"]);
    const w = await ws.value.read(["params.yaml", "missing.yaml"]);
    expect(h.ok && h.value.get("params.yaml")).toEqual({ kind: "file", text: "a: 1\n", bytes: Buffer.from("a: 1\n") });
    expect(w.ok && w.value.get("params.yaml")).toEqual({ kind: "file", text: "a: 2\n", bytes: Buffer.from("a: 2\n") });
    expect(h.ok && h.value.get("missing.yaml")).toEqual({ kind: "missing" });
    expect(w.ok && w.value.get("missing.yaml")).toEqual({ kind: "missing" });
    const all = await head.value.listAll();
    expect(all?.ok && all.value).toEqual(["params.yaml", "pipe.yaml"]);
    mkdirSync(path.join(root, "m"), { recursive: true });
    writeFiles(root, { "m/b.json": "{}", "m/a/c.json": "{}" });
    const listed = await ws.value.listUnder("m");
    expect(listed.ok && listed.value).toEqual(["m/a/c.json", "m/b.json"]);
  });

  it("outside a repository, only the workspace opens", async () => {
    const dir = makeProject({ "params.yaml": "a: 1\n" });
    const pg = await projectGit(dir);
    expect(pg.ok && pg.value).toBeUndefined();
    const s = await openSide(dir, undefined, "HEAD", "params diff compares git revisions");
    expect(s.ok).toBe(false);
    if (!s.ok) expect(s.errors[0]?.message).toBe("not a git repository: params diff compares git revisions");
    expect((await openSide(dir, undefined, "workspace", "x")).ok).toBe(true);
  });
});
