// No-op `pipe push` (issue 14 "Speed": a push of 10,000 objects already on the remote, target under 2 s on
// radosgw), as whole `pipe` processes: a project whose one stage outputs a directory of N small files is pushed once
// to a fresh bucket, then `pipe push` is timed RUNS times with nothing to send. Also times the remote layer's
// `hasMany` over every object (what a push would cost if it asked per file instead of trusting the `.dir` manifest).
// Needs the S3 server of tests/servers/servers.sh (its PIPE_TEST_S3_* variables) and a build (`npm run build`).
// Usage: node bench/transfer-noop.mjs [--files 10000] [--runs 3]
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const FILES = Number(opt('files', '10000'));
const RUNS = Number(opt('runs', '3'));
const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
if (!env.PIPE_TEST_S3_ENDPOINT) {
  console.error('start the servers first: bash tests/servers/servers.sh start DIR > DIR.env && . DIR.env');
  process.exit(2);
}
const pipeBin = path.join(repo, 'bin/pipe.js');
const dir = mkdtempSync(path.join(tmpdir(), 'pipe-bench-noop-'));
const pipe = (...a) => {
  const r = spawnSync(process.execPath, [pipeBin, ...a], { cwd: dir, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pipe ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
try {
  execFileSync('git', ['init', '-q'], { cwd: dir });
  writeFileSync(
    path.join(dir, 'gen.js'),
    `const fs = require('fs'); fs.mkdirSync('d', { recursive: true }); for (let i = 0; i < ${FILES}; i++) fs.writeFileSync('d/f' + i, 'x'.repeat(100) + i);\n`,
  );
  writeFileSync(path.join(dir, 'pipe.yaml'), `stages:\n  gen:\n    cmd: '${JSON.stringify(process.execPath)} gen.js'\n    deps: [gen.js]\n    outs: [d]\n`);
  pipe('repro', '-q');
  const { S3Client, CreateBucketCommand } = await import(path.join(repo, 'node_modules/@aws-sdk/client-s3/dist-cjs/index.js'));
  const bucket = `pipe-bench-noop-${randomBytes(4).toString('hex')}`;
  const s3 = new S3Client({
    endpoint: env.PIPE_TEST_S3_ENDPOINT,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.PIPE_TEST_S3_ACCESS_KEY, secretAccessKey: env.PIPE_TEST_S3_SECRET_KEY },
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  pipe('remote', 'add', '-d', 's', `s3://${bucket}/p`);
  pipe('remote', 'modify', 's', 'endpointurl', env.PIPE_TEST_S3_ENDPOINT);
  pipe('remote', 'modify', '--local', 's', 'access_key_id', env.PIPE_TEST_S3_ACCESS_KEY);
  pipe('remote', 'modify', '--local', 's', 'secret_access_key', env.PIPE_TEST_S3_SECRET_KEY);
  let t = performance.now();
  console.log(`first push: ${pipe('push').trim()} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  for (let i = 0; i < RUNS; i++) {
    t = performance.now();
    const out = pipe('push').trim();
    console.log(`no-op push ${i + 1}: ${((performance.now() - t) / 1000).toFixed(2)} s (${out})`);
  }
  // The remote layer asked about every object: what trusting the manifest saves.
  const { openRemote } = await import(path.join(repo, 'dist/remotes/index.js'));
  const { readRemoteConfig, chooseRemote } = await import(path.join(repo, 'dist/remotes/config.js'));
  const { CacheObjects } = await import(path.join(repo, 'dist/remotes/transfer-cache.js'));
  const cfg = await readRemoteConfig(dir);
  const remote = (await openRemote(chooseRemote(cfg.value, undefined).value, { root: dir, env })).value;
  const keys = [];
  for await (const o of CacheObjects.open(dir, { readOnly: true }).list()) keys.push(o.value.key);
  t = performance.now();
  const h = await remote.hasMany(keys);
  console.log(`remote hasMany over all ${keys.length} objects: ${((performance.now() - t) / 1000).toFixed(2)} s (${h.ok ? h.value.size : 'failed'} there)`);
  await remote.close();
} finally {
  spawnSync('chmod', ['-R', 'u+w', dir]);
  rmSync(dir, { recursive: true, force: true });
}
