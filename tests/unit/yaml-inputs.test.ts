/**
 * The YAML reader on large and unusual inputs (issue 12): aliases resolved in one pass give the values the `yaml`
 * package's own conversion gave (merge keys, nested anchors, aliases of aliases, redefined anchors); duplicate keys
 * found without the package's quadratic check are reported at the same place with the same words; and files with
 * tens of thousands of aliases or keys are read at all (they took minutes before).
 */
import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../../src/core/diagnostic.js";
import { validateStagesFile } from "../../src/schema/validate.js";
import { parseYaml, toPlain, yamlDiagnostics, yamlLib } from "../../src/formats/yaml.js";
import { parseLock } from "../../src/lock/read.js";
import { parseParamsText } from "../../src/formats/params-file.js";
import { expandStagesFile } from "../../src/template/expand.js";
import { makeProject } from "../helpers/project.js";

/** The value `toPlain` gives, and the one the `yaml` package gives for the same (merge-expanded) document. */
function both(text: string, intAsBigInt = false): { ours: unknown; theirs: unknown } {
  const p = parseYaml("f.yaml", text, { intAsBigInt });
  expect(p.doc.errors.map((e) => e.message)).toEqual([]);
  expect(p.checks).toEqual([]);
  const r = toPlain(p);
  if (!r.ok) throw new Error(r.errors[0]?.message);
  const q = parseYaml("f.yaml", text, { intAsBigInt });
  return { ours: r.value, theirs: q.doc.toJS({ maxAliasCount: -1 }) };
}

function errorsOf(text: string, file = "pipe.yaml"): string {
  const p = parseYaml(file, text);
  return renderDiagnostics(yamlDiagnostics(p).errors, new Map([[file, text]]));
}

