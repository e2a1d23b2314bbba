/**
 * `pipe status --no-data` end to end with real git: the lock is made by a real `pipe repro`, committed, and judged in
 * the work tree and in a fresh clone that has no outputs, no cache and no untracked data.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { git, gitCommitAll, gitInit, makeProject, REPO_ROOT, runPipe, runPipeIn, writeFiles } from "../helpers/project.js";

const FILES = {
  ".gitignore": "/big.bin\n",
  "params.yaml": "train:\n  lr: 0.5\n  epochs: 3\n",
  "data/raw.csv": "a,b\n1,2\n",
  "src/train.sh": "cat prepared.txt > model.txt\necho lr=$1 >> model.txt\n",
  "big.bin": "data nobody commits\n",
  "pipe.yaml": `stages:
  prepare:
    cmd: cp data/raw.csv prepared.txt && cat big.bin >> prepared.txt
    deps: [data/raw.csv, big.bin]
    outs: [prepared.txt]
  train:
    cmd: sh src/train.sh \${train.lr}
    deps: [prepared.txt, src/train.sh]
    params: [train.lr]
    outs: [model.txt]
`,
};

const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas/status-no-data.schema.json"), "utf8")) as object);

/** A project whose pipeline ran and whose lock is committed. */
function committedProject(): string {
  const root = makeProject(FILES);
  gitInit(root);
  const r = runPipe(root, ["repro"]);
  expect(r.code, r.stderr).toBe(0);
  gitCommitAll(root, "pipeline and lock");
  return root;
}

async function noData(root: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const r = await runPipeIn(root, ["status", "--no-data", ...args]);
  expect(r.stderr).not.toMatch(/internal error/);
  return { code: r.code, out: r.stdout };
}

function clone(root: string): string {
  const dest = makeProject();
  rmSync(dest, { recursive: true });
  git(path.dirname(dest), ["clone", "-q", root, dest]);
  return dest;
}

