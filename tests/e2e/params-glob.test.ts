/**
 * Glob keys in `params:` (`dataset_kwargs.moons*`), as DVC 3 resolves them with `dpath`: the corpus project that uses
 * them (hybrid-flows' experiments) runs, its lock records the one value each glob matches under the glob key (as the
 * project's own dvc.lock does), `status` follows that value and no other, and `params diff` shows the keys under it.
 */
import { cpSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { CORPUS, gitCommitAll, gitInit, makeProject, read, runPipe, runPipeIn, writeFiles } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

const HYBRID = path.join(CORPUS, "dvc-real", "MArpogaus__hybrid-flows__experiments");
const STAGE = "train-sim@dataset0-conditional_multivariate_normal";

// Stands in for `python`: writes the outputs a training stage declares, from the arguments the command passes.
const FAKE_TRAIN = `set -e
while [ $# -gt 0 ]; do
  case "$1" in
    --model-name) model=$2; shift ;;
    --dataset-type) type=$2; shift ;;
    --dataset-name) name=$2; shift ;;
  esac
  shift
done
d=results/$type/$name/$model
mkdir -p "$d"
for f in model_checkpoint.weights.h5 train.log dataset.pdf samples.pdf; do echo "$model" > "$d/$f"; done
echo "loss: 1" > "$d/metrics.yaml"
`;

/** The corpus project as `experiments/` of a git repository, with the sources its stages read one level up. */
function hybridProject(): string {
  const top = makeProject();
  const exp = path.join(top, "experiments");
  cpSync(HYBRID, exp, { recursive: true });
  const sources: Record<string, string> = { "pyproject.toml": "[project]\n" };
  for (const f of ["__init__", "data/__init__", "data/sklearn_datasets", "utils/__init__", "utils/mlflow", "utils/tensorflow", "utils/visualisation", "utils/decorators", "utils/pipeline", "preprocessing", "scheduler", "activations", "models", "nn", "parameters", "distributions"]) {
    sources[`src/hybrid_flows/${f}.py`] = `# ${f}\n`;
  }
  writeFiles(top, sources);
  writeFiles(exp, { "scripts/train.py": "# train\n", "fake-python.sh": FAKE_TRAIN });
  const params = read(exp, "params.yaml").replace(/^python: python$/m, "python: sh fake-python.sh");
  writeFiles(exp, { "params.yaml": params });
  gitInit(top);
  gitCommitAll(top, "hybrid-flows experiments");
  return exp;
}

function setNoise(exp: string, dataset: "moons" | "circles", value: string): void {
  const file = "params/sim/dataset.yaml";
  const text = read(exp, file);
  const at = text.indexOf(`  ${dataset}:`);
  const noise = text.indexOf("noise: 0.05", at);
  writeFiles(exp, { [file]: text.slice(0, noise) + `noise: ${value}` + text.slice(noise + "noise: 0.05".length) });
}

describe.runIf(hasCorpus())("params glob keys (corpus: hybrid-flows)", () => {
  it("runs a stage whose params key is a glob, records the matched value under the glob key, and tracks it", async () => {
    const exp = hybridProject();
    const r = runPipe(exp, ["repro", "-s", STAGE]);
    expect(r.stderr).not.toContain("not found");
    expect(r.code).toBe(0);
    const lock = parse(read(exp, "pipe.lock")) as { stages: Record<string, { params: Record<string, Record<string, unknown>> }> };
    // As DVC's own dvc.lock of this project records it: the glob key as written, the one subtree it matched.
    expect(lock.stages[STAGE]!.params["params/sim/dataset.yaml"]).toEqual({
      "dataset_kwargs.moons*": { n_samples: 16384, noise: 0.05, scale: [0.05, 0.95], random_state: 1 },
    });
    expect((await runPipeIn(exp, ["status", STAGE])).stdout).toBe("Pipeline is up to date.\n");

    // Another dataset's values are not this stage's.
    setNoise(exp, "circles", "0.1");
    expect((await runPipeIn(exp, ["status", STAGE])).stdout).toBe("Pipeline is up to date.\n");

    setNoise(exp, "moons", "0.2");
    const st = await runPipeIn(exp, ["status", STAGE]);
    expect(st.stdout).toContain("changed params:");
    expect(st.stdout).toContain("modified:   dataset_kwargs.moons*.noise  0.05 -> 0.2");
    const json = JSON.parse((await runPipeIn(exp, ["status", "--json", STAGE])).stdout) as { stages: Record<string, { stale: boolean }> };
    expect(json.stages[STAGE]!.stale).toBe(true);

    // params diff compares the keys under every match, as DVC's does.
    const diff = await runPipeIn(exp, ["params", "diff"]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toMatch(/params\/sim\/dataset\.yaml\s+dataset_kwargs\.moons\.noise\s+0\.05\s+0\.2/);
    expect(diff.stdout).toMatch(/params\/sim\/dataset\.yaml\s+dataset_kwargs\.circles\.noise\s+0\.05\s+0\.1/);
  });

  it("refuses a glob key that matches several keys, naming them", () => {
    const dir = makeProject({
      "dvc.yaml": "stages:\n  s:\n    cmd: echo hi > out.txt\n    params:\n      - conf.yaml:\n        - data.*\n    outs:\n      - out.txt\n",
      "conf.yaml": "data:\n  a: 1\n  b: 2\n",
    });
    const r = runPipe(dir, ["repro"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("params key 'data.*' matches 2 keys in 'conf.yaml' ('data.a', 'data.b'); a glob key must match exactly one");
  });
});
