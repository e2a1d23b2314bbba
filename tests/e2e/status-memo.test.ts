/**
 * The status memo (`.pipe/tmp/status-memo`) seen from the command line: a `status` that found everything up to date
 * memoises its answer, the next one gives it again from stats alone, and any change the full check would see sends
 * `status` down the full path again, with the same report the full path gives.
 *
 * Which path answered is told by `-v` on stderr (`... from .pipe/tmp/status-memo: N paths unchanged ...` against
 * `Checked N stages: read ...`). Files are back-dated before the run that should write the memo, because a file
 * modified within the last 2 s is never trusted by its stat.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { backdate, exists, makeProject, runPipe, runPipeIn, writeFiles } from "../helpers/project.js";

const MEMO = ".pipe/tmp/status-memo";
const FROM_MEMO = /^Checked 2 stages from \.pipe\/tmp\/status-memo: \d+ paths unchanged since the last full check$/m;
const FULL = /^Checked \d+ stages?: read \d+ bytes/m;

/** A recorded two-stage project (a directory dep, a params dep, a vars file in cmd), back-dated. */
async function recorded(): Promise<string> {
  const dir = makeProject({
    "pipe.yaml": `vars:
  - config/vars.yaml
stages:
  prepare:
    cmd: cat data/a.txt data/b.txt > prepared.txt
    deps:
      - data
    outs:
      - prepared.txt
  train:
    cmd: cat prepared.txt > model.txt && echo seed=\${seed} >> model.txt
    deps:
      - prepared.txt
    params:
      - lr
    outs:
      - model.txt
`,
    "params.yaml": "lr: 0.1\n",
    "config/vars.yaml": "seed: 7\n",
    "data/a.txt": "a\n",
    "data/b.txt": "b\n",
  });
  expect((await runPipeIn(dir, ["init"])).code).toBe(0);
  expect(runPipe(dir, ["repro"]).code).toBe(0);
  backdate(dir);
  return dir;
}

/** Runs a full check that writes the memo, and checks that the next run is answered from it. */
async function memoised(dir: string): Promise<string> {
  const full = await runPipeIn(dir, ["status", "-v"]);
  expect(full.code).toBe(0);
  expect(full.stderr).toMatch(FULL);
  expect(exists(dir, MEMO)).toBe(true);
  const hit = await runPipeIn(dir, ["status", "-v"]);
  expect(hit.stderr).toMatch(FROM_MEMO);
  expect(hit.stdout).toBe(full.stdout);
  return full.stdout;
}

