// Large-input benchmark (issue 12): times a whole `pipe status` process on
//   aliases  a stages file whose vars hold 50,000 aliases of one anchored mapping (as PyYAML writes a reused dict);
//   params   a params.yaml of 100,000 keys that a stage depends on (read as vars, and again as params);
//   lock     a dvc.lock of 2,000 entries whose 50,000 deps are aliases of 25 entries (the lock reader's full parser).
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
  'lock (2,000 entries, 50,000 aliases in dvc.lock)': () => {
    // Each stage depends on the same 25 files; the lock writes each dep entry once and aliases it after that.
    const n = 2000;
    const files = Array.from({ length: 25 }, (_, j) => `a${j}.txt`);
    const stages = ['stages:', ...Array.from({ length: n }, (_, i) => `  s${i}:\n    cmd: echo ${i} > o${i}.txt\n    deps: [${files.join(', ')}]\n    outs: [o${i}.txt]`)];
    const lock = ["schema: '2.0'", 'stages:'];
    for (let i = 0; i < n; i++) {
      lock.push(`  s${i}:`, `    cmd: echo ${i} > o${i}.txt`, '    deps:');
      for (let j = 0; j < files.length; j++) {
        lock.push(i === 0 ? `    - &d${j}\n      path: ${files[j]}\n      md5: 0cc175b9c0f1b6a831c399e269772661\n      size: 1` : `    - *d${j}`);
      }
      lock.push(`    outs:\n    - path: o${i}.txt\n      md5: 0cc175b9c0f1b6a831c399e269772661\n      size: 2`);
    }
    return project({ 'dvc.yaml': stages.join('\n') + '\n', 'dvc.lock': lock.join('\n') + '\n', ...Object.fromEntries(files.map((f) => [f, 'a'])) });
  },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The floor for comparison: a node process that only parses the same YAML files with the `yaml` package.
const yamlPkg = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'yaml', 'dist', 'index.js');
const parseOnly = (dir) =>
  `const y = require(${JSON.stringify(yamlPkg)}); const fs = require('fs');` +
  `for (const f of fs.readdirSync(${JSON.stringify(dir)})) if (/\\.(yaml|lock)$/.test(f)) y.parseDocument(fs.readFileSync(${JSON.stringify(dir)} + '/' + f, 'utf8'), { uniqueKeys: false });`;

console.log(`pipe: ${bin}; ${runs} runs each; node ${process.version}`);
for (const [name, make] of Object.entries(cases)) {
  const dir = make();
  const times = [];
  const floor = [];
  let last;
  for (let r = 0; r < runs; r++) {
    const f0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', parseOnly(dir)]);
    floor.push(Number(process.hrtime.bigint() - f0) / 1e9);
    rmSync(join(dir, '.pipe'), { recursive: true, force: true });
    mkdirSync(join(dir, '.pipe'));
    const t0 = process.hrtime.bigint();
    last = spawnSync(process.execPath, [bin, 'status'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 28 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const how = last.status === 0 || last.status === 1 ? `exit ${last.status}` : `exit ${last.status}: ${(last.stderr || '').split('\n')[0]}`;
  console.log(
    `${name.padEnd(50)} median ${median(times).toFixed(2)} s  (runs: ${times.map((t) => t.toFixed(2)).join(', ')}; ${how}); ` +
      `node parsing the same YAML with the yaml package alone: ${median(floor).toFixed(2)} s`,
  );
  rmSync(dir, { recursive: true, force: true });
}
