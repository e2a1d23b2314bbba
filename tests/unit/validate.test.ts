/**
 * Validation of stages files: the exact text a user sees for each kind of mistake, that every error of a file is
 * reported at once and in order, and that the grammar accepts every real dvc.yaml of the corpus that DVC 3 accepts
 * (and rejects the two that use the removed `live:` section).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../../src/core/diagnostic.js";
import { validateStagesFile } from "../../src/schema/validate.js";
import { parseYaml } from "../../src/formats/yaml.js";
import { CORPUS } from "../helpers/project.js";
import { hasCorpus } from "../helpers/require.js";

function check(text: string, file = "pipe.yaml"): { errors: string; warnings: string; count: number } {
  const r = validateStagesFile(parseYaml(file, text));
  const sources = new Map([[file, text]]);
  return { errors: renderDiagnostics(r.errors, sources), warnings: renderDiagnostics(r.warnings, sources), count: r.errors.length };
}

const lines = (...ls: string[]): string => ls.join("\n");

describe("validateStagesFile: messages", () => {
  it("unknown stage key, with a did-you-mean hint", () => {
    const r = check("stages:\n  train:\n    cmd: python train.py\n    dep: [data.csv]\n");
    expect(r.errors).toBe(
      lines("pipe.yaml:4:5: error: unknown stage key 'dep'", "  |", "4 |     dep: [data.csv]", "  |     ^^^", "  = did you mean 'deps'?"),
    );
  });

  it("unknown top-level key", () => {
    const r = check("stagse:\n  train:\n    cmd: x\n");
    expect(r.errors).toBe(lines("pipe.yaml:1:1: error: unknown top-level key 'stagse'", "  |", "1 | stagse:", "  | ^^^^^^", "  = did you mean 'stages'?"));
  });

  it("a stage written at the top level is recognised", () => {
    const r = check("train:\n  cmd: x\n");
    expect(r.errors).toContain("  = 'train' looks like a stage: stages go under 'stages:'");
  });

  it("cmd of the wrong type", () => {
    const r = check("stages:\n  train:\n    cmd:\n      run: python train.py\n");
    expect(r.errors).toBe(lines("pipe.yaml:3:5: error: 'cmd' must be a string or a list of strings, not a mapping", "  |", "3 |     cmd:", "  |     ^^^"));
    expect(check("stages:\n  t:\n    cmd: [a, 1]\n").errors).toContain("error: an entry of 'cmd' must be a string, not a number");
    expect(check("stages:\n  t:\n    cmd:\n").errors).toContain("error: 'cmd' is empty; it must be a string or a list of strings");
  });

  it("foreach with another key beside do", () => {
    const r = check("stages:\n  build:\n    foreach: [a, b]\n    cmd: echo\n    do:\n      cmd: echo ${item}\n");
    expect(r.errors).toBe(
      lines("pipe.yaml:4:5: error: a foreach stage takes only 'foreach' and 'do', found 'cmd'", "  |", "4 |     cmd: echo", "  |     ^^^", "  = move 'cmd' under 'do'"),
    );
  });

  it("foreach without do, do without foreach, missing cmd", () => {
    expect(check("stages:\n  b:\n    foreach: [a]\n").errors).toContain("pipe.yaml:2:3: error: foreach stage 'b' has no 'do'");
    expect(check("stages:\n  b:\n    do:\n      cmd: x\n").errors).toContain("pipe.yaml:2:3: error: stage 'b' has 'do' but no 'foreach'");
    expect(check("stages:\n  b:\n    deps: [x]\n").errors).toContain("pipe.yaml:2:3: error: stage 'b' has no 'cmd'");
    expect(check("stages:\n  b:\n    foreach: [a]\n    do:\n      deps: [x]\n").errors).toContain("pipe.yaml:4:5: error: the 'do' of stage 'b' has no 'cmd'");
  });

  it("matrix beside foreach, and inside do", () => {
    expect(check("stages:\n  b:\n    foreach: [a]\n    matrix: {x: [1]}\n    do:\n      cmd: x\n").errors).toContain(
      "  = a stage is expanded by 'foreach' or by 'matrix', not both",
    );
    expect(check("stages:\n  b:\n    foreach: [a]\n    do:\n      cmd: x\n      matrix: {x: [1]}\n").errors).toContain(
      "pipe.yaml:6:7: error: 'matrix' cannot be used inside 'do' of stage 'b'",
    );
  });

  it("flags of outs, metrics and plots", () => {
    const r = check(
      lines(
        "stages:",
        "  t:",
        "    cmd: x",
        "    outs:",
        "      - model.pkl:",
        "          cahce: false",
        "    metrics:",
        "      - m.json:",
        "          cache: nope",
        "    plots:",
        "      - p.csv:",
        "          x_lable: step",
        "      - {}",
        "",
      ),
    );
    expect(r.errors).toContain("pipe.yaml:6:11: error: unknown output flag 'cahce'");
    expect(r.errors).toContain("  = did you mean 'cache'?");
    expect(r.errors).toContain("pipe.yaml:9:18: error: 'cache' must be true or false, not a string");
    expect(r.errors).toContain("pipe.yaml:12:11: error: unknown plot flag 'x_lable'");
    expect(r.errors).toContain("  = did you mean 'x_label'?");
    expect(r.errors).toContain("pipe.yaml:13:9: error: an entry of 'plots' is an empty mapping; write a path, or {path: {flags}}");
    expect(r.count).toBe(4);
  });

  it("an out with an empty flags mapping (DVC 3 rejects `- path:`)", () => {
    expect(check("stages:\n  t:\n    cmd: x\n    outs:\n      - model.pkl:\n").errors).toContain(
      "pipe.yaml:5:9: error: the flags of 'model.pkl' is empty; it must be a mapping",
    );
  });

  it("booleans: YAML 1.2 words and templating", () => {
    expect(check("stages:\n  t:\n    cmd: x\n    frozen: yes\n").errors).toContain("  = YAML 1.2 reads 'yes' as a string: write true or false");
    expect(check("stages:\n  t:\n    cmd: x\n    frozen: ${f}\n").errors).toContain("  = 'frozen' is read before templating, so it cannot use ${...} (as in DVC)");
  });

  it("a single path where a list is expected", () => {
    expect(check("stages:\n  t:\n    cmd: x\n    deps: data.csv\n").errors).toBe(
      lines("pipe.yaml:4:11: error: 'deps' must be a list of paths, not a string", "  |", "4 |     deps: data.csv", "  |           ^^^^^^^^", "  = a single entry is still a list: write [data.csv]"),
    );
    expect(check("stages:\n  t:\n    cmd: x\n    outs: ${outs}\n").errors).toContain(
      "  = 'outs' is read before templating, so it cannot be a ${...} (as in DVC): list the entries",
    );
  });

  it("a stage field indented as a stage", () => {
    expect(check("stages:\n  t:\n    cmd: x\n  outs:\n    - o\n").errors).toContain(
      "  = 'outs' is a stage field: indent it as deep as the other fields of its stage",
    );
  });

  it("the DVC 2 live section is an unknown key, with a hint", () => {
    const r = check("stages:\n  t:\n    cmd: x\n    live:\n      logs:\n        summary: true\n");
    expect(r.errors).toBe(
      lines(
        "pipe.yaml:4:5: error: unknown stage key 'live'",
        "  |",
        "4 |     live:",
        "  |     ^^^^",
        "  = the 'live' section of DVC 2 was removed in DVC 3: declare DVCLive's files as 'metrics' and 'plots'",
      ),
    );
  });

  it("top-level plots, artifacts, datasets", () => {
    const r = check(
      lines("plots:", "  - a.csv:", "      cache: false", "  - 5", "artifacts:", "  model:", "    pth: m.pkl", "datasets:", "  - name: d", ""),
    );
    expect(r.errors).toContain("pipe.yaml:3:7: error: unknown plot property 'cache'");
    expect(r.errors).toContain("pipe.yaml:4:5: error: an entry of 'plots' must be a path or a {plot id or path: {properties}} mapping, not a number");
    expect(r.errors).toContain("pipe.yaml:6:3: error: artifact 'model' has no 'path'");
    expect(r.errors).toContain("pipe.yaml:7:5: error: unknown artifact field 'pth'");
    expect(r.errors).toContain("pipe.yaml:9:5: error: an entry of 'datasets' has no 'type'");
  });

  it("reports every error of a file at once, sorted by position, without ajv's wording", () => {
    const text = lines(
      "stages:",
      "  prepare:",
      "    cmd: python prepare.py",
      "    outs: prepared.csv",
      "  train:",
      "    dep: [prepared.csv]",
      "    frozen: maybe",
      "plot:",
      "  - loss.csv",
      "",
    );
    const r = validateStagesFile(parseYaml("pipe.yaml", text));
    expect(r.errors.map((d) => `${d.location?.line}:${d.location?.col} ${d.message}`)).toEqual([
      "4:11 'outs' must be a list of paths, not a string",
      "5:3 stage 'train' has no 'cmd'",
      "6:5 unknown stage key 'dep'",
      "7:13 'frozen' must be true or false, not a string",
      "8:1 unknown top-level key 'plot'",
    ]);
    for (const d of r.errors) expect(d.message).not.toMatch(/must NOT|must match|must have required|should /);
  });

  it("accepts an empty file and a file of comments (DVC reads them as no stages)", () => {
    expect(check("").count).toBe(0);
    expect(check("# nothing yet\n").count).toBe(0);
  });

  it("rejects a file that is not a mapping", () => {
    expect(check("- a\n- b\n").errors).toContain("pipe.yaml:1:1: error: the stages file must be a mapping, not a list");
  });

  it("checkpoint is accepted with one warning per file", () => {
    const r = check("stages:\n  t:\n    cmd: x\n    outs:\n      - a:\n          checkpoint: true\n      - b:\n          checkpoint: true\n");
    expect(r.count).toBe(0);
    expect(r.warnings).toBe(
      lines(
        "pipe.yaml:6:11: warning: 'checkpoint' has no effect and is ignored, as in DVC 3 (2 outputs in this file)",
        "  |",
        "6 |           checkpoint: true",
        "  |           ^^^^^^^^^^",
      ),
    );
  });

  it("accepts ${...} where DVC does: wdir, foreach, matrix axes, cmd, params file names", () => {
    const text = lines(
      "vars:",
      "  - config.yaml:a,b",
      "  - root: ..",
      "stages:",
      "  a:",
      "    foreach: ${items}",
      "    do:",
      "      cmd: echo ${item}",
      "      wdir: ${root}",
      "      params:",
      "        - ${file}:",
      "        - other.yaml: [k, '${key}']",
      "  b:",
      "    matrix:",
      "      x: ${xs}",
      "      y: [1, 2]",
      "    cmd: ${cmd}",
      "",
    );
    expect(check(text).errors).toBe("");
  });
});

describe("validateStagesFile: YAML syntax", () => {
  it("a tab-indented line", () => {
    const r = check("stages:\n  train:\n    cmd: python train.py\n\tdeps: [a]\n");
    expect(r.errors).toBe(
      lines("pipe.yaml:4:1: error: tab character used for indentation", "  |", "4 |  deps: [a]", "  | ^", "  = YAML indents with spaces only: replace the tab with spaces"),
    );
  });

  it("a tab after a value is white space, as in YAML 1.2", () => {
    expect(check("stages:\n  t:\n    cmd: x\t\n    deps:\n      - a.py\t\n").count).toBe(0);
  });

  it("duplicate keys, each with a note on the first", () => {
    const r = check("stages:\n  a:\n    cmd: x\n    cmd: y\n  a:\n    cmd: z\n");
    expect(r.errors).toBe(
      lines(
        "pipe.yaml:4:5: error: duplicate key 'cmd'",
        "  |",
        "4 |     cmd: y",
        "  |     ^^^",
        "  note: pipe.yaml:3:5: 'cmd' is first defined here",
        "",
        "pipe.yaml:5:3: error: duplicate key 'a'",
        "  |",
        "5 |   a:",
        "  |   ^",
        "  note: pipe.yaml:2:3: 'a' is first defined here",
      ),
    );
  });

  it("an unclosed flow sequence points at its bracket", () => {
    expect(check("stages:\n  p:\n    cmd: x\n    deps: [a, b\n    outs:\n      - c\n").errors).toContain(
      "pipe.yaml:4:11: error: '[' is not closed: a flow sequence must end with ']'",
    );
  });

  it("an unclosed quote points at the quote", () => {
    expect(check("stages:\n  p:\n    cmd: 'python p.py\n    deps:\n    - a\n").errors).toContain("pipe.yaml:3:10: error: a quoted string is not closed");
  });

  it("a misaligned key points at the key", () => {
    expect(check("stages:\n  p:\n    cmd: x\n   deps: [a]\n").errors).toContain("pipe.yaml:4:4: error: all mapping items must start at the same column");
    expect(check("stages:\n  p:\n    cmd: x\n     deps: [a]\n").errors).toBe(
      lines(
        "pipe.yaml:4:6: error: this line is indented deeper than the line above, so YAML reads it as part of that line's value",
        "  |",
        "4 |      deps: [a]",
        "  |      ^",
        "  = align it with the keys above it",
      ),
    );
  });

  it("a value holding ': '", () => {
    const r = check("stages:\n  p:\n    cmd: python p.py --opt a: b\n");
    expect(r.errors).toContain("error: a value holding ': ' starts a nested mapping");
    expect(r.errors).toContain('  = quote the whole value: key: "a: b"');
  });

  it("two documents", () => {
    expect(check("stages: {}\n---\nstages: {}\n").errors).toContain("pipe.yaml:2:1: error: the file holds more than one YAML document");
  });

  it("aliases: an anchor used in many stages is fine; an alias bomb, a cycle or a missing anchor is located", () => {
    // 150 uses of one anchor: the `yaml` package's own limit (100) would refuse this ordinary file.
    const many = ["vars:", "  - meta: &m {owner: ml}", "stages:", ...Array.from({ length: 150 }, (_, i) => `  s${i}:\n    cmd: echo ${i}\n    meta: *m`)].join("\n") + "\n";
    expect(check(many).count).toBe(0);
    // Nine levels of nine aliases: 387 million values from ten lines.
    const bomb = ["a: &l0 [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(", ")}]`)].join("\n") + "\n";
    const b = check(bomb);
    expect(b.count).toBe(1);
    expect(b.errors).toMatch(/^pipe\.yaml:9:10: error: aliases expand this document of \d+ values into \d+ values \(an alias bomb\?\)/);
    expect(check("stages:\n  s: &s\n    cmd: echo\n    meta: [*s]\n").errors).toMatch(/^pipe\.yaml:4:12: error: this alias refers to a collection that contains it, which has no value/);
    expect(check("stages:\n  s:\n    cmd: *c\n").errors).toMatch(/^pipe\.yaml:3:10: error: alias '\*c' has no anchor '&c' before it/);
  });

  it("schema errors are not reported on top of syntax errors", () => {
    const r = check("stagse:\n\tx: 1\n");
    expect(r.count).toBe(1);
    expect(r.errors).toContain("tab character used for indentation");
  });
});

/** Every dvc.yaml under the corpus, relative to it. */
function corpusFiles(): string[] {
  const root = path.join(CORPUS, "dvc-real");
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(root, r)).isDirectory()) walk(r);
      else if (name === "dvc.yaml") out.push(r);
    }
  };
  walk("");
  return out;
}

