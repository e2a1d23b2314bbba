import { describe, expect, it } from "vitest";
import type { Executor } from "../../src/executors/executor.js";
import { handleInterrupts } from "../../src/exec/session.js";

describe("handleInterrupts", () => {
  it("the first signal aborts; the second cancels through the executor at once, then hands over to the caller to exit", () => {
    const calls: string[] = [];
    const executor: Executor = {
      name: "local",
      start: () => {
        throw new Error("not used");
      },
      cancelAll: (how) => calls.push(`cancelAll ${how}`),
      settleLeftovers: () => Promise.resolve([]),
    };
    const interrupts = handleInterrupts({ executor, onFirst: () => calls.push("first"), onSecond: () => calls.push("second") });
    try {
      // The handlers are called as the signals would call them, without signalling the test's own process.
      process.emit("SIGINT", "SIGINT");
      expect(interrupts.signal.aborted).toBe(true);
      expect(calls).toEqual(["first"]);
      process.emit("SIGTERM", "SIGTERM");
      expect(calls).toEqual(["first", "cancelAll now", "second"]);
    } finally {
      interrupts.dispose();
    }
  });
});
