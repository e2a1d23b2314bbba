/**
 * `pipe params diff` end to end: real git repositories in temp dirs, the built CLI as a child process.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { git, gitCommitAll, gitInit, makeProject, REPO_ROOT, runPipe, runPipeIn, writeFiles } from "../helpers/project.js";

const PIPE_YAML = [
  "stages:",
  "  train:",
  "    cmd: python train.py",
  "    params:",
  "      - train",
  "      - seed",
  "      - configs/model.json:",
  "  evaluate:",
  "    cmd: python eval.py",
  "    params:",
  "      - configs/eval.yaml:",
  "          - threshold",
  "",
].join("\n");

const PARAMS_V1 = ["seed: 1", "train:", "  lr: 0.1", "  epochs: 10", "  layers: [64, 32]", "  optimizer:", "    name: adam", "    beta1: 0.9", "removed: gone", "untracked: 5", ""].join("\n");
const PARAMS_V2 = ["seed: 1", "train:", "  lr: 0.01", "  epochs: 10", "  layers: [64, 32, 16]", "  optimizer:", "    name: sgd", "    beta1: 0.9", "added: new", "untracked: 6", ""].join("\n");

/** A committed project (one commit) with params.yaml, a whole-file JSON dep and a keyed YAML dep. */
function project(): string {
  const dir = makeProject({
    "pipe.yaml": PIPE_YAML,
    "params.yaml": PARAMS_V1,
    "configs/model.json": JSON.stringify({ depth: 3, act: "relu", dropout: 0.5 }, null, 2),
    "configs/eval.yaml": "threshold: 0.5\nbatch: 32\n",
  });
  gitInit(dir);
  gitCommitAll(dir, "v1");
  return dir;
}

