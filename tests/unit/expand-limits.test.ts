/**
 * What a stages file may expand to (issue 12): a `foreach`/`matrix` that would generate more stages than the limit,
 * or a file whose stages would list too many paths, is a located error saying how many it would make, found before
 * anything is generated; a path the system cannot take (a name over 255 bytes, a path over PATH_MAX) is a located
 * error rather than a crash on first use.
 */
import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../../src/core/diagnostic.js";
import { validateStagesFile } from "../../src/schema/validate.js";
import { parseYaml } from "../../src/formats/yaml.js";
import { expandStagesFile, type ExpansionLimits } from "../../src/template/expand.js";
import { makeProject } from "../helpers/project.js";

async function expand(text: string, limits?: Partial<ExpansionLimits>): Promise<{ errors: string; stages: string[] }> {
  const root = makeProject({ "pipe.yaml": text });
  const p = parseYaml("pipe.yaml", text);
  const sources = new Map([["pipe.yaml", text]]);
  expect(validateStagesFile(p).errors).toEqual([]);
  const r = await expandStagesFile({ root, file: "pipe.yaml", text, doc: p.doc, lineCounter: p.lineCounter, sources, ...(limits ? { limits } : {}) });
  return r.ok ? { errors: "", stages: r.value.stages.map((s) => s.name) } : { errors: renderDiagnostics(r.errors, sources), stages: [] };
}

const lines = (...ls: string[]): string => ls.join("\n");

describe("expansion limits", () => {
  it("a matrix of 9.7 million stages is refused at its key before anything is generated", async () => {
    const axes = Array.from({ length: 10 }, (_, i) => `      a${i}: [1, 2, 3, 4, 5]`);
    const r = await expand(lines("stages:", "  big:", "    matrix:", ...axes, "    cmd: echo", ""));
    expect(r.errors).toBe(
      lines(
        "pipe.yaml:3:5: error: matrix would generate 9,765,625 stages; pipe generates at most 10,000 from one foreach or matrix",
        "  |",
        "3 |     matrix:",
        "  |     ^^^^^^",
        "  = use fewer axes or fewer values per axis, or split the matrix over several stages",
      ),
    );
  });

  it("a foreach over more items than the limit is refused; at the limit it generates", async () => {
    const items = (n: number): string => `[${Array.from({ length: n }, (_, i) => i).join(", ")}]`;
    const over = await expand(lines("stages:", "  s:", `    foreach: ${items(11)}`, "    do: {cmd: 'echo ${item}'}", ""), { stagesPerDefinition: 10 });
    expect(over.errors).toMatch(/^pipe\.yaml:3:5: error: foreach would generate 11 stages; pipe generates at most 10 from one foreach or matrix\n/);
    const at = await expand(lines("stages:", "  s:", `    foreach: ${items(10)}`, "    do: {cmd: 'echo ${item}'}", ""), { stagesPerDefinition: 10 });
    expect(at.errors).toBe("");
    expect(at.stages).toHaveLength(10);
  });

  it("the stages of a whole file are limited, generated ones included", async () => {
    const r = await expand(
      lines("stages:", "  a:", "    foreach: [1, 2, 3]", "    do: {cmd: 'echo ${item}'}", "  b: {cmd: echo}", "  c:", "    matrix: {x: [1, 2], y: [1, 2]}", "    cmd: echo", ""),
      { stagesPerFile: 6 },
    );
    expect(r.errors).toMatch(/^pipe\.yaml:7:5: error: 'c' would bring pipe\.yaml to 8 stages; pipe expands at most 6 stages per stages file\n/);
  });

  it("the paths of a whole file are limited, counted from each definition's lists", async () => {
    const r = await expand(
      lines(
        "stages:",
        "  one:",
        "    cmd: echo",
        "    deps: [a, b]",
        "  gen:",
        "    foreach: [1, 2, 3]",
        "    do:",
        "      cmd: echo ${item}",
        "      deps: [x, y]",
        "      outs: ['o${item}']",
        "      params: [lr]",
        "",
      ),
      { pathsPerFile: 10 },
    );
    expect(r.errors).toMatch(
      /^pipe\.yaml:6:5: error: 'gen' would bring pipe\.yaml to 14 deps, outs, metrics, plots and params \(3 stages of 4 each\); pipe expands at most 10 per stages file\n/,
    );
    const plain = await expand(lines("stages:", "  one:", "    cmd: echo", "    deps: [a, b, c]", ""), { pathsPerFile: 2 });
    expect(plain.errors).toMatch(/^pipe\.yaml:2:3: error: 'one' would bring pipe\.yaml to 3 deps, outs, metrics, plots and params \(3\); pipe expands at most 2 per stages file\n/);
  });
});

describe("paths the system cannot take", () => {
  const long = "a".repeat(5000);

  it("a dependency, an output or a wdir with a 5,000-byte name is a located error", async () => {
    const deps = await expand(lines("stages:", "  s:", "    cmd: echo", `    deps: [${long}]`, ""));
    expect(deps.errors.split("\n")[0]).toBe(`pipe.yaml:4:12: error: dependency '${"a".repeat(57)}...' is too long: a name in it is 5,000 bytes long; file systems allow at most 255 bytes per name`);
    const outs = await expand(lines("stages:", "  s:", "    cmd: echo", "    metrics:", `    - ? ${long}`, "      : {cache: false}", ""));
    expect(outs.errors.split("\n")[0]).toMatch(/^pipe\.yaml:5:9: error: output 'a+\.\.\.' is too long: a name in it is 5,000 bytes long; file systems allow at most 255 bytes per name$/);
    const wdir = await expand(lines("stages:", "  s:", "    cmd: echo", `    wdir: ${long}`, ""));
    expect(wdir.errors.split("\n")[0]).toBe("pipe.yaml:4:11: error: wdir is too long: a name in it is 5,000 bytes long; file systems allow at most 255 bytes per name");
  });

  it("a path of short names that is too long as a whole is a located error; 255 bytes per name is fine", async () => {
    const deep = Array.from({ length: 25 }, () => "b".repeat(200)).join("/");
    const r = await expand(lines("stages:", "  s:", "    cmd: echo", `    deps: [${deep}]`, ""));
    expect(r.errors.split("\n")[0]).toMatch(/^pipe\.yaml:4:12: error: dependency 'b+\.\.\.' is too long: it is [\d,]+ bytes long as an absolute path; the system allows at most [\d,]+$/);
    const ok = await expand(lines("stages:", "  s:", "    cmd: echo", `    deps: [${"c".repeat(255)}]`, "    outs: ['https://example.com/" + "d".repeat(300) + "']", ""));
    expect(ok.errors).toBe("");
  });
});
