/**
 * Test rig for end-to-end tests: a temp directory per project that is always removed, files written from a map, and
 * the built `pipe` run with a sanitised environment: as a real child process (`runPipe`), or in this process through
 * the CLI's `run(argv, io)` (`runPipeIn`), which is the same code without the ~100 ms of a node start-up.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach } from "vitest";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const PIPE_BIN = path.join(REPO_ROOT, "bin", "pipe.js");
export const CORPUS = path.resolve(REPO_ROOT, "../shared/corpus");

const created: string[] = [];
afterEach(() => {
  while (created.length) {
    const d = created.pop()!;
    // Cache objects are read-only; make them writable again so the directory can be removed.
    spawnSync("chmod", ["-R", "u+w", d]);
    rmSync(d, { recursive: true, force: true });
  }
});

/** Creates a temp project from `files` (path -> content) and returns its absolute path. Removed after the test. */
export function makeProject(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), "pipe-test-"));
  created.push(dir);
  writeFiles(dir, files);
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

export function read(dir: string, rel: string): string {
  return readFileSync(path.join(dir, rel), "utf8");
}

export function exists(dir: string, rel: string): boolean {
  return existsSync(path.join(dir, rel));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The test process's environment without colour and without inherited PIPE_* and GIT_* variables, plus `env`. */
function cleanEnv(env: Record<string, string>): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("PIPE_") && !k.startsWith("GIT_") && k !== "FORCE_COLOR") clean[k] = v;
  }
  return { ...clean, NO_COLOR: "1", ...env };
}

/** Runs the built CLI in `cwd`. The environment is sanitised: no colour, no inherited PIPE_* variables. */
export function runPipe(cwd: string, args: string[], env: Record<string, string> = {}): RunResult {
  const r = spawnSync(process.execPath, [PIPE_BIN, ...args], {
    cwd,
    env: cleanEnv(env),
    encoding: "utf8",
    timeout: 120_000,
    // The default (1 MiB) silently cuts longer output short: `stage list --json` of a large corpus project is more.
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface Cli {
  run(argv: readonly string[], io: {
    cwd: string;
    env: Record<string, string>;
    stdout(t: string): void;
    stderr(t: string): void;
    stdoutIsTTY: boolean;
    stderrIsTTY: boolean;
  }): Promise<number>;
}

let cli: Promise<Cli> | undefined;

/**
 * Runs the built CLI (`dist/`, as `runPipe` does, so both read and write the same load cache) in this process, in
 * `cwd`, with the environment `runPipe` gives (`env` reaches the CLI's own reading, e.g. NO_COLOR; the library's child
 * processes, git and stages, get this process's environment: keep stages and signals to `runPipe`). Neither stream is
 * a terminal. For read-only commands and bad-input checks; what needs a fresh process (signals, exit on a kill, locks
 * held by another process, start-up work such as "never loads X") keeps `runPipe`.
 */
export async function runPipeIn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  cli ??= import(pathToFileURL(path.join(REPO_ROOT, "dist", "cli", "main.js")).href) as Promise<Cli>;
  const { run } = await cli;
  let stdout = "";
  let stderr = "";
  const code = await run(args, {
    cwd,
    env: cleanEnv(env),
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdoutIsTTY: false,
    stderrIsTTY: false,
  });
  return { code, stdout, stderr };
}

/** Runs git in `cwd` with a fixed identity and dates, so commits are reproducible. */
export function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "pipe test",
      GIT_AUTHOR_EMAIL: "test@pipe.invalid",
      GIT_COMMITTER_NAME: "pipe test",
      GIT_COMMITTER_EMAIL: "test@pipe.invalid",
      GIT_CONFIG_NOSYSTEM: "1",
    },
  });
}

export function gitInit(cwd: string): void {
  git(cwd, ["init", "-q", "-b", "main"]);
}

export function gitCommitAll(cwd: string, message: string): void {
  git(cwd, ["add", "-A"]);
  git(cwd, ["commit", "-q", "--no-gpg-sign", "-m", message]);
}

/** Hash of every file under `dir` (path and bytes), for "nothing changed" assertions. */
export function treeSnapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = statSync(p);
      const rel = path.relative(dir, p);
      if (st.isDirectory()) walk(p);
      else out.set(rel, readFileSync(p).toString("base64"));
    }
  };
  walk(dir);
  return out;
}

/**
 * Sets the mtime of `dir` and of every file and directory under it (`.pipe/` included) one minute back: caches that trust a
 * file by its stat (the load cache, the status memo) never trust one modified in the last 2 s, and tests run faster.
 */
export function backdate(dir: string): void {
  const old = new Date(Date.now() - 60_000);
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      utimesSync(p, old, old);
    }
  };
  walk(dir);
  utimesSync(dir, old, old);
}

/** Every file under `.pipe/cache` (objects and temp files), relative to it. */
export function cacheFiles(dir: string): string[] {
  const root = path.join(dir, ".pipe/cache");
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p));
    }
  };
  try {
    walk(root);
  } catch {
    // no cache yet
  }
  return out.sort();
}
