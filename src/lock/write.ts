/**
 * Writing `pipe.lock` in the canonical layout of spec 3, atomically (temp file in the same directory, then rename).
 *
 * The emitter is hand-written rather than the `yaml` package's stringify because the layout is a contract (same
 * entries, same bytes) and because `repro` rewrites the lock after every stage: emitting a 1,000-stage lock must cost
 * milliseconds. Entries of other stages are preserved, including those carried over from a `dvc.lock` the first
 * time `pipe` writes a `pipe.lock` beside it, so no stage loses its record by the switch.
 *
 * Layout: `schema: '2.0'`, `stages:` in stages-file order (entries of stages no longer in the file are kept, after
 * the others, in their previous order), each with `cmd`, `deps`, `params`, `outs` (empty sections omitted, as DVC
 * does); deps and outs sorted by path, params files and keys sorted; each file entry `path`, `hash`, `<algo>`,
 * `size`, `nfiles`, then preserved extra fields.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { writeAtomic } from "../core/atomic-write.js";
import { envFailure } from "../core/env-error.js";
import { compareCodePoints } from "../hash/manifest.js";
import type { Pipeline, Stage } from "../core/model.js";
import { resolvePlain } from "./fast-yaml.js";
import { readLockIn } from "./read.js";
import type { LockEntry, LockFileEntry } from "./types.js";

const PLAIN_BAD_START = new Set([..."-?:,[]{}#&*!|>'\"%@` "]);
// YAML 1.1 readers (PyYAML) would read these as booleans or numbers; quoting them keeps the lock readable by DVC's
// tooling too.
const YAML11_SPECIAL = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|=|<<)$|^[-+]?[0-9][0-9_:.]*$|^\d{4}-\d\d?-\d\d?/;

function isPlainSafe(s: string): boolean {
  if (s === "" || PLAIN_BAD_START.has(s[0]!) || /\s$/.test(s)) return false;
  if (s.includes(": ") || s.includes(" #") || s.endsWith(":")) return false;
  // Printable characters only (no control characters, no line breaks).
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) || c === 0xfeff) return false;
  }
  if (typeof resolvePlain(s) !== "string") return false;
  return !YAML11_SPECIAL.test(s);
}

/** A YAML scalar for a string: plain when unambiguous, else single-quoted, else JSON-style double-quoted. */
export function yamlString(s: string): string {
  let safe: boolean;
  try {
    safe = isPlainSafe(s);
  } catch {
    safe = false; // resolvePlain declines (huge integers, 0x...): quote
  }
  if (safe) return s;
  if (!hasControl(s)) return `'${s.replace(/'/g, "''")}'`;
  return JSON.stringify(s);
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 || c === 0xfeff) return true;
  }
  return false;
}

function yamlNumber(n: number): string {
  if (Number.isNaN(n)) return ".nan";
  if (n === Infinity) return ".inf";
  if (n === -Infinity) return "-.inf";
  const s = String(n);
  return s;
}