describe("validateStagesFile: what DVC's loader refuses beyond YAML syntax", () => {
  it("a collection used as a mapping key is a located error (not a stage named 'a,b')", () => {
    const r = check("stages:\n  ? [a, b]\n  : cmd: echo\n");
    expect(r.errors).toBe(lines("pipe.yaml:2:5: error: a mapping key must be a scalar, not a list", "  |", "2 |   ? [a, b]", "  |     ^^^^^^", "  = write the key as a string"));
  });

  it("unknown tags are located errors, Python's with their own hint", () => {
    const r = validateStagesFile(parseYaml("pipe.yaml", "stages:\n  s:\n    cmd: !!python/name:os.system echo\n    desc: !custom x\n"));
    expect(r.errors.map((d) => [d.message, d.location?.line, d.location?.col, d.hint?.startsWith("Python tags")])).toEqual([
      ["unknown tag '!!python/name:os.system'", 3, 10, true],
      ["unknown tag '!custom'", 4, 11, false],
    ]);
    expect(r.warnings).toEqual([]);
  });

  it("merge keys expand; a merged entry's error points where it is written", () => {
    expect(check("base: &b\n  cmd: echo\nstages:\n  s:\n    <<: *b\n    deps: [a]\n").errors).toMatch(/unknown top-level key 'base'/);
    const r = check("stages:\n  s: &s\n    cmd: echo\n    outz: [a]\n  t:\n    <<: *s\n    cmd: echo t\n");
    expect(r.count).toBe(1);
    expect(r.errors).toMatch(/^pipe.yaml:4:5: error: unknown stage key 'outz'/);
    expect(check("stages:\n  s: &s\n    cmd: echo\n  t:\n    <<: [*s]\n    deps: [a]\n").count).toBe(0);
    expect(check("stages:\n  t:\n    <<: 5\n    cmd: echo\n").errors).toMatch(/^pipe.yaml:3:9: error: '<<' merges mappings/);
    // A quoted '<<' is an ordinary key.
    expect(check("stages:\n  t:\n    '<<': 5\n    cmd: echo\n").errors).toMatch(/unknown stage key '<<'/);
  });

  it("a nested foreach says so, without suggesting the same word", () => {
    const r = check("stages:\n  t:\n    foreach: [1, 2]\n    do:\n      foreach: [a]\n      cmd: echo\n");
    expect(r.errors).toBe(
      lines(
        "pipe.yaml:5:7: error: 'foreach' cannot be nested inside 'do' of stage 't': nested foreach is not supported",
        "  |",
        "5 |       foreach: [a]",
        "  |       ^^^^^^^",
        "  = DVC does not support it either; for every combination of several lists, use 'matrix'",
      ),
    );
  });

  it("says which stages expansion can still go through after schema errors", () => {
    const r = validateStagesFile(parseYaml("pipe.yaml", "stages:\n  a:\n    cmd: x\n    dep: [d]\n  b:\n    cmd: [1]\n  c:\n    foreach: [1]\n    do:\n      foreach: [2]\n      cmd: y\nmetrics: [{a: 1}]\nextra: 1\n"));
    expect(r.errors.length).toBeGreaterThan(3);
    expect(r.expandable).toBe(true);
    // 'a' has only an unknown plain key: it still expands; 'b' (a wrong type) and 'c' (a structural key) do not.
    expect([...r.skip.stages].sort()).toEqual(["b", "c"]);
    expect([...r.skip.topLevel]).toEqual(["metrics"]);
    expect(validateStagesFile(parseYaml("pipe.yaml", "vars: 3\nstages:\n  a:\n    cmd: x\n")).expandable).toBe(false);
    expect(validateStagesFile(parseYaml("pipe.yaml", "stages: [a]\n")).expandable).toBe(false);
    expect(validateStagesFile(parseYaml("pipe.yaml", "stages:\n  a: [1\n")).expandable).toBe(false);
  });
});

