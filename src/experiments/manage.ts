/**
 * What is done to recorded experiments: `exp apply` (their files into the workspace, without touching the index or
 * HEAD; the caller then checks outputs out of the cache), `exp branch`, `exp remove`, `exp list`, and sharing them
 * through a git remote (`exp push`/`exp pull`: their refs, as DVC moves them).
 *
 * `apply` refuses to overwrite uncommitted work: a file it would change whose workspace content differs from HEAD's,
 * from the experiment's, and from every other experiment of the baseline (a file an experiment run left behind is
 * the tool's work, not the user's). `force` overrides.
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { writeAtomic } from "../core/atomic-write.js";
import { git, headSha, resolveSha } from "./git.js";
import { EXPS_NAMESPACE, parseExpRef } from "./names.js";
import { findExperiment, listExperiments, type ExpInfo, type ExpProject } from "./project.js";
import { removeQueued } from "./run.js";
import { QueueStore } from "./queue-store.js";

async function blobOf(p: ExpProject, rev: string, topPath: string): Promise<string | undefined> {
  const r = await git(p.g, ["rev-parse", "--verify", "--quiet", `${rev}:${topPath}`]);
  return r.ok ? r.value : undefined;
}

async function workspaceBlob(p: ExpProject, topPath: string): Promise<string | undefined> {
  const abs = path.join(p.top, topPath);
  const r = await git({ cwd: p.top }, ["hash-object", "--no-filters", "--", abs]);
  return r.ok ? r.value : undefined;
}

export interface ApplyOutcome {
  exp: ExpInfo;
  /** Files written or removed, relative to the project root. */
  changed: string[];
}

export async function applyExperiment(p: ExpProject, name: string, force: boolean): Promise<Result<ApplyOutcome>> {
  const exp = await findExperiment(p.g, name);
  if (!exp.ok) return exp;
  const head = await headSha(p.g);
  if (!head.ok) return head;
  const scope = p.rel === "" ? "." : p.rel;
  const diff = await git({ cwd: p.top }, ["diff", "--name-status", "--no-renames", "-z", head.value, exp.value.sha, "--", scope]);
  if (!diff.ok) return diff;
  // The files to bring to the experiment's state: those it changed from HEAD, and those the workspace changed from
  // HEAD (an earlier `exp run` or `exp apply` leaves its params there; the experiment may have HEAD's).
  const local = await git({ cwd: p.top }, ["diff", "--name-only", "--no-renames", "-z", head.value, "--", scope], { env: { GIT_OPTIONAL_LOCKS: "0" } });
  if (!local.ok) return local;
  const files = [...new Set([...diff.value.split("\0").filter((x, i) => x !== "" && i % 2 === 1), ...local.value.split("\0").filter((x) => x !== "")])].sort();
  const entries: { file: string; want: string | undefined }[] = [];
  for (const file of files) {
    const want = await blobOf(p, exp.value.sha, file);
    const ws = await workspaceBlob(p, file);
    if (ws !== want) entries.push({ file, want });
  }
  if (!force) {
    const siblings = await listExperiments(p.g, exp.value.baseline);
    const conflicts: string[] = [];
    for (const { file } of entries) {
      const ws = await workspaceBlob(p, file);
      if (ws === undefined) continue; // absent in the workspace: nothing to lose
      if (ws === (await blobOf(p, head.value, file))) continue;
      let fromExp = false;
      for (const s of siblings.ok ? siblings.value : []) if ((await blobOf(p, s.sha, file)) === ws) fromExp = true;
      if (!fromExp) conflicts.push(p.rel === "" ? file : path.posix.relative(p.rel, file));
    }
    if (conflicts.length > 0) {
      return fail([
        error("usage", `applying '${name}' would overwrite uncommitted changes to ${conflicts.map((c) => `'${c}'`).join(", ")}; commit or stash them, or use -f to overwrite`),
      ]);
    }
  }
  const changed: string[] = [];
  for (const { file, want } of entries) {
    const abs = path.join(p.top, file);
    if (want === undefined) {
      await rm(abs, { force: true });
    } else {
      const raw = await gitBytes(p, `${exp.value.sha}:${file}`);
      if (raw === undefined) return fail([error("git", `cannot read '${file}' of experiment '${name}' from git`)]);
      await mkdir(path.dirname(abs), { recursive: true });
      await writeAtomic(abs, raw);
    }
    changed.push(p.rel === "" ? file : path.posix.relative(p.rel, file));
  }
  return ok({ exp: exp.value, changed });
}

