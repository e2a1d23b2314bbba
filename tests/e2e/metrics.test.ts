/**
 * `pipe metrics show` and `pipe metrics diff` end to end: real git repositories in temp dirs, the built CLI.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { git, gitCommitAll, gitInit, makeProject, REPO_ROOT, runPipe, runPipeIn, writeFiles } from "../helpers/project.js";

const PIPE_YAML = [
  "metrics:",
  "  - reports/summary.yaml",
  "stages:",
  "  train:",
  "    cmd: echo train",
  "    metrics:",
  "      - metrics.json:",
  "          cache: false",
  "      - logs/train.csv:",
  "          cache: false",
  "",
].join("\n");

function validator(name: string): (doc: unknown) => string | true {
  const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas", name), "utf8")) as object;
  const v = new Ajv({ strict: false }).compile(schema);
  return (doc) => (v(doc) ? true : JSON.stringify(v.errors));
}

function project(): string {
  const dir = makeProject({
    "pipe.yaml": PIPE_YAML,
    "metrics.json": JSON.stringify({ acc: 0.8123456, loss: { train: 0.5, val: 0.6 }, epochs: 10, cm: [[1, 2]] }),
    "logs/train.csv": "epoch,acc,loss\n1,0.5,0.9\n2,0.7,0.4\n",
    "reports/summary.yaml": "status: ok\nscore: 12\n",
  });
  gitInit(dir);
  gitCommitAll(dir, "v1");
  return dir;
}

describe("pipe metrics show", () => {
  it("prints one row per metrics file, metric columns sorted, numbers to 5 significant digits", async () => {
    const dir = project();
    const r = await runPipeIn(dir, ["metrics", "show"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "Path                  acc      epoch    epochs    loss    loss.train    loss.val    score    status",
        "logs/train.csv        0.7      2        -         0.4     -             -           -        -",
        "metrics.json          0.81235  -        10        -       0.5           0.6         -        -",
        "reports/summary.yaml  -        -        -         -       -             -           12       ok",
        "",
      ].join("\n"),
    );
    const p3 = await runPipeIn(dir, ["metrics", "show", "--precision", "3", "--md"]);
    expect(p3.stdout.split("\n")[3]).toBe("| metrics.json         | 0.812 | -       | 10       | -      | 0.5          | 0.6        | -       | -        |");
    expect(p3.stdout.endsWith("|\n\n")).toBe(true);
  });

  it("--json nests metrics as the file does and as DVC 3 prints them: {\"\": {data: {file: {data: {...}}}}} for the workspace alone", async () => {
    const dir = project();
    writeFiles(dir, { "eval/scores.json": JSON.stringify({ "precision@0.5": 0.8, val: { acc: 0.9, cm: [[1]], none: null, empty: {} } }), "score.yaml": "0.75\n" });
    writeFiles(dir, { "pipe.yaml": PIPE_YAML.replace("metrics:\n", "metrics:\n  - eval/scores.json\n  - score.yaml\n") });
    const r = await runPipeIn(dir, ["metrics", "show", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as unknown;
    expect(validator("metrics-show.schema.json")(doc)).toBe(true);
    expect(doc).toEqual({
      "": {
        data: {
          "eval/scores.json": { data: { "precision@0.5": 0.8, val: { acc: 0.9 } } },
          "logs/train.csv": { data: { epoch: 2, acc: 0.7, loss: 0.4 } },
          "metrics.json": { data: { acc: 0.8123456, loss: { train: 0.5, val: 0.6 }, epochs: 10 } },
          "reports/summary.yaml": { data: { status: "ok", score: 12 } },
          "score.yaml": { data: 0.75 },
        },
      },
    });
    // The table still flattens, and a key holding a dot stays one column.
    expect((await runPipeIn(dir, ["metrics", "show"])).stdout.split("\n")[0]).toContain("precision@0.5");
  });

  it("with revisions: a Revision column; a file missing in one revision is left out with one warning", async () => {
    const dir = project();
    writeFiles(dir, { "metrics.json": JSON.stringify({ acc: 0.9, loss: { train: 0.4, val: 0.5 }, epochs: 12 }) });
    gitCommitAll(dir, "v2");
    git(dir, ["rm", "-q", "reports/summary.yaml"]);
    const r = await runPipeIn(dir, ["metrics", "show", "workspace", "HEAD", "HEAD~1", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("warning: metrics file 'reports/summary.yaml' does not exist in workspace\n");
    const doc = JSON.parse(r.stdout) as Record<string, { data: Record<string, { data: Record<string, unknown> }> }>;
    expect(validator("metrics-show.schema.json")(doc)).toBe(true);
    expect(Object.keys(doc)).toEqual(["workspace", "HEAD", "HEAD~1"]);
    expect(Object.keys(doc["workspace"]!.data)).toEqual(["logs/train.csv", "metrics.json"]);
    expect(doc["HEAD~1"]!.data["metrics.json"]).toEqual({ data: { acc: 0.8123456, loss: { train: 0.5, val: 0.6 }, epochs: 10 } });
    expect(doc["HEAD"]!.data["reports/summary.yaml"]).toEqual({ data: { status: "ok", score: 12 } });

    const table = await runPipeIn(dir, ["metrics", "show", "HEAD", "HEAD~1"]);
    expect(table.stdout.split("\n").map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual([
      ["Revision", "Path", "acc"],
      ["HEAD", "logs/train.csv", "0.7"],
      ["HEAD", "metrics.json", "0.9"],
      ["HEAD", "reports/summary.yaml", "-"],
      ["HEAD~1", "logs/train.csv", "0.7"],
      ["HEAD~1", "metrics.json", "0.81235"],
      ["HEAD~1", "reports/summary.yaml", "-"],
      [""],
    ]);
  });

  it("--all-commits: the workspace and every commit, by abbreviated sha", async () => {
    const dir = project();
    writeFiles(dir, { "metrics.json": JSON.stringify({ acc: 0.95 }) });
    gitCommitAll(dir, "v2");
    writeFiles(dir, { "metrics.json": JSON.stringify({ acc: 0.99 }) });
    const r = await runPipeIn(dir, ["metrics", "show", "--all-commits"]);
    expect(r.code).toBe(0);
    const shas = git(dir, ["rev-list", "--all", "--abbrev-commit"]).trim().split("\n");
    const rows = r.stdout.trimEnd().split("\n").map((l) => l.split(/\s{2,}/));
    const accRows = rows.filter((c) => c[1] === "metrics.json").map((c) => [c[0], c[2]]);
    expect(accRows).toEqual([
      ["workspace", "0.99"],
      [shas[0], "0.95"],
      [shas[1], "0.81235"],
    ]);
  });

  it("--json keeps the revisions in their order when an abbreviated sha is all digits", async () => {
    const dir = project();
    writeFiles(dir, { "metrics.json": JSON.stringify({ acc: 0.7 }) });
    gitCommitAll(dir, "second");
    // Reword the commit until its abbreviated sha reads as an array index (all digits, no leading zero: about 1 in
    // 30 does), which a JavaScript object would list before every other key.
    let sha = git(dir, ["rev-parse", "--short", "HEAD"]).trim();
    for (let i = 0; i < 600 && !/^[1-9]\d*$/.test(sha); i++) {
      git(dir, ["commit", "-q", "--amend", "-m", `second ${i}`]);
      sha = git(dir, ["rev-parse", "--short", "HEAD"]).trim();
    }
    expect(sha).toMatch(/^[1-9]\d*$/);
    const r = await runPipeIn(dir, ["metrics", "show", "--all-commits", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const order = [...r.stdout.matchAll(/^ {2}"([^"]+)": /gm)].map((m) => m[1]!);
    expect(order).toEqual(["workspace", sha, git(dir, ["rev-parse", "--short", "HEAD~1"]).trim()]);
  });

  it("--all-commits leaves out stash commits; detached commits, tags and other branches are in", async () => {
    const dir = project();
    writeFiles(dir, { "metrics.json": JSON.stringify({ acc: 0.5 }) });
    git(dir, ["stash", "-q"]);
    git(dir, ["checkout", "-q", "-b", "other"]);
    writeFiles(dir, { "metrics.json": JSON.stringify({ acc: 0.9 }) });
    gitCommitAll(dir, "other");
    git(dir, ["tag", "-a", "-m", "tagged", "t1"]);
    git(dir, ["checkout", "-q", "--detach", "main"]);
    const r = await runPipeIn(dir, ["metrics", "show", "--all-commits", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, { data: Record<string, { data?: Record<string, unknown> }> }>;
    // Revisions in the order printed (JSON.parse would put an all-digit abbreviated sha first): workspace (main's
    // files), other's commit, main's commit; never the stash's 0.5.
    const order = [...r.stdout.matchAll(/^ {2}"([^"]+)": /gm)].map((m) => m[1]!);
    const shas = git(dir, ["rev-list", "--date-order", "--abbrev-commit", "main", "other"]).trim().split("\n");
    expect(order).toEqual(["workspace", ...shas]);
    const acc = order.map((rev) => doc[rev]?.data["metrics.json"]?.data?.["acc"]);
    expect(acc).toEqual([0.8123456, 0.9, 0.8123456]);
  });

  it("a revision whose metrics file is invalid JSON: a located warning, `-` there; NaN and Infinity read as DVC reads them", async () => {
    const dir = project();
    writeFiles(dir, { "metrics.json": '{"acc": 0.7,\n "loss": }' });
    gitCommitAll(dir, "broken metrics");
    writeFiles(dir, { "metrics.json": '{"acc": 0.75, "loss": NaN, "best": Infinity}' });
    const r = await runPipeIn(dir, ["metrics", "diff", "--targets", "metrics.json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("metrics.json:2:10: warning: cannot read metrics file 'metrics.json' in HEAD: invalid JSON: expected a value, found '}'\n");
    expect(r.stdout).toBe(["Path          Metric    HEAD    workspace    Change", "metrics.json  acc       -       0.75         -", "metrics.json  best      -       inf          -", "metrics.json  loss      -       nan          -", ""].join("\n"));
    const show = await runPipeIn(dir, ["metrics", "show", "HEAD", "HEAD~1", "--json"]);
    const doc = JSON.parse(show.stdout) as Record<string, { data: Record<string, unknown> }>;
    expect(doc["HEAD"]!.data["metrics.json"]).toEqual({ error: "cannot read metrics file 'metrics.json' in HEAD: invalid JSON: expected a value, found '}'" });
    expect(doc["HEAD~1"]!.data["metrics.json"]).toEqual({ data: { acc: 0.8123456, loss: { train: 0.5, val: 0.6 }, epochs: 10 } });
    expect(validator("metrics-show.schema.json")(doc)).toBe(true);
  });

  it("revisions are shown even when the workspace pipeline does not load; the workspace itself then fails with exit 2", async () => {
    const dir = project();
    writeFiles(dir, { "metrics.json": JSON.stringify({ acc: 0.9 }) });
    gitCommitAll(dir, "v2");
    writeFiles(dir, { "pipe.yaml": PIPE_YAML.replace("echo train", "echo ${nope}") });
    const show = await runPipeIn(dir, ["metrics", "show", "HEAD", "--md"]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stderr).toBe("");
    expect(show.stdout.split("\n")[3]).toBe("| HEAD       | metrics.json         | 0.9   | -       | -      | -       | -        |");
    const diff = await runPipeIn(dir, ["metrics", "diff", "HEAD~1", "HEAD", "--targets", "metrics.json"]);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout.split("\n")[1]).toBe("metrics.json  acc         0.81235   0.9     0.087654");
    for (const args of [["metrics", "show"], ["metrics", "diff"], ["metrics", "diff", "HEAD", "workspace"]]) {
      const r = await runPipeIn(dir, args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^pipe\.yaml:5:15: error: undefined variable 'nope'/);
    }
  });

  it("no metrics declared: a warning, nothing on stdout", async () => {
    const dir = makeProject({ "pipe.yaml": "stages:\n  s:\n    cmd: echo\n" });
    const r = await runPipeIn(dir, ["metrics", "show"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^warning: no metrics files/);
  });
});

describe("pipe metrics diff", () => {
  it("HEAD vs workspace with a Change column, --md exact, --json against its schema", async () => {
    const dir = project();
    writeFiles(dir, {
      "metrics.json": JSON.stringify({ acc: 0.85, loss: { train: 0.5, val: 0.55 }, epochs: 10, f1: 0.7 }),
      "logs/train.csv": "epoch,acc,loss\n1,0.5,0.9\n2,0.7,0.4\n3,0.75,0.3\n",
    });
    const r = await runPipeIn(dir, ["metrics", "diff"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "Path            Metric    HEAD     workspace    Change",
        "logs/train.csv  acc       0.7      0.75         0.05",
        "logs/train.csv  epoch     2        3            1",
        "logs/train.csv  loss      0.4      0.3          -0.1",
        "metrics.json    acc       0.81235  0.85         0.037654",
        "metrics.json    f1        -        0.7          -",
        "metrics.json    loss.val  0.6      0.55         -0.05",
        "",
      ].join("\n"),
    );
    const md = await runPipeIn(dir, ["metrics", "diff", "--md", "--targets", "metrics.json", "--precision", "2"]);
    expect(md.stdout).toBe(
      [
        "| Path         | Metric   | HEAD   | workspace   | Change   |",
        "|--------------|----------|--------|-------------|----------|",
        "| metrics.json | acc      | 0.81   | 0.85        | 0.038    |",
        "| metrics.json | f1       | -      | 0.7         | -        |",
        "| metrics.json | loss.val | 0.6    | 0.55        | -0.05    |",
        "",
        "",
      ].join("\n"),
    );
    const j = await runPipeIn(dir, ["metrics", "diff", "--json"]);
    const doc = JSON.parse(j.stdout) as Record<string, Record<string, unknown>>;
    expect(validator("metrics-diff.schema.json")(doc)).toBe(true);
    expect(doc["metrics.json"]).toEqual({
      acc: { old: 0.8123456, new: 0.85, diff: 0.0376544 },
      f1: { old: null, new: 0.7 },
      "loss.val": { old: 0.6, new: 0.55, diff: -0.05 },
    });
    const all = await runPipeIn(dir, ["metrics", "diff", "--all", "--no-path", "--targets", "reports/summary.yaml"]);
    expect(all.stdout).toBe(["Metric    HEAD    workspace    Change", "score     12      12           0", "status    ok      ok           -", ""].join("\n"));
  });

  it("a metrics file missing in one revision shows - and a warning naming the revision", async () => {
    const dir = project();
    writeFiles(dir, { "pipe.yaml": PIPE_YAML + "      - eval/scores.json:\n          cache: false\n", "eval/scores.json": '{"auc": 0.9}' });
    const r = await runPipeIn(dir, ["metrics", "diff"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(["Path              Metric    HEAD    workspace    Change", "eval/scores.json  auc       -       0.9          -", ""].join("\n"));
    expect(r.stderr).toBe("warning: metrics file 'eval/scores.json' does not exist in HEAD\n");
  });

  it("from a subdirectory, between two named revisions", async () => {
    const dir = project();
    writeFiles(dir, { "metrics.json": JSON.stringify({ acc: 0.9, loss: { train: 0.5, val: 0.6 }, epochs: 10 }) });
    gitCommitAll(dir, "v2");
    const r = await runPipeIn(path.join(dir, "logs"), ["metrics", "diff", "HEAD~1", "HEAD"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(["Path             Metric    HEAD~1    HEAD    Change", "../metrics.json  acc       0.81235   0.9     0.087654", ""].join("\n"));
  });

  it("outside git and with an unknown revision: exit 2 with a clear message", async () => {
    const out = makeProject({ "pipe.yaml": PIPE_YAML, "metrics.json": "{}" });
    const r = await runPipeIn(out, ["metrics", "diff"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: not a git repository: metrics diff compares git revisions\n");
    // show needs no git for the workspace alone, but does for revisions
    expect((await runPipeIn(out, ["metrics", "show"])).code).toBe(0);
    expect(await runPipeIn(out, ["metrics", "show", "HEAD"])).toEqual({ code: 2, stdout: "", stderr: "error: not a git repository: metrics show reads revisions from git\n" });
    expect((await runPipeIn(out, ["metrics", "show", "--all-commits"])).stderr).toBe("error: not a git repository: metrics show --all-commits reads revisions from git\n");
    const dir = project();
    const u = await runPipeIn(dir, ["metrics", "diff", "nope"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toBe("error: unknown revision 'nope'\n");
    expect(await runPipeIn(dir, ["metrics", "show", "HEAD", "nope"])).toEqual({ code: 2, stdout: "", stderr: "error: unknown revision 'nope'\n" });
    expect((await runPipeIn(dir, ["metrics", "show", "--precision", "zero"])).code).toBe(2);
  });

  it("after `pipe repro` changed metrics.json (committed) and eval.json (cached, ignored by git)", async () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  train:",
        "    cmd: node train.js",
        "    deps: [params.yaml, train.js]",
        "    params: [lr]",
        "    metrics:",
        "      - metrics.json:",
        "          cache: false",
        "      - eval.json",
        "",
      ].join("\n"),
      "train.js": [
        "const fs = require('fs');",
        "const lr = Number(/lr: (.*)/.exec(fs.readFileSync('params.yaml', 'utf8'))[1]);",
        "fs.writeFileSync('metrics.json', JSON.stringify({ acc: 1 - lr, lr }));",
        "fs.writeFileSync('eval.json', JSON.stringify({ auc: 1 - lr / 2 }));",
        "",
      ].join("\n"),
      "params.yaml": "lr: 0.1\n",
      ".gitignore": "/eval.json\n/.pipe/\n",
    });
    gitInit(dir);
    const first = runPipe(dir, ["repro"]);
    expect(first.code, first.stderr).toBe(0);
    gitCommitAll(dir, "first run");
    expect(git(dir, ["ls-files"]).split("\n")).not.toContain("eval.json");
    writeFiles(dir, { "params.yaml": "lr: 0.25\n" });
    const second = runPipe(dir, ["repro"]);
    expect(second.code, second.stderr).toBe(0);
    const r = await runPipeIn(dir, ["metrics", "diff"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      [
        "Path          Metric    HEAD    workspace    Change",
        "eval.json     auc       0.95    0.875        -0.075",
        "metrics.json  acc       0.9     0.75         -0.15",
        "metrics.json  lr        0.1     0.25         0.15",
        "",
      ].join("\n"),
    );
    const p = await runPipeIn(dir, ["params", "diff"]);
    expect(p.stdout).toBe(["Path         Param    HEAD    workspace", "params.yaml  lr       0.1     0.25", ""].join("\n"));
  });

  it("a repository without commits: every value is new; TOML and TSV metrics; a path with a space", async () => {
    const dir = makeProject({
      "pipe.yaml": ["metrics:", "  - m.toml", "  - logs/run 1.tsv", "stages:", "  s:", "    cmd: echo", ""].join("\n"),
      "m.toml": "acc = 0.5\n[per_class]\ncat = 0.25\n",
      "logs/run 1.tsv": "step\tloss\n1\t0.9\n2\t0.000012345678\n",
    });
    gitInit(dir);
    const r = await runPipeIn(dir, ["metrics", "diff"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      [
        "Path            Metric         HEAD    workspace    Change",
        "logs/run 1.tsv  loss           -       0.000012346  -",
        "logs/run 1.tsv  step           -       2            -",
        "m.toml          acc            -       0.5          -",
        "m.toml          per_class.cat  -       0.25         -",
        "",
      ].join("\n"),
    );
    gitCommitAll(dir, "v1");
    writeFiles(dir, { "m.toml": "acc = 0.75\n[per_class]\ncat = 0.25\n", "logs/run 1.tsv": "step\tloss\n1\t0.9\n2\t0.5\n3\t0.25\n" });
    const d = await runPipeIn(dir, ["metrics", "diff", "--json"]);
    expect(JSON.parse(d.stdout)).toEqual({
      "logs/run 1.tsv": { loss: { old: 0.000012345678, new: 0.25, diff: 0.249987654322 }, step: { old: 2, new: 3, diff: 1 } },
      "m.toml": { acc: { old: 0.5, new: 0.75, diff: 0.25 } },
    });
  });

  it("--targets naming a file that neither revision holds: one warning naming both, exit 0", async () => {
    const dir = project();
    const r = await runPipeIn(dir, ["metrics", "diff", "--targets", "nothere.json"]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "warning: metrics file 'nothere.json' does not exist in HEAD or workspace\n" });
  });
});
