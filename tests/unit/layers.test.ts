/**
 * The layer check that `npm run lint` runs (scripts/check-layers.mjs): imports between folders of `src/` run
 * downward only. In memory for the rules, and once as a process on a planted tree for the exit code and the line.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkLayers } from "../../scripts/check-layers.mjs";
import { makeProject, REPO_ROOT } from "../helpers/project.js";

const SCRIPT = path.join(REPO_ROOT, "scripts", "check-layers.mjs");

type Problem = { file: string; line: number; message: string };
const check = (files: Record<string, string>): Problem[] =>
  checkLayers(Object.entries(files).map(([file, text]) => ({ file, text }))) as Problem[];

describe("layer check", () => {
  it("accepts downward imports and imports within a folder", () => {
    expect(
      check({
        "cli/main.ts": 'import { a } from "../exec/repro.js";\nimport type { B } from "../core/model.js";\n',
        "exec/repro.ts": 'import { c } from "./plan.js";\nconst m = await import("../formats/yaml.js");\n',
        "report/dag/view.ts": 'import { d } from "../table.js";\nimport { e } from "../../graph/graph.js";\n',
      }),
    ).toEqual([]);
  });

  it("reports an upward import with its file and line, whatever its form", () => {
    const problems = check({
      "core/model.ts": '/** a comment mentioning import("../cli/main.js") is not an import */\nimport type { X } from "../cli/context.js";\n',
      "formats/yaml.ts": 'import {\n  a,\n  b,\n} from "../schema/validate.js";\n',
      "hash/fs.ts": 'export { c } from "../project/load.js";\nconst m = await import("../status/stage.js");\nimport "../lock/read.js";\n',
    });
    expect(problems.map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([
      "core/model.ts:2: imports src/cli/context.ts (cli) from core (a layer below may not import a layer above)",
      "formats/yaml.ts:4: imports src/schema/validate.ts (schema) from formats (a layer below may not import a layer above)",
      "hash/fs.ts:1: imports src/project/load.ts (project) from hash (a layer below may not import a layer above)",
      "hash/fs.ts:2: imports src/status/stage.ts (status) from hash (a layer below may not import a layer above)",
      "hash/fs.ts:3: imports src/lock/read.ts (lock) from hash (a layer below may not import a layer above)",
    ]);
  });

  it("reports imports between folders of one layer, and folders in no layer", () => {
    const problems = check({
      "template/expand.ts": 'import { s } from "../schema/validate.js";\n',
      "misc/util.ts": "export const x = 1;\n",
      "loose.ts": "export const y = 1;\n",
      "graph/graph.ts": 'import { z } from "../misc/util.js";\n',
    });
    expect(problems.map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([
      "graph/graph.ts:1: imports src/misc/util.ts (misc) from graph (folder misc/ is in no layer)",
      "loose.ts:1: the top of the source directory is in no layer: add it to LAYERS in scripts/check-layers.mjs",
      "misc/util.ts:1: folder misc/ is in no layer: add it to LAYERS in scripts/check-layers.mjs",
      "template/expand.ts:1: imports src/schema/validate.ts (schema) from template (folders of one layer may not import each other)",
    ]);
  });

  it("lets no upward import through", () => {
    expect(check({ "exec/repro.ts": 'import type { EventSink } from "../report/events.js";\n' })).toHaveLength(1);
    // The engine no longer words its reasons (events are data): its old edge to the reporter is not allowed any more.
    expect(check({ "exec/repro.ts": 'import { reasonsText } from "../report/repro-reasons.js";\n' })).toHaveLength(1);
  });

  it("fails as a process on a planted upward import, naming file and line, and passes on this repository", () => {
    const dir = makeProject({
      "src/core/diagnostic.ts": "export type Diagnostic = string;\n",
      "src/hash/ignore.ts": 'import type { Diagnostic } from "../core/diagnostic.js";\nimport { load } from "../project/load.js";\n',
      "src/project/load.ts": 'import type { Diagnostic } from "../core/diagnostic.js";\nexport const load = 1;\n',
    });
    const planted = spawnSync(process.execPath, [SCRIPT], { cwd: dir, encoding: "utf8" });
    expect(planted.status).toBe(1);
    expect(planted.stdout.split("\n")[0]).toBe(
      "src/hash/ignore.ts:2: imports src/project/load.ts (project) from hash (a layer below may not import a layer above)",
    );
    const repo = spawnSync(process.execPath, [SCRIPT], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(repo.stdout).toBe("");
    expect(repo.status).toBe(0);
  });
});