describe.runIf(hasCorpus())("the dvc-real corpus", () => {
  // SOURCES.md: these two use the stage-level `live:` section of DVC 2, which DVC 3 rejects.
  const rejected = new Map([
    ["FUSA-ROADS__fusa-net-experiments/experiments/template/dvc.yaml", 20],
    ["iterative__example-repos-dev__dvc-checkpoints-mnist__branches__full_pipeline/dvc.yaml", 26],
  ]);
  const files = hasCorpus() ? corpusFiles() : [];

  it("holds the 92 files SOURCES.md lists", () => {
    expect(files.length).toBe(92);
  });

  it("accepts every file DVC 3 accepts", () => {
    const failures: string[] = [];
    for (const f of files) {
      if (rejected.has(f)) continue;
      const text = readFileSync(path.join(CORPUS, "dvc-real", f), "utf8");
      const r = validateStagesFile(parseYaml(f, text));
      if (r.errors.length > 0) failures.push(renderDiagnostics(r.errors, new Map([[f, text]])));
    }
    expect(failures).toEqual([]);
  });

  it("rejects the live: files with a located diagnostic", () => {
    for (const [f, line] of rejected) {
      const text = readFileSync(path.join(CORPUS, "dvc-real", f), "utf8");
      const r = validateStagesFile(parseYaml(f, text));
      expect(r.errors.map((d) => [d.message, d.location?.file, d.location?.line, d.location?.col])).toEqual([["unknown stage key 'live'", f, line, 5]]);
    }
  });

  it("accepts the tab after a plain scalar in SoyGema's file, as DVC 3's loader (libyaml through ruamel) does", () => {
    // SOURCES.md lists it as a PyYAML error; pure-Python ruamel rejects it too, but DVC 3 loads dvc.yaml with
    // `YAML(typ="safe")`, which is libyaml's scanner whenever ruamel.yaml.clib is installed (its default on
    // CPython), and that scanner skips a tab after a token. The lock beside the file shows DVC ran it.
    const f = "SoyGema__Neural-Machine-Translation/dvc.yaml";
    const text = readFileSync(path.join(CORPUS, "dvc-real", f), "utf8");
    expect(text.split("\n")[46]).toBe("    - src/data/load_dataset.py\t");
    expect(validateStagesFile(parseYaml(f, text)).errors).toEqual([]);
  });

  it("warns about checkpoint in the checkpoints example", () => {
    const f = "iterative__example-repos-dev__dvc-checkpoints-mnist__branches__full_pipeline/dvc.yaml";
    const r = validateStagesFile(parseYaml(f, readFileSync(path.join(CORPUS, "dvc-real", f), "utf8")));
    expect(r.warnings.map((d) => d.message)).toEqual(["'checkpoint' has no effect and is ignored, as in DVC 3"]);
  });
});
