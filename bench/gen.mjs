// Benchmark project generator. Writes one pipeline graph as `pipe.yaml` plus an equivalent `Makefile`,
// `build.ninja` and `Snakefile` (same stages, same trivial command), so every tool runs the same work.
// Shapes: `chain` (s_i depends on s_{i-1}), `diamond` (layers of `width` stages, each depending on two stages of the
// previous layer), `flat` (independent stages, for -j scaling). Also: a project whose single stage depends on one
// directory of many small files, and one whose stage depends on one large file (hashing throughput).
// Usable as a module (run.mjs) or from the command line: `node bench/gen.mjs DIR chain 1000 10`.
import { mkdirSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const CMD = (deps, out) => `cat ${deps.join(' ')} | cksum > ${out}`;

/** Upstream stage indexes of stage i for a shape. */
function upstream(shape, i, width) {
  if (shape === 'chain') return i === 0 ? [] : [i - 1];
  if (shape === 'flat') return [];
  const layer = Math.floor(i / width);
  if (layer === 0) return [];
  const pos = i % width;
  const prev = (layer - 1) * width;
  return [...new Set([prev + pos, prev + ((pos + 1) % width)])];
}

/**
 * Writes a generated pipeline into `dir`.
 * @param {string} dir
 * @param {{shape?: 'chain'|'diamond'|'flat', stages?: number, files?: number, width?: number}} opts
 * @returns {{stages: number, leaf: string}} `leaf`: a data file of the last stage (for incremental runs)
 */
export function genPipeline(dir, { shape = 'chain', stages = 1000, files = 10, width = 10 } = {}) {
  mkdirSync(join(dir, 'out'), { recursive: true });
  const yaml = ['stages:'];
  const make = ['all:'];
  const ninja = ['rule c', '  command = $cmd', ''];
  const snake = [];
  const allOuts = [];
  let leaf = '';
  for (let i = 0; i < stages; i++) {
    const ddir = join(dir, 'data', `s${i}`);
    mkdirSync(ddir, { recursive: true });
    const deps = [];
    for (let j = 0; j < files; j++) {
      const rel = `data/s${i}/f${j}.txt`;
      writeFileSync(join(dir, rel), `stage ${i} file ${j}\n`);
      deps.push(rel);
      leaf = rel;
    }
    for (const u of upstream(shape, i, width)) deps.push(`out/s${u}.txt`);
    const out = `out/s${i}.txt`;
    allOuts.push(out);
    const cmd = CMD(deps, out);
    yaml.push(`  s${i}:`, `    cmd: ${cmd}`, '    deps:', ...deps.map((d) => `    - ${d}`), '    outs:', `    - ${out}`);
    make.push(`${out}: ${deps.join(' ')}`, `\t${cmd}`);
    ninja.push(`build ${out}: c ${deps.join(' ')}`, `  cmd = ${cmd}`);
    snake.push(
      `rule s${i}:`,
      `    input: ${deps.map((d) => JSON.stringify(d)).join(', ')}`,
      `    output: ${JSON.stringify(out)}`,
      `    shell: ${JSON.stringify(cmd)}`,
      '',
    );
  }
  make[0] = `all: ${allOuts.join(' ')}`;
  make.unshift('.PHONY: all');
  snake.unshift(`rule all:`, `    input: ${allOuts.map((d) => JSON.stringify(d)).join(', ')}`, '');
  ninja.push(`default ${allOuts.join(' ')}`);
  writeFileSync(join(dir, 'pipe.yaml'), yaml.join('\n') + '\n');
  writeFileSync(join(dir, 'Makefile'), make.join('\n') + '\n');
  writeFileSync(join(dir, 'build.ninja'), ninja.join('\n') + '\n');
  writeFileSync(join(dir, 'Snakefile'), snake.join('\n') + '\n');
  return { stages, leaf };
}

/**
 * One stage depending on a directory of `count` files of 1-10 KB (deterministic sizes), in 100 subdirectories.
 * @returns {string} the relative path of the directory
 */
export function genBigDir(dir, count = 100_000) {
  const base = join(dir, 'data', 'many');
  const sub = 100;
  for (let s = 0; s < sub; s++) mkdirSync(join(base, `d${s}`), { recursive: true });
  const chunk = randomBytes(10 * 1024);
  for (let i = 0; i < count; i++) {
    const size = 1024 + ((i * 7919) % (9 * 1024));
    writeFileSync(join(base, `d${i % sub}`, `f${i}.bin`), chunk.subarray(0, size));
  }
  writeFileSync(join(dir, 'pipe.yaml'), 'stages:\n  count:\n    cmd: ls -R data/many | wc -l > out.txt\n    deps:\n    - data/many\n    outs:\n    - out.txt\n');
  return 'data/many';
}

/**
 * A stage whose output is a directory of `count` small files (1-10 KB, each distinct: its index leads its bytes), in
 * 100 subdirectories, copied from `data/many` (restore benchmark: `pipe checkout` of that output against `cp -r`).
 */
export function genRestore(dir, count = 20_000) {
  const base = join(dir, 'data', 'many');
  const sub = 100;
  for (let s = 0; s < sub; s++) mkdirSync(join(base, `d${s}`), { recursive: true });
  const chunk = randomBytes(10 * 1024);
  for (let i = 0; i < count; i++) {
    const size = 1024 + ((i * 7919) % (9 * 1024));
    const buf = Buffer.from(chunk.subarray(0, size));
    buf.write(`${i}\n`, 0);
    writeFileSync(join(base, `d${i % sub}`, `f${i}.bin`), buf);
  }
  writeFileSync(join(dir, 'pipe.yaml'), 'stages:\n  copy:\n    cmd: cp -r data/many out\n    deps:\n    - data/many\n    outs:\n    - out\n');
  return 'data/many';
}

/** One stage depending on one file of `mb` MiB of random bytes. */
export function genLargeFile(dir, mb = 1024) {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const fd = openSync(join(dir, 'data', 'large.bin'), 'w');
  const block = randomBytes(1 << 20);
  for (let i = 0; i < mb; i++) writeSync(fd, block);
  closeSync(fd);
  writeFileSync(join(dir, 'pipe.yaml'), 'stages:\n  size:\n    cmd: wc -c data/large.bin > out.txt\n    deps:\n    - data/large.bin\n    outs:\n    - out.txt\n');
  return 'data/large.bin';
}

/** `count` files of 1 MiB each (random bytes) in `data/`, and a stage depending on the directory. */
export function genManyFiles(dir, count = 1000) {
  mkdirSync(join(dir, 'data'), { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(dir, 'data', `f${String(i).padStart(5, '0')}.bin`), randomBytes(1 << 20));
  writeFileSync(join(dir, 'pipe.yaml'), 'stages:\n  count:\n    cmd: ls data | wc -l > out.txt\n    deps:\n    - data\n    outs:\n    - out.txt\n');
  return 'data';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, shape = 'chain', stages = '1000', files = '10'] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node bench/gen.mjs DIR [chain|diamond|flat|bigdir|restore|large] [STAGES|COUNT|MB] [FILES]');
    process.exit(2);
  }
  if (shape === 'bigdir') genBigDir(dir, Number(stages));
  else if (shape === 'restore') genRestore(dir, Number(stages));
  else if (shape === 'large') genLargeFile(dir, Number(stages));
  else genPipeline(dir, { shape, stages: Number(stages), files: Number(files) });
  console.log(`generated ${shape} in ${dir}`);
}
