/**
 * Paths and stage addresses as DVC 3 prints them, relative to the directory the command runs in (`relpath` of every
 * dep, out and stages file; `Stage.addressing`), in every view, from the root and from a subdirectory (or `-C`):
 * `status` and `params diff` name the same file the same way, and what they print works as a target from there.
 * `--json` stays root-relative wherever it runs.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { gitCommitAll, gitInit, makeProject, runPipe, runPipeIn, writeFiles } from "../helpers/project.js";

/** A root stage, a foreach stage in `data/` reading a source one level up and `data/params.yaml`; run and committed. */
function project(): string {
  const dir = makeProject({
    "dvc.yaml": "stages:\n  scan:\n    cmd: cat src/scan.txt > scanned.txt\n    deps: [src/scan.txt]\n    outs: [scanned.txt]\n",
    "src/scan.txt": "v1\n",
    "data/dvc.yaml":
      "stages:\n  convert:\n    foreach: [100k]\n    do:\n      cmd: cat ../scanned.txt ../src/scan.txt > out-${item}.txt\n" +
      "      deps: [../scanned.txt, ../src/scan.txt]\n      params: [lr]\n      outs: [\"out-${item}.txt\"]\n",
    "data/params.yaml": "lr: 1\n",
  });
  gitInit(dir);
  const r = runPipe(dir, ["repro"]);
  expect(r.code, r.stderr).toBe(0);
  gitCommitAll(dir, "run");
  writeFiles(dir, { "src/scan.txt": "v2\n", "data/params.yaml": "lr: 2\n" });
  return dir;
}

const FROM_ROOT = [
  "scan:",
  "    changed deps:",
  "        modified:   src/scan.txt",
  "data/dvc.yaml:convert@100k:",
  "    changed params:",
  "        data/params.yaml:",
  "            modified:   lr  1 -> 2",
  "    changed deps:",
  "        modified:   src/scan.txt",
  "    upstream stale: scan",
  "",
].join("\n");

const FROM_DATA = [
  "../dvc.yaml:scan:",
  "    changed deps:",
  "        modified:   ../src/scan.txt",
  "convert@100k:",
  "    changed params:",
  "        params.yaml:",
  "            modified:   lr  1 -> 2",
  "    changed deps:",
  "        modified:   ../src/scan.txt",
  "    upstream stale: ../dvc.yaml:scan",
  "",
].join("\n");

