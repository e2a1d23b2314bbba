/**
 * Kill soak for restores (issue 12, item 1): `pipe repro` restoring a directory output from the run-cache is killed
 * with SIGKILL at different moments of the restore, then `pipe repro` runs again. After every recovery the
 * workspace (the lock included) and the cache must equal, byte for byte, those of a run that was never killed, and no
 * temporary file may be left anywhere: not in the output (where restored files are made under temp names, `src/storage/staging.ts`), and no restore
 * journal in `.pipe/tmp/restoring`.
 *
 * Each cycle goes seed 2 -> seed 1 (restored from the run-cache), the kill landing while the restore is under way:
 * the test watches the output directory and the journal directory and kills once a restore is visibly in progress,
 * after a delay that grows from cycle to cycle. Odd cycles delete the output first (files are created), even ones
 * restore over the other seed's files (files are replaced). It checks that most kills did land mid-restore.
 */
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, PIPE_BIN, runPipe } from "../helpers/project.js";

const FILES = 1500;
const JOURNALS = ".pipe/tmp/restoring";

function project(): string {
  return makeProject({
    "gen.js": [
      "const fs = require('node:fs');",
      "const [seed, n] = process.argv.slice(2).map(Number);",
      "fs.mkdirSync('d', { recursive: true });",
      "for (let i = 0; i < n; i++) fs.writeFileSync(`d/f${String(i).padStart(5, '0')}.txt`, `seed ${seed} file ${i}\\n`.repeat(20));",
      "",
    ].join("\n"),
    "pipe.yaml": [
      "stages:",
      "  gen:",
      `    cmd: '${JSON.stringify(process.execPath)} gen.js \${seed} ${FILES}'`,
      "    deps: [gen.js]",
      "    outs: [d]",
      "  use:",
      "    cmd: find d -type f | LC_ALL=C sort | xargs cat | cksum > sum.txt",
      "    deps: [d]",
      "    outs: [sum.txt]",
      "",
    ].join("\n"),
    "params.yaml": "seed: 1\n",
  });
}

function seed(dir: string, n: number): void {
  writeFileSync(path.join(dir, "params.yaml"), `seed: ${n}\n`);
}

function repro(dir: string): void {
  const r = runPipe(dir, ["repro", "-q"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}

/**
 * Every file of the workspace (path, mode, bytes) and of the cache and run-cache; not the rebuildable scratch
 * (`.pipe/state`, `.pipe/tmp/`) nor `.pipe/cache/verified`, whose lines hold inode numbers.
 */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      if (r === ".pipe/state" || r === ".pipe/tmp" || r === ".pipe/cache/verified") continue;
      const st = lstatSync(path.join(dir, r));
      if (st.isDirectory()) walk(r);
      else out.set(r, `${(st.mode & 0o7777).toString(8)} ${readFileSync(path.join(dir, r)).toString("base64")}`);
    }
  };
  walk("");
  return out;
}

/**
 * Names under `abs` (recursively) that look like temporary files, as paths relative to `abs`; not `.pipe/tmp/`, the
 * scratch directory (a killed run may leave a half-written load cache there, which the next run replaces).
 */
function temps(abs: string): string[] {
  if (!existsSync(abs)) return [];
  const found: string[] = [];
  const walk = (p: string, rel: string): void => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (r === ".pipe/tmp") continue;
      if (e.name.includes("pipe-tmp")) found.push(r);
      if (e.isDirectory()) walk(path.join(p, e.name), r);
    }
  };
  walk(abs, "");
  return found;
}

function count(abs: string): number {
  try {
    return readdirSync(abs).length;
  } catch {
    return -1;
  }
}

/**
 * Runs `pipe repro` and kills it with SIGKILL `delayMs` after a restore of `d` is first seen under way (some files
 * of `d` there but not all, or a temporary file in `d`, or a restore journal). Returns whether the kill landed
 * before the process had finished, and what it left.
 */
async function reproKilled(dir: string, delayMs: number): Promise<{ killed: boolean; partial: boolean }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PIPE_")) env[k] = v;
  const child = spawn(process.execPath, [PIPE_BIN, "repro", "-q"], { cwd: dir, env: { ...env, NO_COLOR: "1" }, stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const d = path.join(dir, "d");
  const started = Date.now();
  while (!done && Date.now() - started < 60_000) {
    const n = count(d);
    if ((n >= 0 && n < FILES) || count(path.join(dir, JOURNALS)) > 0 || temps(d).length > 0) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  const killed = !done && child.kill("SIGKILL");
  await exited;
  // What a kill mid-restore leaves: an incomplete output, or temporary copies.
  const n = count(d);
  const partial = killed && ((n >= 0 && n !== FILES) || temps(d).length > 0 || count(path.join(dir, JOURNALS)) > 0);
  return { killed, partial };
}

describe("a restore killed with SIGKILL", () => {
  it("leaves nothing that the next run hashes, records or keeps: the result equals a clean run's, byte for byte", async () => {
    // The clean run: seed 1, seed 2, seed 1 again (restored from the run-cache).
    const clean = project();
    repro(clean);
    seed(clean, 2);
    repro(clean);
    seed(clean, 1);
    repro(clean);
    const want = snapshot(clean);
    expect(want.get("pipe.lock")).toBeDefined();
    expect(readFileSync(path.join(clean, "pipe.lock"), "utf8")).toContain(`nfiles: ${FILES}\n`);

    const dir = project();
    repro(dir);
    seed(dir, 2);
    repro(dir);
    const delays = [0, 0, 10, 40, 100, 250, 500];
    let partial = 0;
    for (const [i, delay] of delays.entries()) {
      if (i % 2 === 1) rmSync(path.join(dir, "d"), { recursive: true, force: true });
      seed(dir, 1);
      const k = await reproKilled(dir, delay);
      if (k.partial) partial++;
      repro(dir);
      expect(temps(dir), `cycle ${i}: temporary files after recovery`).toEqual([]);
      expect(count(path.join(dir, JOURNALS)), `cycle ${i}: restore journals left`).toBeLessThanOrEqual(0);
      expect(snapshot(dir), `cycle ${i} (kill ${delay} ms into the restore)`).toEqual(want);
      // Back to seed 2 for the next cycle, cleanly.
      seed(dir, 2);
      repro(dir);
    }
    // The soak means something only if kills did land mid-restore.
    expect(partial).toBeGreaterThanOrEqual(delays.length / 2);
  }, 240_000);
});
