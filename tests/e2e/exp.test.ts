/**
 * Experiments end to end on the bundled example (examples/classifier), with real git, real Python stages and the
 * built `pipe`: a grid of four run from the queue two at a time, `exp show` sorted by a metric, `exp apply` and
 * `exp branch` leaving an up-to-date workspace, a failing experiment among four, a queue runner killed with SIGKILL
 * and run again, the run-cache shared between experiments, refs pushed and pulled through a bare repository, and a
 * commented YAML params file edited without losing a comment.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { git, gitCommitAll, gitInit, makeProject, PIPE_BIN, read, REPO_ROOT, runPipe } from "../helpers/project.js";
import { until } from "../helpers/processes.js";

const EXAMPLE = path.join(REPO_ROOT, "examples", "classifier");
const RUN_STATE = new Set([".pipe", "pipe.lock", "eval", "model.json", "train_loss.csv", "data/prepared", "data/features"]);

/** The example as a user's git project: lock and metrics committed (not ignored), one commit. */
function project(): string {
  const dir = makeProject();
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !RUN_STATE.has(path.relative(EXAMPLE, src).split(path.sep).join("/")) });
  const gi = read(dir, ".gitignore").split("\n").filter((l) => !/^\/(pipe\.lock|eval\/)$/.test(l));
  writeFileSync(path.join(dir, ".gitignore"), gi.join("\n"));
  gitInit(dir);
  gitCommitAll(dir, "baseline");
  return dir;
}

interface Row {
  kind: string;
  name: string;
  rev: string | null;
  state: string | null;
  metrics: Record<string, Record<string, number>>;
  params: Record<string, Record<string, unknown>>;
}

function show(dir: string, extra: string[] = []): Row[] {
  const r = runPipe(dir, ["exp", "show", "--json", ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { rows: Row[] }).rows;
}

/** What git says of the user's side: HEAD, its branch, the index and the work tree's status. */
function userState(dir: string): string {
  return [git(dir, ["rev-parse", "HEAD"]), git(dir, ["symbolic-ref", "HEAD"]), git(dir, ["ls-files", "-s"]), git(dir, ["status", "--porcelain"])].join("\n");
}

/** The commit of an experiment, by its name, through its ref (git itself does not look under refs/exps/). */
function expSha(dir: string, name: string): string {
  return git(dir, ["for-each-ref", "--format=%(objectname)", `refs/exps/*/*/${name}`]).trim();
}

const QUEUE = (dir: string): string => path.join(dir, ".pipe", "exps", "queue");

function entries(dir: string): { name: string; state: string; pgid?: number; log: string }[] {
  if (!existsSync(QUEUE(dir))) return [];
  return readdirSync(QUEUE(dir)).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(path.join(QUEUE(dir), f), "utf8")) as { name: string; state: string; pgid?: number; log: string });
}

