// Benchmark harness for spec §7: whole-process wall times, median of N runs after a warm-up, measured side by side
// with the anchors (node -e 0, ninja, make, snakemake, md5sum, xxh64sum) on the same generated projects, printed as
// a table of medians, ratios and targets. Generated data lives in a temp dir and is removed at the end.
// Usage: node bench/run.mjs [--quick] [--runs N] [--keep] [--only a,b,c,d,e,f,g,h,k,r]
// (`r`, the restore case, runs only when named: `--only r`.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, appendFileSync, existsSync, cpSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { genPipeline, genBigDir, genLargeFile, genRestore, genManyFiles } from './gen.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PIPE = join(REPO, 'bin', 'pipe.js');
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const KEEP = argv.includes('--keep');
const runsArg = argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : QUICK ? 5 : 7;
const onlyArg = argv.indexOf('--only');
const ONLY = onlyArg >= 0 ? new Set(String(argv[onlyArg + 1]).split(',')) : null;
const STAGES = QUICK ? 300 : 1000;
const BIGDIR = QUICK ? 20_000 : 100_000;
const LARGE_MB = QUICK ? 256 : 1024;
const SNAKE_STAGES = QUICK ? 50 : 200;

const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const TIME_V = existsSync('/usr/bin/time');

/** Runs argv once in cwd; returns wall ms; throws on unexpected exit code. */
function once(cmd, cwd, okCodes = [0]) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!okCodes.includes(r.status ?? -1)) {
    throw new Error(`${cmd.join(' ')} exited ${r.status} in ${cwd}\n${String(r.stderr).slice(-2000)}`);
  }
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Median wall ms of `runs` runs after one warm-up; `prep` runs before each (untimed). */
function measure(cmd, cwd, { runs = RUNS, prep, okCodes, warm = true } = {}) {
  if (warm) {
    prep?.();
    once(cmd, cwd, okCodes);
  }
  const xs = [];
  for (let i = 0; i < runs; i++) {
    prep?.();
    xs.push(once(cmd, cwd, okCodes));
  }
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs };
}

/** Peak RSS in MB of one run, via /usr/bin/time -f %M. */
function peakRss(cmd, cwd) {
  if (!TIME_V) return NaN;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...cmd], { cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  const lines = r.stderr.trim().split('\n');
  return Number(lines[lines.length - 1]) / 1024;
}

