// `pipe add` of a 1,000-file directory and `pipe diff` against it, beside `cp -r` of the same directory (the anchor:
// what storing a copy of the bytes costs at least). Whole-process wall times, median of N runs after a warm-up.
//
//   node bench/add-diff.mjs [--runs N] [--files N] [--size BYTES]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = opt("--runs", 5);
const FILES = opt("--files", 1000);
const SIZE = opt("--size", 10_000);
const PIPE = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "bin", "pipe.js");

function time(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function run(cwd, cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")}: ${r.status}\n${r.stderr}`);
}
const git = (cwd, a) => execFileSync("git", a, { cwd, env: { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@b", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@b" } });

function project() {
  const dir = mkdtempSync(path.join(tmpdir(), "pipe-bench-add-"));
  mkdirSync(path.join(dir, ".pipe"));
  writeFileSync(path.join(dir, ".pipe/config.yaml"), "");
  mkdirSync(path.join(dir, "data"));
  for (let i = 0; i < FILES; i++) writeFileSync(path.join(dir, "data", `${i}.bin`), Buffer.alloc(SIZE, i % 251));
  git(dir, ["init", "-q"]);
  return dir;
}

const rows = { "cp -r data (anchor)": [], "pipe add data (first)": [], "pipe add data (unchanged)": [], "pipe diff (HEAD vs workspace, 10 files changed)": [] };
for (let r = 0; r <= RUNS; r++) {
  const dir = project();
  try {
    const cp = time(() => run(dir, "cp", ["-r", "data", "copy"]));
    const first = time(() => run(dir, "node", [PIPE, "add", "-q", "data"]));
    const again = time(() => run(dir, "node", [PIPE, "add", "-q", "data"]));
    git(dir, ["add", "-A"]);
    git(dir, ["commit", "-qm", "x"]);
    for (let i = 0; i < 10; i++) appendFileSync(path.join(dir, "data", `${i}.bin`), "x");
    const diff = time(() => run(dir, "node", [PIPE, "diff"]));
    if (r === 0) continue; // warm-up
    rows["cp -r data (anchor)"].push(cp);
    rows["pipe add data (first)"].push(first);
    rows["pipe add data (unchanged)"].push(again);
    rows["pipe diff (HEAD vs workspace, 10 files changed)"].push(diff);
  } finally {
    spawnSync("chmod", ["-R", "u+w", dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`${FILES} files of ${SIZE} bytes, median of ${RUNS} runs (ms):`);
for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(50)} ${median(v).toFixed(0)}`);
