/**
 * Metrics outputs that live in the cache, not in git. A stage's `metrics:` output is cached by default (as in DVC),
 * so a revision may hold only its hash, in the lock file committed beside the stages file. DVC reads such a metrics
 * file at a revision through its cache; so do we: the revision's lock (`pipe.lock`, else `dvc.lock`) gives the
 * output's hash, and the object comes from `.pipe/cache` (verified), or, for md5 names, from a DVC cache in
 * `.dvc/cache` or the `cache.dir` of `.dvc/config` (verified too). Directory outputs (`.dir` manifests) are not followed.
 *
 * Which stage an output belongs to comes from the revision's stages file (read as plain YAML, for the stage's
 * `wdir`); lock paths are relative to that wdir.
 */
import path from "node:path";
import { parseYaml, toPlain } from "../formats/yaml.js";
import type { Side } from "../git/revision.js";

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Stage name -> working directory (root-relative) for the stages of one stages file. */
function stageWdirs(file: string, text: string): Map<string, string> {
  const out = new Map<string, string>();
  // parseYaml checks aliases first, so an alias bomb is a parse error here, not an exception.
  const parsed = parseYaml(file, text);
  if (parsed.doc.errors.length > 0) return out;
  const plain = toPlain(parsed);
  if (!plain.ok) return out;
  const top = plain.value;
  if (!isRecord(top) || !isRecord(top["stages"])) return out;
  const dir = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
  for (const [name, st] of Object.entries(top["stages"])) {
    if (!isRecord(st)) continue;
    const body = isRecord(st["do"]) ? st["do"] : st;
    const w = body["wdir"];
    if (w === undefined) out.set(name, dir);
    else if (typeof w === "string" && !w.includes("${")) out.set(name, path.posix.normalize(path.posix.join(dir, w)).replace(/^\.$/, ""));
  }
  return out;
}

/**
 * Reads a cached object by id, verified; undefined when absent or corrupt. Read-only: a reader holds no write lock,
 * so removing a corrupt object could race a writer that is replacing it with good bytes; a writer removes it.
 */
async function readObject(root: string, id: string): Promise<Buffer | undefined> {
  // DVC's cache (`.dvc/cache`, or its `cache.dir`) is a source of md5 objects: read from there, verified, when
  // `.pipe/cache` lacks them.
  const { projectCache } = await import("../storage/project-cache.js");
  const r = await projectCache(root, { readOnly: true }).readVerified(id);
  return r.status === "ok" ? r.data : undefined;
}

/**
 * Texts of the `wanted` files (root-relative) that the revision's locks record and the cache holds. `stagesFiles`
 * are the revision's stages files with their texts.
 */
export async function readCachedAt(root: string, side: Side, stagesFiles: ReadonlyMap<string, string>, wanted: readonly string[]): Promise<Map<string, string>> {
  const bytes = await readCachedBytesAt(root, side, stagesFiles, wanted);
  return new Map([...bytes].map(([f, b]) => [f, b.toString("utf8")]));
}

/** As `readCachedAt`, the files' bytes (plot images are binary). */
export async function readCachedBytesAt(root: string, side: Side, stagesFiles: ReadonlyMap<string, string>, wanted: readonly string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (wanted.length === 0 || side.kind !== "commit") return out;
  const want = new Set(wanted);
  const dirs = new Map<string, Map<string, string>>();
  for (const [file, text] of stagesFiles) {
    const dir = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
    const m = dirs.get(dir) ?? new Map<string, string>();
    for (const [k, v] of stageWdirs(file, text)) m.set(k, v);
    dirs.set(dir, m);
  }
  const lockPaths = [...dirs.keys()].flatMap((d) => [d === "" ? "pipe.lock" : `${d}/pipe.lock`, d === "" ? "dvc.lock" : `${d}/dvc.lock`]);
  const locks = await side.read(lockPaths);
  if (!locks.ok) return out;
  const { parseLock } = await import("../lock/read.js");
  const ids = new Map<string, string>();
  for (const [dir, wdirs] of dirs) {
    for (const [name, flavor] of [
      ["pipe.lock", "pipe"],
      ["dvc.lock", "dvc"],
    ] as const) {
      const file = dir === "" ? name : `${dir}/${name}`;
      const blob = locks.value.get(file);
      if (blob?.kind !== "file") continue;
      const lock = parseLock(file, blob.text, flavor);
      if (lock.ok) {
        for (const [stage, entry] of lock.value.stages) {
          const wdir = wdirs.get(stage.split("@")[0]!) ?? dir;
          for (const o of entry.outs) {
            const rootPath = path.posix.normalize(path.posix.join(wdir, o.path));
            if (want.has(rootPath) && o.algo !== "none" && !o.hash.endsWith(".dir")) ids.set(rootPath, o.hash);
          }
        }
      }
      break; // pipe.lock wins over dvc.lock in one directory, even when it is damaged
    }
  }
  for (const [file, id] of ids) {
    const data = await readObject(root, id);
    if (data !== undefined) out.set(file, data);
  }
  return out;
}
