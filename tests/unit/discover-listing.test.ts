import { describe, expect, it } from "vitest";
import { discoverInListing } from "../../src/project/discover.js";

describe("stages files in a git revision's listing", () => {
  it("applies the walk's rules: .pipeignore/.dvcignore, nested projects, skipped dirs, pipe.yaml over dvc.yaml", async () => {
    const texts: Record<string, string> = { ".pipeignore": "ignored/\n", "d/.dvcignore": "inner/\n/own.yaml\n", "e/.pipeignore": "pipe.yaml\n" };
    const files = [
      "pipe.yaml",
      ".pipeignore",
      "ignored/pipe.yaml",
      "ignored/deeper/dvc.yaml",
      "sub/pipe.yaml",
      "sub/.pipe/config.yaml",
      "dvcsub/x/dvc.yaml",
      "dvcsub/.dvc/config",
      "both/dvc.yaml",
      "both/pipe.yaml",
      "node_modules/pkg/pipe.yaml",
      ".pipe/pipe.yaml",
      "d/.dvcignore",
      "d/dvc.yaml",
      "d/inner/pipe.yaml",
      "e/.pipeignore",
      "e/pipe.yaml",
      "e/f/dvc.yaml",
      "z/dvc.yaml",
    ];
    const asked: string[][] = [];
    const found = await discoverInListing(files, async (paths) => {
      asked.push(paths);
      return new Map(paths.map((p) => [p, texts[p]!]));
    });
    expect(found).toEqual([
      { file: "pipe.yaml", dir: "", flavor: "pipe" },
      { file: "both/pipe.yaml", dir: "both", flavor: "pipe" },
      { file: "d/dvc.yaml", dir: "d", flavor: "dvc" },
      // `pipe.yaml` in e/.pipeignore matches a file of that name at any depth below e/, not a dvc.yaml.
      { file: "e/f/dvc.yaml", dir: "e/f", flavor: "dvc" },
      { file: "z/dvc.yaml", dir: "z", flavor: "dvc" },
    ]);
    expect(asked).toEqual([[".pipeignore", "d/.dvcignore", "e/.pipeignore"]]);
  });

  it("a project with no ignore files reads nothing", async () => {
    const found = await discoverInListing(["dvc.yaml", "a/pipe.yaml"], async () => {
      throw new Error("no ignore file to read");
    });
    expect(found.map((f) => f.file)).toEqual(["dvc.yaml", "a/pipe.yaml"]);
  });
});
