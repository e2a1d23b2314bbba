/**
 * A stage's output reaches the terminal as it is written, not per line (issue: a tqdm bar redrawn with `\r` over a
 * ten-minute epoch showed nothing until the epoch ended). The built `pipe` runs a stage that draws a bar with `\r`
 * updates and pauses between them; the test timestamps each chunk of pipe's stdout as it arrives and checks that
 * the first update came long before the stage ended. The bounds are generous (seconds apart, on a loaded machine):
 * the point is "before the end", not a latency figure.
 */
import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { makeProject, PIPE_BIN } from "../helpers/project.js";
import { requires } from "../helpers/require.js";

interface Chunk {
  at: number;
  text: string;
}

function runTimed(cwd: string, args: string[]): Promise<{ chunks: Chunk[]; code: number | null; endedAt: number }> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(process.execPath, [PIPE_BIN, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Chunk[] = [];
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text: string) => chunks.push({ at: performance.now() - start, text }));
    child.on("close", (code) => resolve({ chunks, code, endedAt: performance.now() - start }));
  });
}

/** When the text first appeared in the stream (ms after the start), or undefined. */
function arrivalOf(chunks: Chunk[], needle: string): number | undefined {
  let seen = "";
  for (const c of chunks) {
    seen += c.text;
    if (seen.includes(needle)) return c.at;
  }
  return undefined;
}

describe("live stage output", () => {
  it("passes a progress bar's \\r updates through as they are written, before the stage ends", async () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  train:",
        "    cmd: >-",
        "      printf 'epoch 1:  10%%\\r'; sleep 1.5; printf 'epoch 1:  60%%\\r'; sleep 1.5;",
        "      printf 'epoch 1: 100%%\\n' && echo trained > model.txt",
        "    outs: [model.txt]",
        "",
      ].join("\n"),
    });
    const r = await runTimed(dir, ["repro"]);
    expect(r.code).toBe(0);
    const all = r.chunks.map((c) => c.text).join("");
    // Every byte the stage wrote, once, in order, carriage returns included.
    expect(all).toContain("epoch 1:  10%\repoch 1:  60%\repoch 1: 100%\n");
    // Looked for with their carriage return or newline: the echoed command line holds the same words.
    const first = arrivalOf(r.chunks, "epoch 1:  10%\r");
    const second = arrivalOf(r.chunks, "epoch 1:  60%\r");
    const last = arrivalOf(r.chunks, "epoch 1: 100%\n");
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(last).toBeDefined();
    // The stage sleeps 3 s in all after its first update: per-line forwarding would deliver all three together.
    expect(last! - first!).toBeGreaterThan(2000);
    expect(second! - first!).toBeGreaterThan(1000);
  });

  it("shows a stage's progress as prefixed lines when several run at once without a terminal", async () => {
    const dir = makeProject({
      "pipe.yaml": [
        "stages:",
        "  a:",
        "    cmd: printf '1/2\\r'; sleep 0.5; printf '2/2\\n'",
        "  b:",
        "    cmd: echo b",
        "",
      ].join("\n"),
    });
    const r = await runTimed(dir, ["repro", "-j", "2"]);
    expect(r.code).toBe(0);
    const all = r.chunks.map((c) => c.text).join("");
    // The first segment, printed as a line while the stage runs, then the whole line when it ends.
    expect(all).toContain("[a] 1/2\n");
    expect(all).toContain("[a] 1/2\r2/2\n");
  });
});

const hasScript = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;

describe.runIf(requires("util-linux's script", hasScript, "install util-linux/bsdutils (bash .ci/run does)"))("repro --tty", () => {
  // The quotes keep the words apart in the echoed command line, which is printed too.
  const project = (): string =>
    makeProject({ "pipe.yaml": "stages:\n  t:\n    cmd: if test -t 1; then echo terminal-y''es; else echo terminal-n''o; fi\n" });
  /** Runs the built pipe on a pseudo-terminal of its own (as at a terminal), returning what it printed. */
  const onTerminal = (cwd: string, args: string): { out: string; status: number | null } => {
    const r = spawnSync("script", ["-q", "-e", "-c", `${process.execPath} ${PIPE_BIN} ${args}`, "/dev/null"], { cwd, encoding: "utf8" });
    return { out: r.stdout, status: r.status };
  };

  it("hands the stage the terminal with --tty, and not without it", () => {
    const with_ = onTerminal(project(), "repro --tty");
    expect(with_.status).toBe(0);
    expect(with_.out).toContain("terminal-yes");
    expect(with_.out).not.toContain("terminal-no");
    const without = onTerminal(project(), "repro");
    expect(without.out).toContain("terminal-no");
  });

  it("off a terminal, --tty runs the stage as without it; with -j 2 it is a usage error", () => {
    const off = spawnSync(process.execPath, [PIPE_BIN, "repro", "--tty"], { cwd: project(), encoding: "utf8" });
    expect(off.status).toBe(0);
    expect(off.stdout).toContain("terminal-no");
    const dir = project();
    const j2 = spawnSync(process.execPath, [PIPE_BIN, "repro", "--tty", "-j", "2"], { cwd: dir, encoding: "utf8" });
    expect(j2.status).toBe(2);
    expect(j2.stderr).toContain("--tty");
    expect(j2.stdout).not.toContain("terminal-");
  });
});
