/**
 * Choosing the executor: `executor:` in `.pipe/config.yaml` and `pipe repro --executor NAME` (`local`; `slurm` in slurm.test.ts).
 */
import { describe, expect, it } from "vitest";
import { exists, makeProject, runPipe } from "../helpers/project.js";

const PIPELINE = "stages:\n  s:\n    cmd: echo s > s.txt\n    outs: [s.txt]\n";

describe("pipe repro: the executor", () => {
  it("runs with the executor the flag or the config names; an unknown name in the config is a located error, exit 2", () => {
    const dir = makeProject({ "pipe.yaml": PIPELINE, ".pipe/config.yaml": "executor: local\n" });
    const ok = runPipe(dir, ["repro", "--executor", "local"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(exists(dir, "s.txt")).toBe(true);

    const bad = makeProject({ "pipe.yaml": PIPELINE, ".pipe/config.yaml": "jobs: 1\nexecutor: pbs\n" });
    const r = runPipe(bad, ["repro"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(".pipe/config.yaml:2:11: error: unknown executor 'pbs' (known: local, slurm)");
    expect(exists(bad, "s.txt")).toBe(false);
    // An invalid config file is invalid whatever the flag says, as with any other setting.
    const flagged = runPipe(bad, ["repro", "--executor", "local"]);
    expect(flagged.code).toBe(2);
  });

  it("an unknown --executor is a usage error naming the known executors, exit 2, before anything runs", () => {
    const dir = makeProject({ "pipe.yaml": PIPELINE });
    const r = runPipe(dir, ["repro", "--executor", "locl"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown executor 'locl' for --executor (known: local, slurm)");
    expect(r.stderr).toContain("did you mean 'local'?");
    expect(exists(dir, "s.txt")).toBe(false);
    expect(exists(dir, ".pipe")).toBe(false);
  });
});
