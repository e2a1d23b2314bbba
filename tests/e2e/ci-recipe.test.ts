/**
 * The README's CI recipe, run for real: the steps of its GitHub Actions workflow and its GitLab CI job, read from
 * README.md (so the recipe and this test cannot drift apart), run by `sh` in a fresh `git clone` of the example with
 * `pipe.lock` and `eval/` committed. Not run: the workflow runner, the install step (the built CLI is `pipe` on the
 * PATH instead) and `gh` itself (a script on the PATH keeps the comment body it is given).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { git, gitCommitAll, gitInit, makeProject, PIPE_BIN, REPO_ROOT, runPipe } from "../helpers/project.js";

const EXAMPLE = path.join(REPO_ROOT, "examples", "classifier");
const RUN_STATE = new Set([".pipe", "pipe.lock", "eval", "model.json", "train_loss.csv", "data/prepared", "data/features"]);

/** The yaml code blocks of the README's CI recipe: the GitHub workflow and the GitLab job. */
function recipe(): { github: { steps: { name?: string; run?: string; if?: string; env?: Record<string, string> }[] }; gitlab: string[] } {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const at = readme.indexOf("### A CI recipe");
  const blocks = [...readme.slice(at).matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, unknown>);
  const gh = blocks[0] as { jobs: Record<string, { steps: never[] }> };
  const gl = blocks[1] as { pipe: { script: string[] } };
  return { github: { steps: Object.values(gh.jobs)[0]!.steps }, gitlab: gl.pipe.script };
}

/** A directory with `pipe` (the built CLI) and `gh` (keeps its arguments and the body file) for the PATH. */
function tools(): string {
  const bin = makeProject();
  writeFileSync(path.join(bin, "pipe"), `#!/bin/sh\nexec "${process.execPath}" "${PIPE_BIN}" "$@"\n`);
  writeFileSync(path.join(bin, "gh"), `#!/bin/sh\necho "$@" > "${bin}/gh-args"\nwhile [ $# -gt 0 ]; do if [ "$1" = --body-file ]; then cp "$2" "${bin}/gh-body"; fi; shift; done\n`);
  chmodSync(path.join(bin, "pipe"), 0o755);
  chmodSync(path.join(bin, "gh"), 0o755);
  return bin;
}

function sh(cwd: string, script: string, env: Record<string, string>, bin: string): { code: number; out: string; err: string } {
  const r = spawnSync("sh", ["-e", "-c", script], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env, PATH: `${bin}:${process.env.PATH ?? ""}` } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** The example as a repository of its own, with its run state committed: main ran it; `feature` changed train.lr and ran it. */
function origin(): string {
  const dir = makeProject();
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !RUN_STATE.has(path.relative(EXAMPLE, src).split(path.sep).join("/")) });
  const ignore = readFileSync(path.join(dir, ".gitignore"), "utf8").split("\n").filter((l) => !["/.pipe/", "/pipe.lock", "/eval/"].includes(l));
  writeFileSync(path.join(dir, ".gitignore"), ignore.join("\n"));
  gitInit(dir);
  expect(runPipe(dir, ["repro"]).code).toBe(0);
  gitCommitAll(dir, "pipeline");
  git(dir, ["checkout", "-q", "-b", "feature"]);
  writeFileSync(path.join(dir, "params.yaml"), readFileSync(path.join(dir, "params.yaml"), "utf8").replace("lr: 0.5", "lr: 0.3"));
  expect(runPipe(dir, ["repro"]).code).toBe(0);
  gitCommitAll(dir, "lr 0.3");
  git(dir, ["checkout", "-q", "-b", "forgot", "main"]);
  writeFileSync(path.join(dir, "params.yaml"), readFileSync(path.join(dir, "params.yaml"), "utf8").replace("lr: 0.5", "lr: 0.3"));
  gitCommitAll(dir, "lr 0.3, lock not updated");
  git(dir, ["checkout", "-q", "main"]);
  return dir;
}

function freshClone(from: string, branch: string): string {
  const parent = makeProject();
  const dest = path.join(parent, "clone");
  mkdirSync(parent, { recursive: true });
  execFileSync("git", ["clone", "-q", "-b", branch, from, dest]);
  return dest;
}

describe("the README's CI recipe", () => {
  const steps = recipe();
  const gh = steps.github.steps.filter((s) => s.run !== undefined && !s.run.includes("npm install"));
  const ghEnv = (s: { env?: Record<string, string> }): Record<string, string> =>
    Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, v.replace("${{ github.base_ref }}", "main").replace("${{ github.event.pull_request.number }}", "7").replace("${{ github.token }}", "token")]));

  it("the GitHub workflow: status --no-data passes on a branch that ran its pipeline, and the PR comment holds both diffs", () => {
    expect(gh.map((s) => s.run!.trim().split("\n")[0])).toEqual(["pipe status --no-data", "{"]);
    const bin = tools();
    const repo = freshClone(origin(), "feature");
    for (const s of gh) {
      const r = sh(repo, s.run!, ghEnv(s), bin);
      expect(r.code, `${s.name}: ${r.err}`).toBe(0);
    }
    expect(readFileSync(path.join(bin, "gh-args"), "utf8")).toBe("pr comment 7 --body-file pipe-report.md\n");
    const body = readFileSync(path.join(bin, "gh-body"), "utf8");
    expect(body).toContain("#### Params: origin/main -> this branch\n| Path        | Param    | origin/main   | HEAD   |\n");
    expect(body).toMatch(/\| params\.yaml +\| train\.lr +\| 0\.5 +\| 0\.3 +\|/);
    expect(body).toContain("#### Metrics: origin/main -> this branch\n| Path              | Metric    | origin/main   | HEAD   | Change   |\n");
    expect(body).toMatch(/\| eval\/metrics\.json \| accuracy +\| 0\.8733 +\| 0\.88 +\| 0\.0067 +\|/);
  });

  it("the GitHub workflow's first step fails a push whose lock was not updated", () => {
    const repo = freshClone(origin(), "forgot");
    const r = sh(repo, gh[0]!.run!, {}, tools());
    expect(r.code).toBe(1);
    expect(r.out).toContain("train: params.yaml:train.lr is 0.3 but pipe.lock recorded 0.5: run 'pipe repro train' and commit pipe.lock\n");
  });

  it("the GitLab job runs its script in a fresh clone, with the diffs in the log", () => {
    const bin = tools();
    const repo = freshClone(origin(), "feature");
    const script = steps.gitlab.filter((l) => !l.includes("npm install")).join("\n");
    const r = sh(repo, script, { CI_MERGE_REQUEST_TARGET_BRANCH_NAME: "main" }, bin);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("The lock describes the pipeline: 4 stages");
    expect(r.out).toMatch(/\| params\.yaml +\| train\.lr +\| 0\.5 +\| 0\.3 +\|/);
    expect(r.out).toMatch(/\| eval\/metrics\.json \| accuracy +\| 0\.8733 +\| 0\.88 +\| 0\.0067 +\|/);
  });
});
