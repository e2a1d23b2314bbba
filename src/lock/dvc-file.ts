/**
 * `.dvc` files: the record of a data source tracked with `pipe add` (or `dvc add`), read and written here.
 *
 * A `.dvc` file is a stage without a command whose lock entry is the file itself: its `outs:` carry the hashes, in
 * the same entry shape as a lock's. Read: DVC 1 (a top-level stage `md5:` and `md5:` outs), DVC 2 (`md5:` outs with
 * `size`/`nfiles`, verified with DVC 2's md5 as `dvc.lock`'s are), DVC 3 (`hash: md5`) and pipe's own form
 * (`hash: xxh64`). Written: always pipe's form, in DVC 3's key order for each output:
 *
 *     outs:
 *     - xxh64: 3f6c1a9b0e2d4c58.dir
 *       size: 8437363
 *       nfiles: 1000
 *       hash: xxh64
 *       path: images
 *
 * Fields pipe does not interpret are kept when the file is rewritten: per output (`desc`, `remote`, `push`, `cache`,
 * `isexec`...), and at the top level (`desc`, `meta`, `frozen`, `wdir`, an import's `deps`); DVC 1's stage `md5:` is
 * dropped (it described a stage checksum pipe does not keep). The write is atomic and durable, as a lock's is.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Result } from "../core/diagnostic.js";
import { envFailure } from "../core/env-error.js";
import type { Stage } from "../core/model.js";
import { compareCodePoints } from "../hash/manifest.js";
import { fileList, parseChecked } from "./read.js";
import type { LockEntry, LockFile, LockFileEntry } from "./types.js";
import { emitKeyValue, writeFileAtomic, yamlString } from "./write.js";

/** What a `.dvc` file holds. */
export interface DvcFileDoc {
  /** The entry, as a lock entry of a stage without a command (`cmd` is ``, no params). */
  entry: LockEntry;
  /** `pipe`: every hash is xxh64; `dvc`: some hash is DVC's md5 (the file was written by DVC). */
  flavor: "pipe" | "dvc";
  /** Top-level keys other than `outs` and `deps`, in file order (DVC 1's stage `md5` left out). */
  other: [string, unknown][];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Parses a `.dvc` file's text; `file` is its root-relative path (for located diagnostics). */
export function parseDvcFileDoc(file: string, text: string): Result<DvcFileDoc> {
  return parseChecked(file, text, (value, problems): DvcFileDoc => {
    const doc: DvcFileDoc = { entry: { cmd: "", deps: [], params: {}, outs: [] }, flavor: "pipe", other: [] };
    if (value === null || value === undefined) {
      problems.push({ at: [], message: "a .dvc file must be a mapping with 'outs', found nothing" });
      return doc;
    }
    if (!isPlainObject(value)) {
      problems.push({ at: [], message: "a .dvc file must be a mapping with 'outs'" });
      return doc;
    }
    if (!Array.isArray(value["outs"]) || value["outs"].length === 0) {
      problems.push({ at: value["outs"] === undefined ? [] : ["outs"], message: "a .dvc file needs 'outs': a list of the tracked paths with their hashes" });
    }
    doc.entry.outs = fileList(value["outs"], ["outs"], problems);
    doc.entry.deps = fileList(value["deps"], ["deps"], problems);
    for (const [k, v] of Object.entries(value)) {
      if (k === "outs" || k === "deps" || k === "md5") continue;
      doc.other.push([k, v]);
    }
    const wdir = value["wdir"];
    if (wdir !== undefined && typeof wdir !== "string") problems.push({ at: ["wdir"], message: "'wdir' must be a string" });
    doc.flavor = [...doc.entry.outs, ...doc.entry.deps].some((e) => e.algo === "md5" || e.algo === "legacy-md5") ? "dvc" : "pipe";
    return doc;
  });
}

/** Emits one output (or dependency) entry in DVC 3's key order: hash value, size, nfiles, hash name, path, the rest. */
function emitEntry(out: string[], e: LockFileEntry): void {
  const lines: string[] = [];
  if (e.algo === "xxh64" || e.algo === "md5") lines.push(`${e.algo}: ${yamlString(e.hash)}`);
  else if (e.algo === "legacy-md5") lines.push(`md5: ${yamlString(e.hash)}`);
  if (e.size !== undefined) lines.push(`size: ${e.size}`);
  if (e.nfiles !== undefined) lines.push(`nfiles: ${e.nfiles}`);
  if (e.algo === "xxh64" || e.algo === "md5") lines.push(`hash: ${e.algo}`);
  lines.push(`path: ${yamlString(e.path)}`);
  const extra: string[] = [];
  if (e.extra) for (const k of Object.keys(e.extra).sort(compareCodePoints)) emitKeyValue(extra, "  ", k, e.extra[k]);
  out.push(`- ${lines[0]}`);
  for (const l of lines.slice(1)) out.push(`  ${l}`);
  out.push(...extra);
}

/** The text of a `.dvc` file: `outs` (and an import's `deps`) in pipe's form, then the other keys as they were. */
export function serializeDvcFile(entry: Pick<LockEntry, "deps" | "outs">, other: readonly [string, unknown][] = []): string {
  const out: string[] = [];
  if (entry.deps.length > 0) {
    out.push("deps:");
    for (const d of entry.deps) emitEntry(out, d);
  }
  out.push("outs:");
  for (const o of entry.outs) emitEntry(out, o);
  for (const [k, v] of other) emitKeyValue(out, "", k, v);
  return out.join("\n") + "\n";
}

/** The `.dvc` file's text, or undefined when it does not exist. */
async function readIfThere(abs: string): Promise<string | undefined> {
  try {
    return await readFile(abs, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}

/** Reads the `.dvc` file at `file` (root-relative) as a one-entry lock file keyed by `name`. */
export async function readDvcFileAsLock(root: string, file: string, name: string, sources?: Map<string, string>): Promise<Result<LockFile | undefined>> {
  const text = await readIfThere(path.join(root, file));
  if (text === undefined) return ok(undefined);
  sources?.set(file, text);
  const doc = parseDvcFileDoc(file, text);
  if (!doc.ok) return doc;
  return ok({ file, flavor: doc.value.flavor, stages: new Map([[name, doc.value.entry]]) });
}

/**
 * Writes `entry` (as `recordStage` made it: paths relative to the stage's wdir) into the stage's `.dvc` file,
 * keeping what the file holds besides hashes: output flags by path, and the other top-level keys.
 */
export async function writeDvcFile(root: string, stage: Pick<Stage, "file">, entry: LockEntry): Promise<Result<void>> {
  const abs = path.join(root, stage.file);
  let other: [string, unknown][] = [];
  const extras = new Map<string, Record<string, unknown>>();
  try {
    const text = await readIfThere(abs);
    if (text !== undefined) {
      const prev = parseDvcFileDoc(stage.file, text);
      if (prev.ok) {
        other = prev.value.other;
        for (const o of prev.value.entry.outs) if (o.extra) extras.set(o.path, o.extra);
      }
    }
    const outs = entry.outs.map((o): LockFileEntry => {
      const extra = extras.get(o.path);
      return extra ? { ...o, extra: { ...extra, ...(o.extra ?? {}) } } : o;
    });
    await writeFileAtomic(abs, serializeDvcFile({ deps: entry.deps.filter((d) => d.algo !== "none" || d.extra), outs }, other));
  } catch (e) {
    return envFailure(e, { doing: `writing ${stage.file}`, root, path: abs }) ?? fail([error("io", `cannot write ${stage.file}: ${e instanceof Error ? e.message : String(e)}`)]);
  }
  return ok(undefined);
}
