/**
 * `push`, `fetch`, `pull` and `remote` with a directory remote and real git: the team workflow (two clones sharing
 * one remote), the CI workflow (`repro --pull` in a fresh clone), a corrupted remote object, an output with
 * `push: false`, and the configuration files (`.pipe/config.yaml`, the git-ignored local file, DVC's `.dvc/config`).
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { git, gitCommitAll, gitInit, makeProject, read, runPipe, writeFiles } from "../helpers/project.js";

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) {
    spawnChmod(d);
    rmSync(d, { recursive: true, force: true });
  }
});

function spawnChmod(d: string): void {
  const walk = (p: string): void => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const q = path.join(p, e.name);
      if (e.isDirectory()) {
        chmodSync(q, 0o755);
        walk(q);
      } else chmodSync(q, 0o644);
    }
  };
  if (existsSync(d)) walk(d);
}

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "pipe-remote-"));
  made.push(d);
  return d;
}

const PIPELINE = {
  "pipe.yaml": [
    "stages:",
    "  gen:",
    "    cmd: mkdir -p data && echo ${n} > data/n.txt && echo fixed > data/fixed.txt && echo model-${n} > model.bin",
    "    params: [n]",
    "    outs: [data, model.bin]",
    "",
  ].join("\n"),
  "params.yaml": "n: 1\n",
};

/** Files under a directory remote, relative to it. */
function remoteFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const q = path.join(p, e.name);
      if (e.isDirectory()) walk(q);
      else out.push(path.relative(dir, q));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

/** Project A: git, a pipeline run once, the remote configured as the default and committed. */
function projectA(remote: string): string {
  const a = makeProject(PIPELINE);
  gitInit(a);
  expect(runPipe(a, ["init"]).code).toBe(0);
  expect(runPipe(a, ["repro"]).code).toBe(0);
  const add = runPipe(a, ["remote", "add", "-d", "storage", remote]);
  expect(add.code, add.stderr).toBe(0);
  gitCommitAll(a, "pipeline and remote");
  return a;
}

function cloneOf(a: string): string {
  const b = path.join(tempDir(), "clone");
  git(path.dirname(b), ["clone", "-q", a, b]);
  return b;
}