describe("status memo", () => {
  it("answers an unchanged project with the full check's report, in every form", async () => {
    const dir = await recorded();
    // The full path's reports, before any memo exists (the first run of each writes it; they agree).
    const text = await runPipeIn(dir, ["status"]);
    rmSync(path.join(dir, MEMO));
    const json = await runPipeIn(dir, ["status", "--json"]);
    expect(text.stdout).toBe("Pipeline is up to date.\n");
    expect(exists(dir, MEMO)).toBe(true);

    expect((await runPipeIn(dir, ["status", "-v"])).stderr).toMatch(FROM_MEMO);
    expect((await runPipeIn(dir, ["status"])).stdout).toBe(text.stdout);
    expect((await runPipeIn(dir, ["status", "--json"])).stdout).toBe(json.stdout);
    const quiet = await runPipeIn(dir, ["status", "-q"]);
    expect([quiet.code, quiet.stdout, quiet.stderr]).toEqual([0, "", ""]);
    expect((await runPipeIn(dir, ["status", "--check"])).code).toBe(0);
    // Targets are always judged in full.
    expect((await runPipeIn(dir, ["status", "-v", "train"])).stderr).toMatch(FULL);
  });

  const edits: [string, (dir: string) => void, RegExp][] = [
    ["a file inside a directory dep edited", (d) => writeFiles(d, { "data/a.txt": "A\n" }), /prepare:\n {4}changed deps:\n {8}modified: {3}data\b/],
    ["a file added to a directory dep", (d) => writeFiles(d, { "data/c.txt": "c\n" }), /modified: {3}data\b/],
    ["a file dep edited (the out of another stage)", (d) => writeFiles(d, { "prepared.txt": "x\n" }), /prepare:\n {4}changed outs:\n {8}modified: {3}prepared\.txt\b/],
    ["an out deleted", (d) => rmSync(path.join(d, "model.txt")), /train:\n {4}changed outs:\n {8}deleted: {4}model\.txt\b/],
    ["a params value changed", (d) => writeFiles(d, { "params.yaml": "lr: 0.2\n" }), /modified: {3}lr {2}0\.1 -> 0\.2\n/],
    ["a vars value used in cmd changed", (d) => writeFiles(d, { "config/vars.yaml": "seed: 8\n" }), /changed command: \$\{seed\} 7 -> 8\n/],
    ["the lock file changed", (d) => writeFiles(d, { "pipe.lock": "schema: '2.0'\nstages: {}\n" }), /prepare:\n {4}no lock entry\n/],
    ["a new stages file in a subdirectory", (d) => writeFiles(d, { "sub/pipe.yaml": "stages:\n  extra:\n    cmd: echo\n" }), /sub\/pipe\.yaml:extra:\n {4}no lock entry\n/],
    ["an ignore rule that changes a directory dep's hash", (d) => writeFiles(d, { ".pipeignore": "data/b.txt\n" }), /modified: {3}data\b/],
  ];
  for (const [what, edit, reason] of edits) {
    it(`is not used once ${what}; the stale run drops it`, async () => {
      const dir = await recorded();
      await memoised(dir);
      edit(dir);
      const after = await runPipeIn(dir, ["status", "-v", "--check"]);
      expect(after.stderr).toMatch(FULL);
      expect(after.stdout).toMatch(reason);
      expect(after.code).toBe(1);
      expect(exists(dir, MEMO)).toBe(false);
    });
  }

  it("still answers after a change discovery has to look at but that changes no stages file (a new unrelated file)", async () => {
    const dir = await recorded();
    const before = await memoised(dir);
    writeFiles(dir, { "notes/todo.txt": "later\n", "README.txt": "hi\n" });
    const r = await runPipeIn(dir, ["status", "-v"]);
    expect(r.stderr).toMatch(FROM_MEMO);
    expect(r.stdout).toBe(before);
  });

  it("is not written when a file it would trust was modified within the racy window", async () => {
    const dir = await recorded();
    // Same content, modified just now: a file dep judged by its stat. (A directory dep is judged by its hash, which
    // is read from the content whenever a file in it is recent, so it needs no such rule.)
    writeFiles(dir, { "prepared.txt": "a\nb\n" });
    expect((await runPipeIn(dir, ["status"])).stdout).toBe("Pipeline is up to date.\n");
    expect(exists(dir, MEMO)).toBe(false);
  });

  it("a damaged memo is a miss, never an error", async () => {
    const dir = await recorded();
    await memoised(dir);
    const good = readFileSync(path.join(dir, MEMO), "utf8");
    const [head, ...lines] = good.trimEnd().split("\n");
    const fileLine = lines.find((l) => l.startsWith("f\t"))!;
    const dirLine = lines.find((l) => l.startsWith("d\t"))!;
    const damaged = [
      '{"format":"pipe-status-memo 1"\nf\tx\n', // a broken header
      `${head}\n${fileLine.split("\t").slice(0, 3).join("\t")}\n`, // a file line cut short
      `${head}\n${dirLine.replace(/\txxh64\t/, "\tsha0\t")}\n`, // an algorithm pipe does not know
      `${head}\n${fileLine.replace(/\t\d+$/, "\t12x")}\n`, // a number that is not one
      `${head}\nq\t${fileLine.slice(2)}\n`, // an unknown kind of line
      good.slice(0, -1), // no final line break: a torn write
    ];
    for (const text of damaged) {
      writeFileSync(path.join(dir, MEMO), text);
      const r = await runPipeIn(dir, ["status", "-v"]);
      expect([r.code, r.stdout]).toEqual([0, "Pipeline is up to date.\n"]);
      expect(r.stderr).toMatch(FULL);
    }
  });

  it("is not written when loading warned (a replay would drop the warning)", async () => {
    const dir = await recorded();
    writeFiles(dir, { "dvc.yaml": "stages:\n  ignored:\n    cmd: echo\n" });
    backdate(dir);
    await runPipeIn(dir, ["status"]); // writes the load cache
    const r = await runPipeIn(dir, ["status"]);
    expect(r.stderr).toMatch(/both pipe\.yaml and dvc\.yaml/);
    expect(exists(dir, MEMO)).toBe(false);
  });
});

describe("status memo and the working directory", () => {
  it("a memoised text report is given only where it was rendered: its paths and addresses are relative to there", async () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n",
      "sub/pipe.yaml": "stages:\n  fz:\n    cmd: echo f > f.txt\n    outs: [f.txt]\n",
    });
    expect((await runPipeIn(dir, ["init"])).code).toBe(0);
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFiles(dir, { "sub/pipe.yaml": "stages:\n  fz:\n    cmd: echo f > f.txt\n    frozen: true\n    outs: [f.txt]\n" });
    backdate(dir);
    const sub = path.join(dir, "sub");
    expect(await memoised(dir)).toBe("Pipeline is up to date.\nFrozen, outputs match the lock: sub/pipe.yaml:fz\n");
    const there = await runPipeIn(sub, ["status", "-v"]);
    expect(there.stderr).toMatch(FULL);
    expect(there.stdout).toBe("Pipeline is up to date.\nFrozen, outputs match the lock: fz\n");
    // JSON is the same from anywhere, so the memo answers it wherever it was written.
    const json = (await runPipeIn(dir, ["status", "--json"])).stdout;
    const fromSub = await runPipeIn(sub, ["status", "--json", "-v"]);
    expect(fromSub.stderr).toMatch(FROM_MEMO);
    expect(fromSub.stdout).toBe(json);
  });
});
