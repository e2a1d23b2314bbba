/**
 * `pipe repro --json` interrupted: the stream ends with an `interrupted` event, every line still an event of the
 * schema, and the exit code is 130 as without --json.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, PIPE_BIN } from "../helpers/project.js";
import { eventsOf, ofType } from "../helpers/repro-events.js";

describe("pipe repro --json, interrupted", () => {
  it("an interrupt ends the stream with an interrupted event and exits 130", async () => {
    const dir = makeProject({
      ".pipe/config.yaml": "",
      "pipe.yaml": "stages:\n  slow:\n    cmd: touch started && sleep 30\n    outs: [slow.txt]\n",
    });
    const child = spawn(process.execPath, [PIPE_BIN, "repro", "--json"], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(path.join(dir, "started")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      child.kill("SIGINT");
      expect(await exited).toBe(130);
    } finally {
      child.kill("SIGKILL");
    }
    const events = eventsOf(out);
    expect(events.at(-1)).toEqual({ type: "interrupted" });
    expect(ofType(events, "stage-start").map((e) => e.stage)).toEqual(["slow"]);
  });
});
