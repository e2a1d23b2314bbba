/**
 * `pipe gc` with scopes, against real git history: what each scope keeps is exactly what the lock files of its
 * revisions (and of the workspace) name, read from git; an unreadable lock stops gc before anything is removed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exists, git, gitInit, makeProject, PIPE_BIN, read, runPipe, writeFiles, type RunResult } from "../helpers/project.js";
import { isRoot, requires } from "../helpers/require.js";

const STAGES = {
  "pipe.yaml": [
    "stages:",
    "  gen:",
    "    cmd: mkdir -p d && echo ${n} > d/n.txt && echo same > d/same.txt && echo model-${n} > model.bin",
    "    deps: [params.yaml]",
    "    outs: [d, model.bin]",
    "",
  ].join("\n"),
  // A second stages file in a subdirectory: its lock at each revision counts too.
  "sub/pipe.yaml": ["stages:", "  copy:", "    cmd: sed s/n/m/ ../params.yaml > s.txt", "    deps: [../params.yaml]", "    outs: [s.txt]", ""].join("\n"),
};

function objectIds(dir: string): Set<string> {
  const cache = path.join(dir, ".pipe/cache");
  if (!exists(dir, ".pipe/cache")) return new Set();
  return new Set(
    readdirSync(cache)
      .filter((s) => /^[0-9a-f]{2}$/.test(s))
      .flatMap((shard) => readdirSync(path.join(cache, shard)).map((n) => shard + n)),
  );
}

function runIds(dir: string): Set<string> {
  const runs = path.join(dir, ".pipe/runs");
  if (!exists(dir, ".pipe/runs")) return new Set();
  return new Set(readdirSync(runs).flatMap((shard) => readdirSync(path.join(runs, shard)).map((n) => shard + n)));
}

/** Commits everything with a fixed committer date (what `--date` compares). */
function commitAt(dir: string, message: string, date: string): void {
  git(dir, ["add", "-A"]);
  execFileSync("git", ["commit", "-q", "--no-gpg-sign", "-m", message], {
    cwd: dir,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "pipe test",
      GIT_AUTHOR_EMAIL: "test@pipe.invalid",
      GIT_COMMITTER_NAME: "pipe test",
      GIT_COMMITTER_EMAIL: "test@pipe.invalid",
      GIT_AUTHOR_DATE: `${date}T12:00:00`,
      GIT_COMMITTER_DATE: `${date}T12:00:00`,
      GIT_CONFIG_NOSYSTEM: "1",
    },
  });
}

interface History {
  dir: string;
  /** Objects each value of n added to the cache (the shared `same.txt` is in every set). */
  objs: Map<number, Set<string>>;
  same: string;
  all: Set<string>;
}

/**
 * main: c1 (n=1, 2020) - c2 (n=2, 2021, tag v2) - c3 (n=3, 2022); feat: c3 - c4 (n=4, 2023); the workspace is main
 * with n=5, run but not committed.
 */
function history(): History {
  const t = (historyTemplate ??= buildHistory());
  const dir = copyOf(t.dir);
  return { ...t, dir, objs: new Map([...t.objs].map(([n, ids]) => [n, new Set(ids)])), all: new Set(t.all) };
}

/**
 * Templates built once per file (each takes several real `repro` runs) and copied for each test, which may change
 * its copy: `cp -a` keeps modes (read-only cache objects), links and times. Removed after the file's tests.
 */
const templates: string[] = [];
let historyTemplate: History | undefined;
let ranTemplate: { dir: string; before: Set<string> } | undefined;
afterAll(() => {
  for (const d of templates) {
    spawnSync("chmod", ["-R", "u+w", d]);
    rmSync(d, { recursive: true, force: true });
  }
});

function template(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "pipe-template-"));
  templates.push(dir);
  writeFiles(dir, files);
  return dir;
}

function copyOf(src: string): string {
  const dir = makeProject();
  execFileSync("cp", ["-a", `${src}/.`, dir]);
  return dir;
}