describe("paths and addresses relative to the working directory", () => {
  it("status and params diff agree, from the root, from a subdirectory and with -C", async () => {
    const dir = project();
    const data = path.join(dir, "data");
    expect((await runPipeIn(dir, ["status"])).stdout).toBe(FROM_ROOT);
    expect((await runPipeIn(dir, ["params", "diff"])).stdout).toBe("Path              Param    HEAD    workspace\ndata/params.yaml  lr       1       2\n");
    expect((await runPipeIn(data, ["status"])).stdout).toBe(FROM_DATA);
    expect((await runPipeIn(data, ["params", "diff"])).stdout).toBe("Path         Param    HEAD    workspace\nparams.yaml  lr       1       2\n");
    // `-C DIR` is the working directory DIR.
    expect((await runPipeIn(dir, ["-C", "data", "status"])).stdout).toBe(FROM_DATA);
    // A second run (answered by the status memo once the project is clean) is the same; so is one from the other place.
    writeFiles(dir, { "src/scan.txt": "v1\n", "data/params.yaml": "lr: 1\n" });
    expect((await runPipeIn(dir, ["status"])).stdout).toBe("Pipeline is up to date.\n");
    expect((await runPipeIn(data, ["status", "-v"])).stdout).toBe("Pipeline is up to date.\n");
  });

  it("what a subdirectory's report prints works as a target there", async () => {
    const dir = project();
    const data = path.join(dir, "data");
    for (const target of ["convert@100k", "../dvc.yaml:scan"]) {
      const r = await runPipeIn(data, ["status", target]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split("\n")[0]).toBe(`${target}:`);
    }
  });

  it("repro, dag and stage list use the same form; --json stays root-relative", async () => {
    const dir = project();
    const data = path.join(dir, "data");
    const dry = runPipe(data, ["repro", "--dry"]);
    expect(dry.stdout).toContain("Would run '../dvc.yaml:scan': changed deps: modified ../src/scan.txt\n");
    expect(dry.stdout).toContain("Would run 'convert@100k': changed params: lr 1 -> 2; changed deps: modified ../src/scan.txt; upstream '../dvc.yaml:scan' will run\n");
    expect(runPipe(dir, ["repro", "--dry"]).stdout).toContain("Would run 'data/dvc.yaml:convert@100k'");
    expect((await runPipeIn(data, ["stage", "list"])).stdout).toBe("../dvc.yaml:scan  Outputs scanned.txt\nconvert@100k      Outputs out-100k.txt\n");
    expect((await runPipeIn(dir, ["stage", "list"])).stdout).toBe("scan                        Outputs scanned.txt\ndata/dvc.yaml:convert@100k  Outputs out-100k.txt\n");
    const mermaid = (await runPipeIn(data, ["dag", "--mermaid"])).stdout;
    expect(mermaid).toContain('n1["../dvc.yaml:scan"]');
    expect(mermaid).toContain('n2["convert@100k"]');
    expect((await runPipeIn(dir, ["dag", "--dot"])).stdout).toContain('"scan" -> "data/dvc.yaml:convert@100k";');
    const text = (await runPipeIn(dir, ["dag"])).stdout;
    expect(text).toContain("| data/dvc.yaml:convert@100k |");
    expect(text).not.toContain("data:convert");
    expect((await runPipeIn(dir, ["dag", "--outs", "--dot"])).stdout).toContain('"scanned.txt" -> "data/out-100k.txt";');
    expect((await runPipeIn(data, ["dag", "--outs", "--dot"])).stdout).toContain('"../scanned.txt" -> "out-100k.txt";');

    const json = JSON.parse((await runPipeIn(data, ["status", "--json"])).stdout) as { stages: Record<string, { reasons: { kind: string; files?: { file: string }[]; changes?: { path: string }[] }[] }> };
    expect(Object.keys(json.stages)).toEqual(["scan", "data/dvc.yaml:convert@100k"]);
    const reasons = json.stages["data/dvc.yaml:convert@100k"]!.reasons;
    expect(reasons.find((r) => r.kind === "changed-params")!.files![0]!.file).toBe("data/params.yaml");
    expect(reasons.find((r) => r.kind === "changed-deps")!.changes![0]!.path).toBe("src/scan.txt");
    expect(Object.keys(JSON.parse((await runPipeIn(data, ["params", "diff", "--json"])).stdout) as object)).toEqual(["data/params.yaml"]);
    const dag = JSON.parse((await runPipeIn(data, ["dag", "--json"])).stdout) as { nodes: { id: string; label: string }[] };
    expect(dag.nodes.map((n) => n.label)).toEqual(["scan", "data/dvc.yaml:convert@100k"]);
  });

  it("checkout and commit name outputs and stages from the working directory", () => {
    const dir = project();
    const data = path.join(dir, "data");
    rmSync(path.join(data, "out-100k.txt"));
    const co = runPipe(data, ["checkout"]);
    expect(co.code, co.stderr).toBe(0);
    expect(co.stdout).toBe("A       out-100k.txt\nRestored 1 output.\n");
    const cm = runPipe(data, ["commit", "convert@100k"]);
    expect(cm.code, cm.stderr).toBe(0);
    expect(cm.stdout).toBe("Committed 'convert@100k'\n");
  });

  it("a failing stage is named from the working directory", () => {
    const dir = makeProject({ "dvc.yaml": "stages:\n  top:\n    cmd: exit 0\n", "sub/dvc.yaml": "stages:\n  boom:\n    cmd: exit 3\n" });
    gitInit(dir);
    const r = runPipe(path.join(dir, "sub"), ["repro", "boom"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: 'boom' failed with exit code 3");
    expect(runPipe(dir, ["repro", "sub/dvc.yaml:boom"]).stderr).toContain("error: 'sub/dvc.yaml:boom' failed with exit code 3");
  });
});
