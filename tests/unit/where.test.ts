/** How paths and addresses are shown from the working directory, as DVC 3 shows them (`relpath`, `Stage.addressing`). */
import { describe, expect, it } from "vitest";
import { AT_ROOT, splitAddress, whereOf } from "../../src/project/where.js";

describe("where: paths and addresses from the working directory", () => {
  it("at the root, everything is shown as it is", () => {
    const w = whereOf("/p", "/p", "pipe.yaml");
    expect(w.path("src/a.py")).toBe("src/a.py");
    expect(w.path("")).toBe(".");
    expect(w.address("train")).toBe("train");
    expect(w.address("data/dvc.yaml:convert@100k")).toBe("data/dvc.yaml:convert@100k");
    expect(AT_ROOT.address("sub/dvc.yaml:x")).toBe("sub/dvc.yaml:x");
  });

  it("from a subdirectory: its own stages are bare names, others are relative file and name", () => {
    const w = whereOf("/p", "/p/data", "pipe.yaml");
    expect(w.path("src/a.py")).toBe("../src/a.py");
    expect(w.path("data/params.yaml")).toBe("params.yaml");
    expect(w.path("data")).toBe(".");
    expect(w.address("data/dvc.yaml:convert@100k")).toBe("convert@100k");
    expect(w.address("train")).toBe("../pipe.yaml:train");
    expect(w.address("data/deep/dvc.yaml:x")).toBe("deep/dvc.yaml:x");
    expect(w.address("other/dvc.yaml:y@{9}")).toBe("../other/dvc.yaml:y@{9}");
  });

  it("splits an address at the last ':' before the first '@' (a foreach key may hold ':')", () => {
    expect(splitAddress("sub/dvc.yaml:build@a:b")).toEqual({ file: "sub/dvc.yaml", name: "build@a:b" });
    expect(splitAddress("build@a:b")).toEqual({ name: "build@a:b" });
    expect(whereOf("/p", "/p/sub").address("build@a:b")).toBe("../dvc.yaml:build@a:b");
  });
});