function buildHistory(): History {
  const dir = template(STAGES);
  gitInit(dir);
  const objs = new Map<number, Set<string>>();
  let seen = new Set<string>();
  const step = (n: number): void => {
    writeFiles(dir, { "params.yaml": `n: ${n}\n` });
    const r = runPipe(dir, ["repro"]);
    expect(r.code, r.stderr).toBe(0);
    const now = objectIds(dir);
    objs.set(n, new Set([...now].filter((id) => !seen.has(id))));
    seen = now;
  };
  step(1);
  commitAt(dir, "n=1", "2020-01-01");
  step(2);
  commitAt(dir, "n=2", "2021-01-01");
  git(dir, ["tag", "v2"]);
  step(3);
  commitAt(dir, "n=3", "2022-01-01");
  git(dir, ["checkout", "-q", "-b", "feat"]);
  step(4);
  commitAt(dir, "n=4", "2023-01-01");
  git(dir, ["checkout", "-q", "main"]);
  expect(runPipe(dir, ["checkout"]).code).toBe(0);
  step(5);
  // same.txt's object came with n=1 only, and every n keeps it: its id is in any manifest.
  const first = objs.get(1)!;
  const manifest = [...objs.get(2)!].find((id) => id.endsWith(".dir"))!;
  const listed = JSON.parse(read(dir, `.pipe/cache/${manifest.slice(0, 2)}/${manifest.slice(2)}`)) as { relpath: string; hash: string }[];
  const same = listed.find((e) => e.relpath === "same.txt")!.hash;
  expect(first.has(same)).toBe(true);
  // Per n: d/n.txt, the manifest, model.bin, sub/s.txt (and same.txt once).
  for (const n of [2, 3, 4, 5]) expect(objs.get(n)!.size).toBe(4);
  expect(first.size).toBe(5);
  for (const n of [2, 3, 4, 5]) objs.get(n)!.add(same);
  return { dir, objs, same, all: objectIds(dir) };
}

function keptBy(h: History, ns: number[]): Set<string> {
  return new Set(ns.flatMap((n) => [...h.objs.get(n)!]));
}

/** What `gc --dry` with `args` would keep: every object it does not list. */
function dryKeeps(h: History, args: string[]): Set<string> {
  const r = runPipe(h.dir, ["gc", "--dry", ...args]);
  expect(r.code, r.stderr).toBe(0);
  const removed = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("would remove  ") && !l.startsWith("would remove  run "))
    .map((l) => l.split(/\s+/)[2]!);
  for (const id of removed) expect(h.all.has(id)).toBe(true);
  return new Set([...h.all].filter((id) => !removed.includes(id)));
}

const sorted = (s: Set<string>): string[] => [...s].sort();