describe("pipe exp", () => {
  it("a grid of 4 run two at a time: four experiments, the workspace and HEAD untouched, shown sorted, applied, branched", () => {
    const dir = project();
    const before = userState(dir);
    const q = runPipe(dir, ["exp", "run", "--queue", "-S", "train.lr=0.01,0.5", "-S", "train.epochs=10,40"]);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout.match(/^queued experiment '/gm)).toHaveLength(4);
    const r = runPipe(dir, ["exp", "run", "--run-all", "-j", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("4 experiment(s) recorded, 0 failed");
    expect(userState(dir)).toBe(before);
    expect(git(dir, ["worktree", "list"]).trim().split("\n")).toHaveLength(1);
    // The stages no override touches ran once, for the four: the others took them from the shared cache.
    const logs = entries(dir).map((e) => readFileSync(e.log, "utf8"));
    for (const s of ["prepare", "featurize"]) expect(logs.filter((l) => l.includes(`Running '${s}'`))).toHaveLength(1);
    expect(logs.filter((l) => l.includes("Running 'train'"))).toHaveLength(4);

    const rows = show(dir, ["--sort-by", "log_loss"]);
    const exps = rows.filter((x) => x.kind === "experiment");
    expect(exps).toHaveLength(4);
    const losses = exps.map((e) => e.metrics["eval/metrics.json"]!["log_loss"]!);
    expect(new Set(losses).size).toBe(4);
    expect(losses).toEqual([...losses].sort((a, b) => a - b));
    const combos = exps.map((e) => `${String(e.params["params.yaml"]!["train.lr"])}/${String(e.params["params.yaml"]!["train.epochs"])}`).sort();
    expect(combos).toEqual(["0.01/10", "0.01/40", "0.5/10", "0.5/40"]);
    // Each experiment is a commit of HEAD under DVC's ref layout.
    const head = git(dir, ["rev-parse", "HEAD"]).trim();
    for (const e of exps) {
      expect(git(dir, ["rev-parse", `${e.rev!}^`]).trim()).toBe(head);
      expect(git(dir, ["rev-parse", `refs/exps/${head.slice(0, 2)}/${head.slice(2)}/${e.name}`]).trim()).toBe(e.rev);
    }
    const ajv = new Ajv({ strict: false });
    const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas", "exp-show.schema.json"), "utf8")) as object;
    const jsonOut = runPipe(dir, ["exp", "show", "--json"]).stdout;
    expect(ajv.validate(schema, JSON.parse(jsonOut)), JSON.stringify(ajv.errors)).toBe(true);
    const table = runPipe(dir, ["exp", "show", "--sort-by", "log_loss"]).stdout;
    const best = exps[0]!;
    expect(table).toMatch(new RegExp(`\\[${best.name}\\].*\\*`));

    // apply the best: the workspace is then up to date without running anything
    const apply = runPipe(dir, ["exp", "apply", best.name]);
    expect(apply.code, apply.stderr).toBe(0);
    const st = runPipe(dir, ["status"]);
    expect(st.stdout).toBe("Pipeline is up to date.\n");
    expect(git(dir, ["rev-parse", "HEAD"]).trim()).toBe(head);
    expect(JSON.parse(read(dir, "eval/metrics.json")).log_loss).toBe(best.metrics["eval/metrics.json"]!["log_loss"]);
    const dry = runPipe(dir, ["repro", "--dry"]);
    expect(dry.stdout).not.toMatch(/Running|Would run/);

    // branch another one: its checkout (outputs from the cache) is up to date
    const other = exps[3]!;
    const br = runPipe(dir, ["exp", "branch", other.name, "tuned"]);
    expect(br.code, br.stderr).toBe(0);
    git(dir, ["checkout", "-q", "-f", "tuned"]);
    const co = runPipe(dir, ["checkout"]);
    expect(co.code, co.stderr).toBe(0);
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
    expect(JSON.parse(read(dir, "eval/metrics.json")).log_loss).toBe(other.metrics["eval/metrics.json"]!["log_loss"]);
  }, 240_000);

  it("a failing experiment among four is recorded as failed with its log; the others are recorded", () => {
    const dir = project();
    expect(runPipe(dir, ["exp", "run", "--queue", "-S", "featurize.scaling=minmax,bogus,none,standard"]).code).toBe(0);
    const r = runPipe(dir, ["exp", "run", "--run-all", "-j", "2"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("3 experiment(s) recorded, 1 failed");
    const rows = show(dir);
    expect(rows.filter((x) => x.kind === "experiment")).toHaveLength(3);
    const failed = rows.filter((x) => x.kind === "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.params["params.yaml"]!["featurize.scaling"]).toBe("bogus");
    const logs = runPipe(dir, ["queue", "logs", failed[0]!.name]);
    expect(logs.stdout).toContain("invalid choice: 'bogus'");
    expect(runPipe(dir, ["queue", "status"]).stdout).toMatch(/Failed/);
    expect(git(dir, ["status", "--porcelain"])).toBe("");
  }, 240_000);

  it("kill -9 of the queue runner, then --run-all again, finishes the queue", async () => {
    const dir = project();
    expect(runPipe(dir, ["exp", "run", "--queue", "-S", "train.lr=0.05,0.2,0.3"]).code).toBe(0);
    const child = spawn(process.execPath, [PIPE_BIN, "exp", "run", "--run-all", "-j", "1"], { cwd: dir, stdio: "ignore" });
    await until(() => entries(dir).some((e) => e.state === "running" && e.pgid !== undefined), "an experiment running");
    child.kill("SIGKILL");
    await new Promise((res) => child.once("exit", res));
    expect(entries(dir).some((e) => e.state === "running")).toBe(true);
    // exp clean leaves the worktree of an experiment still marked running to the runner; a stray one goes.
    git(dir, ["worktree", "add", "-q", "--detach", path.join(dir, ".pipe", "tmp", "exps", "stray"), "HEAD"]);
    expect(runPipe(dir, ["exp", "clean"]).stdout).toBe("Removed 1 stale worktree(s).\n");
    expect(readdirSync(path.join(dir, ".pipe", "tmp", "exps"))).toHaveLength(1);
    const again = runPipe(dir, ["exp", "run", "--run-all", "-j", "2"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/queued again/);
    expect(entries(dir).map((e) => e.state)).toEqual(["success", "success", "success"]);
    expect(show(dir).filter((x) => x.kind === "experiment")).toHaveLength(3);
    expect(git(dir, ["worktree", "list"]).trim().split("\n")).toHaveLength(1);
    expect(readdirSync(path.join(dir, ".pipe", "tmp", "exps"))).toEqual([]);
  }, 240_000);

  it("two experiments with the same overrides: the second is restored from the run-cache", () => {
    const dir = project();
    expect(runPipe(dir, ["exp", "run", "--queue", "-n", "one", "-S", "train.lr=0.2"]).code).toBe(0);
    expect(runPipe(dir, ["exp", "run", "--run-all"]).code).toBe(0);
    expect(runPipe(dir, ["exp", "run", "--queue", "-n", "two", "-S", "train.lr=0.2"]).code).toBe(0);
    expect(runPipe(dir, ["exp", "run", "--run-all"]).code).toBe(0);
    const log = runPipe(dir, ["queue", "logs", "two"]).stdout;
    for (const s of ["prepare", "featurize", "train"]) expect(log).toContain(`Restored '${s}' from run-cache`);
    expect(log).not.toContain("Running 'train'");
    // A name is unique per baseline; an invalid one is refused too.
    expect(runPipe(dir, ["exp", "run", "--queue", "-n", "two", "-S", "train.lr=0.3"]).code).toBe(2);
    expect(runPipe(dir, ["exp", "run", "-n", "bad/name"]).code).toBe(2);
    // params diff and metrics diff take experiment names
    const pd = runPipe(dir, ["params", "diff", "HEAD", "one"]);
    expect(pd.code, pd.stderr).toBe(0);
    expect(pd.stdout).toMatch(/train\.lr\s+0\.5\s+0\.2/);
    expect(runPipe(dir, ["metrics", "diff", "one", "two"]).code).toBe(0);
  }, 240_000);

  it("exp run in the workspace records the experiment and keeps comments of a YAML params file", () => {
    const dir = project();
    const commented = "# tuned by hand\nprepare:\n  test_ratio: 0.25   # a quarter held out\n  seed: 42\nfeaturize:\n  scaling: standard\n\ntrain:\n  lr: 0.5  # learning rate\n  epochs: 60\n  l2: 0.001\nevaluate:\n  threshold: 0.5\n";
    writeFileSync(path.join(dir, "params.yaml"), commented);
    gitCommitAll(dir, "comments");
    const head = git(dir, ["rev-parse", "HEAD"]);
    const r = runPipe(dir, ["exp", "run", "-n", "warm", "-S", "train.lr=0.05", "-S", "params.yaml:train.epochs=20"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Ran experiment 'warm'");
    const expected = commented.replace("lr: 0.5  #", "lr: 0.05  #").replace("epochs: 60", "epochs: 20");
    expect(read(dir, "params.yaml")).toBe(expected);
    expect(git(dir, ["show", `${expSha(dir, "warm")}:params.yaml`])).toBe(expected);
    expect(git(dir, ["rev-parse", "HEAD"])).toBe(head);
    expect(git(dir, ["diff", "--cached", "--name-only"])).toBe("");
    const tracked = git(dir, ["ls-tree", "-r", "--name-only", expSha(dir, "warm")]);
    for (const f of ["pipe.lock", "eval/metrics.json", "params.yaml"]) expect(tracked).toContain(f);
    expect(tracked).not.toContain("model.json");
    // Which baselines exp show covers: HEAD, the last N, one named, all with experiments.
    const baselines = (extra: string[]): string[] => show(dir, extra).filter((x) => x.kind === "baseline").map((x) => x.rev!.slice(0, 7));
    const [h0, h1] = git(dir, ["rev-list", "--max-count=2", "HEAD"]).trim().split("\n").map((x) => x.slice(0, 7));
    expect(baselines([])).toEqual([h0]);
    expect(baselines(["-n", "2"])).toEqual([h0, h1]);
    expect(baselines(["--rev", "HEAD~1"])).toEqual([h1]);
    expect(show(dir, ["--rev", "HEAD~1"]).filter((x) => x.kind === "experiment")).toEqual([]);
    expect(show(dir, ["-A"]).filter((x) => x.kind === "experiment").map((x) => x.name)).toEqual(["warm"]);
    expect(runPipe(dir, ["exp", "show", "--sort-by", "nope"]).code).toBe(2);
    // An unknown key is a usage error, and nothing is written.
    expect(runPipe(dir, ["exp", "run", "-S", "train.lrr=1"]).code).toBe(2);
    expect(read(dir, "params.yaml")).toBe(expected);
    // apply refuses to overwrite work of the user's own, unless forced
    writeFileSync(path.join(dir, "params.yaml"), expected.replace("seed: 42", "seed: 7"));
    const refused = runPipe(dir, ["exp", "apply", "warm"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("would overwrite uncommitted changes to 'params.yaml'");
    expect(read(dir, "params.yaml")).toContain("seed: 7");
    expect(runPipe(dir, ["exp", "apply", "-f", "warm"]).code).toBe(0);
    expect(read(dir, "params.yaml")).toBe(expected);
    // remove and list
    expect(runPipe(dir, ["exp", "list"]).stdout).toBe("main:\n\twarm\n");
    expect(runPipe(dir, ["exp", "remove", "warm"]).code).toBe(0);
    expect(runPipe(dir, ["exp", "list"]).stdout).toBe("");
  }, 240_000);

  it("exp push and exp pull move experiments between two clones through a bare repository", () => {
    const a = project();
    const bare = makeProject();
    git(bare, ["init", "-q", "--bare", "-b", "main"]);
    git(a, ["remote", "add", "origin", bare]);
    git(a, ["push", "-q", "origin", "main"]);
    expect(runPipe(a, ["exp", "run", "-n", "shared", "-S", "train.lr=0.3"]).code).toBe(0);
    const push = runPipe(a, ["exp", "push", "origin"]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toContain("shared");
    const b = makeProject();
    git(b, ["clone", "-q", bare, "."]);
    expect(runPipe(b, ["exp", "list"]).stdout).toBe("");
    const pull = runPipe(b, ["exp", "pull", "origin"]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(runPipe(b, ["exp", "list"]).stdout).toBe("main:\n\tshared\n");
    expect(expSha(b, "shared")).toBe(expSha(a, "shared"));
    expect(expSha(b, "shared")).toMatch(/^[0-9a-f]{40}$/);
    expect(runPipe(b, ["exp", "pull", "origin", "nope"]).code).toBe(2);
  }, 240_000);

  it("gc --all-experiments keeps what experiments name; gc -w alone would remove it", () => {
    const a = project();
    expect(runPipe(a, ["exp", "run", "-n", "kept", "-S", "train.lr=0.3"]).code).toBe(0);
    // Back to the baseline in the workspace: its lock no longer names the experiment's outputs.
    git(a, ["checkout", "-q", "--", "params.yaml"]);
    expect(runPipe(a, ["repro"]).code).toBe(0);
    expect(runPipe(a, ["gc", "-w", "--dry"]).stdout).toMatch(/Would remove \d+ cache objects?/);
    const kept = runPipe(a, ["gc", "-w", "--all-experiments", "-f"]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain("Nothing to remove");
    // The experiment's outputs are still in the cache: applying it restores them without running anything.
    expect(runPipe(a, ["exp", "apply", "-f", "kept"]).code).toBe(0);
    expect(runPipe(a, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  }, 240_000);

  it("with a data remote, exp push sends the experiment's cached outputs and exp pull fetches them: apply in the other clone runs nothing", () => {
    const a = project();
    const store = makeProject();
    expect(runPipe(a, ["remote", "add", "-d", "store", store]).code).toBe(0);
    // The example keeps `.pipe/` out of git; a team's project commits its configuration.
    writeFileSync(path.join(a, ".gitignore"), read(a, ".gitignore").replace("/.pipe/\n", ""));
    gitCommitAll(a, "data remote");
    expect(git(a, ["ls-files", ".pipe"])).toContain(".pipe/config.yaml");
    const bare = makeProject();
    git(bare, ["init", "-q", "--bare", "-b", "main"]);
    git(a, ["remote", "add", "origin", bare]);
    git(a, ["push", "-q", "origin", "main"]);
    expect(runPipe(a, ["exp", "run", "-n", "withdata", "-S", "train.lr=0.3"]).code).toBe(0);
    const push = runPipe(a, ["exp", "push", "origin", "withdata"]);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/files? pushed/);
    const b = makeProject();
    git(b, ["clone", "-q", bare, "."]);
    const pull = runPipe(b, ["exp", "pull", "origin", "withdata"]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toMatch(/files? fetched/);
    expect(runPipe(b, ["exp", "apply", "withdata"]).code).toBe(0);
    const st = runPipe(b, ["status"]);
    expect(st.stdout).toBe("Pipeline is up to date.\n");
    expect(runPipe(b, ["repro"]).stdout).not.toContain("Running");
  }, 240_000);
});

describe("pipe queue", () => {
  it("start runs the queue in the background; kill stops a running experiment, recorded as failed; remove drops entries", async () => {
    const dir = makeProject({
      "pipe.yaml": "stages:\n  wait:\n    cmd: sleep ${t} && echo ${t} > out.txt\n    params: [t]\n    outs: [out.txt]\n",
      "params.yaml": "t: 0\n",
    });
    gitInit(dir);
    gitCommitAll(dir, "baseline");
    expect(runPipe(dir, ["exp", "run", "--queue", "-n", "slow", "-S", "t=60,61"]).code).toBe(0);
    const start = runPipe(dir, ["queue", "start", "-j", "2"]);
    expect(start.code, start.stderr).toBe(0);
    await until(() => entries(dir).filter((e) => e.state === "running" && e.pgid !== undefined).length === 2, "both running");
    expect(runPipe(dir, ["queue", "status"]).stdout).toMatch(/slow-1\s+\S+ \S+\s+Running/);
    const kill = runPipe(dir, ["queue", "kill", "slow-1", "slow-2"]);
    expect(kill.code, kill.stderr).toBe(0);
    await until(() => entries(dir).every((e) => e.state === "failed"), "both failed");
    await until(() => !existsSync(path.join(dir, ".pipe", "exps", "runner.pid")), "the runner gone");
    expect(show(dir).filter((r) => r.kind === "failed").map((r) => r.name).sort()).toEqual(["slow-1", "slow-2"]);
    expect(runPipe(dir, ["queue", "kill", "slow-1"]).code).toBe(2);
    const rm = runPipe(dir, ["queue", "remove", "--all"]);
    expect(rm.stdout).toContain("slow-1");
    expect(entries(dir)).toEqual([]);
    expect(runPipe(dir, ["queue", "status"]).stdout).toBe("No experiments in the queue.\n");
    // The queue, its logs, the cache and the worktrees are all out of git: only `.pipe/.gitignore` is new (as after
    // any first write; users commit it).
    expect(git(dir, ["status", "--porcelain", "-uall"])).toBe("?? .pipe/.gitignore\n");
  }, 120_000);
});
