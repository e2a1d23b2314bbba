#!/usr/bin/env node
/**
 * The SLURM executor's benchmark: trivial stages in a chain and independent ones on the test cluster
 * (`tests/servers/slurm.sh`, SLURM_CONF exported), `pipe repro --executor slurm` (both submission modes) against
 * `--executor local`, side by side with Debian's Snakemake 7 running the same graph with its `--slurm` executor.
 *
 *   node bench/slurm.mjs [--stages 100] [--snakemake-stages 20] [--runs 1] [--no-snakemake] [--snakemake-only]
 *                        [--shapes chain,flat] [--modes plan,ready] [--exps 8]
 *
 * `--exps N` measures queued experiments instead: N experiments (a grid over one param) of a 3-stage chain, each
 * `pipe exp run --run-all` on a fresh git repository: local at -j 1 and -j 2, and SLURM (every experiment at once, its
 * stages submitted as jobs from its worktree). Per experiment: its own overhead (worktree, overrides, record: the
 * queue records' `overheadMs`) and its stages' wall time (`stagesMs`).
 *
 * `--snakemake-only` runs just Snakemake (it mostly sleeps, so it can run in the background on its own cluster while
 * pipe's rows are measured beside it on an identical one); `--no-snakemake` just pipe.
 *
 * Per-job figures come from the job marker files (`.pipe/tmp/logs/<stage>.meta`: the job's own start and end times)
 * and from the arrival times of `repro --json` events: a chain's hand-off (end of job i-1 to start of job i), an
 * independent job's submission to start, and a job's end to its lock entry (`stage-finished`). Snakemake gets the
 * fastest status polling its SLURM executor allows (`--max-status-checks-per-second 1`; above 1 it falls back to one
 * check every 33 s) and `CI=true` (its own switch from 10 s to 1 s between scheduling rounds); every job it submits
 * starts a Snakemake inside the job, so it runs on fewer stages (`--snakemake-stages`) and its figures are per stage.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const PIPE = path.join(here, "..", "bin", "pipe.js");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt("--stages", "100"));
const SN = Number(opt("--snakemake-stages", "20"));
const RUNS = Number(opt("--runs", "1"));
const SNAKEMAKE = !args.includes("--no-snakemake");
const SNAKEMAKE_ONLY = args.includes("--snakemake-only");
const SHAPES = opt("--shapes", "chain,flat").split(",");
const MODES = opt("--modes", "plan,ready").split(",");

if (!process.env.SLURM_CONF) {
  console.error("export SLURM_CONF first (bash tests/servers/slurm.sh start prints it)");
  process.exit(2);
}

function pipeYaml(shape, n) {
  const lines = ["stages:"];
  for (let i = 0; i < n; i++) {
    lines.push(`  s${i}:`);
    if (shape === "chain" && i > 0) {
      lines.push(`    cmd: cat o/s${i - 1}.txt > o/s${i}.txt; echo ${i} >> o/s${i}.txt`, `    deps: [o/s${i - 1}.txt]`);
    } else lines.push(`    cmd: echo ${i} > o/s${i}.txt`);
    lines.push(`    outs: [o/s${i}.txt]`);
  }
  return lines.join("\n") + "\n";
}

function snakefile(shape, n) {
  const input = shape === "chain" ? `lambda w: [] if int(w.i) == 0 else [f"o/s{int(w.i)-1}.txt"]` : "[]";
  const all = shape === "chain" ? `f"o/s{${n}-1}.txt"` : `[f"o/s{i}.txt" for i in range(${n})]`;
  return `rule all:\n    input: ${all}\nrule s:\n    output: "o/s{i}.txt"\n    input: ${input}\n    shell: "cat {input} /dev/null > {output}; echo {wildcards.i} >> {output}"\n`;
}

function project(shape, n, config) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `bench-slurm-${shape}-`));
  spawnSync("git", ["init", "-q"], { cwd: dir });
  spawnSync(process.execPath, [PIPE, "init"], { cwd: dir, stdio: "ignore" });
  mkdirSync(path.join(dir, "o"), { recursive: true });
  writeFileSync(path.join(dir, "pipe.yaml"), pipeYaml(shape, n));
  writeFileSync(path.join(dir, ".pipe/config.yaml"), config);
  return dir;
}

/** `pipe repro --json`, each event with its arrival time (ms since the epoch). */
function runPipe(dir, extra) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [PIPE, "repro", "--json", ...extra], { cwd: dir });
    const events = [];
    let buf = "";
    child.stdout.setEncoding("utf8").on("data", (c) => {
      const now = Date.now();
      buf += c;
      const parts = buf.split("\n");
      buf = parts.pop();
      for (const p of parts) if (p.startsWith("{")) events.push({ at: now, e: JSON.parse(p) });
    });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
    child.on("exit", (code) => resolve({ code, wallMs: Date.now() - t0, events, err }));
  });
}