/** A project run with n=1 then n=2 (no git): the cache holds both runs' objects. */
function ran(): { dir: string; before: Set<string> } {
  if (!ranTemplate) {
    const dir = template({ ...STAGES, "params.yaml": "n: 1\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    writeFiles(dir, { "params.yaml": "n: 2\n" });
    expect(runPipe(dir, ["repro"]).code).toBe(0);
    ranTemplate = { dir, before: objectIds(dir) };
  }
  return { dir: copyOf(ranTemplate.dir), before: new Set(ranTemplate.before) };
}

function hasSetpriv(): boolean {
  return spawnSync("setpriv", ["--version"]).status === 0;
}

/**
 * Runs pipe so that a mode-000 file cannot be read: as is for a user; as root (CI), without the capabilities that let
 * root read any file (util-linux's setpriv drops them), since root otherwise reads it anyway.
 */
function runWithoutDacOverride(cwd: string, args: string[]): RunResult {
  if (!isRoot()) return runPipe(cwd, args);
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PIPE_") && !k.startsWith("GIT_")) clean[k] = v;
  const caps = "-dac_override,-dac_read_search";
  const r = spawnSync("setpriv", [`--inh-caps=${caps}`, `--bounding-set=${caps}`, process.execPath, PIPE_BIN, ...args], {
    cwd,
    env: { ...clean, NO_COLOR: "1" },
    encoding: "utf8",
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("pipe gc scopes (real git history)", () => {
  it("each scope keeps exactly what its revisions' locks and the workspace name; --dry removes nothing", () => {
    const h = history();
    const runsBefore = runIds(h.dir);
    expect(sorted(dryKeeps(h, ["-w"]))).toEqual(sorted(keptBy(h, [5])));
    expect(sorted(dryKeeps(h, ["-a"]))).toEqual(sorted(keptBy(h, [3, 4, 5])));
    expect(sorted(dryKeeps(h, ["-T"]))).toEqual(sorted(keptBy(h, [2, 5])));
    expect(sorted(dryKeeps(h, ["-A"]))).toEqual(sorted(h.all));
    expect(sorted(dryKeeps(h, ["--rev", "HEAD~1"]))).toEqual(sorted(keptBy(h, [2, 5])));
    expect(sorted(dryKeeps(h, ["--rev", "main", "-n", "2"]))).toEqual(sorted(keptBy(h, [2, 3, 5])));
    expect(sorted(dryKeeps(h, ["--date", "2021-06-01"]))).toEqual(sorted(keptBy(h, [3, 4, 5])));
    // Scopes combine.
    expect(sorted(dryKeeps(h, ["-T", "--rev", "feat"]))).toEqual(sorted(keptBy(h, [2, 4, 5])));
    // -v says what was read: both stages files' locks, at the four commits and in the workspace.
    expect(runPipe(h.dir, ["-v", "gc", "-A", "--dry"]).stderr).toMatch(/gc: keeping what 10 lock and \.dvc files of the workspace and 4 git revisions name/);
    // Nothing was removed by any of them.
    expect(sorted(objectIds(h.dir))).toEqual(sorted(h.all));
    expect(sorted(runIds(h.dir))).toEqual(sorted(runsBefore));
  });

  it("after gc -A, an older commit checks out from the cache; after gc -w only the workspace's outputs remain", () => {
    const h = history();
    const runsBefore = runIds(h.dir);
    const a = runPipe(h.dir, ["gc", "-A", "-f"]);
    expect(a.code, a.stderr).toBe(0);
    expect(sorted(objectIds(h.dir))).toEqual(sorted(h.all));
    expect(sorted(runIds(h.dir))).toEqual(sorted(runsBefore));

    git(h.dir, ["checkout", "-q", "-f", "HEAD~1"]);
    const co = runPipe(h.dir, ["checkout"]);
    expect(co.code, co.stderr).toBe(0);
    expect(read(h.dir, "d/n.txt")).toBe("2\n");
    expect(read(h.dir, "model.bin")).toBe("model-2\n");
    expect(read(h.dir, "sub/s.txt")).toBe("m: 2\n");

    // On the feature branch, -a keeps main's outputs too.
    git(h.dir, ["checkout", "-q", "-f", "feat"]);
    expect(runPipe(h.dir, ["checkout"]).code).toBe(0);
    const b = runPipe(h.dir, ["gc", "-a", "-f"]);
    expect(b.code, b.stderr).toBe(0);
    expect(sorted(objectIds(h.dir))).toEqual(sorted(keptBy(h, [3, 4])));
    git(h.dir, ["checkout", "-q", "-f", "main"]);
    expect(runPipe(h.dir, ["checkout"]).code).toBe(0);
    expect(read(h.dir, "model.bin")).toBe("model-3\n");

    const w = runPipe(h.dir, ["gc", "-w", "-f"]);
    expect(w.code, w.stderr).toBe(0);
    expect(sorted(objectIds(h.dir))).toEqual(sorted(keptBy(h, [3])));
    // The run-cache entries left name only kept objects: one per stage.
    expect(runIds(h.dir).size).toBe(2);
  });

  it("without a scope, gc refuses and lists the scopes (exit 2); so do bad scope values", () => {
    const { dir, before } = ran();
    gitInit(dir);
    commitAt(dir, "one", "2020-01-01");
    const r = runPipe(dir, ["gc"]);
    expect(r.code).toBe(2);
    for (const s of ["-w", "--workspace", "-a", "--all-branches", "-T", "--all-tags", "-A", "--all-commits", "--rev", "--date"]) expect(r.stderr).toContain(s);
    expect(runPipe(dir, ["gc", "-f"]).code).toBe(2);
    expect(runPipe(dir, ["gc", "-w", "-n", "2", "-f"]).code).toBe(2);
    expect(runPipe(dir, ["gc", "--rev", "HEAD", "-n", "0", "-f"]).code).toBe(2);
    expect(runPipe(dir, ["gc", "--date", "yesterday", "-f"]).code).toBe(2);
    const unknown = runPipe(dir, ["gc", "--rev", "nope", "-f"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown revision 'nope'");
    expect(sorted(objectIds(dir))).toEqual(sorted(before));
  });

  it("not on a terminal and without -f, gc says what it would remove and refuses (exit 2)", () => {
    const { dir, before } = ran();
    const r = runPipe(dir, ["gc", "-w"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/would remove 4 cache objects, 2 run-cache entries .*pass -f/);
    expect(sorted(objectIds(dir))).toEqual(sorted(before));
  });

  it("a lock at an in-scope revision that does not parse stops gc, naming the file and the revision", () => {
    const h = history();
    git(h.dir, ["checkout", "-q", "-f", "-b", "broken", "v2"]);
    writeFiles(h.dir, { "sub/pipe.lock": "schema: '2.0'\nstages: [not, a, mapping\n" });
    commitAt(h.dir, "broken lock", "2024-01-01");
    const sha = git(h.dir, ["rev-parse", "--short", "HEAD"]).trim();
    git(h.dir, ["checkout", "-q", "-f", "main"]);
    const r = runPipe(h.dir, ["gc", "-a", "-f"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${sha}:sub/pipe.lock`);
    expect(r.stderr).toContain("nothing was removed");
    expect(sorted(objectIds(h.dir))).toEqual(sorted(h.all));
    // --skip-failed goes on without that file (with a warning), keeping what the revision's other lock names.
    const s = runPipe(h.dir, ["gc", "-a", "-f", "--skip-failed"]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toMatch(new RegExp(`${sha}:sub/pipe\\.lock:.*warning`));
    const model2 = /path: model\.bin\n\s+hash: xxh64\n\s+xxh64: ([0-9a-f]{16})/.exec(git(h.dir, ["show", "v2:pipe.lock"]))![1]!;
    const s2 = /path: s\.txt\n\s+hash: xxh64\n\s+xxh64: ([0-9a-f]{16})/.exec(git(h.dir, ["show", "v2:sub/pipe.lock"]))![1]!;
    const left = objectIds(h.dir);
    expect(left.has(model2)).toBe(true);
    expect(left.has(s2)).toBe(false);
    expect(sorted(left)).toEqual(sorted(keptBy(h, [2, 3, 4])).filter((id) => id !== s2));
    // Out of scope, it does not matter.
    expect(runPipe(h.dir, ["gc", "-w", "-f"]).code).toBe(0);
  });
});

function hasScript(): boolean {
  return spawnSync("script", ["--version"]).status === 0;
}

/** Runs `pipe args` on a pseudo-terminal (util-linux's script), typing `input`. */
function runOnTerminal(cwd: string, args: string[], input: string): RunResult {
  const q = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;
  const r = spawnSync("script", ["-qec", [process.execPath, PIPE_BIN, ...args].map(q).join(" "), "/dev/null"], {
    cwd,
    input,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/", NO_COLOR: "1" },
    encoding: "utf8",
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe.runIf(requires("script (util-linux)", hasScript(), "install util-linux to test the terminal prompt"))("pipe gc on a terminal", () => {
  it("asks before removing: anything but y/yes removes nothing (exit 1); yes removes", () => {
    const { dir, before } = ran();
    for (const answer of ["n\n", "\n", "whatever\n"]) {
      const no = runOnTerminal(dir, ["gc", "-w"], answer);
      expect(no.code, no.stdout).toBe(1);
      expect(no.stdout).toMatch(/Remove 4 cache objects, 2 run-cache entries \(\d+ B\), keeping what the workspace names\? \[y\/N\] /);
      expect(no.stdout).toContain("gc: nothing was removed.");
      expect(sorted(objectIds(dir))).toEqual(sorted(before));
    }
    const yes = runOnTerminal(dir, ["gc", "-w"], "y\n");
    expect(yes.code, yes.stdout).toBe(0);
    expect(yes.stdout).toMatch(/Removed 4 cache objects, 2 run-cache entries/);
    expect(objectIds(dir).size).toBe(before.size - 4);
  });
});

describe("pipe gc: a lock that exists but cannot be read stops it (exit 2, nothing removed)", () => {
  function expectRefused(dir: string, before: Set<string>, file: string, run: typeof runPipe = runPipe): void {
    for (const args of [["-w", "-f"], ["-w", "--dry"]]) {
      const r = run(dir, ["gc", ...args]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toContain(file);
      expect(r.stdout).not.toContain("would remove");
      expect(sorted(objectIds(dir))).toEqual(sorted(before));
    }
  }

  it("a directory at pipe.lock", () => {
    const { dir, before } = ran();
    rmSync(path.join(dir, "pipe.lock"));
    mkdirSync(path.join(dir, "pipe.lock"));
    expectRefused(dir, before, "pipe.lock");
  });

  it("a symlink loop at sub/pipe.lock", () => {
    const { dir, before } = ran();
    rmSync(path.join(dir, "sub/pipe.lock"));
    symlinkSync("pipe.lock", path.join(dir, "sub/pipe.lock"));
    expectRefused(dir, before, "sub/pipe.lock");
  });

  const canHideFiles = !isRoot() || requires("setpriv (util-linux)", hasSetpriv(), "install util-linux to test unreadable files as root");
  it.runIf(canHideFiles)("a lock without read permission", () => {
    const { dir, before } = ran();
    chmodSync(path.join(dir, "pipe.lock"), 0);
    try {
      expectRefused(dir, before, "pipe.lock", runWithoutDacOverride);
    } finally {
      chmodSync(path.join(dir, "pipe.lock"), 0o644);
    }
  });

  it("a .dvc file in the workspace keeps the object it names", () => {
    const { dir } = ran();
    // model.bin of n=2 is what the lock names; name model-1's object from a .dvc file instead.
    const old = [...objectIds(dir)];
    const lock = read(dir, "pipe.lock");
    const current = /path: model\.bin\n\s+hash: xxh64\n\s+xxh64: ([0-9a-f]{16})/.exec(lock)?.[1];
    expect(current).toBeDefined();
    const r = runPipe(dir, ["gc", "-w", "--dry"]);
    const gone = r.stdout.split("\n").filter((l) => l.startsWith("would remove  ") && !l.includes(" run ")).map((l) => l.split(/\s+/)[2]!);
    expect(gone.length).toBeGreaterThan(0);
    const named = gone[0]!;
    writeFiles(dir, { "data/old.bin.dvc": `outs:\n- hash: xxh64\n  xxh64: ${named}\n  size: 8\n  path: old.bin\n` });
    const g = runPipe(dir, ["gc", "-w", "-f"]);
    expect(g.code, g.stderr).toBe(0);
    const left = objectIds(dir);
    expect(left.has(named)).toBe(true);
    expect(left.size).toBe(old.length - gone.length + 1);
  });
});
