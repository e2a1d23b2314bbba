/**
 * `commit` and `checkout` are thin: flags in, one library call (`exec/commit.ts`, `exec/checkout.ts`), a reporter
 * out. They reach the cache, the lock writer and the recorder only through that library, which shares `repro`'s
 * record and restore paths, so no second copy of either can grow back in a command file.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const here = path.dirname(new URL(import.meta.url).pathname);
const commands = path.join(here, "../../src/cli/commands");

/** Modules that do the work: a command reaching them directly is doing the work itself. */
const internals = ["storage/checkout.js", "status/record.js", "lock/write.js", "exec/run-marker.js", "exec/repro.js"];

describe("thin command files", () => {
  for (const [file, library] of [
    ["commit.ts", "exec/commit.js"],
    ["checkout.ts", "exec/checkout.js"],
  ] as const) {
    it(`${file}: at most 120 lines, one library call, none of the engine's internals`, () => {
      const text = readFileSync(path.join(commands, file), "utf8");
      expect(text.split("\n").length).toBeLessThanOrEqual(120);
      expect(text).toContain(library);
      for (const m of internals) expect(text, m).not.toContain(m);
    });
  }
});