async function gitBytes(p: ExpProject, spec: string): Promise<Buffer | undefined> {
  const { execFile } = await import("node:child_process");
  return new Promise((resolve) => {
    execFile("git", ["cat-file", "blob", spec], { cwd: p.top, encoding: "buffer", maxBuffer: 1 << 30 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

export async function branchExperiment(p: ExpProject, name: string, branch: string): Promise<Result<{ exp: ExpInfo; branch: string }>> {
  const exp = await findExperiment(p.g, name);
  if (!exp.ok) return exp;
  const valid = await git(p.g, ["check-ref-format", "--branch", branch]);
  if (!valid.ok) return fail([error("usage", `'${branch}' is not a valid branch name`)]);
  const set = await git(p.g, ["update-ref", `refs/heads/${branch}`, exp.value.sha, "0".repeat(exp.value.sha.length)]);
  if (!set.ok) return fail([error("usage", `a branch named '${branch}' exists already`)]);
  return ok({ exp: exp.value, branch });
}

export interface RemoveSelection {
  names?: readonly string[];
  all?: boolean;
  queue?: boolean;
  rev?: string;
}

export async function removeExperiments(p: ExpProject, sel: RemoveSelection): Promise<Result<string[]>> {
  const removed: string[] = [];
  const exps = await listExperiments(p.g);
  if (!exps.ok) return exps;
  let chosen: ExpInfo[] = [];
  const queuedNames: string[] = [];
  if (sel.all === true) chosen = exps.value;
  if (sel.rev !== undefined) {
    const sha = await resolveSha(p.g, sel.rev);
    if (sha === undefined) return fail([error("usage", `unknown revision '${sel.rev}'`)]);
    chosen.push(...exps.value.filter((e) => e.baseline === sha));
  }
  const queue = await new QueueStore(p.root).list();
  for (const n of sel.names ?? []) {
    const f = await findExperiment(p.g, n);
    if (f.ok) chosen.push(f.value);
    else if (queue.some((q) => q.name === n && q.state !== "success")) queuedNames.push(n);
    else return f;
  }
  for (const e of new Set(chosen)) {
    const r = await git(p.g, ["update-ref", "-d", e.ref]);
    if (!r.ok) return r;
    removed.push(e.name);
  }
  // Queue entries of removed experiments go too (their log with them).
  const q = await removeQueued(p, { names: [...queuedNames, ...queue.filter((x) => x.state === "success" && removed.includes(x.name)).map((x) => x.name)], queued: sel.queue === true || sel.all === true, finished: sel.all === true });
  if (!q.ok) return q;
  for (const n of q.value) if (!removed.includes(n)) removed.push(n);
  return ok(removed);
}

export interface ListedBaseline {
  baseline: string;
  /** The branch name when it is HEAD's, else the short sha. */
  label: string;
  experiments: ExpInfo[];
}

export async function listByBaseline(p: ExpProject, all: boolean): Promise<Result<ListedBaseline[]>> {
  const head = await headSha(p.g);
  if (!head.ok) return head;
  const exps = await listExperiments(p.g, all ? undefined : head.value);
  if (!exps.ok) return exps;
  const branch = await git(p.g, ["symbolic-ref", "--quiet", "--short", "HEAD"]);
  const by = new Map<string, ExpInfo[]>();
  for (const e of exps.value) by.set(e.baseline, [...(by.get(e.baseline) ?? []), e]);
  const out: ListedBaseline[] = [];
  for (const [b, list] of by) out.push({ baseline: b, label: b === head.value && branch.ok ? branch.value : b.slice(0, 7), experiments: list });
  return ok(out);
}

/** `exp push REMOTE [NAME...]`: the named experiments (default: those of HEAD) pushed to a git remote. */
export async function pushExperiments(p: ExpProject, remote: string, names: readonly string[]): Promise<Result<ExpInfo[]>> {
  let chosen: ExpInfo[];
  if (names.length > 0) {
    chosen = [];
    for (const n of names) {
      const f = await findExperiment(p.g, n);
      if (!f.ok) return f;
      chosen.push(f.value);
    }
  } else {
    const head = await headSha(p.g);
    if (!head.ok) return head;
    const l = await listExperiments(p.g, head.value);
    if (!l.ok) return l;
    chosen = l.value;
  }
  if (chosen.length === 0) return ok([]);
  const r = await git(p.g, ["push", "--quiet", remote, ...chosen.map((e) => `+${e.ref}:${e.ref}`)]);
  if (!r.ok) return r;
  return ok(chosen);
}

/** `exp pull REMOTE [NAME...]`: experiment refs fetched from a git remote (default: those of HEAD). */
export async function pullExperiments(p: ExpProject, remote: string, names: readonly string[]): Promise<Result<{ ref: string; name: string; sha: string }[]>> {
  const ls = await git(p.g, ["ls-remote", "--refs", remote, `${EXPS_NAMESPACE}/*`]);
  if (!ls.ok) return ls;
  const head = await headSha(p.g);
  const remoteRefs = ls.value
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [sha = "", ref = ""] = l.split("\t");
      return { sha, ref, parsed: parseExpRef(ref) };
    })
    .filter((x) => x.parsed !== undefined);
  const chosen =
    names.length > 0
      ? remoteRefs.filter((x) => names.includes(x.parsed!.name))
      : remoteRefs.filter((x) => head.ok && x.parsed!.baseline === head.value);
  for (const n of names) if (!chosen.some((x) => x.parsed!.name === n)) return fail([error("usage", `'${n}' is not an experiment on '${remote}'`)]);
  if (chosen.length === 0) return ok([]);
  const r = await git(p.g, ["fetch", "--quiet", remote, ...chosen.map((x) => `+${x.ref}:${x.ref}`)]);
  if (!r.ok) return r;
  return ok(chosen.map((x) => ({ ref: x.ref, name: x.parsed!.name, sha: x.sha })));
}

/** The text of a file in the queue's log, for `queue logs`. */
export async function queueLog(p: ExpProject, name: string): Promise<Result<string>> {
  const e = (await new QueueStore(p.root).list()).filter((x) => x.name === name).pop();
  if (!e) return fail([error("usage", `'${name}' is not in the queue (see 'pipe queue status')`)]);
  const text = await readFile(e.log, "utf8").catch(() => "");
  return ok(text);
}
