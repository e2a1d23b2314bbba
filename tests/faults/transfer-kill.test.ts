/**
 * `kill -9` in the middle of a `push` and of a `pull`, then the same command again: everything arrives, and at no
 * point does an object's name hold bytes that do not hash to it, on the remote or in the cache (temp files of the
 * killed transfer are allowed: they are not objects, and the next write of that object goes under a new temp name).
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { git, gitCommitAll, gitInit, makeProject, PIPE_BIN, REPO_ROOT, read, runPipe } from "../helpers/project.js";
import { alive, until } from "../helpers/processes.js";

const FILES = 600;

type Digest = (algo: "xxh64" | "md5", bytes: Uint8Array) => Promise<string>;
let digest: Digest | undefined;
async function hashOf(bytes: Uint8Array): Promise<string> {
  digest ??= ((await import(pathToFileURL(path.join(REPO_ROOT, "dist/hash/algorithms.js")).href)) as { digestBytes: Digest }).digestBytes;
  return digest("xxh64", bytes);
}

/** Every object file under `dir` (a remote's `files/xxh64`, or `.pipe/cache`): its name and path; temp files apart. */
function objects(dir: string): { id: string; file: string }[] {
  const out: { id: string; file: string }[] = [];
  if (!existsSync(dir)) return out;
  for (const shard of readdirSync(dir)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const name of readdirSync(path.join(dir, shard))) {
      if (name.includes(".pipe-tmp-") || name.startsWith(".")) continue;
      out.push({ id: shard + name, file: path.join(dir, shard, name) });
    }
  }
  return out;
}

/** Asserts every object's bytes hash to its name (a `.dir` manifest's too). */
async function allIntact(dir: string): Promise<number> {
  const objs = objects(dir);
  for (const o of objs) {
    const want = o.id.endsWith(".dir") ? o.id.slice(0, -4) : o.id;
    expect(await hashOf(readFileSync(o.file)), `${o.file} holds other bytes than its name`).toBe(want);
  }
  return objs.length;
}

function project(remote: string): string {
  const p = makeProject({
    "gen.js": [
      "const fs = require('node:fs');",
      "fs.mkdirSync('d', { recursive: true });",
      `for (let i = 0; i < ${FILES}; i++) fs.writeFileSync(\`d/f\${i}.bin\`, Buffer.alloc(256 * 1024, \`\${i}-\`));`,
      "",
    ].join("\n"),
    "pipe.yaml": `stages:\n  gen:\n    cmd: '${JSON.stringify(process.execPath)} gen.js'\n    deps: [gen.js]\n    outs: [d]\n`,
  });
  gitInit(p);
  expect(runPipe(p, ["repro", "-q"]).code).toBe(0);
  expect(runPipe(p, ["remote", "add", "-d", "storage", remote]).code).toBe(0);
  gitCommitAll(p, "init");
  return p;
}

/** Starts `pipe ARGS` in `cwd`, kills it with SIGKILL once `ready()` holds; whether it was still running then. */
async function killWhen(cwd: string, args: string[], ready: () => boolean): Promise<boolean> {
  const child = spawn(process.execPath, [PIPE_BIN, ...args, "-j", "2"], { cwd, stdio: "ignore" });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  let done = false;
  void exited.then(() => (done = true));
  await until(() => done || ready(), "the transfer to start", 60_000);
  const landed = !done && alive(child.pid!);
  child.kill("SIGKILL");
  await exited;
  return landed;
}

describe("a transfer killed with SIGKILL", () => {
  it("push: what is on the remote is intact after the kill, and the next push finishes it", async () => {
    const remote = path.join(makeProject(), "remote");
    const p = project(remote);
    const files = path.join(remote, "files/xxh64");
    const landed = await killWhen(p, ["push"], () => objects(files).length >= 20);
    const partial = await allIntact(files);
    expect(landed).toBe(true);
    // The manifest goes last: a remote that has it has every file.
    expect(objects(files).some((o) => o.id.endsWith(".dir"))).toBe(false);
    expect(partial).toBeLessThan(FILES + 1);
    const again = runPipe(p, ["push"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^${FILES + 1 - partial} files pushed, .*, ${partial} already there\\n$`));
    expect(await allIntact(files)).toBe(FILES + 1);
  }, 180_000);

  it("pull: the cache holds only intact objects after the kill, and the next pull restores everything", async () => {
    const remote = path.join(makeProject(), "remote");
    const a = project(remote);
    expect(runPipe(a, ["push"]).code).toBe(0);
    const b = path.join(makeProject(), "b");
    git(path.dirname(b), ["clone", "-q", a, b]);
    const cache = path.join(b, ".pipe/cache");
    const landed = await killWhen(b, ["pull"], () => objects(cache).length >= 20);
    expect(landed).toBe(true);
    const partial = await allIntact(cache);
    expect(partial).toBeLessThan(FILES + 1);
    const again = runPipe(b, ["pull"]);
    expect(again.code, again.stderr).toBe(0);
    expect(await allIntact(cache)).toBe(FILES + 1);
    expect(readdirSync(path.join(b, "d"))).toHaveLength(FILES);
    expect(read(b, "d/f7.bin").startsWith("7-7-")).toBe(true);
    expect(runPipe(b, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  }, 180_000);
});