describe("pipe status --no-data", () => {
  it("says the lock describes the pipeline, the same in the work tree and in a fresh clone without data", async () => {
    const root = committedProject();
    const here = await noData(root);
    expect(here.code).toBe(0);
    expect(here.out).toBe("The lock describes the pipeline: 2 stages, 2 deps checked against git, 1 dep against their producers.\n");
    const fresh = clone(root);
    expect(readFileSync(path.join(fresh, "pipe.lock"), "utf8")).toBe(readFileSync(path.join(root, "pipe.lock"), "utf8"));
    const there = await noData(fresh);
    expect(there).toEqual(here);
    // The full check cannot tell in a clone: every output is deleted there.
    const full = await runPipeIn(fresh, ["status", "--check"]);
    expect(full.code).toBe(1);
    // -v lists what git alone cannot judge: the untracked dep.
    expect((await noData(fresh, "-v")).out).toContain("prepare: big.bin: not in git (data)");
  });

  it("never reads outputs or untracked data: outputs replaced by FIFOs (which a read would block on) and changed data give the same answer", async () => {
    const root = committedProject();
    const before = await noData(root);
    for (const out of ["model.txt", "prepared.txt"]) {
      rmSync(path.join(root, out));
      execFileSync("mkfifo", [path.join(root, out)]);
    }
    writeFileSync(path.join(root, "big.bin"), "changed data\n");
    expect(await noData(root)).toEqual(before);
  });

  it("names a changed param with both values and what to do, in text and --json", async () => {
    const root = committedProject();
    writeFiles(root, { "params.yaml": "train:\n  lr: 0.3\n  epochs: 3\n" });
    gitCommitAll(root, "lr 0.3, lock not updated");
    const fresh = clone(root);
    const r = await noData(fresh);
    expect(r.code).toBe(1);
    expect(r.out.split("\n")).toContain("train: params.yaml:train.lr is 0.3 but pipe.lock recorded 0.5: run 'pipe repro train' and commit pipe.lock");
    // The command changed with the param: said once, by the param's line.
    expect(r.out.split("\n")).toHaveLength(3);
    const j = await noData(fresh, "--json");
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.out) as { consistent: boolean; issues: { kind: string; key?: string; old?: unknown; new?: unknown }[] };
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.consistent).toBe(false);
    expect(doc.issues.find((i) => i.kind === "param")).toMatchObject({ stage: "train", file: "params.yaml", key: "train.lr", change: "modified", old: 0.5, new: 0.3 });
    // After the fix the same clone is consistent.
    expect(runPipe(root, ["repro"]).code).toBe(0);
    gitCommitAll(root, "repro");
    git(fresh, ["pull", "-q", "--no-rebase"]);
    expect((await noData(fresh)).code).toBe(0);
  });

  it("names a code dep edited without a re-run, with both hashes, and a command edited by hand", async () => {
    const root = committedProject();
    writeFiles(root, { "src/train.sh": "cat prepared.txt > model.txt\necho lr=$1 epochs >> model.txt\n", "pipe.yaml": FILES["pipe.yaml"].replace("cmd: sh src/train.sh", "cmd: bash src/train.sh") });
    gitCommitAll(root, "edit train.sh");
    const r = await noData(clone(root));
    expect(r.code).toBe(1);
    expect(r.out).toContain("train: command is 'bash src/train.sh 0.5' but pipe.lock recorded 'sh src/train.sh 0.5': run 'pipe repro train' and commit pipe.lock\n");
    expect(r.out).toMatch(/^train: src\/train\.sh hashes to xxh64:[0-9a-f]{16} but pipe\.lock recorded xxh64:[0-9a-f]{16}: run 'pipe repro train' and commit pipe\.lock$/m);
    const doc = JSON.parse((await noData(root, "--json")).out) as { issues: { kind: string }[] };
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.issues.map((i) => i.kind)).toEqual(["command", "dep"]);
  });

  it("checks the chain: a consumer's dep hash must be the one its producer's entry records", async () => {
    const root = committedProject();
    writeFiles(root, { "data/raw.csv": "a,b\n3,4\n" });
    // Only the producer re-ran: prepare's entry is right, train's records the old prepared.txt.
    expect(runPipe(root, ["repro", "-s", "prepare"]).code).toBe(0);
    gitCommitAll(root, "prepare only");
    const r = await noData(clone(root));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^train: prepared\.txt is recorded as xxh64:[0-9a-f]{16} but 'prepare' recorded its output as xxh64:[0-9a-f]{16}: run 'pipe repro train' and commit pipe\.lock$/m);
    expect(r.out).not.toMatch(/^prepare:/m);
    const doc = JSON.parse((await noData(root, "--json")).out) as unknown;
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
  });

  it("names a stage without a lock entry, a declared output the lock lacks, and a lock git does not track", async () => {
    const root = committedProject();
    writeFiles(root, {
      "pipe.yaml": FILES["pipe.yaml"].replace("outs: [model.txt]", "outs: [model.txt, report.txt]") + "  report:\n    cmd: cat model.txt > summary.txt\n    deps: [model.txt]\n    outs: [summary.txt]\n",
    });
    gitCommitAll(root, "new stage");
    const r = await noData(root);
    expect(r.code).toBe(1);
    expect(r.out).toContain("train: output report.txt is declared but pipe.lock does not record it: run 'pipe repro train' and commit pipe.lock\n");
    expect(r.out).toContain("report: no entry in pipe.lock: run 'pipe repro report' and commit pipe.lock\n");
    expect(r.out).toContain("in 2 of 3 stages");

    const untracked = makeProject(FILES);
    gitInit(untracked);
    expect(runPipe(untracked, ["repro"]).code).toBe(0);
    git(untracked, ["add", "pipe.yaml", "params.yaml", "data", "src", ".gitignore"]);
    const u = await noData(untracked);
    expect(u.code).toBe(1);
    expect(u.out).toContain("pipe.lock is not in git: run 'git add pipe.lock' and commit it\n");
  });

  it("hashes a git-tracked directory dep from its tracked files, as repro hashed it; untracked files in it are not read", async () => {
    const root = makeProject({
      ".gitignore": "/lib/scratch.tmp\n",
      "lib/a.py": "a = 1\n",
      "lib/sub/b.py": "b = 2\n",
      "pipe.yaml": "stages:\n  build:\n    cmd: cat lib/a.py lib/sub/b.py > built.txt\n    deps: [lib]\n    outs: [built.txt]\n",
    });
    gitInit(root);
    expect(runPipe(root, ["repro"]).code).toBe(0);
    gitCommitAll(root, "built");
    const ok = await noData(root);
    expect(ok.out).toBe("The lock describes the pipeline: 1 stage, 1 dep checked against git, 0 deps against their producers.\n");
    writeFiles(root, { "lib/scratch.tmp": "an untracked file in the directory\n" });
    expect(await noData(root)).toEqual(ok);
    writeFiles(root, { "lib/sub/b.py": "b = 3\n" });
    gitCommitAll(root, "edit b.py");
    const r = await noData(clone(root));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^build: lib hashes to xxh64:[0-9a-f]{16}\.dir but pipe\.lock recorded xxh64:[0-9a-f]{16}\.dir: run 'pipe repro build' and commit pipe\.lock$/m);
  });

  it("outside git it says why and exits 2", async () => {
    const root = makeProject(FILES);
    const r = await runPipeIn(root, ["status", "--no-data"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is not in a git work tree");
  });
});
