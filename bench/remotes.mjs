// Remote transfer benchmark (issue 14 "Speed"): push and pull of 1,000 files of 100 KB and of one 1 GiB file to
// radosgw (S3) and to SFTP, side by side with `rclone copy` on the same servers, and a no-op push of 10,000 objects
// that are already there. Two levels are measured:
//   - `layer`: the remote layer in process (openRemote, putFile/getToFile with the kind's default -j, hasMany), so
//     the figures exist before and apart from the CLI;
//   - `pipe`: whole `pipe push` / `pipe pull` processes on a project whose stage outputs the same data (when the
//     built CLI has push/pull).
// Needs the servers of tests/servers/servers.sh (the PIPE_TEST_* variables it prints), `rclone` (Debian's), and a
// build (`npm run build`). rclone is run without AWS_CA_BUNDLE (it refuses S3 while that is set).
// Usage: node bench/remotes.mjs [--kinds s3,ssh] [--big-mib 1024] [--small 1000] [--noop 10000] [--skip-rclone]
//        [--parts layer,rclone,pipe,noop] [--shapes small,big] [--rounds N] [--anchor DIR]
// `--anchor DIR` runs another build's `DIR/bin/pipe.js` beside this one (before/after a change): in each of the
// `--rounds` rounds the tools take turns on the same servers (anchor, this build, rclone), so load on a shared
// machine falls on all of them alike. The load average is printed with every row.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const KINDS = opt('kinds', 's3,ssh').split(',');
const BIG_MIB = Number(opt('big-mib', '1024'));
const SMALL = Number(opt('small', '1000'));
const NOOP = Number(opt('noop', '10000'));
const SKIP_RCLONE = args.includes('--skip-rclone');
const PARTS = opt('parts', 'layer,rclone,pipe,noop').split(',');
const SHAPES = opt('shapes', 'small,big').split(',');
const ROUNDS = Number(opt('rounds', '1'));
const ANCHOR = opt('anchor', undefined);
const work = opt('dir', path.join(tmpdir(), 'pipe-bench-remotes'));

const { openRemote } = await import(path.join(repo, 'dist/remotes/index.js'));
const { digestBytes, createDigest } = await import(path.join(repo, 'dist/hash/algorithms.js'));
const { keyString } = await import(path.join(repo, 'dist/storage/object-store.js'));

const env = process.env;
env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
if (!env.PIPE_TEST_S3_ENDPOINT || !env.PIPE_TEST_SFTP) {
  console.error('start the servers first: bash tests/servers/servers.sh start DIR > DIR.env && . DIR.env');
  process.exit(2);
}
const sftpHost = env.PIPE_TEST_SFTP.split(':');
// SFTP remotes refuse a host known_hosts does not record: the test server's host key sits beside its client key.
mkdirSync(work, { recursive: true });
const knownHosts = path.join(work, 'known_hosts');
if (env.PIPE_TEST_SFTP_KEY) {
  const [type, blob] = readFileSync(path.join(path.dirname(env.PIPE_TEST_SFTP_KEY), 'host_key.pub'), 'utf8').trim().split(/\s+/);
  writeFileSync(knownHosts, `[${sftpHost[0]}]:${sftpHost[1]} ${type} ${blob}\n`);
}
const results = [];
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const row = (kind, shape, what, tool, secs, bytes) => {
  const cpu = tool.startsWith('layer') ? undefined : lastCpu;
  const r = { kind, shape, what, tool, secs, mibps: bytes ? bytes / 1048576 / secs : undefined, load: loadavg(), cpu };
  results.push(r);
  console.error(`${kind.padEnd(4)} ${shape.padEnd(14)} ${what.padEnd(5)} ${tool.padEnd(22)} ${secs.toFixed(2).padStart(7)} s${r.mibps ? ` ${r.mibps.toFixed(1).padStart(7)} MiB/s` : ''}${cpu !== undefined ? `  cpu ${cpu.toFixed(2)} s` : ''}  load ${r.load}`);
};
const time = async (fn) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
// CPU seconds (user + system) of the last child run through `timed` (GNU time), or undefined: on a machine shared by
// many, wall time mostly says how long the process waited for a core; its CPU time says what it cost.
let lastCpu;
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
function timed(cmd, a, opts) {
  lastCpu = undefined;
  if (!GNU_TIME) return spawnSync(cmd, a, opts);
  const r = spawnSync(GNU_TIME, ['-f', 'CPU-SECONDS %U %S', cmd, ...a], opts);
  const m = /CPU-SECONDS ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr?.toString() ?? '');
  if (m) lastCpu = Number(m[1]) + Number(m[2]);
  return r;
}

