/**
 * `Hasher.ignoreTest`: what hashing a directory leaves out, asked path by path by code that walks the directory
 * itself (checkout). It must give the hashing walk's answers, so every case here is also checked against the
 * manifest `hashPath` builds for the same directory.
 */
import { mkdirSync, readdirSync, statSync, symlinkSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Hasher } from "../../src/hash/hasher.js";
import { makeProject } from "../helpers/project.js";

/** Every file under `dir` (following symlinks), relative to it. */
function allFiles(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel === "" ? name : `${rel}/${name}`;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(...allFiles(dir, r));
    else out.push(r);
  }
  return out;
}

/** The files of `out` the test keeps: a file is kept when neither it nor a directory on its way is left out. */
function keptByTest(root: string, out: string): string[] {
  const test = new Hasher({ root }).ignoreTest(path.join(root, out));
  const abs = path.join(root, out);
  return allFiles(abs).filter((f) => {
    const parts = f.split("/");
    for (let i = 1; i < parts.length; i++) if (test(path.join(abs, ...parts.slice(0, i)), true) !== false) return false;
    return test(path.join(abs, f), false) === false;
  });
}

async function manifestPaths(root: string, out: string): Promise<string[]> {
  const h = await new Hasher({ root }).hashPath(path.join(root, out), "xxh64");
  if (h.kind !== "dir") throw new Error(`expected a directory, got ${JSON.stringify(h)}`);
  return h.manifest.entries.map((e) => e.relpath).sort();
}

describe("Hasher.ignoreTest", () => {
  it("answers as the hashing walk does: rules above and inside, negation deeper down, defaults, nested projects", async () => {
    const root = makeProject({
      ".pipe/config.yaml": "",
      ".dvcignore": "*.log\n",
      "out/a.txt": "a",
      "out/a.log": "log",
      "out/keep/.dvcignore": "!important.log\n",
      "out/keep/important.log": "kept by the deeper rule",
      "out/keep/other.log": "still ignored",
      "out/sub/.pipeignore": "tmp/\n",
      "out/sub/tmp/x": "ignored with its directory",
      "out/sub/y": "y",
      "out/tmp/z": "tmp/ only applies below sub",
      "out/.git/HEAD": "ref",
      "out/.hg/store": "hg",
      "out/nested/.dvc/config": "",
      "out/nested/data.csv": "a project of its own",
      "out/real/f": "through a link",
    });
    symlinkSync(path.join(root, "out/real"), path.join(root, "out/linked.log"));
    const test = new Hasher({ root }).ignoreTest(path.join(root, "out"));
    const at = (p: string): string => path.join(root, "out", p);
    expect(test(at("a.txt"), false)).toBe(false);
    expect(test(at("a.log"), false)).toBe(true);
    expect(test(at("keep/important.log"), false)).toBe(false);
    expect(test(at("keep/other.log"), false)).toBe(true);
    expect(test(at("sub/tmp"), true)).toBe(true);
    expect(test(at("sub/tmp/x"), false)).toBe(true);
    expect(test(at("tmp"), true)).toBe(false);
    expect(test(at(".git"), true)).toBe(true);
    expect(test(at(".hg"), true)).toBe(true);
    expect(test(at("nested"), true)).toBe(true);
    expect(test(at("nested/data.csv"), false)).toBe(true);
    // `*.log` matches the link's name whatever it leads to.
    expect(test(at("linked.log"), true)).toBe(true);
    // Not below the directory asked about: not its business.
    expect(test(path.join(root, "elsewhere.log"), false)).toBe(false);
    expect(keptByTest(root, "out")).toEqual(await manifestPaths(root, "out"));
    expect(keptByTest(root, "out")).toEqual(["a.txt", "keep/.dvcignore", "keep/important.log", "real/f", "sub/.pipeignore", "sub/y", "tmp/z"]);
  });

  it("rules in a directory between the root and the output apply; outside the project root nothing is left out", async () => {
    const root = makeProject({ ".pipe/config.yaml": "", "data/.dvcignore": "*.tmp\n", "data/out/a.tmp": "t", "data/out/b": "b" });
    expect(new Hasher({ root }).ignoreTest(path.join(root, "data/out"))(path.join(root, "data/out/a.tmp"), false)).toBe(true);
    expect(keptByTest(root, "data/out")).toEqual(await manifestPaths(root, "data/out"));
    expect(keptByTest(root, "data/out")).toEqual(["b"]);
    const other = makeProject({ "x/.dvcignore": "*.tmp\n", "x/a.tmp": "t" });
    mkdirSync(path.join(root, "sub"));
    const outside = new Hasher({ root: path.join(root, "sub") }).ignoreTest(path.join(other, "x"));
    expect(outside(path.join(other, "x/a.tmp"), false)).toBe(false);
  });

  it("an ignore file that cannot be read is an error, as it is for hashing", async () => {
    const root = makeProject({ ".pipe/config.yaml": "", "out/a": "a" });
    // A symlink loop: reading it fails even for root, which any permission would not stop.
    symlinkSync(".dvcignore", path.join(root, "out/.dvcignore"));
    const v = new Hasher({ root }).ignoreTest(path.join(root, "out"))(path.join(root, "out/a"), false);
    expect(v).toEqual({ error: expect.stringContaining("cannot read the ignore rules in 'out'") });
    expect(await new Hasher({ root }).hashPath(path.join(root, "out"), "xxh64")).toMatchObject({ kind: "error" });
  });
});