/** Job start and end times (ms) from the marker files. */
function jobTimes(dir) {
  const out = new Map();
  const logs = path.join(dir, ".pipe/tmp/logs");
  let names;
  try {
    names = readdirSync(logs);
  } catch {
    return out;
  }
  for (const n of names) {
    if (!n.endsWith(".meta")) continue;
    let start, end;
    for (const l of readFileSync(path.join(logs, n), "utf8").split("\n")) {
      const w = l.split(" ");
      if (w[0] === "start") start = Number(w[1]) * 1000;
      if (w[0] === "end") end = Number(w[3]) * 1000;
    }
    out.set(n.slice(0, -5), { start, end });
  }
  return out;
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};
const fmt = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

async function pipeCase(shape, n, mode) {
  const config = mode === "local" ? "" : `executor: slurm\nslurm:\n  submit: ${mode}\n`;
  const jobs = mode === "local" ? ["-j", shape === "chain" ? "1" : "2"] : [];
  const walls = [];
  let last;
  for (let r = 0; r < RUNS; r++) {
    const dir = project(shape, n, config);
    const res = await runPipe(dir, jobs);
    if (res.code !== 0) throw new Error(`pipe ${shape} ${mode} failed (${res.code}): ${res.err.slice(-2000)}`);
    walls.push(res.wallMs);
    last = { dir, res };
  }
  const out = { wall: median(walls) };
  if (mode !== "local") {
    const times = jobTimes(last.dir);
    const queued = new Map(last.res.events.filter((x) => x.e.type === "stage-job" && x.e.state === "queued").map((x) => [x.e.stage, x.at]));
    const finished = new Map(last.res.events.filter((x) => x.e.type === "stage-finished").map((x) => [x.e.stage, x.at]));
    const st = (i) => times.get(`s${i}`);
    if (shape === "chain") out.handoff = median(Array.from({ length: n - 1 }, (_, i) => st(i + 1)?.start - st(i)?.end));
    out.submitToStart = median(Array.from({ length: shape === "chain" ? 1 : n }, (_, i) => st(i)?.start - queued.get(`s${i}`)));
    out.endToLock = median(Array.from({ length: n }, (_, i) => finished.get(`s${i}`) - st(i)?.end));
  }
  rmSync(last.dir, { recursive: true, force: true });
  return out;
}

function snakemakeCase(shape, n) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `bench-smk-${shape}-`));
  writeFileSync(path.join(dir, "Snakefile"), snakefile(shape, n));
  const t0 = Date.now();
  const r = spawnSync(
    "snakemake",
    ["--slurm", "--jobs", String(n), "--default-resources", "slurm_partition=debug", "--max-status-checks-per-second", "1", "--quiet"],
    { cwd: dir, env: { ...process.env, USER: process.env.USER ?? "root", CI: "true" }, encoding: "utf8" },
  );
  const wall = Date.now() - t0;
  if (r.status !== 0) throw new Error(`snakemake ${shape} failed: ${(r.stderr || "").slice(-2000)}`);
  rmSync(dir, { recursive: true, force: true });
  return { wall };
}

const EXPS = Number(opt("--exps", "0"));

