/**
 * The stages-file schema has three faces that must agree: `src/schema/schema.ts` (the source), the published
 * `schemas/pipe.schema.json` (for editors) and the ajv standalone validator generated from it
 * (`src/schema/validate-stages.generated.ts`, so start-up does not compile the schema). `UPDATE_GOLDEN=1` rewrites the
 * two generated files; otherwise a stale one fails here.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import standaloneCode from "ajv/dist/standalone/index.js";
import { describe, expect, it } from "vitest";
import { AJV_OPTIONS, ANNOTATION_KEYWORDS, STAGES_FILE_SCHEMA } from "../../src/schema/schema.js";
import { REPO_ROOT } from "../helpers/project.js";

const update = process.env["UPDATE_GOLDEN"] === "1";

function checkGenerated(rel: string, content: string): void {
  const file = path.join(REPO_ROOT, rel);
  if (update) writeFileSync(file, content);
  expect(readFileSync(file, "utf8"), `${rel} is stale: run UPDATE_GOLDEN=1 npx vitest run tests/unit/schema.test.ts`).toBe(content);
}

function newAjv(source: boolean): Ajv {
  const ajv = new Ajv({ ...AJV_OPTIONS, logger: false, ...(source ? { code: { source: true, esm: true } } : {}) });
  for (const k of ANNOTATION_KEYWORDS) ajv.addKeyword(k);
  return ajv;
}

describe("stages file schema", () => {
  it("compiles in ajv strict mode", () => {
    expect(() => newAjv(false).compile(STAGES_FILE_SCHEMA)).not.toThrow();
  });

  it("is published as schemas/pipe.schema.json", () => {
    checkGenerated("schemas/pipe.schema.json", JSON.stringify(STAGES_FILE_SCHEMA, null, 2) + "\n");
  });

  it("is what the generated standalone validator was built from", () => {
    const ajv = newAjv(true);
    const code = standaloneCode(ajv, ajv.compile(STAGES_FILE_SCHEMA));
    // ajv's standalone code needs no runtime helpers for this schema; if that changes, the generated module breaks.
    expect(code).not.toMatch(/require\(/);
    const header = [
      "/* eslint-disable */",
      "// @ts-nocheck",
      "// Generated from src/schema/schema.ts by tests/unit/schema.test.ts (ajv standalone code). Do not edit:",
      "// regenerate with `UPDATE_GOLDEN=1 npx vitest run tests/unit/schema.test.ts`.",
      "",
    ].join("\n");
    checkGenerated("src/schema/validate-stages.generated.ts", header + code + "\n");
  });

  it("accepts the grammar's shapes and rejects what DVC 3 rejects", () => {
    const v = newAjv(false).compile(STAGES_FILE_SCHEMA);
    const good = {
      vars: ["params.yaml", { a: 1 }],
      stages: {
        a: {
          cmd: ["x", "y"],
          wdir: "${root}",
          deps: ["d"],
          params: ["lr", { "p.yaml": null }, { "q.json": ["k"] }],
          outs: ["o", { m: { cache: false, persist: true, checkpoint: true, push: false, labels: ["l"], meta: { x: 1 } } }],
          metrics: [{ "m.json": { cache: false } }],
          plots: ["p.csv", { "q.csv": { x: "step", y: "loss", template: "linear", title: "t", x_label: "a", y_label: "b" } }, { "r.csv": [{ y: "a" }] }],
          frozen: false,
          always_changed: true,
          desc: "d",
          meta: { anything: [1] },
          matrix: { lr: [0.1, 0.2], model: "${models}" },
        },
        b: { foreach: "${items}", do: { cmd: "echo ${item}", vars: ["v.yaml"] } },
        c: { foreach: { k: 1 }, do: { cmd: "x" } },
      },
      params: ["p.yaml"],
      metrics: ["m.json"],
      plots: ["a.csv", { "id with spaces": { x: { "a.csv": "step" }, y: { "a.csv": ["l", "m"] } } }, { "b.png": null }],
      artifacts: { model: { path: "m.pkl", type: "model", labels: ["x"], desc: "d", meta: {} } },
      datasets: [{ name: "d", type: "dvc", url: "u", path: "p" }],
    };
    expect(v(good), JSON.stringify(v.errors)).toBe(true);
    const bad: unknown[] = [
      { stages: { a: { cmd: "x", live: { dir: "l" } } } },
      { stages: { a: { cmd: "x", frozen: "${f}" } } },
      { stages: { a: { deps: ["x"] } } },
      { stages: { a: { foreach: [1], do: { cmd: "x" }, cmd: "y" } } },
      { stages: { a: { foreach: [1], do: { cmd: "x", matrix: { a: [1] } } } } },
      { stages: { a: { cmd: "x", outs: [{ o: null }] } } },
      { stages: { a: { cmd: "x", deps: null } } },
      { plots: { a: {} } },
      { artifacts: { a: { type: "model" } } },
      { datasets: [{ name: "d" }] },
      { stagse: {} },
    ];
    for (const b of bad) expect(v(b), JSON.stringify(b)).toBe(false);
  });
});
