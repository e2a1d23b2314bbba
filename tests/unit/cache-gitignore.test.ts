import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { addToGitignore, gitignoreEntry, planGitignore } from "../../src/storage/gitignore.js";
import { makeProject } from "../helpers/project.js";

describe(".gitignore of cached outputs", () => {
  it("anchors entries and escapes pattern characters", () => {
    expect(gitignoreEntry("model.pkl")).toBe("/model.pkl");
    expect(gitignoreEntry("data/prepared")).toBe("/data/prepared");
    expect(gitignoreEntry("#weird[1]*.txt")).toBe("/\\#weird\\[1\\]\\*.txt");
    expect(gitignoreEntry("trailing ")).toBe("/trailing\\ ");
  });

  it("puts entries beside the stages file, or beside the output when it lies elsewhere", () => {
    const plan = planGitignore("sub", ["sub/model.pkl", "sub/out/dir", "shared/x.csv"]);
    expect([...plan]).toEqual([
      ["sub", ["/model.pkl", "/out/dir"]],
      ["shared", ["/x.csv"]],
    ]);
    expect([...planGitignore("", ["a", "b/c"])]).toEqual([["", ["/a", "/b/c"]]]);
  });

  it("appends missing entries sorted, keeps existing lines, and is idempotent", async () => {
    const root = makeProject({ ".gitignore": "node_modules\n/model.pkl" });
    const r = await addToGitignore(root, "", ["metrics.json", "model.pkl", "data/features"]);
    expect(r.ok && r.value).toEqual([".gitignore"]);
    const text = readFileSync(path.join(root, ".gitignore"), "utf8");
    expect(text).toBe("node_modules\n/model.pkl\n/data/features\n/metrics.json\n");
    const again = await addToGitignore(root, "", ["model.pkl", "metrics.json", "data/features"]);
    expect(again.ok && again.value).toEqual([]);
    expect(readFileSync(path.join(root, ".gitignore"), "utf8")).toBe(text);
  });

  it("creates the .gitignore of a subdirectory stages file", async () => {
    const root = makeProject({ "sub/pipe.yaml": "stages: {}\n" });
    await addToGitignore(root, "sub", ["sub/out.txt"]);
    expect(readFileSync(path.join(root, "sub/.gitignore"), "utf8")).toBe("/out.txt\n");
  });

  it("treats CRLF files as containing their lines", async () => {
    const root = makeProject();
    writeFileSync(path.join(root, ".gitignore"), "/a\r\n");
    const r = await addToGitignore(root, "", ["a"]);
    expect(r.ok && r.value).toEqual([]);
  });
});