function expProject(n) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-slurm-exp-"));
  const git = (...a) => spawnSync("git", a, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@b", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@b" } });
  writeFileSync(path.join(dir, "params.yaml"), "x: 0\n");
  const stages = ["stages:", "  s0:", "    cmd: sed -n 's/^x. //p' params.yaml > a.txt", "    params: [x]", "    outs: [a.txt]"];
  stages.push("  s1:", "    cmd: cat a.txt a.txt > b.txt", "    deps: [a.txt]", "    outs: [b.txt]", "  s2:", "    cmd: wc -l b.txt > c.txt", "    deps: [b.txt]", "    outs: [c.txt]");
  writeFileSync(path.join(dir, "pipe.yaml"), stages.join("\n") + "\n");
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "base");
  const q = spawnSync(process.execPath, [PIPE, "exp", "run", "--queue", "-S", `x=${Array.from({ length: n }, (_, i) => i + 1).join(",")}`], { cwd: dir, encoding: "utf8" });
  if (q.status !== 0) throw new Error(q.stderr);
  return dir;
}

async function expCase(n, flags) {
  const dir = expProject(n);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [PIPE, "exp", "run", "--run-all", ...flags], { cwd: dir, encoding: "utf8" });
  const wall = Date.now() - t0;
  if (r.status !== 0) throw new Error(`exp run --run-all ${flags.join(" ")} failed: ${r.stderr.slice(-2000)}`);
  const q = path.join(dir, ".pipe/exps/queue");
  const recs = readdirSync(q).map((f) => JSON.parse(readFileSync(path.join(q, f), "utf8")));
  rmSync(dir, { recursive: true, force: true });
  return { wall, overhead: median(recs.map((e) => e.overheadMs)), stages: median(recs.map((e) => e.stagesMs)) };
}

if (EXPS > 0) {
  console.log("| queue of experiments | wall | per experiment | stages per experiment (median) | overhead per experiment (median) |");
  console.log("|---|---|---|---|---|");
  for (const [label, flags] of [["local -j 1", ["-j", "1", "--executor", "local"]], ["local -j 2", ["-j", "2", "--executor", "local"]], ["slurm (all at once)", ["--executor", "slurm"]]]) {
    for (let r = 0; r < RUNS; r++) {
      const x = await expCase(EXPS, flags);
      console.log(`| ${EXPS} x 3 stages, ${label} | ${fmt(x.wall)} | ${fmt(x.wall / EXPS)} | ${fmt(x.stages)} | ${fmt(x.overhead)} |`);
    }
  }
  console.error(`loadavg ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  process.exit(0);
}

const rows = [];
for (const shape of SHAPES) {
  const label = shape === "chain" ? `${N}-stage chain` : `${N} independent stages`;
  if (!SNAKEMAKE_ONLY) {
    const local = await pipeCase(shape, N, "local");
    rows.push([`pipe --executor local (${shape === "chain" ? "-j1" : "-j2"}), ${label}`, fmt(local.wall), fmt(local.wall / N) + "/stage", "", "", ""]);
    for (const mode of MODES) {
      const r = await pipeCase(shape, N, mode);
      rows.push([
        `pipe --executor slurm (submit: ${mode}), ${label}`,
        fmt(r.wall),
        fmt(r.wall / N) + "/stage",
        r.handoff !== undefined ? fmt(r.handoff) : "",
        fmt(r.submitToStart),
        fmt(r.endToLock),
      ]);
    }
  }
  if (SNAKEMAKE || SNAKEMAKE_ONLY) {
    const slabel = shape === "chain" ? `${SN}-stage chain` : `${SN} independent stages`;
    if (!SNAKEMAKE_ONLY && SN !== N) {
      const p = await pipeCase(shape, SN, "plan");
      rows.push([`pipe --executor slurm (submit: plan), ${slabel}`, fmt(p.wall), fmt(p.wall / SN) + "/stage", p.handoff !== undefined ? fmt(p.handoff) : "", fmt(p.submitToStart), fmt(p.endToLock)]);
    }
    const s = snakemakeCase(shape, SN);
    rows.push([`snakemake --slurm, ${slabel}`, fmt(s.wall), fmt(s.wall / SN) + "/stage", "", "", ""]);
    console.error(`${new Date().toISOString()} loadavg ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}: snakemake ${slabel} ${fmt(s.wall)}`);
  }
}
console.log("| run | wall | per stage | chain hand-off (median) | submission to start (median) | job end to lock entry (median) |");
console.log("|---|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