// ---- data
function makeData() {
  const small = path.join(work, 'src/small');
  const big = path.join(work, 'src/big');
  if (!existsSync(path.join(small, `f${SMALL - 1}.bin`))) {
    mkdirSync(small, { recursive: true });
    for (let i = 0; i < SMALL; i++) writeFileSync(path.join(small, `f${i}.bin`), randomBytes(100 * 1024));
  }
  if (!existsSync(path.join(big, 'big.bin')) || statSync(path.join(big, 'big.bin')).size !== BIG_MIB * 1048576) {
    mkdirSync(big, { recursive: true });
    const fd = openSync(path.join(big, 'big.bin'), 'w');
    const chunk = randomBytes(16 * 1048576);
    for (let i = 0; i < BIG_MIB / 16; i++) {
      chunk.writeUInt32LE(i, 0); // distinct chunks
      writeSync(fd, chunk);
    }
    closeSync(fd);
  }
  return { small, big };
}

async function keysOf(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const abs = path.join(dir, name);
    const d = await createDigest('xxh64');
    const { createReadStream } = await import('node:fs');
    for await (const c of createReadStream(abs, { highWaterMark: 4 << 20 })) d.update(c);
    out.push({ abs, name, key: { algo: 'xxh64', id: d.digest() }, size: statSync(abs).size });
  }
  return out;
}

function specFor(kind, prefix) {
  if (kind === 's3') {
    return {
      name: 'bench',
      url: `s3://pipe-bench/${prefix}`,
      options: { endpointurl: env.PIPE_TEST_S3_ENDPOINT, access_key_id: env.PIPE_TEST_S3_ACCESS_KEY, secret_access_key: env.PIPE_TEST_S3_SECRET_KEY },
      source: 'bench',
    };
  }
  return {
    name: 'bench',
    url: `ssh://${userInfo().username}@${env.PIPE_TEST_SFTP}${env.PIPE_TEST_SFTP_ROOT}/${prefix}`,
    options: { keyfile: env.PIPE_TEST_SFTP_KEY, known_hosts: knownHosts },
    source: 'bench',
  };
}

async function open(kind, prefix) {
  const r = await openRemote(specFor(kind, prefix), { root: work, env });
  if (!r.ok) throw new Error(r.errors[0].message);
  return r.value;
}

async function limit(items, n, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const it = items[next++];
      const r = await fn(it);
      if (r && r.ok === false) throw new Error(JSON.stringify(r.failure));
    }
  }));
}

