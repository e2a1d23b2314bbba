/**
 * `commit`, `checkout`, `repro` and `gc` are thin: flags in, one library call (`exec/commit.ts`, `exec/checkout.ts`
 * through `cli/checkout-run.ts`, which `pull` and `exp apply` share, `exec/run-repro.ts`), a reporter out, at most 120
 * lines, and no other module imports them. They reach the cache, the lock writer and the recorder only through that library, which shares `repro`'s
 * record and restore paths, so no second copy of either can grow back in a command file.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const here = path.dirname(new URL(import.meta.url).pathname);
const src = path.join(here, "../../src");
const cli = path.join(src, "cli");

/** Modules that do the work: a command reaching them directly is doing the work itself. */
const internals = ["storage/checkout.js", "status/record.js", "lock/write.js", "exec/run-marker.js", "exec/repro.js"];

describe("thin command files", () => {
  for (const [file, library] of [
    ["commands/commit.ts", "exec/commit.js"],
    ["commands/checkout.ts", "checkout-run.js"],
    ["checkout-run.ts", "exec/checkout.js"],
    ["commands/repro.ts", "repro-run.js"],
    ["repro-run.ts", "exec/run-repro.js"],
  ] as const) {
    it(`${file}: at most 120 lines, one library call, none of the engine's internals`, () => {
      const text = readFileSync(path.join(cli, file), "utf8");
      expect(text.split("\n").length).toBeLessThanOrEqual(120);
      expect(text).toContain(library);
      for (const m of internals) expect(text, m).not.toContain(m);
    });
  }

  it("repro.ts and gc.ts are at most 120 lines, and no module but the command table imports these commands", () => {
    for (const f of ["repro.ts", "gc.ts"]) expect(readFileSync(path.join(cli, "commands", f), "utf8").split("\n").length, f).toBeLessThanOrEqual(120);
    const mine = new Set(["repro", "commit", "checkout", "gc"].map((c) => path.join(cli, "commands", `${c}.ts`)));
    const importers: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith(".ts") && p !== path.join(cli, "main.ts")) {
          for (const m of readFileSync(p, "utf8").matchAll(/["'](\.{1,2}\/[^"']+)\.js["']/g)) {
            if (mine.has(path.resolve(path.dirname(p), `${m[1]}.ts`))) importers.push(path.relative(src, p));
          }
        }
      }
    };
    walk(src);
    expect(importers).toEqual([]);
  });

  it("every file in cli/commands/ is a command, and only the command tables import one", () => {
    const tables = new Set(["main.ts", "exp-program.ts", "transfer-program.ts", "report-program.ts"].map((f) => path.join(cli, f)));
    const commands = new Set(readdirSync(path.join(cli, "commands")).map((f) => path.join(cli, "commands", f)));
    const importers: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith(".ts") && !tables.has(p)) {
          for (const m of readFileSync(p, "utf8").matchAll(/["'](\.{1,2}\/[^"']+)\.js["']/g)) {
            const target = path.resolve(path.dirname(p), `${m[1]}.ts`);
            if (commands.has(target)) importers.push(`${path.relative(src, p)} -> ${path.relative(src, target)}`);
          }
        }
      }
    };
    walk(src);
    expect(importers).toEqual([]);
  });
});
