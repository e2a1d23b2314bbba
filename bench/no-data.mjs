// `pipe status --no-data` against the full check on the 1,000-stage project (issue: "its cost stays within the full
// check's"): whole-process wall times, median of N runs after a warm-up, side by side on one generated project
// (diamond, 10 files per stage: 10,000 git-tracked deps, 1,000 outputs), committed to git after one `pipe repro`.
// Measured:
//   full, memo      the no-op `pipe status` as users run it (answered by the status memo)
//   full, no memo   `pipe status` with the memo removed before each run (every stage judged, stat cache warm)
//   no-data         `pipe status --no-data` in the work tree (stat cache warm)
//   no-data, clone  `pipe status --no-data` in a fresh `git clone` (no outputs, no cache, no stat cache: the first
//                   run hashes every tracked dep; later runs use the clone's stat cache)
//   clone, first    the very first run in a fresh clone (one run per clone, fresh clone each time)
// Usage: node bench/no-data.mjs [--quick] [--runs N] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { genPipeline } from './gen.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PIPE = join(REPO, 'bin', 'pipe.js');
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const runsArg = argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : QUICK ? 3 : 7;
const STAGES = QUICK ? 300 : 1000;

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@x' };
function run(cmd, cwd, ok = [0]) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd, env: GIT_ENV, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!ok.includes(r.status ?? -1)) throw new Error(`${cmd.join(' ')} exited ${r.status}\n${String(r.stderr).slice(-2000)}\n${String(r.stdout).slice(-2000)}`);
  return { ms, out: String(r.stdout) };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
function measure(cmd, cwd, prep) {
  prep?.();
  run(cmd, cwd);
  const xs = [];
  for (let i = 0; i < RUNS; i++) {
    prep?.();
    xs.push(run(cmd, cwd).ms);
  }
  return median(xs);
}

const base = mkdtempSync(join(tmpdir(), 'pipe-bench-nodata-'));
try {
  const dir = join(base, 'project');
  genPipeline(dir, { shape: 'diamond', stages: STAGES, files: 10, width: 10 });
  run(['git', 'init', '-q', '-b', 'main'], dir);
  run(['node', PIPE, 'repro'], dir);
  run(['git', 'add', '-A'], dir);
  run(['git', 'commit', '-q', '-m', 'pipeline'], dir);
  const verdict = run(['node', PIPE, 'status', '--no-data'], dir).out.trim();
  const memo = join(dir, '.pipe', 'tmp', 'status-memo');
  const rows = [];
  rows.push(['full `pipe status` (memo answers)', measure(['node', PIPE, 'status'], dir)]);
  rows.push(['full `pipe status` (memo removed)', measure(['node', PIPE, 'status'], dir, () => rmSync(memo, { force: true }))]);
  rows.push(['`status --no-data`, work tree', measure(['node', PIPE, 'status', '--no-data'], dir)]);
  const clone = join(base, 'clone');
  run(['git', 'clone', '-q', dir, clone], base);
  rows.push(['`status --no-data`, fresh clone (stat cache warm)', measure(['node', PIPE, 'status', '--no-data'], clone)]);
  const firsts = [];
  for (let i = 0; i < RUNS; i++) {
    const c = join(base, `first${i}`);
    run(['git', 'clone', '-q', dir, c], base);
    firsts.push(run(['node', PIPE, 'status', '--no-data'], c).ms);
    rmSync(c, { recursive: true, force: true });
  }
  rows.push(['`status --no-data`, first run in a fresh clone', median(firsts)]);
  console.log(`${STAGES} stages (diamond), ${STAGES * 10} tracked deps; median of ${RUNS} runs`);
  console.log(`verdict: ${verdict}`);
  console.log('| case | median |');
  console.log('|---|---|');
  for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(0)} ms |`);
} finally {
  if (!argv.includes('--keep')) rmSync(base, { recursive: true, force: true });
}