describe("the team workflow", () => {
  it("A pushes; a fresh clone B pulls and is up to date; B changes a param, runs, pushes; A pulls and is up to date", () => {
    const remote = path.join(tempDir(), "remote");
    const a = projectA(remote);
    const push = runPipe(a, ["push"]);
    expect(push.code, push.stderr).toBe(0);
    // Two files of the directory (8 B), its manifest (115 B), and the model (8 B).
    expect(push.stdout).toBe("4 files pushed, 131 B\n");
    expect(remoteFiles(remote).every((f) => /^files\/xxh64\/[0-9a-f]{2}\/[0-9a-f]{14}(\.dir)?$/.test(f))).toBe(true);
    expect(remoteFiles(remote)).toHaveLength(4);
    // Nothing new: nothing moves.
    expect(runPipe(a, ["push"]).stdout).toBe("Everything is up to date (4 files already there).\n");

    const b = cloneOf(a);
    expect(existsSync(path.join(b, "model.bin"))).toBe(false);
    const pull = runPipe(b, ["pull"]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toContain("4 files fetched");
    expect(read(b, "model.bin")).toBe("model-1\n");
    expect(read(b, "data/n.txt")).toBe("1\n");
    const st = runPipe(b, ["status"]);
    expect(st.stdout).toBe("Pipeline is up to date.\n");
    const repro = runPipe(b, ["repro"]);
    expect(repro.code).toBe(0);
    expect(repro.stdout).not.toContain("Running");

    writeFiles(b, { "params.yaml": "n: 2\n" });
    expect(runPipe(b, ["repro"]).code).toBe(0);
    const push2 = runPipe(b, ["push"]);
    expect(push2.code, push2.stderr).toBe(0);
    // data/n.txt, its manifest and the model changed; data/fixed.txt is already there.
    expect(push2.stdout).toMatch(/^3 files pushed, .*, 1 already there\n$/);
    gitCommitAll(b, "n=2");
    git(a, ["pull", "-q", b, "main"]);
    const pullA = runPipe(a, ["pull"]);
    expect(pullA.code, pullA.stderr).toBe(0);
    expect(read(a, "model.bin")).toBe("model-2\n");
    expect(runPipe(a, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  });

  it("data tracked with add (a file and a 1,000-file directory) is pushed, and pulled back after the cache and the workspace copies are deleted", () => {
    const remote = path.join(tempDir(), "remote");
    const dir = makeProject({ "raw/labels.csv": "id,label\n1,cat\n" });
    gitInit(dir);
    expect(runPipe(dir, ["init"]).code).toBe(0);
    const files: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) files[`images/img${String(i).padStart(4, "0")}.txt`] = `image ${i}\n`;
    writeFiles(dir, files);
    expect(runPipe(dir, ["add", "raw/labels.csv", "images"]).code).toBe(0);
    expect(runPipe(dir, ["remote", "add", "-d", "store", remote]).code).toBe(0);
    const push = runPipe(dir, ["push"]);
    expect(push.code, push.stderr).toBe(0);
    // 1,000 files, the directory's manifest and the labels file.
    expect(push.stdout).toMatch(/^1002 files pushed, /);
    rmSync(path.join(dir, ".pipe", "cache"), { recursive: true, force: true });
    rmSync(path.join(dir, "images"), { recursive: true, force: true });
    rmSync(path.join(dir, "raw", "labels.csv"));
    const pull = runPipe(dir, ["pull"]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(read(dir, "raw/labels.csv")).toBe("id,label\n1,cat\n");
    expect(readdirSync(path.join(dir, "images"))).toHaveLength(1000);
    expect(read(dir, "images/img0999.txt")).toBe("image 999\n");
    expect(runPipe(dir, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  });

  it("the CI workflow: a fresh clone runs repro --pull (restores, runs nothing) and status --check passes", () => {
    const remote = path.join(tempDir(), "remote");
    const a = projectA(remote);
    expect(runPipe(a, ["push"]).code).toBe(0);
    const b = cloneOf(a);
    const r = runPipe(b, ["repro", "--pull"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("Running 'gen'");
    expect(read(b, "model.bin")).toBe("model-1\n");
    expect(runPipe(b, ["status", "--check"]).code).toBe(0);
  });
});

describe("what is verified", () => {
  it("a corrupt object on the remote is named and left out, the others arrive, exit 1; the cache never holds it", () => {
    const remote = path.join(tempDir(), "remote");
    const a = projectA(remote);
    expect(runPipe(a, ["push"]).code).toBe(0);
    const model = read(a, "pipe.lock").match(/path: model.bin\n\s+hash: xxh64\n\s+xxh64: ([0-9a-f]{16})/)![1]!;
    const obj = path.join(remote, "files/xxh64", model.slice(0, 2), model.slice(2));
    chmodSync(obj, 0o644);
    writeFileSync(obj, "model-X\n");
    const b = cloneOf(a);
    const pull = runPipe(b, ["pull"]);
    expect(pull.code).toBe(1);
    expect(pull.stderr).toContain(`xxh64/${model} is corrupt`);
    expect(read(b, "data/n.txt")).toBe("1\n");
    expect(existsSync(path.join(b, "model.bin"))).toBe(false);
    expect(existsSync(path.join(b, ".pipe/cache", model.slice(0, 2), model.slice(2)))).toBe(false);
  });

  it("push: false outputs stay local", () => {
    const remote = path.join(tempDir(), "remote");
    const a = makeProject({ ...PIPELINE, "pipe.yaml": PIPELINE["pipe.yaml"].replace("outs: [data, model.bin]", "outs: [data, {model.bin: {push: false}}]") });
    gitInit(a);
    expect(runPipe(a, ["repro"]).code).toBe(0);
    expect(runPipe(a, ["remote", "add", "-d", "storage", remote]).code).toBe(0);
    const push = runPipe(a, ["push"]);
    expect(push.stdout).toBe("3 files pushed, 123 B\n");
  });

  it("a remote that is not configured is a usage error naming the configured ones", () => {
    const a = projectA(path.join(tempDir(), "remote"));
    const r = runPipe(a, ["push", "-r", "storag"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("remote 'storag' is not configured");
    expect(r.stderr).toContain("storage");
  });
});

describe("a remote that cannot be reached", () => {
  it("a closed port is one clear error naming the remote and what to check, exit 1; the cache is untouched", () => {
    const a = projectA(path.join(tempDir(), "remote"));
    expect(runPipe(a, ["remote", "add", "closed", "s3://bucket/prefix"]).code).toBe(0);
    expect(runPipe(a, ["remote", "modify", "closed", "endpointurl", "http://127.0.0.1:1"]).code).toBe(0);
    expect(runPipe(a, ["remote", "modify", "--local", "closed", "access_key_id", "x"]).code).toBe(0);
    expect(runPipe(a, ["remote", "modify", "--local", "closed", "secret_access_key", "y"]).code).toBe(0);
    const push = runPipe(a, ["push", "-r", "closed"]);
    expect(push.code).toBe(1);
    expect(push.stdout).toBe("");
    expect(push.stderr).toMatch(/^error: remote 'closed' \(s3:\/\/bucket\/prefix\) is unreachable: .*ECONNREFUSED.*endpointurl.*push stopped \(running it again finishes it\)\n$/);
    expect(push.stderr.split("\n")).toHaveLength(2);
    expect(runPipe(a, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  });
});

describe("remote configuration", () => {
  it("add, modify (a secret goes to the git-ignored local file and is never printed), list, default, remove", () => {
    const p = makeProject({ "pipe.yaml": "stages: {}\n" });
    gitInit(p);
    expect(runPipe(p, ["init"]).code).toBe(0);
    expect(runPipe(p, ["remote", "add", "-d", "storage", "s3://bucket/prefix"]).code).toBe(0);
    expect(runPipe(p, ["remote", "modify", "storage", "endpointurl", "http://127.0.0.1:7480"]).code).toBe(0);
    const secret = runPipe(p, ["remote", "modify", "storage", "secret_access_key", "s3cr3t"]);
    expect(secret.code).toBe(0);
    expect(secret.stderr).toContain("config.local.yaml");
    expect(read(p, ".pipe/config.yaml")).not.toContain("s3cr3t");
    expect(read(p, ".pipe/config.local.yaml")).toContain("s3cr3t");
    // git does not see the local file.
    expect(git(p, ["status", "--porcelain", "--ignored", ".pipe/config.local.yaml"])).toMatch(/^!! /);
    const list = runPipe(p, ["-v", "remote", "list"]);
    expect(list.stdout).toContain("storage\ts3://bucket/prefix\t(default)");
    expect(list.stdout).toContain("secret_access_key = ***");
    expect(list.stdout + list.stderr).not.toContain("s3cr3t");
    expect(runPipe(p, ["remote", "add", "backup", "/mnt/backup"]).code).toBe(0);
    expect(runPipe(p, ["remote", "default"]).stdout).toBe("storage\n");
    expect(runPipe(p, ["remote", "default", "backup"]).code).toBe(0);
    expect(runPipe(p, ["remote", "default"]).stdout).toBe("backup\n");
    expect(runPipe(p, ["remote", "modify", "storage", "endpointurl", "--unset"]).code).toBe(0);
    expect(read(p, ".pipe/config.yaml")).not.toContain("endpointurl");
    expect(runPipe(p, ["remote", "remove", "backup"]).code).toBe(0);
    expect(runPipe(p, ["remote", "list"]).stdout).toBe("storage\ts3://bucket/prefix\n");
    // Comments of the config file survive the edits.
    expect(read(p, ".pipe/config.yaml")).toContain("# pipe project settings. Commit this file.");
  });

  it("refuses a URL holding a password, an unknown option, a second remote of the same name", () => {
    const p = makeProject({ "pipe.yaml": "stages: {}\n" });
    expect(runPipe(p, ["remote", "add", "w", "https://me:pw@host/x"]).code).toBe(2);
    expect(runPipe(p, ["remote", "add", "w", "https://host/x"]).code).toBe(0);
    const dup = runPipe(p, ["remote", "add", "w", "https://host/y"]);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toContain("already exists");
    const bad = runPipe(p, ["remote", "modify", "w", "endpoint_url", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("endpointurl");
  });

  it("a DVC project's .dvc/config remote is used with no set-up", () => {
    const remote = path.join(tempDir(), "remote");
    const a = projectA(remote);
    expect(runPipe(a, ["push"]).code).toBe(0);
    // B is a DVC project: its only remote configuration is DVC's.
    const b = cloneOf(a);
    rmSync(path.join(b, ".pipe/config.yaml"));
    writeFiles(b, { ".dvc/config": `[core]\n    remote = storage\n['remote "storage"']\n    url = ${remote}\n` });
    expect(runPipe(b, ["remote", "list"]).stdout).toBe(`storage\t${remote}\t(default)\n`);
    const pull = runPipe(b, ["pull"]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(read(b, "model.bin")).toBe("model-1\n");
    expect(readFileSync(path.join(b, ".dvc/config"), "utf8")).toContain("remote = storage");
  });
});

describe("status against a remote", () => {
  it("status --cloud: new before a push, in sync after, deleted in a fresh clone; --json", () => {
    const remote = path.join(tempDir(), "remote");
    const a = projectA(remote);
    const before = runPipe(a, ["status", "--cloud"]);
    expect(before.code).toBe(0);
    expect(before.stdout).toBe("\tnew:                data\n\tnew:                model.bin\nnew: in the cache, not on the remote ('pipe push' sends it)\n");
    expect(runPipe(a, ["status", "-c", "--check"]).code).toBe(1);
    expect(runPipe(a, ["push"]).code).toBe(0);
    expect(runPipe(a, ["status", "-c", "-r", "storage"]).stdout).toBe("Cache and remote 'storage' are in sync.\n");
    const b = cloneOf(a);
    const json = JSON.parse(runPipe(b, ["status", "-c", "--json"]).stdout) as { outputs: { path: string; status: string }[] };
    expect(json.outputs.map((o) => [o.path, o.status])).toEqual([
      ["data", "deleted"],
      ["model.bin", "deleted"],
    ]);
  });

  it("a fresh clone's status is one summary line, not a deleted: line per output; -v lists them", () => {
    const remote = path.join(tempDir(), "remote");
    const a = projectA(remote);
    const b1 = cloneOf(a);
    // Nothing pushed yet: the data is nowhere but in A.
    expect(runPipe(b1, ["status"]).stdout).toBe(
      "2 outputs are not in the workspace; 2 are not in the cache nor on remote 'storage': 'pipe repro' makes them\nWaiting for their data: gen ('pipe status -v' lists each output)\n",
    );
    expect(runPipe(a, ["push"]).code).toBe(0);
    const b = cloneOf(a);
    const st = runPipe(b, ["status"]);
    expect(st.stdout).toBe("2 outputs are not in the workspace; 2 are in the cache of remote 'storage': run 'pipe pull'\nWaiting for their data: gen ('pipe status -v' lists each output)\n");
    expect(runPipe(b, ["-v", "status"]).stdout).toContain("deleted:    model.bin");
    // A deleted output whose data is in the cache is reported as before.
    rmSync(path.join(a, "model.bin"));
    expect(runPipe(a, ["status"]).stdout).toContain("deleted:    model.bin");
  });
});

describe("gc of a remote", () => {
  it("gc -c -A keeps what every commit names; gc -c -w keeps exactly what the workspace names (and a .dvc file's md5 object)", () => {
    const remote = path.join(tempDir(), "remote");
    const a = projectA(remote);
    expect(runPipe(a, ["push"]).code).toBe(0);
    writeFiles(a, { "params.yaml": "n: 2\n" });
    expect(runPipe(a, ["repro"]).code).toBe(0);
    // A DVC-tracked file whose md5 object only the remote holds: named by a .dvc file in scope, so kept.
    // Its real md5: pulled into a clone below, the data is verified (a .dvc file is a data source of the pipeline).
    const md5 = createHash("md5").update("raw").digest("hex");
    writeFiles(a, { "raw.csv.dvc": `outs:\n- md5: ${md5}\n  size: 3\n  hash: md5\n  path: raw.csv\n` });
    writeFiles(remote, { [`files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`]: "raw", "files/md5/ff/0000000000000000000000000000ff": "orphan" });
    gitCommitAll(a, "n=2");
    expect(runPipe(a, ["push"]).code).toBe(0);
    const all = remoteFiles(remote);

    // What the workspace alone names: a fresh remote after one push, plus the .dvc file's object.
    const fresh = path.join(tempDir(), "fresh");
    expect(runPipe(a, ["push", "-r", "fresh"]).code).toBe(2);
    expect(runPipe(a, ["remote", "add", "fresh", fresh]).code).toBe(0);
    expect(runPipe(a, ["push", "-r", "fresh"]).code).toBe(0);
    const workspaceOnly = [...remoteFiles(fresh), `files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`].sort();

    const dryAll = runPipe(a, ["gc", "-c", "-A", "--dry"]);
    expect(dryAll.code, dryAll.stderr).toBe(0);
    expect(dryAll.stdout).toBe("would remove  md5/ff0000000000000000000000000000ff\nWould remove 1 object from remote 'storage', keeping " + String(all.length - 1) + " objects.\n");
    expect(remoteFiles(remote)).toEqual(all);
    // Not a terminal and no -f: nothing goes.
    expect(runPipe(a, ["gc", "-c", "-A"]).code).toBe(2);
    expect(remoteFiles(remote)).toEqual(all);
    expect(runPipe(a, ["gc", "-c", "-A", "-f"]).code).toBe(0);
    expect(remoteFiles(remote)).toEqual(all.filter((f) => !f.startsWith("files/md5/ff/")));

    const w = runPipe(a, ["gc", "-c", "-r", "storage", "-w", "-f"]);
    expect(w.code, w.stderr).toBe(0);
    expect(remoteFiles(remote)).toEqual(workspaceOnly);
    // What is left is what a fresh clone pulls.
    const b = cloneOf(a);
    expect(runPipe(b, ["pull"]).code).toBe(0);
    expect(read(b, "model.bin")).toBe("model-2\n");
    expect(read(b, "raw.csv")).toBe("raw");
  });
});

describe("a DVC remote", () => {
  it("md5 objects in DVC 3's files/md5/ and DVC 2's <2>/<30> layouts are pulled, verified, into a project with a dvc.lock", async () => {
    const { createHash } = await import("node:crypto");
    const md5 = (s: string): string => createHash("md5").update(s).digest("hex");
    const files = { "a.txt": "alpha\n", "b.txt": "beta\n" };
    // DVC's manifest bytes: Python's json.dumps(sort_keys=True) of {md5, relpath} entries.
    const manifest = "[" + Object.entries(files).map(([rel, c]) => `{"md5": "${md5(c)}", "relpath": "${rel}"}`).join(", ") + "]";
    const dirId = md5(manifest) + ".dir";
    const model = "weights\n";
    const remote = path.join(tempDir(), "dvc-remote");
    const v3 = (id: string): string => `files/md5/${id.slice(0, 2)}/${id.slice(2)}`;
    const v2 = (id: string): string => `${id.slice(0, 2)}/${id.slice(2)}`;
    writeFiles(remote, {
      // The directory and one of its files in DVC 3's layout, the other file and the model in DVC 2's.
      [v3(dirId)]: manifest,
      [v3(md5(files["a.txt"]))]: files["a.txt"],
      [v2(md5(files["b.txt"]))]: files["b.txt"],
      [v2(md5(model))]: model,
    });
    const p = makeProject({
      "dvc.yaml": "stages:\n  train:\n    cmd: echo never-run\n    params: [n]\n    outs: [data, model.bin]\n",
      "params.yaml": "n: 1\n",
      "dvc.lock": [
        "schema: '2.0'",
        "stages:",
        "  train:",
        "    cmd: echo never-run",
        "    params:",
        "      params.yaml:",
        "        n: 1",
        "    outs:",
        "    - path: data",
        "      hash: md5",
        `      md5: ${dirId}`,
        "      size: 11",
        "      nfiles: 2",
        "    - path: model.bin",
        "      hash: md5",
        `      md5: ${md5(model)}`,
        "      size: 8",
        "",
      ].join("\n"),
      ".dvc/config": `[core]\n    remote = shared\n['remote "shared"']\n    url = ${remote}\n`,
    });
    gitInit(p);
    const pull = runPipe(p, ["pull"]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toContain("4 files fetched");
    expect(read(p, "data/a.txt")).toBe("alpha\n");
    expect(read(p, "data/b.txt")).toBe("beta\n");
    expect(read(p, "model.bin")).toBe(model);
    expect(runPipe(p, ["status"]).stdout).toBe("Pipeline is up to date.\n");
    // Nothing was re-uploaded in another layout: the remote is as DVC left it.
    expect(remoteFiles(remote)).toHaveLength(4);
  });
});

describe("the run-cache on a remote", () => {
  it("push --run-cache sends entries and their outputs; repro --pull in a clone restores a run made elsewhere", () => {
    const remote = path.join(tempDir(), "remote");
    const a = projectA(remote);
    writeFiles(a, { "params.yaml": "n: 2\n" });
    expect(runPipe(a, ["repro"]).code).toBe(0);
    gitCommitAll(a, "n=2");
    const push = runPipe(a, ["push", "--run-cache"]);
    expect(push.code, push.stderr).toBe(0);
    expect(remoteFiles(remote).filter((f) => f.startsWith("runs/"))).toHaveLength(2);
    const b = cloneOf(a);
    // n=1 ran in A only; its outputs are named by A's run-cache entry, not by any lock in B.
    writeFiles(b, { "params.yaml": "n: 1\n" });
    const r = runPipe(b, ["repro", "--pull"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("Running 'gen'");
    expect(read(b, "model.bin")).toBe("model-1\n");
    expect(runPipe(b, ["status"]).stdout).toBe("Pipeline is up to date.\n");
  });
});

describe("revisions in scope", () => {
  it("push -A also sends what earlier commits name; fetch --rev brings an old commit's outputs into the cache", () => {
    const remote = path.join(tempDir(), "remote");
    const a = projectA(remote);
    const first = git(a, ["rev-parse", "HEAD"]).trim();
    writeFiles(a, { "params.yaml": "n: 2\n" });
    expect(runPipe(a, ["repro"]).code).toBe(0);
    gitCommitAll(a, "n=2");
    expect(runPipe(a, ["push"]).stdout).toBe("4 files pushed, 131 B\n");
    // n=1's model, data/n.txt and manifest are named only by the first commit.
    const all = runPipe(a, ["push", "-A"]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toBe("3 files pushed, 125 B, 4 already there\n");
    const b = cloneOf(a);
    const f = runPipe(b, ["fetch", "--rev", first]);
    expect(f.code, f.stderr).toBe(0);
    git(b, ["checkout", "-q", first]);
    const co = runPipe(b, ["checkout"]);
    expect(co.code, co.stderr).toBe(0);
    expect(read(b, "model.bin")).toBe("model-1\n");
  });
});
