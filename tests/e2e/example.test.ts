/**
 * The bundled example pipeline (examples/classifier) end to end, as the README promises it: a first run executes
 * every stage with real Python, a second run does nothing, a parameter change re-runs exactly the stages that read
 * it, `params diff` and `metrics diff` show the change against the last commit, and changing the parameter back
 * restores the model from the run-cache.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { gitCommitAll, gitInit, makeProject, read, REPO_ROOT, runPipe } from "../helpers/project.js";

const EXAMPLE = path.join(REPO_ROOT, "examples", "classifier");
/** What a run leaves in the example directory; never copied, so every test starts from a fresh clone's state. */
const RUN_STATE = new Set([".pipe", "pipe.lock", "eval", "model.json", "train_loss.csv", "data/prepared", "data/features"]);

function copyExample(): string {
  const dir = makeProject();
  cpSync(EXAMPLE, dir, {
    recursive: true,
    filter: (src) => !RUN_STATE.has(path.relative(EXAMPLE, src).split(path.sep).join("/")),
  });
  return dir;
}

function ran(stdout: string): string[] {
  return [...stdout.matchAll(/^Running '([^']+)'$/gm)].map((m) => m[1]!);
}

describe("examples/classifier", () => {
  it("runs, is then up to date, re-runs exactly what a param change touches, diffs it, and restores it", () => {
    const dir = copyExample();
    // As in a user's project: the lock and the metrics are committed, so git revisions can be compared.
    const gi = read(dir, ".gitignore").split("\n").filter((l) => !/^\/(\.pipe\/|pipe\.lock|eval\/)$/.test(l));
    writeFileSync(path.join(dir, ".gitignore"), gi.join("\n"));
    gitInit(dir);

    const dag = runPipe(dir, ["dag"]);
    expect(dag.code).toBe(0);
    for (const s of ["prepare", "featurize", "train", "evaluate"]) expect(dag.stdout).toContain(`| ${s} |`);

    const first = runPipe(dir, ["repro"]);
    // A fresh clone has no .pipe/: the first write creates it and says so, once.
    expect(first.stderr).toBe(`note: initialised .pipe/ in ${dir}\n`);
    expect(first.code).toBe(0);
    expect(ran(first.stdout)).toEqual(["prepare", "featurize", "train", "evaluate"]);
    expect(first.stdout).toMatch(/^Summary: 4 ran, 0 restored, 0 up to date, 0 failed/m);
    const metrics = JSON.parse(read(dir, "eval/metrics.json")) as Record<string, number>;
    expect(Object.keys(metrics).sort()).toEqual(["accuracy", "f1", "log_loss", "precision", "recall", "roc_auc"]);
    // A linear model separates the bundled data well but not perfectly.
    expect(metrics["accuracy"]).toBeGreaterThan(0.75);
    expect(metrics["accuracy"]).toBeLessThan(1);
    // pipe's own .gitignore lines for the cached outputs are already there: the file is left as it was.
    expect(read(dir, ".gitignore")).toBe(gi.join("\n"));
    expect(read(dir, "eval/roc.csv").split("\n")[0]).toBe("fpr,tpr");
    expect(read(dir, "train_loss.csv").split("\n").length).toBe(60 + 2); // header, 60 epochs, final newline

    const second = runPipe(dir, ["repro"]);
    expect(second.code).toBe(0);
    expect(ran(second.stdout)).toEqual([]);
    expect(second.stdout).toContain("Pipeline is up to date.");
    expect(runPipe(dir, ["status", "-q"]).code).toBe(0);
    gitCommitAll(dir, "baseline");

    const params = path.join(dir, "params.yaml");
    const baseline = readFileSync(params, "utf8");
    writeFileSync(params, baseline.replace("epochs: 60", "epochs: 15"));
    const status = runPipe(dir, ["status"]);
    expect(status.code).toBe(0);
    // A whole `train` section is tracked, yet status names the one key that moved, and the command variable.
    expect(status.stdout).toBe(
      [
        "train:",
        "    changed command: ${train.epochs} 60 -> 15",
        "    changed params:",
        "        params.yaml:",
        "            modified:   train.epochs  60 -> 15",
        "evaluate:",
        "    upstream stale: train",
        "Up to date: prepare, featurize",
        "",
      ].join("\n"),
    );

    const third = runPipe(dir, ["repro"]);
    expect(third.code).toBe(0);
    expect(ran(third.stdout)).toEqual(["train", "evaluate"]);

    const pdiff = runPipe(dir, ["params", "diff"]);
    expect(pdiff).toEqual({
      code: 0,
      stdout: "Path         Param         HEAD    workspace\nparams.yaml  train.epochs  60      15\n",
      stderr: "",
    });
    const mdiff = runPipe(dir, ["metrics", "diff", "--md"]);
    expect(mdiff.code).toBe(0);
    const lines = mdiff.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^\| Path +\| Metric +\| HEAD +\| workspace +\| Change +\|$/);
    // Fewer epochs: the training loss is not as low, so the test log loss changes.
    expect(lines.some((l) => /^\| eval\/metrics\.json +\| log_loss +\|/.test(l))).toBe(true);

    writeFileSync(params, baseline);
    const back = runPipe(dir, ["repro"]);
    expect(back.code).toBe(0);
    // train comes back from the run-cache; evaluate runs, because its metrics and plots are `cache: false` (spec 3:
    // never stored, so never restored).
    expect(ran(back.stdout)).toEqual(["evaluate"]);
    expect(back.stdout).toContain("Restored 'train' from run-cache");
    expect(JSON.parse(read(dir, "eval/metrics.json"))).toEqual(metrics);
    expect(runPipe(dir, ["metrics", "diff"]).stdout).toBe("");
  }, 120_000);
});
