// Benchmark of the experiment queue (issue: experiments): a queue of 8 experiments of the bundled example
// (examples/classifier; a grid of 4 learning rates x 2 epoch counts) run with `pipe exp run --run-all -j 1` and with
// `-j 2`, each on a fresh copy of the example in its own git repository, wall time of the whole `--run-all`. The
// overhead per experiment beyond its stages (worktree, overrides, loading the pipeline after the run, the commit and
// its ref, removing the worktree) is read from the queue's records (`.pipe/exps/queue/*.json`: `overheadMs` and its
// `phases`), which the runner measures around the child `pipe` that runs the stages. Target: < 300 ms each.
// Usage: npm run build && node bench/exp.mjs [--runs N]
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PIPE = join(REPO, 'bin', 'pipe.js');
const EXAMPLE = join(REPO, 'examples', 'classifier');
const RUN_STATE = new Set(['.pipe', 'pipe.lock', 'eval', 'model.json', 'train_loss.csv', 'data/prepared', 'data/features']);
const argv = process.argv.slice(2);
const runsArg = argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : 1;

function sh(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@b' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stderr}`);
  return r.stdout;
}

function project() {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-exp-'));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !RUN_STATE.has(relative(EXAMPLE, src).split(sep).join('/')) });
  const gi = readFileSync(join(dir, '.gitignore'), 'utf8').split('\n').filter((l) => !/^\/(pipe\.lock|eval\/)$/.test(l));
  writeFileSync(join(dir, '.gitignore'), gi.join('\n'));
  sh('git', ['init', '-q', '-b', 'main'], dir);
  sh('git', ['add', '-A'], dir);
  sh('git', ['commit', '-q', '-m', 'baseline'], dir);
  return dir;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
}

function one(jobs) {
  const dir = project();
  try {
    sh('node', [PIPE, 'exp', 'run', '--queue', '-S', 'train.lr=0.01,0.05,0.2,0.5', '-S', 'train.epochs=20,40'], dir);
    const t0 = process.hrtime.bigint();
    sh('node', [PIPE, 'exp', 'run', '--run-all', '-j', String(jobs)], dir);
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    const qdir = join(dir, '.pipe', 'exps', 'queue');
    const entries = readdirSync(qdir).map((f) => JSON.parse(readFileSync(join(qdir, f), 'utf8')));
    if (entries.length !== 8 || entries.some((e) => e.state !== 'success')) throw new Error('not every experiment was recorded');
    const phases = {};
    for (const e of entries) for (const [k, v] of Object.entries(e.phases ?? {})) (phases[k] ??= []).push(v);
    return {
      wall,
      overhead: entries.map((e) => e.overheadMs),
      stages: entries.map((e) => e.stagesMs),
      phases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, median(v)])),
    };
  } finally {
    spawnSync('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = {};
for (const jobs of [1, 2]) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(one(jobs));
  results[jobs] = runs;
}
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('| jobs | wall (median) | stages per exp (median) | overhead per exp (median / max) | overhead phases (median ms) |');
console.log('|---|---|---|---|---|');
for (const jobs of [1, 2]) {
  const rs = results[jobs];
  const overhead = rs.flatMap((r) => r.overhead);
  const ph = rs[0].phases;
  console.log(
    `| ${jobs} | ${fmt(median(rs.map((r) => r.wall)))} | ${fmt(median(rs.flatMap((r) => r.stages)))} | ${median(overhead).toFixed(0)} ms / ${Math.max(...overhead).toFixed(0)} ms | ${Object.entries(ph).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')} |`,
  );
}
const ratio = median(results[1].map((r) => r.wall)) / median(results[2].map((r) => r.wall));
console.log(`\n-j 2 is ${ratio.toFixed(2)}x faster than -j 1 (wall).`);
