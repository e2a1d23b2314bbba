// Large-input benchmark (issue 12): times a whole `pipe status` process on
//   aliases  a stages file whose vars hold 50,000 aliases of one anchored mapping (as PyYAML writes a reused dict);
//   params   a params.yaml of 100,000 keys that a stage depends on (read as vars, and again as params);
//   lock     a dvc.lock of 2,000 entries sharing their deps through aliases (the lock reader's full-parser path).
// Each run starts without `.pipe/` (so no load cache or memo answers it); the figure is the median wall time.
// Usage: `npm run build && node bench/inputs.mjs [--runs N] [--aliases N] [--keys N] [--bin path/to/pipe.js]`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const runs = Number(opt('runs', 3));
const aliases = Number(opt('aliases', 50_000));
const keys = Number(opt('keys', 100_000));
const bin = resolve(opt('bin', join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'pipe.js')));

function project(files) {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-inputs-'));
  for (const [rel, text] of Object.entries(files)) writeFileSync(join(dir, rel), text);
  return dir;
}

const cases = {
  [`aliases (${aliases.toLocaleString('en-US')} in pipe.yaml)`]: () =>
    project({
      'pipe.yaml': [
        'vars:',
        '  - base: &id001',
        '      lr: 0.1',
        '      epochs: 3',
        '    runs:',
        ...Array.from({ length: aliases }, () => '    - *id001'),
        'stages:',
        '  train:',
        `    cmd: echo \${runs[${aliases - 1}].lr}`,
        '    outs: [model.txt]',
        '',
      ].join('\n'),
    }),
  [`params (${keys.toLocaleString('en-US')} keys in params.yaml)`]: () =>
    project({
      'params.yaml': Array.from({ length: keys }, (_, i) => `k${i}: ${i}`).join('\n') + '\n',
      'pipe.yaml': 'stages:\n  train:\n    cmd: echo ${k0}\n    params: [k0, k1]\n    outs: [model.txt]\n',
    }),
  'lock (2,000 entries sharing deps through aliases)': () => {
    const n = 2000;
    const stages = ['stages:', ...Array.from({ length: n }, (_, i) => `  s${i}:\n    cmd: echo ${i} > o${i}.txt\n    deps: [a.txt]\n    outs: [o${i}.txt]`)];
    const lock = ["schema: '2.0'", 'stages:'];
    for (let i = 0; i < n; i++) {
      lock.push(`  s${i}:`, `    cmd: echo ${i} > o${i}.txt`);
      lock.push(i === 0 ? '    deps: &d\n    - path: a.txt\n      md5: 0cc175b9c0f1b6a831c399e269772661\n      size: 1' : '    deps: *d');
      lock.push(`    outs:\n    - path: o${i}.txt\n      md5: 0cc175b9c0f1b6a831c399e269772661\n      size: 2`);
    }
    return project({ 'dvc.yaml': stages.join('\n') + '\n', 'dvc.lock': lock.join('\n') + '\n', 'a.txt': 'a' });
  },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`pipe: ${bin}; ${runs} runs each; node ${process.version}`);
for (const [name, make] of Object.entries(cases)) {
  const dir = make();
  const times = [];
  let last;
  for (let r = 0; r < runs; r++) {
    rmSync(join(dir, '.pipe'), { recursive: true, force: true });
    mkdirSync(join(dir, '.pipe'));
    const t0 = process.hrtime.bigint();
    last = spawnSync(process.execPath, [bin, 'status'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 28 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const how = last.status === 0 || last.status === 1 ? `exit ${last.status}` : `exit ${last.status}: ${(last.stderr || '').split('\n')[0]}`;
  console.log(`${name.padEnd(48)} median ${median(times).toFixed(2)} s  (runs: ${times.map((t) => t.toFixed(2)).join(', ')}; ${how})`);
  rmSync(dir, { recursive: true, force: true });
}