async function ensureBucket() {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const c = new S3Client({
    endpoint: env.PIPE_TEST_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: env.PIPE_TEST_S3_ACCESS_KEY, secretAccessKey: env.PIPE_TEST_S3_SECRET_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await c.send(new CreateBucketCommand({ Bucket: 'pipe-bench' })).catch(() => undefined);
  c.destroy();
}

// ---- the remote layer in process
async function layer(kind, shape, files) {
  const prefix = `layer-${shape}-${Date.now()}`;
  const store = await open(kind, prefix);
  const bytes = files.reduce((a, f) => a + f.size, 0);
  row(kind, shape, 'push', `layer -j${store.jobs}`, await time(() => limit(files, store.jobs, (f) => store.putFile(f.key, f.abs))), bytes);
  const dest = path.join(work, 'pulled', prefix);
  rmSync(dest, { recursive: true, force: true });
  row(kind, shape, 'pull', `layer -j${store.jobs}`, await time(() => limit(files, store.jobs, (f) => store.getToFile(f.key, path.join(dest, f.name)))), bytes);
  rmSync(dest, { recursive: true, force: true });
  await limit(files, store.jobs, (f) => store.remove(f.key));
  await store.close();
}

// ---- rclone
function rcloneEnv(kind) {
  const e = { ...env };
  delete e.AWS_CA_BUNDLE;
  if (kind === 's3') {
    Object.assign(e, {
      RCLONE_CONFIG_B_TYPE: 's3', RCLONE_CONFIG_B_PROVIDER: 'Ceph', RCLONE_CONFIG_B_ENDPOINT: env.PIPE_TEST_S3_ENDPOINT,
      RCLONE_CONFIG_B_ACCESS_KEY_ID: env.PIPE_TEST_S3_ACCESS_KEY, RCLONE_CONFIG_B_SECRET_ACCESS_KEY: env.PIPE_TEST_S3_SECRET_KEY,
    });
  } else {
    Object.assign(e, {
      RCLONE_CONFIG_B_TYPE: 'sftp', RCLONE_CONFIG_B_HOST: sftpHost[0], RCLONE_CONFIG_B_PORT: sftpHost[1],
      RCLONE_CONFIG_B_USER: userInfo().username, RCLONE_CONFIG_B_KEY_FILE: env.PIPE_TEST_SFTP_KEY,
      // The server runs internal-sftp only: no shell for rclone's remote md5sum (it would wait on each file).
      RCLONE_CONFIG_B_SHELL_TYPE: 'none', RCLONE_CONFIG_B_DISABLE_HASHCHECK: 'true',
    });
  }
  return e;
}
const rpath = (kind, sub) => (kind === 's3' ? `b:pipe-bench/${sub}` : `b:${env.PIPE_TEST_SFTP_ROOT}/${sub}`);
function rclone(kind, ...a) {
  const r = timed('rclone', a, { env: rcloneEnv(kind), stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`rclone ${a.join(' ')}: ${r.stderr}`);
}

async function viaRclone(kind, shape, dir, bytes) {
  const sub = `rclone-${shape}-${Date.now()}`;
  const flags = [];
  row(kind, shape, 'push', 'rclone', await time(async () => rclone(kind, 'copy', ...flags, dir, rpath(kind, sub))), bytes);
  const dest = path.join(work, 'pulled', sub);
  row(kind, shape, 'pull', 'rclone', await time(async () => rclone(kind, 'copy', ...flags, rpath(kind, sub), dest)), bytes);
  rmSync(dest, { recursive: true, force: true });
  rclone(kind, 'purge', rpath(kind, sub));
}

// ---- whole processes
const pipeBin = path.join(repo, 'bin/pipe.js');
const hasPush = /\bpush\b/.test(spawnSync(process.execPath, [pipeBin, '--help']).stdout?.toString() ?? '');
/** The builds whose `pipe push`/`pipe pull` are timed: this one, and the anchor's first when given. */
const builds = [...(ANCHOR ? [{ name: 'anchor', bin: path.join(path.resolve(ANCHOR), 'bin/pipe.js') }] : []), { name: 'this', bin: pipeBin }];
function pipe(cwd, ...a) {
  return pipeWith(pipeBin, cwd, ...a);
}
function pipeWith(bin, cwd, ...a) {
  const r = timed(process.execPath, [bin, ...a], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`pipe ${a.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}
/** A project whose one stage outputs a copy of `dir`, run once (made with this build, used by every build). */
function projectOf(kind, shape, dir) {
  const proj = path.join(work, `proj-${kind}-${shape}`);
  rmSync(proj, { recursive: true, force: true });
  mkdirSync(proj, { recursive: true });
  execFileSync('git', ['init', '-q'], { cwd: proj });
  writeFileSync(path.join(proj, 'pipe.yaml'), `stages:\n  gen:\n    cmd: cp -r ${dir} data\n    outs:\n      - data\n`);
  pipe(proj, 'repro', '-q');
  return proj;
}
async function wholeProcess(kind, shape, proj, bytes, build) {
  const prefix = `pipe-${shape}-${Date.now()}`;
  const s = specFor(kind, prefix);
  rmSync(path.join(proj, '.pipe/config.yaml'), { force: true });
  rmSync(path.join(proj, '.pipe/config.local.yaml'), { force: true });
  pipe(proj, 'remote', 'add', '-d', 'bench', s.url);
  for (const [k, v] of Object.entries(s.options)) pipe(proj, 'remote', 'modify', '--local', 'bench', k, v);
  const tool = builds.length > 1 ? `pipe (${build.name})` : 'pipe';
  row(kind, shape, 'push', `${tool} push`, await time(async () => pipeWith(build.bin, proj, 'push')), bytes);
  rmSync(path.join(proj, '.pipe/cache'), { recursive: true, force: true });
  rmSync(path.join(proj, 'data'), { recursive: true, force: true });
  row(kind, shape, 'pull', `${tool} pull`, await time(async () => pipeWith(build.bin, proj, 'pull')), bytes);
  const store = await open(kind, prefix);
  const all = [];
  for await (const r of store.list()) if (r.ok) all.push(r.value.key);
  await limit(all, store.jobs, (k) => store.remove(k));
  await store.close();
}

// ---- no-op push of NOOP objects already there
async function noop(kind) {
  const prefix = `noop-${NOOP}`;
  const store = await open(kind, prefix);
  const items = [];
  for (let i = 0; i < NOOP; i++) {
    const data = Buffer.from(`noop object ${i}\n`.repeat(8));
    items.push({ key: { algo: 'xxh64', id: await digestBytes('xxh64', data) }, data });
  }
  const { Readable } = await import('node:stream');
  const have = await store.hasMany(items.map((i) => i.key));
  if (!have.ok) throw new Error(JSON.stringify(have.failure));
  const missing = items.filter((i) => !have.value.has(keyString(i.key)));
  await limit(missing, store.jobs, (i) => store.putStream(i.key, Readable.from([i.data]), i.data.length));
  let found = 0;
  row(kind, `noop ${NOOP}`, 'check', `layer hasMany`, await time(async () => {
    const r = await store.hasMany(items.map((i) => i.key));
    found = r.ok ? r.value.size : -1;
  }));
  if (found !== NOOP) throw new Error(`hasMany found ${found} of ${NOOP}`);
  await store.close();
  if (hasPush) {
    // A project whose one output is a directory of the same NOOP files, pushed once, then timed pushing again.
    const proj = path.join(work, `proj-noop-${kind}`);
    const src = path.join(work, 'src/noop');
    if (!existsSync(path.join(src, `n${NOOP - 1}`))) {
      mkdirSync(src, { recursive: true });
      items.forEach((it, i) => writeFileSync(path.join(src, `n${i}`), it.data));
    }
    rmSync(proj, { recursive: true, force: true });
    mkdirSync(proj, { recursive: true });
    execFileSync('git', ['init', '-q'], { cwd: proj });
    writeFileSync(path.join(proj, 'pipe.yaml'), `stages:\n  gen:\n    cmd: cp -r ${src} data\n    outs:\n      - data\n`);
    pipe(proj, 'repro', '-q');
    const s = specFor(kind, prefix);
    pipe(proj, 'remote', 'add', '-d', 'bench', s.url);
    for (const [k, v] of Object.entries(s.options)) pipe(proj, 'remote', 'modify', '--local', 'bench', k, v);
    pipe(proj, 'push');
    if (!SKIP_RCLONE) rclone(kind, 'copy', src, rpath(kind, `rclone-noop-${NOOP}`));
    for (let round = 0; round < ROUNDS; round++) {
      for (const b of builds) {
        const tool = builds.length > 1 ? `pipe (${b.name}) push` : 'pipe push';
        row(kind, `noop ${NOOP}`, 'push', tool, await time(async () => pipeWith(b.bin, proj, 'push')));
      }
      if (!SKIP_RCLONE) row(kind, `noop ${NOOP}`, 'push', 'rclone', await time(async () => rclone(kind, 'copy', src, rpath(kind, `rclone-noop-${NOOP}`))));
    }
  }
}

// ---- run
mkdirSync(work, { recursive: true });
const data = makeData();
await ensureBucket();
const smallFiles = await keysOf(data.small);
const bigFiles = await keysOf(data.big);
const smallBytes = smallFiles.reduce((a, f) => a + f.size, 0);
const bigBytes = bigFiles.reduce((a, f) => a + f.size, 0);
console.error(`node ${process.version}, NODE_EXTRA_CA_CERTS ${env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}, rclone ${SKIP_RCLONE ? 'skipped' : execFileSync('rclone', ['version']).toString().split('\n')[0]}, whole-process pipe push/pull: ${hasPush ? 'yes' : 'no'}`);
for (const kind of KINDS) {
  const shapes = [['small', `${SMALL}x100KB`, smallFiles, data.small, smallBytes], ['big', `1x${BIG_MIB}MiB`, bigFiles, data.big, bigBytes]];
  for (const [which, shape, files, dir, bytes] of shapes) {
    if (!SHAPES.includes(which)) continue;
    const proj = hasPush && PARTS.includes('pipe') ? projectOf(kind, shape, dir) : undefined;
    for (let round = 0; round < ROUNDS; round++) {
      if (PARTS.includes('layer')) await layer(kind, shape, files);
      for (const b of proj ? builds : []) await wholeProcess(kind, shape, proj, bytes, b);
      if (!SKIP_RCLONE && PARTS.includes('rclone')) await viaRclone(kind, shape, dir, bytes);
    }
  }
  if (PARTS.includes('noop')) await noop(kind);
}
console.log('| remote | shape | direction | tool | seconds | MiB/s | CPU s | load |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.kind} | ${r.shape} | ${r.what} | ${r.tool} | ${r.secs.toFixed(2)} | ${r.mibps ? r.mibps.toFixed(1) : ''} | ${r.cpu !== undefined ? r.cpu.toFixed(2) : ''} | ${r.load} |`);
