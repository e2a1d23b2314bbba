/**
 * `pipe watch` end to end: the built CLI as a real child process, real file edits, a real SIGINT. Waits are polls
 * on what the process prints and on files its stages write (never timing assertions).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { until } from "../helpers/processes.js";
import { makeProject, PIPE_BIN, runPipe } from "../helpers/project.js";

interface Watcher {
  child: ChildProcess;
  err: () => string;
  out: () => string;
  exit: Promise<number | null>;
}

function startWatch(root: string, args: string[] = []): Watcher {
  const child = spawn(process.execPath, [PIPE_BIN, "watch", ...args], { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => void (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => void (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, err: () => err, out: () => out, exit };
}

const count = (s: string, sub: string): number => s.split(sub).length - 1;
const runs = (root: string): string[] => (existsSync(path.join(root, "runs.log")) ? readFileSync(path.join(root, "runs.log"), "utf8").trim().split("\n") : []);

describe("pipe watch", () => {
  it("runs repro, then re-runs only what a real edit made stale; outputs it writes never trigger; Ctrl-C exits 130", async () => {
    const root = makeProject({
      "params.yaml": "x: 1\n",
      "in_a.txt": "a\n",
      "in_b.txt": "b\n",
      "pipe.yaml": `stages:
  a:
    cmd: echo a >> runs.log && cat in_a.txt > a.txt && echo \${x} >> a.txt
    deps: [in_a.txt]
    params: [x]
    outs: [a.txt]
  b:
    cmd: echo b >> runs.log && cat in_b.txt > b.txt
    deps: [in_b.txt]
    outs: [b.txt]
  c:
    cmd: echo c >> runs.log && cat a.txt > c.txt
    deps: [a.txt]
    outs: [c.txt]
`,
    });
    const w = startWatch(root);
    try {
      await until(() => count(w.err(), "Watching") === 1, "the first wait");
      expect(runs(root)).toEqual(["a", "b", "c"]);
      expect(w.err()).toContain("Watching 4 paths for changes: in_a.txt, in_b.txt, params.yaml, pipe.yaml (Ctrl-C to stop)\n");

      appendFileSync(path.join(root, "in_b.txt"), "more\n");
      await until(() => count(w.err(), "Watching") === 2, "the run after editing in_b.txt");
      expect(runs(root)).toEqual(["a", "b", "c", "b"]);
      expect(w.err()).toContain("Changed: in_b.txt; running repro\n");

      writeFileSync(path.join(root, "params.yaml"), "x: 2\n");
      await until(() => count(w.err(), "Watching") === 3, "the run after editing params.yaml");
      expect(runs(root)).toEqual(["a", "b", "c", "b", "a", "c"]);
      expect(readFileSync(path.join(root, "c.txt"), "utf8")).toBe("a\n2\n");

      // A stage added to the stages file is run and its dep watched from then on.
      // Its dep first: it is not watched before the stage exists, and the stage must find it when it runs.
      writeFileSync(path.join(root, "in_d.txt"), "d\n");
      appendFileSync(path.join(root, "pipe.yaml"), "  d:\n    cmd: echo d >> runs.log && cat in_d.txt > d.txt\n    deps: [in_d.txt]\n    outs: [d.txt]\n");
      await until(() => runs(root).includes("d") && count(w.err(), "Watching") >= 4 && w.err().endsWith("(Ctrl-C to stop)\n"), "the run of the new stage");
      expect(w.err().split("\n").filter((l) => l.startsWith("Watching")).at(-1)).toBe("Watching 5 paths for changes: in_a.txt, in_b.txt, in_d.txt, params.yaml, pipe.yaml (Ctrl-C to stop)");
      const before = runs(root).length;
      writeFileSync(path.join(root, "in_d.txt"), "d2\n");
      await until(() => runs(root).length > before && w.err().endsWith("(Ctrl-C to stop)\n"), "the run after editing in_d.txt");
      expect(runs(root).slice(before)).toEqual(["d"]);
    } finally {
      w.child.kill("SIGINT");
    }
    expect(await w.exit).toBe(130);
    expect(w.err()).toMatch(/Stopped watching\.\n$/);
    // Each run was caused by an edit: the outputs the stages wrote (a.txt, b.txt, c.txt, d.txt, runs.log) never started one.
    expect(count(w.err(), "Changed during the run")).toBe(0);
    expect(runPipe(root, ["status", "--check"]).code).toBe(0);
  });

  it("an edit during a run queues one more run, which re-runs the stages reading the edited path first; Ctrl-C during a run stops it, exits 130 and records nothing of it", async () => {
    const root = makeProject({
      "in.txt": "one\n",
      "pipe.yaml": `stages:
  s:
    cmd: touch started && while [ ! -e go ]; do sleep 0.05; done && rm -f go && cat in.txt > s.txt
    deps: [in.txt]
    outs: [s.txt]
`,
    });
    const w = startWatch(root, ["-j", "2"]);
    const started = path.join(root, "started");
    try {
      await until(() => existsSync(started), "the first run");
      rmSync(started);
      writeFileSync(path.join(root, "in.txt"), "two\n");
      await until(() => w.err().includes("Changed during the run: in.txt; one more run follows\n"), "the queued edit");
      writeFileSync(path.join(root, "go"), "");
      // The run ends, and the queued one follows at once (no wait in between). It first runs 's' again, forced: 's'
      // may have read in.txt before the edit (here it read it after, but watch cannot know).
      await until(() => existsSync(started), "the queued run");
      rmSync(started);
      expect(w.err()).toContain("Changed: in.txt; running repro\nRunning 's' again: it may have read in.txt before the change\n");
      writeFileSync(path.join(root, "go"), "");
      await until(() => w.err().endsWith("(Ctrl-C to stop)\n"), "the wait after the queued run");
      expect(count(w.err(), "Watching")).toBe(1);
      expect(count(w.out(), "Running 's'")).toBe(2);
      expect(w.out()).toContain("'s' is up to date\nPipeline is up to date.\n");
      expect(readFileSync(path.join(root, "s.txt"), "utf8")).toBe("two\n");
      const lockBefore = readFileSync(path.join(root, "pipe.lock"), "utf8");
      // An edit while waiting starts a run; Ctrl-C while its stage runs stops it, and nothing of it is recorded.
      writeFileSync(path.join(root, "in.txt"), "three\n");
      await until(() => existsSync(started), "the run after the edit");
      w.child.kill("SIGINT");
      expect(await w.exit).toBe(130);
      expect(w.err()).toContain("Interrupted");
      expect(w.err()).toMatch(/Stopped watching\.\n$/);
      expect(readFileSync(path.join(root, "pipe.lock"), "utf8")).toBe(lockBefore);
    } finally {
      if (w.child.exitCode === null) w.child.kill("SIGKILL");
    }
    const st = runPipe(root, ["status"]);
    expect(st.stdout).toContain("modified:   in.txt");
  });
});
