import { describe, expect, it } from "vitest";
import { didYouMean, error, renderDiagnostic } from "../../src/core/diagnostic.js";

describe("renderDiagnostic", () => {
  it("prints file:line:col, the source line and a marker under the node", () => {
    const src = new Map([["pipe.yaml", "stages:\n  train:\n    dep: [a]\n"]]);
    const d = error("unknown-key", "unknown stage key 'dep'", { file: "pipe.yaml", line: 3, col: 5, length: 3 }, { hint: "did you mean 'deps'?" });
    expect(renderDiagnostic(d, src)).toBe(
      ["pipe.yaml:3:5: error: unknown stage key 'dep'", "  |", "3 |     dep: [a]", "  |     ^^^", "  = did you mean 'deps'?"].join("\n"),
    );
  });
  it("suggests the nearest known name", () => {
    expect(didYouMean("dep", ["cmd", "deps", "outs"])).toBe("did you mean 'deps'?");
    expect(didYouMean("zzzzzz", ["cmd", "deps"])).toBeUndefined();
  });
});