function scalarText(v: unknown): string | undefined {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return yamlString(v);
  if (typeof v === "number") return yamlNumber(v);
  if (typeof v === "bigint") return String(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (v instanceof Date) return yamlString(v.toISOString());
  if (Array.isArray(v) && v.length === 0) return "[]";
  if (typeof v === "object" && Object.keys(v).length === 0) return "{}";
  return undefined;
}

/** Emits `key: value` (value possibly a nested block) at `indent`. */
export function emitKeyValue(out: string[], indent: string, key: string, v: unknown): void {
  const s = scalarText(v);
  if (s !== undefined) {
    out.push(`${indent}${yamlString(key)}: ${s}`);
    return;
  }
  out.push(`${indent}${yamlString(key)}:`);
  emitValueBlock(out, indent, v, true);
}

/** Emits a non-empty list or mapping under a key at `indent` (lists at the same indent, mappings two deeper). */
function emitValueBlock(out: string[], indent: string, v: unknown, underKey: boolean): void {
  if (Array.isArray(v)) {
    const ind = underKey ? indent : indent;
    for (const item of v) {
      const s = scalarText(item);
      if (s !== undefined) out.push(`${ind}- ${s}`);
      else if (Array.isArray(item)) {
        out.push(`${ind}-`);
        emitValueBlock(out, ind + "  ", item, false);
      } else {
        // A mapping item: first key on the dash line.
        const inner: string[] = [];
        emitMapping(inner, ind + "  ", item as Record<string, unknown>);
        inner[0] = `${ind}- ${inner[0]!.slice(ind.length + 2)}`;
        out.push(...inner);
      }
    }
    return;
  }
  emitMapping(out, indent + "  ", v as Record<string, unknown>);
}

function emitMapping(out: string[], indent: string, m: Record<string, unknown>): void {
  for (const k of Object.keys(m).sort(compareCodePoints)) emitKeyValue(out, indent, k, m[k]);
}

function emitFileEntries(out: string[], indent: string, entries: readonly LockFileEntry[]): void {
  const sorted = [...entries].sort((a, b) => compareCodePoints(a.path, b.path));
  for (const e of sorted) {
    const lines: string[] = [`path: ${yamlString(e.path)}`];
    // A digest of digits only (or `1e5...`) would read back as a number: yamlString quotes it.
    if (e.algo === "xxh64" || e.algo === "md5") lines.push(`hash: ${e.algo}`, `${e.algo}: ${yamlString(e.hash)}`);
    else if (e.algo === "legacy-md5") lines.push(`md5: ${yamlString(e.hash)}`);
    if (e.size !== undefined) lines.push(`size: ${e.size}`);
    if (e.nfiles !== undefined) lines.push(`nfiles: ${e.nfiles}`);
    const extra: string[] = [];
    if (e.extra) for (const k of Object.keys(e.extra).sort(compareCodePoints)) emitKeyValue(extra, indent + "  ", k, e.extra[k]);
    out.push(`${indent}- ${lines[0]}`);
    for (const l of lines.slice(1)) out.push(`${indent}  ${l}`);
    out.push(...extra);
  }
}

function emitCmd(out: string[], indent: string, cmd: string | string[]): void {
  if (typeof cmd === "string") {
    out.push(`${indent}cmd: ${yamlString(cmd)}`);
    return;
  }
  if (cmd.length === 0) {
    out.push(`${indent}cmd: []`);
    return;
  }
  out.push(`${indent}cmd:`);
  for (const c of cmd) out.push(`${indent}- ${yamlString(c)}`);
}

/** The canonical text of one stage's entry (without the name line), indented for `stages:`. */
export function serializeLockEntry(entry: LockEntry): string {
  const ind = "    ";
  const out: string[] = [];
  emitCmd(out, ind, entry.cmd);
  if (entry.deps.length > 0) {
    out.push(`${ind}deps:`);
    emitFileEntries(out, ind, entry.deps);
  }
  const files = Object.keys(entry.params).sort(compareCodePoints);
  if (files.length > 0) {
    out.push(`${ind}params:`);
    for (const f of files) {
      const vals = entry.params[f]!;
      if (Object.keys(vals).length === 0) out.push(`${ind}  ${yamlString(f)}: {}`);
      else {
        out.push(`${ind}  ${yamlString(f)}:`);
        emitMapping(out, `${ind}    `, vals);
      }
    }
  }
  if (entry.outs.length > 0) {
    out.push(`${ind}outs:`);
    emitFileEntries(out, ind, entry.outs);
  }
  return out.join("\n") + "\n";
}

/** The whole canonical lock text for entries in the given order. */
export function serializeLock(entries: Iterable<[string, LockEntry]>): string {
  let s = "schema: '2.0'\nstages:\n";
  let any = false;
  for (const [name, e] of entries) {
    any = true;
    s += `  ${yamlString(name)}:\n${serializeLockEntry(e)}`;
  }
  return any ? s : "schema: '2.0'\nstages: {}\n";
}

/** Writes `text` to `abs` atomically and durably (`core/atomic-write.ts`): a crash finds the old lock or the new one, whole. */
export async function writeFileAtomic(abs: string, text: string): Promise<void> {
  await writeAtomic(abs, text, { mode: 0o666, durable: true });
}

/**
 * `writeFileAtomic` for a file given as parts, written with one `writev`: no string to join and encode, no buffer to
 * concatenate, which matters when the parts are a big lock's entries.
 */
export async function writePartsAtomic(abs: string, parts: readonly Uint8Array[]): Promise<void> {
  await writeAtomic(abs, parts, { mode: 0o666, durable: true });
}

// One writer at a time per lock file in this process: writes are read-modify-write, and `repro -j` finishes stages
// concurrently.
const queues = new Map<string, Promise<unknown>>();

function serialised<T>(key: string, job: () => Promise<T>): Promise<T> {
  const prev = queues.get(key) ?? Promise.resolve();
  const next = prev.then(job, job);
  const tail = next.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return next;
}

/**
 * Records `entry` for `stage` in the `pipe.lock` beside its stages file (created if absent, seeded from a `dvc.lock`
 * there), keeping every other stage's entry. Stage order follows `pipeline`'s definition order for that file.
 */
export function writeLockEntry(pipeline: Pipeline, stage: Stage, entry: LockEntry): Promise<Result<void>> {
  // A `.dvc` file is its own record.
  if (stage.dataSource) return import("./dvc-file.js").then((m) => m.writeDvcFile(pipeline.root, stage, entry));
  return writeLockEntries(pipeline, stage.dir, [[stage.name, entry]]);
}

/**
 * Records several entries of stages of the stages file(s) in `dir` at once (and removes those given as `undefined`).
 */
export function writeLockEntries(pipeline: Pipeline, dir: string, updates: readonly [string, LockEntry | undefined][]): Promise<Result<void>> {
  const lockRel = dir === "" ? "pipe.lock" : `${dir}/pipe.lock`;
  const abs = path.join(pipeline.root, lockRel);
  return serialised(abs, async () => {
    const cur = await readLockIn(pipeline.root, dir);
    if (!cur.ok) {
      return fail([error("lock", `not writing ${lockRel}: the existing lock file is damaged`), ...cur.errors]);
    }
    const existing = cur.value?.stages ?? new Map<string, LockEntry>();
    for (const [name, e] of updates) {
      if (e === undefined) existing.delete(name);
      else existing.set(name, e);
    }
    const ordered: [string, LockEntry][] = [];
    const seen = new Set<string>();
    for (const s of pipeline.stages) {
      if (s.dir !== dir || seen.has(s.name)) continue;
      const e = existing.get(s.name);
      if (e) {
        ordered.push([s.name, e]);
        seen.add(s.name);
      }
    }
    for (const [name, e] of existing) if (!seen.has(name)) ordered.push([name, e]);
    try {
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFileAtomic(abs, serializeLock(ordered));
    } catch (e) {
      // A full disk or a read-only project: the old lock file is untouched (the write went to a temp file).
      return envFailure(e, { doing: `writing ${lockRel}`, root: pipeline.root, path: abs }) ?? fail([error("io", `cannot write ${lockRel}: ${e instanceof Error ? e.message : String(e)}`)]);
    }
    return ok(undefined);
  });
}