describe("pipe params diff", () => {
  it("HEAD vs workspace: changed, added and removed keys, nested keys, list values, sorted by path then key", async () => {
    const dir = project();
    writeFiles(dir, { "params.yaml": PARAMS_V2 });
    const r = await runPipeIn(dir, ["params", "diff"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "Path         Param                 HEAD      workspace",
        "params.yaml  added                 -         new",
        "params.yaml  removed               gone      -",
        "params.yaml  train.layers          [64, 32]  [64, 32, 16]",
        "params.yaml  train.lr              0.1       0.01",
        "params.yaml  train.optimizer.name  adam      sgd",
        "params.yaml  untracked             5         6",
        "",
      ].join("\n"),
    );
  });

  it("prints nothing and exits 0 when nothing changed", async () => {
    const dir = project();
    const r = await runPipeIn(dir, ["params", "diff"]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("--all shows unchanged params too, and of a file a stage tracks keys of, only those keys (as DVC); --deps keeps only keys a stage depends on (whole-file deps: every key)", async () => {
    const dir = project();
    writeFiles(dir, {
      "params.yaml": PARAMS_V2,
      "configs/model.json": JSON.stringify({ depth: 4, act: "relu", dropout: 0.5 }),
      "configs/eval.yaml": "threshold: 0.5\nbatch: 64\n",
    });
    const all = await runPipeIn(dir, ["params", "diff", "--all"]);
    expect(all.code).toBe(0);
    const rows = all.stdout.trimEnd().split("\n").map((l) => l.split(/\s{2,}/));
    expect(rows.map((c) => `${c[0]} ${c[1]}`)).toEqual([
      "Path Param",
      // configs/eval.yaml: its stage tracks `threshold` only, so `batch` (changed) is not compared.
      "configs/eval.yaml threshold",
      "configs/model.json act",
      "configs/model.json depth",
      "configs/model.json dropout",
      "params.yaml added",
      "params.yaml removed",
      "params.yaml seed",
      "params.yaml train.epochs",
      "params.yaml train.layers",
      "params.yaml train.lr",
      "params.yaml train.optimizer.beta1",
      "params.yaml train.optimizer.name",
      "params.yaml untracked",
    ]);
    expect(rows.find((c) => c[1] === "seed")).toEqual(["params.yaml", "seed", "1", "1"]);

    const deps = await runPipeIn(dir, ["params", "diff", "--deps"]);
    expect(deps.code).toBe(0);
    expect(deps.stdout).toBe(
      [
        "Path                Param                 HEAD      workspace",
        "configs/model.json  depth                 3         4",
        "params.yaml         train.layers          [64, 32]  [64, 32, 16]",
        "params.yaml         train.lr              0.1       0.01",
        "params.yaml         train.optimizer.name  adam      sgd",
        "",
      ].join("\n"),
    );
  });

  it("--md prints a GitHub table; --no-path drops the Path column; --targets limits the files", async () => {
    const dir = project();
    writeFiles(dir, { "params.yaml": PARAMS_V2, "configs/eval.yaml": "threshold: 0.6\nbatch: 32\n" });
    const md = await runPipeIn(dir, ["params", "diff", "--md", "--targets", "configs/eval.yaml"]);
    expect(md.code).toBe(0);
    expect(md.stdout).toBe(
      ["| Path              | Param     | HEAD   | workspace   |", "|-------------------|-----------|--------|-------------|", "| configs/eval.yaml | threshold | 0.5    | 0.6         |", "", ""].join("\n"),
    );
    const noPath = await runPipeIn(dir, ["params", "diff", "--no-path", "--targets", "configs/eval.yaml"]);
    expect(noPath.stdout).toBe(["Param      HEAD    workspace", "threshold  0.5     0.6", ""].join("\n"));
  });

  it("--json matches its schema and carries diff for numbers", async () => {
    const dir = project();
    writeFiles(dir, { "params.yaml": PARAMS_V2 });
    const r = await runPipeIn(dir, ["params", "diff", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as unknown;
    const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas/params-diff.schema.json"), "utf8")) as object;
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc).toEqual({
      "params.yaml": {
        added: { old: null, new: "new" },
        removed: { old: "gone", new: null },
        "train.layers": { old: [64, 32], new: [64, 32, 16] },
        "train.lr": { old: 0.1, new: 0.01, diff: -0.09 },
        "train.optimizer.name": { old: "adam", new: "sgd" },
        untracked: { old: 5, new: 6, diff: 1 },
      },
    });
    // Nothing changed: an empty document, still valid.
    const clean = project();
    const e = await runPipeIn(clean, ["params", "diff", "--json"]);
    expect(e.stdout).toBe("{}\n");
  });

  it("a params file that exists in only one revision: every key new, a warning naming the revision", async () => {
    const dir = project();
    writeFiles(dir, {
      "pipe.yaml": PIPE_YAML + "  extra:\n    cmd: echo\n    params:\n      - extra/new.yaml:\n",
      "extra/new.yaml": "alpha: 1\nbeta: [1, 2]\n",
    });
    const r = await runPipeIn(dir, ["params", "diff"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(["Path            Param    HEAD    workspace", "extra/new.yaml  alpha    -       1", "extra/new.yaml  beta     -       [1, 2]", ""].join("\n"));
    expect(r.stderr).toBe("warning: params file 'extra/new.yaml' does not exist in HEAD\n");

    // The other way round: the file (and the stage using it) only exist in the older revision.
    gitCommitAll(dir, "add extra");
    writeFiles(dir, { "pipe.yaml": PIPE_YAML });
    git(dir, ["rm", "-q", "extra/new.yaml"]);
    const back = await runPipeIn(dir, ["params", "diff"]);
    expect(back.stdout).toBe(["Path            Param    HEAD    workspace", "extra/new.yaml  alpha    1       -", "extra/new.yaml  beta     [1, 2]  -", ""].join("\n"));
    expect(back.stderr).toBe("warning: params file 'extra/new.yaml' does not exist in workspace\n");
  });

  it("compares two named revisions (HEAD~1, a tag, a branch, a sha) whatever the workspace holds", async () => {
    const dir = project();
    git(dir, ["tag", "v1"]);
    writeFiles(dir, { "params.yaml": PARAMS_V2 });
    gitCommitAll(dir, "v2");
    git(dir, ["branch", "v2-branch"]);
    writeFiles(dir, { "params.yaml": "seed: 99\n" });
    const expected = ["Path         Param                 HEAD~1    HEAD", "params.yaml  added                 -         new", "params.yaml  removed               gone      -"];
    const r = await runPipeIn(dir, ["params", "diff", "HEAD~1", "HEAD"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").slice(0, 3)).toEqual(expected);
    const byName = await runPipeIn(dir, ["params", "diff", "v1", "v2-branch"]);
    expect(byName.stdout.split("\n")[0]).toBe("Path         Param                 v1        v2-branch");
    expect(byName.stdout.split("\n").slice(1)).toEqual(r.stdout.split("\n").slice(1));
    const sha = git(dir, ["rev-parse", "--short", "HEAD~1"]).trim();
    const bySha = await runPipeIn(dir, ["params", "diff", sha, "HEAD"]);
    const cells = (out: string): string[][] => out.trimEnd().split("\n").map((l) => l.split(/\s{2,}/));
    expect(cells(bySha.stdout)[0]).toEqual(["Path", "Param", sha, "HEAD"]);
    expect(cells(bySha.stdout).slice(1)).toEqual(cells(r.stdout).slice(1));
    // One revision against the workspace.
    const ws = await runPipeIn(dir, ["params", "diff", "v1"]);
    expect(cells(ws.stdout)[0]).toEqual(["Path", "Param", "v1", "workspace"]);
    expect(cells(ws.stdout)).toContainEqual(["params.yaml", "seed", "1", "99"]);
    expect(cells(ws.stdout)).toContainEqual(["params.yaml", "train.lr", "0.1", "-"]);
  });

  it("TOML and Python params files", async () => {
    const dir = makeProject({
      "pipe.yaml": ["stages:", "  train:", "    cmd: python train.py", "    params:", "      - conf/train.toml:", "      - conf/params.py:", ""].join("\n"),
      "params.yaml": "a: 1\n",
      "conf/train.toml": 'lr = 0.1\n[model]\nname = "cnn"\nlayers = [1, 2]\n',
      "conf/params.py": [
        "import os",
        "EPOCHS = 10",
        "NAME = 'base'",
        "PATH = os.getenv('X')",
        "class Optim:",
        "    lr = 0.001",
        "    betas = (0.9, 0.999)",
        "    def __init__(self):",
        "        self.decay = 1e-5",
        "",
      ].join("\n"),
    });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    writeFiles(dir, {
      "conf/train.toml": 'lr = 0.2\n[model]\nname = "cnn"\nlayers = [1, 2, 3]\n',
      "conf/params.py": ["EPOCHS = 20", "NAME = 'base'", "class Optim:", "    lr = 0.0001", "    betas = (0.9, 0.99)", "    def __init__(self):", "        self.decay = 1e-6", ""].join("\n"),
    });
    const r = await runPipeIn(dir, ["params", "diff"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      [
        "Path             Param         HEAD          workspace",
        "conf/params.py   EPOCHS        10            20",
        "conf/params.py   Optim.betas   [0.9, 0.999]  [0.9, 0.99]",
        "conf/params.py   Optim.decay   0.00001       0.000001",
        "conf/params.py   Optim.lr      0.001         0.0001",
        "conf/train.toml  lr            0.1           0.2",
        "conf/train.toml  model.layers  [1, 2]        [1, 2, 3]",
        "",
      ].join("\n"),
    );
  });

  it("lists the keys of vars files that templating reads (spec 2.3), not the rest of those files, as DVC", async () => {
    const dir = makeProject({
      "pipe.yaml": ["vars:", "  - config/model.yaml", "stages:", "  train:", "    cmd: python train.py --size ${model.size}", ""].join("\n"),
      "config/model.yaml": "model:\n  size: 3\n  name: cnn\n",
    });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    // `model.name` changes too, but no `${...}` reads it.
    writeFiles(dir, { "config/model.yaml": "model:\n  size: 5\n  name: rnn\n" });
    const r = await runPipeIn(dir, ["params", "diff"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(["Path               Param       HEAD    workspace", "config/model.yaml  model.size  3       5", ""].join("\n"));
    // As DVC: the keys templating used are listed with --deps too.
    expect((await runPipeIn(dir, ["params", "diff", "--deps"])).stdout).toBe(r.stdout);
  });

  it("top-level params: files are compared whole", async () => {
    const dir = makeProject({ "pipe.yaml": "params:\n  - results/params.yaml\nstages:\n  s:\n    cmd: echo\n", "results/params.yaml": "foo: 3\n" });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    writeFiles(dir, { "results/params.yaml": "foo: 5\n" });
    expect((await runPipeIn(dir, ["params", "diff", "--json"])).stdout).toBe(JSON.stringify({ "results/params.yaml": { foo: { old: 3, new: 5, diff: 2 } } }, null, 2) + "\n");
    // --deps: no stage depends on it.
    expect((await runPipeIn(dir, ["params", "diff", "--deps"])).stdout).toBe("");
  });

  it("from a subdirectory, paths are shown relative to it (root-relative in --json)", async () => {
    const dir = project();
    writeFiles(dir, { "configs/eval.yaml": "threshold: 0.7\nbatch: 32\n", "params.yaml": PARAMS_V1.replace("seed: 1", "seed: 2") });
    const r = await runPipeIn(path.join(dir, "configs"), ["params", "diff"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(["Path            Param      HEAD    workspace", "../params.yaml  seed       1       2", "eval.yaml       threshold  0.5     0.7", ""].join("\n"));
    const t = await runPipeIn(path.join(dir, "configs"), ["params", "diff", "--targets", "eval.yaml", "--json"]);
    // --json is root-relative wherever pipe runs (targets are still read from the working directory).
    expect(JSON.parse(t.stdout)).toEqual({ "configs/eval.yaml": { threshold: { old: 0.5, new: 0.7, diff: 0.2 } } });
  });

  it("a project in a subdirectory of the git repository", async () => {
    const dir = makeProject({ "README": "top\n", "ml/pipe.yaml": PIPE_YAML, "ml/params.yaml": PARAMS_V1, "ml/configs/model.json": "{}", "ml/configs/eval.yaml": "threshold: 1\n" });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    writeFiles(dir, { "ml/configs/eval.yaml": "threshold: 2\n" });
    const r = await runPipeIn(path.join(dir, "ml"), ["params", "diff"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(["Path               Param      HEAD    workspace", "configs/eval.yaml  threshold  1       2", ""].join("\n"));
  });

  it("a repository without commits: every value is new", async () => {
    const dir = makeProject({ "pipe.yaml": PIPE_YAML, "params.yaml": "seed: 1\ntrain:\n  lr: 0.1\n" });
    gitInit(dir);
    const r = await runPipeIn(dir, ["params", "diff"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(["Path         Param     HEAD    workspace", "params.yaml  seed      -       1", "params.yaml  train.lr  -       0.1", ""].join("\n"));
  });

  it("outside a git repository: a clear message, exit 2", async () => {
    const dir = makeProject({ "pipe.yaml": PIPE_YAML, "params.yaml": "seed: 1\n" });
    const r = await runPipeIn(dir, ["params", "diff"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: not a git repository: params diff compares git revisions\n");
  });

  it("an unknown revision: a clear message, exit 2", async () => {
    const dir = project();
    const r = await runPipeIn(dir, ["params", "diff", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: unknown revision 'nope'\n");
    git(dir, ["branch", "feature"]);
    const hint = await runPipeIn(dir, ["params", "diff", "HEAD", "featur"]);
    expect(hint.code).toBe(2);
    expect(hint.stderr).toBe("error: unknown revision 'featur'\n  = did you mean 'feature'?\n");
  });

  it("a params file that does not parse in the workspace: a warning with its location, the other side still shows", async () => {
    const dir = project();
    writeFiles(dir, { "configs/eval.yaml": "threshold: [0.5\n" });
    const r = await runPipeIn(dir, ["params", "diff", "--targets", "configs/eval.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^configs\/eval\.yaml:\d+:\d+: warning: cannot read params file 'configs\/eval\.yaml' in workspace: '\[' is not closed/);
    expect(r.stdout).toContain("configs/eval.yaml  threshold  0.5     -");
  });

  it("--targets naming a file that neither revision holds: one warning naming both, exit 0", async () => {
    const dir = project();
    const r = await runPipeIn(dir, ["params", "diff", "--targets", "nothere.yaml"]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "warning: params file 'nothere.yaml' does not exist in HEAD or workspace\n" });
  });

  it("numbers print by the documented rule: shortest round-trip, positional from 1e-6 to 1e21, 1.0 is 1", async () => {
    const dir = project();
    writeFiles(dir, { "configs/eval.yaml": "threshold: 1.0\nbatch: 32\ntiny: 0.0000001\nsmall: 1e-5\nbig: 123456789012\nhuge: 2.5e21\n" });
    const r = await runPipeIn(dir, ["params", "diff", "--targets", "configs/eval.yaml", "--no-path"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        "Param      HEAD    workspace",
        "big        -       123456789012",
        "huge       -       2.5e+21",
        "small      -       0.00001",
        "threshold  0.5     1",
        "tiny       -       1e-7",
        "",
      ].join("\n"),
    );
  });

  it("at a revision, ignored folders and nested projects are not read (params diff, metrics diff, metrics show)", async () => {
    const stage = (params: string): string => ["stages:", "  s:", "    cmd: echo", `    params: [${params}]`, "    metrics:", "      - m.json:", "          cache: false", ""].join("\n");
    const dir = makeProject({
      "pipe.yaml": stage("a"),
      "params.yaml": "a: 1\n",
      "m.json": '{"acc": 0.5}',
      ".pipeignore": "ignored/\n",
      "ignored/pipe.yaml": stage("x"),
      "ignored/params.yaml": "x: 1\n",
      "ignored/m.json": '{"acc": 0.1}',
      "sub/pipe.yaml": stage("y"),
      "sub/params.yaml": "y: 1\n",
      "sub/m.json": '{"acc": 0.2}',
      // What `pipe init` commits of a nested project: its config; the rest of .pipe/ is git-ignored.
      "sub/.pipe/config.yaml": "jobs: 1\n",
    });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    writeFiles(dir, { "params.yaml": "a: 2\n", "m.json": '{"acc": 0.6}', "ignored/params.yaml": "x: 2\n", "ignored/m.json": '{"acc": 0.3}', "sub/params.yaml": "y: 2\n", "sub/m.json": '{"acc": 0.4}' });
    const p = await runPipeIn(dir, ["params", "diff"]);
    expect(p).toEqual({ code: 0, stdout: ["Path         Param    HEAD    workspace", "params.yaml  a        1       2", ""].join("\n"), stderr: "" });
    const m = await runPipeIn(dir, ["metrics", "diff"]);
    expect(m).toEqual({ code: 0, stdout: ["Path    Metric    HEAD    workspace    Change", "m.json  acc       0.5     0.6          0.1", ""].join("\n"), stderr: "" });
    const show = await runPipeIn(dir, ["metrics", "show", "HEAD"]);
    expect(show).toEqual({ code: 0, stdout: ["Revision    Path    acc", "HEAD        m.json  0.5", ""].join("\n"), stderr: "" });
    // Two revisions, the workspace not involved.
    gitCommitAll(dir, "v2");
    expect((await runPipeIn(dir, ["params", "diff", "HEAD~1", "HEAD"])).stdout).toBe(["Path         Param    HEAD~1    HEAD", "params.yaml  a        1         2", ""].join("\n"));
  });

  it("two revisions compare even when the workspace pipeline does not load; with the workspace as a side, exit 2", async () => {
    const dir = project();
    writeFiles(dir, { "params.yaml": PARAMS_V1.replace("seed: 1", "seed: 2") });
    gitCommitAll(dir, "v2");
    writeFiles(dir, { "pipe.yaml": PIPE_YAML.replace("python train.py", "python train.py ${nope}") });
    const r = await runPipeIn(dir, ["params", "diff", "HEAD~1", "HEAD"]);
    expect(r).toEqual({ code: 0, stdout: ["Path         Param    HEAD~1    HEAD", "params.yaml  seed     1         2", ""].join("\n"), stderr: "" });
    const ws = await runPipeIn(dir, ["params", "diff"]);
    expect(ws.code).toBe(2);
    expect(ws.stdout).toBe("");
    expect(ws.stderr).toMatch(/^pipe\.yaml:3:26: error: undefined variable 'nope' in '\$\{nope\}'\n/);
    // A revision whose own pipeline does not load: a warning with the first error, and its stages files read literally.
    gitCommitAll(dir, "broken");
    writeFiles(dir, { "pipe.yaml": PIPE_YAML });
    const b = await runPipeIn(dir, ["params", "diff", "HEAD~2", "HEAD"]);
    expect(b.code).toBe(0);
    expect(b.stdout).toBe(["Path         Param    HEAD~2    HEAD", "params.yaml  seed     1         2", ""].join("\n"));
    expect(b.stderr).toBe(
      "warning: the pipeline at HEAD does not load (pipe.yaml:3:26: undefined variable 'nope' in '${nope}'); the params and metrics its stages files name are read without templating\n",
    );
  });

  it("a value whose type changes but prints alike is quoted; a string '-' is never mistaken for a missing value", async () => {
    const dir = makeProject({ "pipe.yaml": "stages:\n  s:\n    cmd: echo\n", "params.yaml": "a: 1\nb: x\nc: true\n" });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    writeFiles(dir, { "params.yaml": 'a: "1"\nb: "-"\nc: "true"\nd: "-"\n' });
    const r = await runPipeIn(dir, ["params", "diff"]);
    expect(r.stdout).toBe(["Path         Param    HEAD    workspace", 'params.yaml  a        1       "1"', 'params.yaml  b        x       "-"', 'params.yaml  c        true    "true"', 'params.yaml  d        -       "-"', ""].join("\n"));
    expect(JSON.parse((await runPipeIn(dir, ["params", "diff", "--json"])).stdout)).toEqual({
      "params.yaml": { a: { old: 1, new: "1" }, b: { old: "x", new: "-" }, c: { old: true, new: "true" }, d: { old: null, new: "-" } },
    });
  });

  it("revisions as git understands them: `:/message`, an annotated tag, a detached HEAD; -C from elsewhere", async () => {
    const dir = project();
    git(dir, ["tag", "-a", "-m", "first release", "v1"]);
    writeFiles(dir, { "params.yaml": PARAMS_V1.replace("seed: 1", "seed: 2") });
    gitCommitAll(dir, "bump the seed");
    const byMessage = await runPipeIn(dir, ["params", "diff", ":/v1", ":/bump"]);
    expect(byMessage).toEqual({ code: 0, stdout: ["Path         Param    :/v1    :/bump", "params.yaml  seed     1       2", ""].join("\n"), stderr: "" });
    expect((await runPipeIn(dir, ["params", "diff", "v1", "HEAD"])).stdout.split("\n")[1]).toMatch(/^params\.yaml {2}seed {5}1 +2$/);
    git(dir, ["checkout", "-q", "--detach", "v1"]);
    // Detached at v1: HEAD is v1, and the workspace is v1's files.
    expect(await runPipeIn(dir, ["params", "diff"])).toEqual({ code: 0, stdout: "", stderr: "" });
    const fromElsewhere = runPipe(path.dirname(dir), ["-C", dir, "params", "diff", "HEAD", "main"]);
    expect(fromElsewhere.code, fromElsewhere.stderr).toBe(0);
    expect(fromElsewhere.stdout).toBe(["Path         Param    HEAD    main", "params.yaml  seed     1       2", ""].join("\n"));
  });

  it("JSON params with NaN and Infinity, and a TOML integer beyond 2^53, print in full", async () => {
    const dir = makeProject({
      "pipe.yaml": ["stages:", "  s:", "    cmd: echo", "    params:", "      - c.json:", "      - c.toml:", ""].join("\n"),
      "c.json": '{"loss": 0.5, "limit": 1}',
      "c.toml": "seed = 12345678901234567890\n",
    });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    writeFiles(dir, { "c.json": '{"loss": NaN, "limit": Infinity}', "c.toml": "seed = 12345678901234567891\n" });
    const r = await runPipeIn(dir, ["params", "diff"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      ["Path    Param    HEAD                  workspace", "c.json  limit    1                     inf", "c.json  loss     0.5                   nan", "c.toml  seed     12345678901234567890  12345678901234567891", ""].join("\n"),
    );
    const j = await runPipeIn(dir, ["params", "diff", "--json", "--targets", "c.toml"]);
    expect(j.stdout).toBe('{\n  "c.toml": {\n    "seed": {\n      "old": 12345678901234567890,\n      "new": 12345678901234567891,\n      "diff": 1\n    }\n  }\n}\n');
  });

  it("integers beyond 2^53 (JSON, YAML, TOML) are recorded exactly: status is clean after repro and sees a change of one", async () => {
    const dir = makeProject({
      "pipe.yaml": ["stages:", "  s:", "    cmd: echo hi > out.txt", "    params:", "      - c.json:", "      - c.toml:", "      - big", "    outs: [out.txt]", ""].join("\n"),
      "c.json": '{"seed": 12345678901234567890, "loss": NaN}',
      "c.toml": "seed = 12345678901234567890\n",
      "params.yaml": "big: 12345678901234567890\n",
    });
    const first = runPipe(dir, ["repro"]);
    expect(first.code, first.stderr).toBe(0);
    expect(readFileSync(path.join(dir, "pipe.lock"), "utf8").match(/seed: 12345678901234567890$/gm)).toHaveLength(2);
    expect((await runPipeIn(dir, ["status"])).stdout).toBe("Pipeline is up to date.\n");
    writeFiles(dir, { "c.json": '{"seed": 12345678901234567891, "loss": NaN}', "params.yaml": "big: 12345678901234567891\n" });
    const st = await runPipeIn(dir, ["status"]);
    expect(st.stdout).toContain("modified:   seed  12345678901234567890 -> 12345678901234567891");
    expect(st.stdout).toContain("modified:   big  12345678901234567890 -> 12345678901234567891");
    const j = await runPipeIn(dir, ["status", "--json"]);
    expect(j.code, j.stderr).toBe(0);
    expect(j.stdout).toContain('"new": 12345678901234567891');
  });
});
