/**
 * The lock merge driver with real git: two branches that each ran different stages are merged by `git merge`, which
 * calls `pipe lock merge` through the driver `pipe lock install-driver` set up.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { mergeLocks } from "../../src/lock/merge.js";
import { parseLock } from "../../src/lock/read.js";
import { serializeLock } from "../../src/lock/write.js";
import { git, gitCommitAll, gitInit, makeProject, runPipe, writeFiles } from "../helpers/project.js";

const FILES = {
  "pa.txt": "a1\n",
  "pb.txt": "b1\n",
  "pd.txt": "d1\n",
  "pipe.yaml": `stages:
  a:
    cmd: cp pa.txt a.txt
    deps: [pa.txt]
    outs: [a.txt]
  b:
    cmd: cp pb.txt b.txt
    deps: [pb.txt]
    outs: [b.txt]
  c:
    cmd: cat a.txt b.txt > c.txt
    deps: [a.txt, b.txt]
    outs: [c.txt]
  d:
    cmd: cp pd.txt d.txt
    deps: [pd.txt]
    outs: [d.txt]
`,
};

function entries(text: string): Map<string, unknown> {
  const r = parseLock("pipe.lock", text, "pipe");
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value.stages;
}

function repro(root: string): void {
  const r = runPipe(root, ["repro"]);
  expect(r.code, r.stderr).toBe(0);
}

describe("pipe lock merge as git's merge driver", () => {
  it("install-driver writes .gitattributes and the clone's git config, says so, and is idempotent", () => {
    const root = makeProject(FILES);
    gitInit(root);
    const r = runPipe(root, ["lock", "install-driver", "--command", "pipe"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      "Added 'pipe.lock merge=pipe-lock' to .gitattributes (commit it, so every clone routes pipe.lock to the driver)\n" +
        "Set merge.pipe-lock.driver in this clone's .git/config: pipe lock merge %O %A %B %P\n",
    );
    expect(readFileSync(path.join(root, ".gitattributes"), "utf8")).toBe("pipe.lock merge=pipe-lock\n");
    expect(git(root, ["config", "--local", "--get", "merge.pipe-lock.driver"]).trim()).toBe("pipe lock merge %O %A %B %P");
    const again = runPipe(root, ["lock", "install-driver", "--command", "pipe"]);
    expect(again.stdout).toBe(".gitattributes already routes pipe.lock to the driver\nSet merge.pipe-lock.driver in this clone's .git/config: pipe lock merge %O %A %B %P (unchanged)\n");
    expect(readFileSync(path.join(root, ".gitattributes"), "utf8")).toBe("pipe.lock merge=pipe-lock\n");
    // Outside git: said, exit 2.
    const outside = runPipe(makeProject(FILES), ["lock", "install-driver"]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain("not in one");
  });

  it("merges two branches that ran different stages: one-side changes taken, equal changes kept, a stage changed differently dropped", () => {
    const root = makeProject(FILES);
    gitInit(root);
    repro(root);
    const install = runPipe(root, ["lock", "install-driver"]);
    expect(install.code, install.stderr).toBe(0);
    gitCommitAll(root, "base: every stage ran");
    const base = entries(readFileSync(path.join(root, "pipe.lock"), "utf8"));

    git(root, ["checkout", "-q", "-b", "x"]);
    writeFiles(root, { "pa.txt": "a2\n", "pd.txt": "d2\n" });
    repro(root);
    gitCommitAll(root, "x: new a (and c), d2");
    const x = entries(readFileSync(path.join(root, "pipe.lock"), "utf8"));

    git(root, ["checkout", "-q", "main"]);
    repro(root); // outputs back to main's (restored from the cache)
    git(root, ["checkout", "-q", "-b", "y"]);
    writeFiles(root, { "pb.txt": "b2\n", "pd.txt": "d2\n" });
    repro(root);
    gitCommitAll(root, "y: new b (and c), d2");
    const y = entries(readFileSync(path.join(root, "pipe.lock"), "utf8"));
    expect(x.get("c")).not.toEqual(y.get("c"));
    expect(x.get("d")).toEqual(y.get("d"));

    git(root, ["checkout", "-q", "x"]);
    // Without the driver git would stop on a conflict in pipe.lock (both sides changed c's and d's lines).
    git(root, ["merge", "--no-edit", "-q", "y"]);
    // A clean merge: committed, no conflict markers, canonical lock bytes.
    expect(git(root, ["status", "--porcelain"]).trim()).toBe("");
    const text = readFileSync(path.join(root, "pipe.lock"), "utf8");
    expect(text).not.toMatch(/^(<<<<<<<|=======|>>>>>>>)/m);
    const merged = entries(text);
    expect(serializeLock(merged as Map<string, never>)).toBe(text);
    expect(merged.get("a")).toEqual(x.get("a"));
    expect(merged.get("b")).toEqual(y.get("b"));
    expect(merged.get("d")).toEqual(x.get("d"));
    expect(merged.has("c")).toBe(false);
    expect(base.get("a")).not.toEqual(x.get("a"));

    // The dropped stage reads as never run, and repro runs it (the others restore from the cache or are fresh).
    const nd = runPipe(root, ["status", "--no-data"]);
    expect(nd.code).toBe(1);
    expect(nd.stdout).toBe("c: no entry in pipe.lock: run 'pipe repro c' and commit pipe.lock\nThe lock does not describe the pipeline: 1 problem in 1 of 4 stages (3 deps checked against git, 0 deps against their producers).\n");
    const r = runPipe(root, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Running 'c'");
    expect(r.stdout).not.toContain("Running 'a'");
    expect(readFileSync(path.join(root, "c.txt"), "utf8")).toBe("a2\nb2\n");
    expect(runPipe(root, ["status", "--no-data"]).code).toBe(0);
  });

  it("reports each dropped entry and writes canonical bytes (in process, git's argument order)", () => {
    const base = "schema: '2.0'\nstages:\n  s:\n    cmd: echo 1\n  t:\n    cmd: echo t\n";
    const ours = "schema: '2.0'\nstages:\n  s:\n    cmd: echo 2\n  t:\n    cmd: echo t\n  fresh:\n    cmd: echo fresh\n";
    const theirs = "schema: '2.0'\nstages:\n  s:\n    cmd: echo 3\n";
    const r = mergeLocks("pipe.lock", base, ours, theirs);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    // s: changed both sides differently (dropped); t: removed on their side only (removed); fresh: added on ours.
    expect(r.value.dropped).toEqual(["s"]);
    expect(r.value.text).toBe("schema: '2.0'\nstages:\n  fresh:\n    cmd: echo fresh\n");
    const bad = mergeLocks("pipe.lock", base, ours, "<<<<<<< HEAD\n");
    expect(bad.ok).toBe(false);
  });

  it("the driver leaves OURS as it was and exits 1 when a version does not parse", () => {
    const root = makeProject({ "o.lock": "schema: '2.0'\nstages:\n  s:\n    cmd: echo 1\n", "b.lock": "", "t.lock": "stages: [not, a, lock]\n" });
    const r = runPipe(root, ["lock", "merge", "b.lock", "o.lock", "t.lock", "pipe.lock"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("pipe.lock left as our side had it");
    expect(readFileSync(path.join(root, "o.lock"), "utf8")).toBe("schema: '2.0'\nstages:\n  s:\n    cmd: echo 1\n");
  });
});
