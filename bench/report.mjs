// Benchmark of `pipe report` (issue: plots and the HTML report): the time to write the page and its size, for the
// generated 1,000-stage project (diamond shape: 10 stages per layer, each reading two of the layer before; run once,
// committed, then one input changed so half the graph is stale) and for the example pipeline with 8 experiments
// (refs under refs/exps, each a run with another learning rate); then the page opened in headless Chromium (Debian's
// chromium through playwright-core): first paint, first contentful paint, and the time until every plot is drawn.
// Medians of N runs. Generated projects live in a temp dir, removed at the end.
// Usage: node bench/report.mjs [--runs N] [--stages N] [--keep]
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, cpSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { genPipeline } from './gen.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PIPE = join(REPO, 'bin', 'pipe.js');
const argv = process.argv.slice(2);
const arg = (name, dflt) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const RUNS = arg('--runs', 3);
const STAGES = arg('--stages', 1000);
const KEEP = argv.includes('--keep');
const CHROMIUM = process.env.PIPE_BENCH_CHROMIUM ?? '/usr/bin/chromium';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@pipe.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@pipe.invalid' };
const git = (cwd, ...args) => execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' });
function pipe(cwd, ...args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [PIPE, ...args], { cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`pipe ${args.join(' ')} exited ${r.status} in ${cwd}\n${r.stderr.slice(-2000)}`);
  return ms;
}

async function paint(file) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  const out = { fp: [], fcp: [], plots: [] };
  try {
    for (let i = 0; i < RUNS; i++) {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const t0 = Date.now();
      await page.goto('file://' + file);
      await page.waitForFunction(() => globalThis.performance.getEntriesByName('first-contentful-paint').length > 0, null, { timeout: 60_000 });
      const entries = await page.evaluate(() => Object.fromEntries(globalThis.performance.getEntriesByType('paint').map((e) => [e.name, e.startTime])));
      const hasPlots = await page.evaluate(() => globalThis.document.querySelectorAll('script[data-plot]').length > 0);
      if (hasPlots) await page.waitForSelector('body[data-plots-done]', { timeout: 60_000 });
      out.fp.push(entries['first-paint']);
      out.fcp.push(entries['first-contentful-paint']);
      out.plots.push(hasPlots ? Date.now() - t0 : NaN);
      await page.close();
    }
  } finally {
    await browser.close();
  }
  return { fp: median(out.fp), fcp: median(out.fcp), plots: median(out.plots) };
}

async function measure(name, dir) {
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(pipe(dir, 'report', '-o', 'report.html'));
  const file = join(dir, 'report.html');
  const size = statSync(file).size;
  const html = readFileSync(file, 'utf8');
  const nodes = (html.match(/<g class="node /g) ?? []).length;
  const p = existsSync(CHROMIUM) ? await paint(file) : undefined;
  return { name, ms: median(times), size, nodes, ...p };
}

const work = mkdtempSync(join(tmpdir(), 'pipe-bench-report-'));
const results = [];
try {
  // The generated project.
  const big = join(work, 'big');
  genPipeline(big, { shape: 'diamond', stages: STAGES, files: 10 });
  git(big, 'init', '-q');
  pipe(big, 'repro', '-q');
  git(big, 'add', '-A');
  git(big, 'commit', '-qm', 'run');
  writeFileSync(join(big, 'data', `s${Math.floor(STAGES / 2)}`, 'f0.txt'), 'changed\n');
  results.push(await measure(`${STAGES}-stage diamond`, big));

  // The example with 8 experiments.
  const ex = join(work, 'example');
  const src = join(REPO, 'examples', 'classifier');
  const skip = new Set(['.pipe', 'pipe.lock', 'eval', 'model.json', 'train_loss.csv', 'data/prepared', 'data/features']);
  cpSync(src, ex, { recursive: true, filter: (p) => !skip.has(relative(src, p)) });
  writeFileSync(join(ex, '.gitignore'), readFileSync(join(ex, '.gitignore'), 'utf8').replace(/^\/pipe\.lock\n|^\/eval\/\n/gm, ''));
  git(ex, 'init', '-q');
  pipe(ex, 'repro', '-q');
  git(ex, 'add', '-A');
  git(ex, 'commit', '-qm', 'baseline');
  const params = readFileSync(join(ex, 'params.yaml'), 'utf8');
  const base = git(ex, 'rev-parse', 'HEAD').trim();
  const exps = [];
  for (let i = 1; i <= 8; i++) {
    writeFileSync(join(ex, 'params.yaml'), params.replace(/lr: [\d.]+/, `lr: ${(0.05 * i).toFixed(2)}`));
    pipe(ex, 'repro', '-q');
    git(ex, 'add', '-A');
    git(ex, 'commit', '-qm', `exp ${i}`);
    const name = `exp-${i}`;
    git(ex, 'update-ref', `refs/exps/${base.slice(0, 2)}/${base.slice(2)}/${name}`, 'HEAD');
    git(ex, 'reset', '-q', '--hard', base);
    exps.push('--exp', name);
  }
  pipe(ex, 'checkout');
  const t = [];
  for (let i = 0; i < RUNS; i++) t.push(pipe(ex, 'report', ...exps, '-o', 'report.html'));
  const file = join(ex, 'report.html');
  results.push({ name: 'example: HEAD, 8 experiments, workspace', ms: median(t), size: statSync(file).size, nodes: 4, ...(existsSync(CHROMIUM) ? await paint(file) : {}) });
} finally {
  if (KEEP) console.error(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

const f = (x) => (x === undefined || Number.isNaN(x) ? '-' : `${Math.round(x)} ms`);
console.log(`pipe report, median of ${RUNS}\n`);
console.log('| project | pipe report | page size | DAG nodes | first paint | first contentful paint | plots drawn |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.name} | ${f(r.ms)} | ${(r.size / 1024).toFixed(0)} KiB | ${r.nodes} | ${f(r.fp)} | ${f(r.fcp)} | ${f(r.plots)} |`);
}
