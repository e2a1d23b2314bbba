/**
 * The bundled example pipeline (examples/classifier) end to end, as the README promises it: a first run executes
 * every stage with real Python, a second run does nothing, a parameter change re-runs exactly the stages that read
 * it, `status`, `params diff` and `metrics diff` print what the README's transcript shows for that change, byte for
 * byte (read from README.md), and changing the parameter back restores the model from the run-cache.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { gitCommitAll, gitInit, makeProject, read, REPO_ROOT, runPipe, runPipeIn } from "../helpers/project.js";

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

/**
 * What the README's example transcript shows after `$ <command>`: the lines up to the next `$ ` line or the end of
 * the code block, each with its newline (a blank line kept: markdown tables end with one). Read from README.md itself,
 * so the README and this test cannot drift apart. The transcript after the parameter edit is the second `text` block
 * that holds a `$ pipe status`, so the command is looked for after "Edit `params.yaml`".
 */
function readmeOutput(command: string): string {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const from = readme.indexOf("Edit `params.yaml`");
  const start = readme.indexOf(`\n$ ${command}\n`, from);
  if (from < 0 || start < 0) throw new Error(`README.md: no '$ ${command}' after the parameter edit`);
  const body = readme.slice(start + command.length + 4);
  const end = Math.min(...["\n$ ", "\n```"].map((m) => body.indexOf(m)).filter((i) => i >= 0));
  return body.slice(0, end + 1);
}

function ran(stdout: string): string[] {
  return [...stdout.matchAll(/^Running '([^']+)'$/gm)].map((m) => m[1]!);
}

describe("examples/classifier", () => {
  it("runs, is then up to date, re-runs exactly what a param change touches, diffs it, and restores it", async () => {
    const dir = copyExample();
    // As in a user's project: the lock and the metrics are committed, so git revisions can be compared.
    const gi = read(dir, ".gitignore").split("\n").filter((l) => !/^\/(\.pipe\/|pipe\.lock|eval\/)$/.test(l));
    writeFileSync(path.join(dir, ".gitignore"), gi.join("\n"));
    gitInit(dir);

    const dag = await runPipeIn(dir, ["dag"]);
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
    expect((await runPipeIn(dir, ["status", "-q"])).code).toBe(0);
    gitCommitAll(dir, "baseline");

    const params = path.join(dir, "params.yaml");
    const baseline = readFileSync(params, "utf8");
    // Exactly the README's edit, so that its transcript can be checked byte for byte below.
    const edited = baseline.replace(/^( +lr:) 0\.5$/m, "$1 0.3").replace(/^( +epochs:) 60$/m, "$1 15");
    expect(edited.match(/^ +(lr: 0\.3|epochs: 15)$/gm)).toHaveLength(2);
    writeFileSync(params, edited);
    const status = await runPipeIn(dir, ["status"]);
    expect(status.code).toBe(0);
    // A whole `train` section is tracked, yet status names the keys that moved, and the command variables.
    expect(status.stdout).toBe(readmeOutput("pipe status"));

    const third = runPipe(dir, ["repro"]);
    expect(third.code).toBe(0);
    expect(ran(third.stdout)).toEqual(["train", "evaluate"]);

    const pdiff = await runPipeIn(dir, ["params", "diff"]);
    expect(pdiff).toEqual({ code: 0, stdout: readmeOutput("pipe params diff"), stderr: "" });
    const mdiff = await runPipeIn(dir, ["metrics", "diff", "--md"]);
    expect(mdiff).toEqual({ code: 0, stdout: readmeOutput("pipe metrics diff --md"), stderr: "" });

    writeFileSync(params, baseline);
    const back = runPipe(dir, ["repro"]);
    expect(back.code).toBe(0);
    // train comes back from the run-cache; evaluate runs, because its metrics and plots are `cache: false` (spec 3:
    // never stored, so never restored).
    expect(ran(back.stdout)).toEqual(["evaluate"]);
    expect(back.stdout).toContain("Restored 'train' from run-cache");
    expect(JSON.parse(read(dir, "eval/metrics.json"))).toEqual(metrics);
    expect((await runPipeIn(dir, ["metrics", "diff"])).stdout).toBe("");
  }, 120_000);
});