describe("aliases", () => {
  it("resolve to the values the yaml package gives: merge keys, nested anchors, aliases of aliases, redefined anchors", () => {
    const docs: [string, unknown][] = [
      ["base: &b {lr: 0.1, epochs: 3}\nrun:\n  <<: *b\n  epochs: 5\n", { base: { lr: 0.1, epochs: 3 }, run: { lr: 0.1, epochs: 5 } }],
      [
        "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  w: 0\n",
        { a: { x: 1, y: 1 }, b: { y: 2, z: 2 }, c: { x: 1, y: 1, z: 2, w: 0 } },
      ],
      // A merge of a mapping that itself merges.
      ["a: &a {x: 1}\nb: &b\n  <<: *a\n  y: 2\nc:\n  <<: *b\n  z: 3\n", { a: { x: 1 }, b: { x: 1, y: 2 }, c: { x: 1, y: 2, z: 3 } }],
      // Nested anchors, and an alias of a collection that holds aliases.
      [
        "a: &a {b: &b [1, 2], c: *b}\nd: *a\ne: *b\nf: &f {g: *a}\nh: *f\n",
        {
          a: { b: [1, 2], c: [1, 2] },
          d: { b: [1, 2], c: [1, 2] },
          e: [1, 2],
          f: { g: { b: [1, 2], c: [1, 2] } },
          h: { g: { b: [1, 2], c: [1, 2] } },
        },
      ],
      // An anchor name used twice: each alias takes the last one before it.
      ["a: &n 1\nb: *n\nc: &n two\nd: *n\ne: [*n, &n 3, *n]\n", { a: 1, b: 1, c: "two", d: "two", e: ["two", 3, 3] }],
      // Scalar aliases as keys and values; a null key; a repeated key string (1 and "1" are not duplicates in YAML).
      ["k: &k name\n*k : v\n~: nothing\n1: int\n'1': str\n", { k: "name", name: "v", "": "nothing", "1": "str" }],
      ["__proto__: &p {polluted: true}\nx: *p\n", JSON.parse('{"__proto__": {"polluted": true}, "x": {"polluted": true}}')],
      ["- &s [a, b]\n- *s\n- [*s, *s]\n", [["a", "b"], ["a", "b"], [["a", "b"], ["a", "b"]]]],
      ["", null],
      ["a:\nb: &e\nc: *e\n", { a: null, b: null, c: null }],
    ];
    for (const [text, expected] of docs) {
      const { ours, theirs } = both(text);
      expect(ours, text).toEqual(expected);
      expect(ours, text).toEqual(theirs);
    }
    expect(Object.getPrototypeOf(both("__proto__: {a: 1}\n").ours)).toBe(Object.prototype);
  });

  it("an alias is the same value as its anchor, and integers beyond 2^53 stay exact", () => {
    const { ours } = both("a: &a {k: [1]}\nb: *a\nbig: &big 12345678901234567890\nc: *big\nsmall: 7\n", true);
    const v = ours as Record<string, unknown>;
    expect(v.b).toBe(v.a);
    expect(v.big).toBe(12345678901234567890n);
    expect(v.c).toBe(12345678901234567890n);
    expect(v.small).toBe(7);
  });

  it("the alias checks are unchanged: a bomb, a cycle and a missing anchor are located errors", () => {
    const bomb = ["a: &l0 [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(", ")}]`)].join("\n") + "\n";
    expect(errorsOf(bomb)).toMatch(/^pipe\.yaml:9:10: error: aliases expand this document of \d+ values into \d+ values \(an alias bomb\?\)/);
    expect(errorsOf("a: &s\n  b: [*s]\n")).toMatch(/^pipe\.yaml:2:7: error: this alias refers to a collection that contains it, which has no value/);
    expect(errorsOf("a: *c\nb: &c 1\n")).toMatch(/^pipe\.yaml:1:4: error: alias '\*c' has no anchor '&c' before it/);
  });

  it("aliases reach templating: a vars entry and a foreach list written with aliases", async () => {
    const text = [
      "vars:",
      "  - base: &b {lr: 0.1}",
      "    runs: [*b, *b]",
      "stages:",
      "  train:",
      "    foreach: &items [x, y]",
      "    do:",
      "      cmd: echo ${item} ${base.lr} ${runs[1].lr}",
      "  again:",
      "    foreach: *items",
      "    do: {cmd: 'again ${item}'}",
      "",
    ].join("\n");
    const root = makeProject({ "pipe.yaml": text });
    const p = parseYaml("pipe.yaml", text);
    expect(validateStagesFile(p).errors).toEqual([]);
    const r = await expandStagesFile({ root, file: "pipe.yaml", text, doc: p.doc, lineCounter: p.lineCounter, sources: new Map([["pipe.yaml", text]]) });
    expect(r.ok && r.value.stages.map((s) => [s.name, s.cmd])).toEqual([
      ["train@x", "echo x 0.1 0.1"],
      ["train@y", "echo y 0.1 0.1"],
      ["again@x", "again x"],
      ["again@y", "again y"],
    ]);
  });

  it("50,000 aliases of one mapping are read, validated and expanded", async () => {
    const n = 50_000;
    const text = ["vars:", "  - base: &id001", "      lr: 0.1", "    runs:", ...Array.from({ length: n }, () => "    - *id001"), "stages:", "  train:", "    cmd: echo ${runs[49999].lr}", ""].join("\n");
    const root = makeProject({ "pipe.yaml": text });
    const p = parseYaml("pipe.yaml", text);
    expect(validateStagesFile(p).errors).toEqual([]);
    const plain = toPlain(p);
    expect(plain.ok && (plain.value as { vars: [{ runs: unknown[] }] }).vars[0].runs.length).toBe(n);
    const r = await expandStagesFile({ root, file: "pipe.yaml", text, doc: p.doc, lineCounter: p.lineCounter, sources: new Map([["pipe.yaml", text]]) });
    expect(r.ok && r.value.stages.map((s) => s.cmd)).toEqual(["echo 0.1"]);
  });

  it("10,000 stages merging one anchored mapping (<<: *d) are read and validated", () => {
    const n = 10_000;
    const text = ["stages:", "  s0: &d", "    cmd: echo hi", "    deps: [a.txt]", ...Array.from({ length: n }, (_, i) => `  s${i + 1}:\n    <<: *d\n    outs: [o${i}.txt]`), ""].join("\n");
    const p = parseYaml("pipe.yaml", text);
    expect(validateStagesFile(p).errors).toEqual([]);
    const plain = toPlain(p);
    const stages = plain.ok ? (plain.value as { stages: Record<string, unknown> }).stages : {};
    expect(Object.keys(stages)).toHaveLength(n + 1);
    expect(stages[`s${n}`]).toEqual({ cmd: "echo hi", deps: ["a.txt"], outs: [`o${n - 1}.txt`] });
  });

  it("a lock file holding 50,000 aliases is read", () => {
    const n = 50_000;
    const text = ["schema: '2.0'", "stages:", "  s:", "    cmd: x", "    deps: &d", "    - path: a", "      md5: 0cc175b9c0f1b6a831c399e269772661", "      size: 1", ...Array.from({ length: n }, (_, i) => `  s${i}:\n    cmd: x\n    deps: *d`), ""].join("\n");
    const r = parseLock("dvc.lock", text, "dvc");
    expect(r.ok && r.value.stages.size).toBe(n + 1);
  });
});

describe("duplicate keys", () => {
  it("are reported where and as the yaml package reported them", () => {
    // The package's check, for comparison: the same errors at the same positions.
    const texts = [
      "a: 1\nb: 2\na: 3\n",
      "a: 1\n!!str a: 2\n",
      "{a: 1, a: 2}\n",
      "? a\n? a\n",
      ": 1\n: 2\n",
      "~: 1\nnull: 2\n",
      "1: a\n\"1\": b\n01: c\n",
      ".nan: 1\n.nan: 2\n",
      "x: {a, a}\n",
      "- a: 1\n  a: 2\n  a: 3\n",
      "a:\n  b: 1\n  b: 2\nb: 1\n",
      "a: 1\nb: [ {c: 1, c: 2} ]\na: 2\n",
    ];
    for (const text of texts) {
      const theirs = yamlLib().parseDocument(text, { uniqueKeys: true, version: "1.2", prettyErrors: false });
      const ours = parseYaml("f.yaml", text).doc;
      expect(
        ours.errors.map((e) => [e.code, e.message, e.pos]),
        text,
      ).toEqual(theirs.errors.map((e) => [e.code, e.message, e.pos]));
    }
  });

  it("keep their message, location and note", () => {
    expect(errorsOf("stages:\n  a:\n    cmd: x\n    cmd: y\n")).toBe(
      ["pipe.yaml:4:5: error: duplicate key 'cmd'", "  |", "4 |     cmd: y", "  |     ^^^", "  note: pipe.yaml:3:5: 'cmd' is first defined here"].join("\n"),
    );
    // The note names the first key of that spelling; `01` duplicates `1` (both the integer 1), not the string "1".
    expect(errorsOf('"1": a\n1: b\n01: c\n')).toBe(
      ["pipe.yaml:3:1: error: duplicate key '1'", "  |", "3 | 01: c", "  | ^^", "  note: pipe.yaml:1:1: '1' is first defined here"].join("\n"),
    );
    // Alongside another syntax error, in position order.
    expect(errorsOf("a: 1\na: 2\nb: [1\n").split("\n").filter((l) => l.includes("error:"))).toEqual([
      "pipe.yaml:2:1: error: duplicate key 'a'",
      "pipe.yaml:3:4: error: '[' is not closed: a flow sequence must end with ']'",
    ]);
  });

  it("a params file of 100,000 keys is read, and a duplicate among them is located", () => {
    const n = 100_000;
    const keys = Array.from({ length: n }, (_, i) => `k${i}: ${i}`);
    const r = parseParamsText("params.yaml", keys.join("\n") + "\n");
    expect(r.ok && Object.keys(r.value as object).length).toBe(n);
    const dup = parseParamsText("params.yaml", [...keys, "k77777: 0"].join("\n") + "\n");
    expect(dup.ok ? [] : dup.errors.map((d) => `${d.location?.line}:${d.location?.col} ${d.message} / ${d.related?.[0]?.location.line}`)).toEqual([
      `${n + 1}:1 duplicate key 'k77777' / 77778`,
    ]);
  });

  it("in a lock file are still refused with the parser's words", () => {
    const r = parseLock("dvc.lock", "schema: '2.0'\nstages:\n  a:\n    cmd: x\n  a:\n    cmd: y\n", "dvc");
    expect(r.ok ? [] : r.errors.map((d) => `${d.location?.line}:${d.location?.col} ${d.message}`)).toEqual(["5:3 invalid YAML in lock file: Map keys must be unique"]);
  });
});
