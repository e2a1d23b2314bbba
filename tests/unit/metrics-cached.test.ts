import { createHash } from "node:crypto";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openSide, projectGit } from "../../src/git/revision.js";
import { readCachedAt } from "../../src/compare/metrics-cached.js";
import { readMetricsSide } from "../../src/compare/metrics.js";
import { gitCommitAll, gitInit, makeProject, writeFiles } from "../helpers/project.js";

const md5 = (s: string): string => createHash("md5").update(s).digest("hex");

function lock(entries: { stage: string; path: string; text: string }[]): string {
  const lines = ["schema: '2.0'", "stages:"];
  for (const e of entries) lines.push(`  ${e.stage}:`, "    cmd: echo", "    outs:", `    - path: ${e.path}`, "      hash: md5", `      md5: ${md5(e.text)}`, `      size: ${e.text.length}`);
  return lines.join("\n") + "\n";
}

describe("metrics outputs read from the cache at a revision", () => {
  it("follows the revision's lock to .pipe/cache or a DVC cache, with stage wdir, verifying the bytes", async () => {
    const old = '{"acc": 0.5}';
    const oldEval = '{"auc": 0.7}';
    const dir = makeProject({
      "dvc.yaml": "stages:\n  train:\n    cmd: echo\n    metrics: [metrics.json]\n  ev:\n    cmd: echo\n    wdir: eval\n    metrics: [scores.json]\n",
      "dvc.lock": lock([
        { stage: "train", path: "metrics.json", text: old },
        { stage: "ev", path: "scores.json", text: oldEval },
      ]),
      ".gitignore": "/metrics.json\n/eval/scores.json\n/.pipe\n/.dvc/cache\n",
    });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    // The objects: one in pipe's store, one in DVC 3's cache layout.
    writeFiles(dir, {
      [path.join(".pipe/cache", md5(old).slice(0, 2), md5(old).slice(2))]: old,
      [path.join(".dvc/cache/files/md5", md5(oldEval).slice(0, 2), md5(oldEval).slice(2))]: oldEval,
      "metrics.json": '{"acc": 0.9}',
    });
    const pg = await projectGit(dir);
    if (!pg.ok) throw new Error("git");
    const head = await openSide(dir, pg.value, "HEAD", "x");
    if (!head.ok) throw new Error("side");
    const stages = new Map([["dvc.yaml", "stages:\n  train:\n    cmd: echo\n  ev:\n    cmd: echo\n    wdir: eval\n"]]);
    const texts = await readCachedAt(dir, head.value, stages, ["metrics.json", "eval/scores.json", "other.json"]);
    expect(Object.fromEntries(texts)).toEqual({ "metrics.json": old, "eval/scores.json": oldEval });

    const read = await readMetricsSide(head.value, ["metrics.json", "eval/scores.json"], (side, files) => readCachedAt(dir, side, stages, files));
    expect(read.ok && Object.fromEntries(read.value)).toEqual({
      "metrics.json": { state: "ok", flat: { acc: 0.5 }, tree: { acc: 0.5 } },
      "eval/scores.json": { state: "ok", flat: { auc: 0.7 }, tree: { auc: 0.7 } },
    });
  });

  it("a corrupt or absent object is not read", async () => {
    const text = '{"acc": 0.5}';
    const dir = makeProject({ "dvc.yaml": "stages:\n  train:\n    cmd: echo\n", "dvc.lock": lock([{ stage: "train", path: "m.json", text }]) });
    gitInit(dir);
    gitCommitAll(dir, "v1");
    writeFiles(dir, { [path.join(".dvc/cache/files/md5", md5(text).slice(0, 2), md5(text).slice(2))]: '{"acc": 0.6}' });
    const pg = await projectGit(dir);
    const head = pg.ok ? await openSide(dir, pg.value, "HEAD", "x") : undefined;
    if (!head?.ok) throw new Error("side");
    const stages = new Map([["dvc.yaml", "stages:\n  train:\n    cmd: echo\n"]]);
    expect((await readCachedAt(dir, head.value, stages, ["m.json"])).size).toBe(0);
  });
});