const rows = [];
const log = (s) => process.stderr.write(s + '\n');
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
function row(group, what, m, anchor, target, met, note = '') {
  const r = { group, what, median: m, anchor, target, met, note };
  rows.push(r);
  log(`  ${what}: ${typeof m === 'number' ? fmt(m) : m}${note ? `  (${note})` : ''}`);
  return r;
}
const want = (k) => (!ONLY && k !== 'r') || (ONLY !== null && ONLY.has(k));
const RESTORE_FILES = 20_000;
const pipe = (...a) => ['node', PIPE, ...a];
const work = mkdtempSync(join(tmpdir(), 'pipe-bench-'));
const sh = (script, cwd) => {
  const r = spawnSync('sh', ['-c', script], { cwd, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`sh -c ${script} failed`);
};
const reset = (dir) => () => sh('rm -rf out/* .pipe pipe.lock .gitignore .snakemake .ninja_log .ninja_deps', dir);

log(`bench: ${QUICK ? 'quick' : 'default'} mode, ${RUNS} runs per figure, data in ${work}`);
let nodeE0;
try {
  // (a) startup
  nodeE0 = measure(['node', '-e', '0'], work).median;
  if (want('a')) {
    log('(a) startup');
    const v = measure(pipe('--version'), work).median;
    row('a', 'node -e 0', nodeE0);
    row('a', 'pipe --version', v, `${(v / nodeE0).toFixed(2)}x node -e 0`, '<= 1.3x', v <= 1.3 * nodeE0);
  }

  // (b) no-op status, 1,000 stages, chain and diamond
  for (const shape of ['chain', 'diamond']) {
    if (!want('b')) break;
    log(`(b) no-op status, ${STAGES}-stage ${shape}, 10 files per stage`);
    const base = join(work, `${shape}`);
    genPipeline(base, { shape, stages: STAGES, files: 10 });
    const dirs = {};
    for (const t of ['pipe', 'ninja', 'make']) {
      dirs[t] = `${base}-${t}`;
      cpSync(base, dirs[t], { recursive: true });
    }
    once(pipe('repro', '-q'), dirs.pipe);
    once(['make', '-r', '-s', '-j2'], dirs.make);
    // Snakemake building 1,000 stages takes minutes: give it the outputs make built (mtimes kept), no metadata.
    dirs.snake = `${base}-snake`;
    cpSync(dirs.make, dirs.snake, { recursive: true, preserveTimestamps: true });
    once(['ninja', '-j2'], dirs.ninja);
    // Files written less than 2 s ago are not trusted by their stat (racy timestamps): wait that out, as a user's next
    // `status` would, so the figure is the steady no-op (answered from .pipe/tmp/status-memo after the warm-up).
    spawnSync('sleep', ['2.1']);
    const p = measure(pipe('status'), dirs.pipe).median;
    // The full check behind it (no memo: lock files parsed, every stage judged through .pipe/state).
    const dropMemo = () => rmSync(join(dirs.pipe, '.pipe', 'tmp', 'status-memo'), { force: true });
    const pFull = measure(pipe('status'), dirs.pipe, { prep: dropMemo }).median;
    const n = measure(['ninja', '-n'], dirs.ninja).median;
    const mk = measure(['make', '-r', '-q'], dirs.make).median;
    row('b', `ninja -n (${shape})`, n);
    row('b', `make -r -q (${shape})`, mk);
    let sn = NaN;
    if (have('snakemake')) {
      sn = measure(['snakemake', '-n', '-c1'], dirs.snake, { runs: Math.min(RUNS, 5) }).median;
      row('b', `snakemake -n (${shape})`, sn);
    }
    row('b', `pipe status (${shape})`, p, `${(p / n).toFixed(1)}x ninja -n; node -e 0 + ${fmt(p - nodeE0)}; ${(sn / p).toFixed(1)}x faster than snakemake -n`,
      '<= node -e 0 + 150 ms; >= 5x faster than snakemake -n', p <= nodeE0 + 150 && (Number.isNaN(sn) || sn >= 5 * p));
    row('b', `pipe status, full check: memo dropped (${shape})`, pFull, `node -e 0 + ${fmt(pFull - nodeE0)}; ${(sn / pFull).toFixed(1)}x faster than snakemake -n`);
    for (const t of Object.values(dirs)) rmSync(t, { recursive: true, force: true });
    if (shape === 'diamond') rmSync(base, { recursive: true, force: true });
  }

  // (c) full repro, trivial stages: chain -j1 vs make; flat -j1/-j2 vs make -j2; snakemake on fewer stages
  // (g) shares (c)'s chain; either may run alone (`--only g`).
  if (want('c') || want('g')) {
    const chain = join(work, 'rchain');
    genPipeline(chain, { shape: 'chain', stages: STAGES, files: 10 });
    if (want('c')) {
    log(`(c) full repro, ${STAGES} trivial stages`);
    const runs = Math.min(RUNS, 5);
    const pj1 = measure(pipe('repro', '-q'), chain, { runs, prep: reset(chain), warm: false }).median;
    const mk1 = measure(['make', '-r', '-s'], chain, { runs, prep: reset(chain), warm: false }).median;
    row('c', `make -r (chain ${STAGES})`, mk1, `${(mk1 / STAGES).toFixed(2)} ms/stage`);
    row('c', `pipe repro (chain ${STAGES})`, pj1, `${(pj1 / mk1).toFixed(1)}x make; ${(pj1 / STAGES).toFixed(2)} ms/stage`);
    const flat = join(work, 'rflat');
    genPipeline(flat, { shape: 'flat', stages: STAGES, files: 10 });
    const mk2 = measure(['make', '-r', '-s', '-j2'], flat, { runs, prep: reset(flat), warm: false }).median;
    const pf1 = measure(pipe('repro', '-q', '-j1'), flat, { runs, prep: reset(flat), warm: false }).median;
    const pf2 = measure(pipe('repro', '-q', '-j2'), flat, { runs, prep: reset(flat), warm: false }).median;
    row('c', `make -r -j2 (flat ${STAGES})`, mk2);
    row('c', `pipe repro -j1 (flat ${STAGES})`, pf1, `${(pf1 / STAGES).toFixed(2)} ms/stage`);
    row('c', `pipe repro -j2 (flat ${STAGES})`, pf2, `${(pf2 / mk2).toFixed(1)}x make -j2; ${(pf2 / pf1).toFixed(2)}x -j1`,
      '<= 2x make -j2; -j2 <= 0.6x -j1', pf2 <= 2 * mk2 && pf2 <= 0.6 * pf1);
    if (have('snakemake')) {
      const sdir = join(work, 'rsnake');
      genPipeline(sdir, { shape: 'chain', stages: SNAKE_STAGES, files: 10 });
      const sm = measure(['snakemake', '-c1', '-q'], sdir, { runs: 3, prep: reset(sdir), warm: false }).median;
      const ps = measure(pipe('repro', '-q'), sdir, { runs: 3, prep: reset(sdir), warm: false }).median;
      row('c', `snakemake -c1 (chain ${SNAKE_STAGES})`, sm, `${(sm / SNAKE_STAGES).toFixed(1)} ms/stage`);
      row('c', `pipe repro (chain ${SNAKE_STAGES})`, ps, `${(ps / SNAKE_STAGES).toFixed(1)} ms/stage; ${(sm / ps).toFixed(1)}x faster than snakemake`);
      rmSync(sdir, { recursive: true, force: true });
    }
    rmSync(flat, { recursive: true, force: true });
    }

    // (g) incremental: one leaf input of the last stage changed
    if (want('g')) {
    log(`(g) repro after one leaf input changed, ${STAGES}-stage chain`);
    reset(chain)();
    once(pipe('repro', '-q'), chain);
    once(['ninja'], chain);
    const leaf = `data/s${STAGES - 1}/f9.txt`;
    let k = 0;
    const touchLeaf = () => writeFileSync(join(chain, leaf), `changed ${k++}\n`);
    const pi = measure(pipe('repro', '-q'), chain, { prep: touchLeaf }).median;
    const ni = measure(['ninja'], chain, { prep: touchLeaf }).median;
    row('g', 'ninja (one leaf changed)', ni);
    row('g', 'pipe repro (one leaf changed)', pi, `ninja + ${fmt(pi - ni)}; node -e 0 = ${fmt(nodeE0)}`, '<= ninja + node -e 0 + 200 ms', pi <= ni + nodeE0 + 200);
    }
    rmSync(chain, { recursive: true, force: true });
  }

  // (d) one dep directory of many small files
  if (want('d')) {
    log(`(d) no-op status, one dep directory of ${BIGDIR} files`);
    const dir = join(work, 'bigdir');
    const rel = genBigDir(dir, BIGDIR);
    once(pipe('repro', '-q'), dir);
    const script = join(work, 'lstat-all.mjs');
    writeFileSync(script, `import { readdirSync, lstatSync } from 'node:fs';\nimport { join } from 'node:path';\n` +
      `const walk = (d) => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); lstatSync(p); if (e.isDirectory()) walk(p); } };\nwalk(process.argv[2]);\n`);
    const ls = measure(['node', script, rel], dir).median;
    const p = measure(pipe('status'), dir).median;
    const rss = peakRss(pipe('status'), dir);
    row('d', `node lstat-all (${BIGDIR} files)`, ls);
    row('d', `pipe status (${BIGDIR} files)`, p, `${(p / ls).toFixed(2)}x lstat script; (1.5x + 100 ms = ${fmt(1.5 * ls + 100)})`, '<= 1.5x lstat + 100 ms', p <= 1.5 * ls + 100);
    row('d', `pipe status peak RSS (${BIGDIR} files)`, `${rss.toFixed(0)} MB`, '', '< 300 MB', rss < 300);
    rmSync(dir, { recursive: true, force: true });
  }

  // (e) first hash of a large file, page cache warm
  if (want('e')) {
    log(`(e) first hash of a ${LARGE_MB} MiB file (page cache warm)`);
    const dir = join(work, 'large');
    const rel = genLargeFile(dir, LARGE_MB);
    once(['sh', '-c', `cat ${rel} > /dev/null`], dir); // warm the page cache
    once(pipe('repro', '-q'), dir);
    // `pipe status` re-hashes the dep unless the stat cache (.pipe/state) has it: drop it before each run.
    // The status memo too: it answers an unchanged file dep from its stat alone, and the run would hash nothing.
    const drop = () => ['state', 'tmp/status-memo'].forEach((p) => rmSync(join(dir, '.pipe', p), { recursive: true, force: true }));
    const runs = Math.min(RUNS, 5);
    const p = measure(pipe('status'), dir, { prep: drop, runs }).median;
    const md5 = measure(['md5sum', rel], dir, { runs }).median;
    const mb = LARGE_MB * 1.048576;
    const gbs = (ms) => mb / ms; // MB/ms = GB/s
    row('e', 'md5sum', md5, `${gbs(md5).toFixed(2)} GB/s`);
    let xx = NaN;
    if (have('xxh64sum')) {
      xx = measure(['xxh64sum', rel], dir, { runs }).median;
      row('e', 'xxh64sum', xx, `${gbs(xx).toFixed(2)} GB/s`);
    }
    // Throughput as the user sees it: whole process, minus node startup.
    const net = p - nodeE0;
    row('e', 'pipe status (state dropped)', p, `${gbs(p).toFixed(2)} GB/s whole process, ${gbs(net).toFixed(2)} GB/s minus node -e 0; ${(gbs(net) / gbs(md5)).toFixed(2)}x md5sum, ${(gbs(net) / gbs(xx) * 100).toFixed(0)}% of xxh64sum`,
      '>= 2x md5sum, >= 50% xxh64sum', gbs(net) >= 2 * gbs(md5) && (Number.isNaN(xx) || gbs(net) >= 0.5 * gbs(xx)));
    rmSync(dir, { recursive: true, force: true });
  }

  // (h) first hash of a directory of many 1 MiB files, page cache warm: pipe hashes them on worker threads (one per
  // core); xxh64sum and md5sum read them one after another on one core.
  if (want('h')) {
    const count = QUICK ? 300 : 1000;
    log(`(h) first hash of ${count} files of 1 MiB (page cache warm)`);
    const dir = join(work, 'many');
    const rel = genManyFiles(dir, count);
    once(['sh', '-c', `cat ${rel}/* > /dev/null`], dir);
    once(pipe('repro', '-q'), dir);
    // The status memo too: it answers an unchanged file dep from its stat alone, and the run would hash nothing.
    const drop = () => ['state', 'tmp/status-memo'].forEach((p) => rmSync(join(dir, '.pipe', p), { recursive: true, force: true }));
    const runs = Math.min(RUNS, 5);
    const p = measure(pipe('status'), dir, { prep: drop, runs }).median;
    const mb = count * 1.048576;
    const gbs = (ms) => mb / ms;
    const md5 = measure(['sh', '-c', `md5sum ${rel}/* > /dev/null`], dir, { runs }).median;
    row('h', `md5sum (${count} files)`, md5, `${gbs(md5).toFixed(2)} GB/s`);
    let xx = NaN;
    if (have('xxh64sum')) {
      xx = measure(['sh', '-c', `xxh64sum ${rel}/* > /dev/null`], dir, { runs }).median;
      row('h', `xxh64sum (${count} files)`, xx, `${gbs(xx).toFixed(2)} GB/s`);
    }
    const net = p - nodeE0;
    row('h', `pipe status, state dropped (${count} files)`, p, `${gbs(p).toFixed(2)} GB/s whole process, ${gbs(net).toFixed(2)} GB/s minus node -e 0; ${(gbs(net) / gbs(xx) * 100).toFixed(0)}% of xxh64sum`,
      '>= xxh64sum throughput', Number.isNaN(xx) || gbs(net) >= gbs(xx));
    rmSync(dir, { recursive: true, force: true });
  }

  // (k) 10,000 stages, wide (independent) and diamond: the no-op status and the full check (memo dropped), with
  // the same at 1,000 stages for the growth factor, and ninja -n as the anchor. The outputs are built by make -j2 and
  // recorded with `pipe commit` (running 10,000 stages through pipe would take minutes and is measured in (c)).
  if (want('k')) {
    const sizes = QUICK ? [300, 3000] : [1000, 10000];
    for (const shape of ['flat', 'diamond']) {
      const got = {};
      for (const n of sizes) {
        log(`(k) ${n}-stage ${shape === 'flat' ? 'wide' : shape}, 2 files per stage`);
        const dir = join(work, `k-${shape}-${n}`);
        genPipeline(dir, { shape, stages: n, files: 2 });
        once(['make', '-r', '-s', '-j2'], dir);
        once(pipe('commit', '-q'), dir);
        once(['ninja', '-j2'], dir);
        spawnSync('sleep', ['2.1']);
        const dropMemo = () => rmSync(join(dir, '.pipe', 'tmp', 'status-memo'), { force: true });
        const noop = measure(pipe('status'), dir).median;
        const full = measure(pipe('status'), dir, { prep: dropMemo }).median;
        const ni = measure(['ninja', '-n'], dir).median;
        got[n] = { noop, full };
        const label = `${shape === 'flat' ? 'wide' : shape} ${n}`;
        row('k', `ninja -n (${label})`, ni);
        if (n === sizes[1]) {
          row('k', `pipe status, no-op (${label})`, noop, `node -e 0 + ${fmt(noop - nodeE0)}; ${(noop / got[sizes[0]].noop).toFixed(1)}x the ${sizes[0]}-stage figure`,
            '<= node -e 0 + 400 ms', noop <= nodeE0 + 400);
          row('k', `pipe status, full check (${label})`, full, `${(full / got[sizes[0]].full).toFixed(1)}x the ${sizes[0]}-stage figure`,
            '<= 1.5 s; growth <= 11x', full <= 1500 && full / got[sizes[0]].full <= 11);
        } else {
          row('k', `pipe status, no-op (${label})`, noop);
          row('k', `pipe status, full check (${label})`, full);
        }
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }

  // (r) restore: `pipe checkout` of a 20,000-file directory output deleted from the workspace, against `cp -r` of the
  // same files (the anchor), in copy mode (the default `reflink,copy`; ext4 has no reflinks) and with hard links.
  // Runs alternate between the tools, so load on a shared machine hits both alike.
  if (want('r')) {
    log(`(r) restore of a ${RESTORE_FILES}-file directory output`);
    const dir = join(work, 'restore');
    const rel = genRestore(dir, RESTORE_FILES);
    once(pipe('repro', '-q'), dir);
    const cfg = join(dir, '.pipe', 'config.yaml');
    const setType = (t) => writeFileSync(cfg, `cache:\n  type: ${t}\n`);
    const dropOut = () => rmSync(join(dir, 'out'), { recursive: true, force: true });
    const dropCopy = () => rmSync(join(dir, 'copy'), { recursive: true, force: true });
    const runs = Math.min(RUNS, 5);
    const xs = { cp: [], copy: [], hardlink: [] };
    setType('reflink,copy');
    dropOut();
    once(pipe('checkout', '-q'), dir); // warm-up: the first checkout also records every object in .pipe/cache/verified
    for (let i = 0; i < runs; i++) {
      dropCopy();
      xs.cp.push(once(['cp', '-r', rel, 'copy'], dir));
      for (const t of ['copy', 'hardlink']) {
        setType(t === 'copy' ? 'reflink,copy' : 'hardlink');
        dropOut();
        xs[t].push(once(pipe('checkout', '-q'), dir));
      }
    }
    const cp = median(xs.cp);
    const pc = median(xs.copy);
    const ph = median(xs.hardlink);
    row('r', `cp -r (${RESTORE_FILES} files, 1-10 KB)`, cp, 'anchor');
    row('r', `pipe checkout, copies (${RESTORE_FILES} files)`, pc, `${(pc / cp).toFixed(2)}x cp -r`, '<= 1.5x cp -r', pc <= 1.5 * cp);
    row('r', `pipe checkout, hard links (${RESTORE_FILES} files)`, ph, `${(ph / cp).toFixed(2)}x cp -r`, '< cp -r', ph < cp);
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  if (!KEEP) rmSync(work, { recursive: true, force: true });
}

const lines = ['', '| # | figure | median | vs anchor | target | met |', '|---|---|---|---|---|---|'];
for (const r of rows) {
  const med = typeof r.median === 'number' ? fmt(r.median) : r.median;
  lines.push(`| ${r.group} | ${r.what} | ${med} | ${r.anchor ?? ''} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`);
}
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${new Date().toISOString()}, ${QUICK ? 'quick' : 'default'} mode, ${RUNS} runs`;
console.log(`Machine: ${machine}`);
console.log(lines.join('\n'));
if (process.env.BENCH_APPEND) appendFileSync(process.env.BENCH_APPEND, `\nMachine: ${machine}\n${lines.join('\n')}\n`);
