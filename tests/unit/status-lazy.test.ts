import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { xxhashInitialised } from "../../src/hash/algorithms.js";
import { readLockIn } from "../../src/lock/read.js";
import type { Stage } from "../../src/core/model.js";
import { checkStage, openWorkspace } from "../../src/status/workspace.js";
import { CORPUS } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

// Its own file: vitest gives each test file a fresh process, so nothing else has loaded the wasm module here.
const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

it.runIf(hasCorpus())("checking a DVC project (md5 only) never initialises xxhash", async () => {
  const root = mkdtempSync(path.join(tmpdir(), "pipe-lazy-"));
  dirs.push(root);
  cpSync(path.join(CORPUS, "dvc-vectors/project"), root, { recursive: true });
  const lock = await readLockIn(root, "");
  expect(lock.ok).toBe(true);
  const entry = lock.ok ? lock.value?.stages.get("prepare") : undefined;
  const stage: Stage = {
    address: "prepare",
    name: "prepare",
    file: "dvc.yaml",
    dir: "",
    wdir: "",
    cmd: "python src/prepare.py data/raw",
    deps: ["data/raw", "src/prepare.py"].map((p) => ({ path: p, rootPath: p, external: false, outside: false })),
    outs: [{ path: "data/prepared.csv", rootPath: "data/prepared.csv", external: false, kind: "outs", cache: true, persist: false, flags: {} }],
    params: [{ file: "params.yaml", rootPath: "params.yaml", keys: ["prepare.seed", "prepare.split"] }],
    frozen: false,
    alwaysChanged: false,
    loc: { file: "dvc.yaml", line: 2, col: 3 },
  };
  const ws = openWorkspace(root);
  const st = await checkStage(ws, stage, entry);
  expect(st.stale).toBe(false);
  expect(ws.hasher.stats.filesRead).toBe(5);
  expect(xxhashInitialised()).toBe(false);
});
