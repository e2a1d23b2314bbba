/**
 * `lock/outputs.ts`: every recorded output of a project, stage outputs (by wdir) and `.dvc` files alike, with its hash.
 */
import { describe, expect, it } from "vitest";
import { LockStore } from "../../src/lock/read.js";
import { workspaceOutputs } from "../../src/lock/outputs.js";
import { loadPipeline } from "../../src/project/load.js";
import { makeProject } from "../helpers/project.js";

describe("recorded outputs", () => {
  it("lists lock outputs mapped through wdir and .dvc outputs, skipping unrecorded ones", async () => {
    const root = makeProject({
      ".pipe/config.yaml": "",
      "pipe.yaml": "stages:\n  train:\n    wdir: src\n    cmd: x\n    outs: [model.bin, never.bin]\n",
      "pipe.lock": "schema: '2.0'\nstages:\n  train:\n    cmd: x\n    outs:\n    - path: model.bin\n      hash: xxh64\n      xxh64: 0123456789abcdef\n      size: 3\n",
      "data/raw.dvc": "outs:\n- md5: 0bee89b07a248e27c83fc3d5951213c1.dir\n  size: 10\n  nfiles: 2\n  hash: md5\n  path: raw\n",
    });
    const p = await loadPipeline(root, new Map());
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    const r = await workspaceOutputs(p.value, new LockStore(root));
    expect(r.ok && r.value.map((o) => [o.stage, o.rootPath, o.algo, o.hash, o.size, o.nfiles])).toEqual([
      ["train", "src/model.bin", "xxh64", "0123456789abcdef", 3, undefined],
      ["data/raw.dvc", "data/raw", "md5", "0bee89b07a248e27c83fc3d5951213c1.dir", 10, 2],
    ]);
  });
});
