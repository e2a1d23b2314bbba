/**
 * The helper processes that start stage commands (`src/executors/spawner.ts`), beyond the executor contract (which
 * `executor-local.test.ts` runs with and without them): a helper that dies mid-run fails its stage clearly and stops
 * the stage's processes, the next run gets a new helper, and where no helper can be started the command is spawned
 * directly.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LocalExecutor } from "../../src/executors/local.js";
import { encodeRequest, SpawnerPool } from "../../src/executors/spawner.js";
import { makeProject } from "../helpers/project.js";
import { alive, collecting, until } from "./executor-contract.js";

describe("stage commands started by a helper process", () => {
  it("runs the command as a child of the helper, in a session of its own", async () => {
    const root = makeProject();
    const c = collecting({ stage: "s", cmd: "echo ppid=$PPID; ps -o sid= -p $$; echo $$", wdir: root, root });
    const o = await new LocalExecutor({ root }).start(c.job).outcome;
    expect(o.reason).toBe("succeeded");
    const [ppid, sid, pid] = c.lines.map(([, l]) => l.trim());
    expect(ppid).not.toBe(`ppid=${process.pid}`);
    expect(readFileSync(`/proc/${ppid!.slice(5)}/cmdline`, "utf8")).toMatch(/^\S*perl\0-e\0/);
    expect(sid).toBe(pid);
  });

  it("a helper killed mid-run fails the stage with a clear reason, its processes stopped; the next run works", async () => {
    const root = makeProject();
    const executor = new LocalExecutor({ root, spawner: new SpawnerPool() });
    const c = collecting({ stage: "s", cmd: "echo helper=$PPID; echo $$ > pid.tmp; mv pid.tmp pid; sleep 30", wdir: root, root });
    const run = executor.start(c.job);
    await until(() => c.lines.some(([, l]) => l.startsWith("helper=")), "the stage to start");
    const helper = Number(c.lines.find(([, l]) => l.startsWith("helper="))?.[1].slice(7));
    await until(() => { try { return readFileSync(path.join(root, "pid"), "utf8").trim() !== ""; } catch { return false; } }, "the pid file");
    const stagePid = Number(readFileSync(path.join(root, "pid"), "utf8"));
    process.kill(helper, "SIGKILL");
    const o = await run.outcome;
    expect(o.reason).toBe("environment");
    expect(o.reason === "environment" && o.message).toContain("helper process that starts stage commands ended unexpectedly");
    await until(() => !alive(stagePid), "the stage's process to be stopped");
    const again = collecting({ stage: "s", cmd: "echo again", wdir: root, root });
    expect((await executor.start(again.job).outcome).reason).toBe("succeeded");
    expect(again.has("again")).toBe(true);
  });

  it("where no helper can be started, the command is started directly", async () => {
    const root = makeProject();
    const executor = new LocalExecutor({ root, spawner: new SpawnerPool(path.join(root, "no-such-perl")) });
    for (const n of [1, 2]) {
      const c = collecting({ stage: "s", cmd: `echo ppid=$PPID run${n}; exit ${n + 2}`, wdir: root, root });
      expect(await executor.start(c.job).outcome).toMatchObject({ reason: "exit-code", exitCode: n + 2 });
      expect(c.lines).toEqual([["stdout", `ppid=${process.pid} run${n}`]]);
    }
  });

  it("an environment or command holding a NUL cannot be sent (the executor spawns directly, which refuses it)", () => {
    expect(encodeRequest({ command: "echo a", cwd: "/", env: { A: "1" } })?.toString()).toBe("12\n/\0echo a\0A=1");
    // The length counts bytes, not characters.
    expect(encodeRequest({ command: "echo é", cwd: "/", env: {} })?.toString()).toBe("9\n/\0echo é");
    expect(encodeRequest({ command: "echo \0", cwd: "/", env: {} })).toBeUndefined();
  });
});
