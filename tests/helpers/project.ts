/**
 * Test rig for end-to-end tests: a temp directory per project that is always removed, files written from a map, and
 * the built `pipe` run as a real child process with a sanitised environment.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
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

/** Runs the built CLI in `cwd`. The environment is sanitised: no colour, no inherited PIPE_* variables. */
export function runPipe(cwd: string, args: string[], env: Record<string, string> = {}): RunResult {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("PIPE_") && !k.startsWith("GIT_") && k !== "FORCE_COLOR") clean[k] = v;
  }
  const r = spawnSync(process.execPath, [PIPE_BIN, ...args], {
    cwd,
    env: { ...clean, NO_COLOR: "1", ...env },
    encoding: "utf8",
    timeout: 120_000,
    // The default (1 MiB) silently cuts longer output short: `stage list --json` of a large corpus project is more.
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
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
