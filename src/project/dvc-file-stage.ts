/**
 * A `.dvc` file as a stage of the pipeline, as DVC loads one: a data source with outputs and no command (DVC's
 * `is_data_source`), so that a stage depending on its path gets an edge, `dag` draws it, `status` judges it and
 * `checkout` restores it. Its address is the file's root-relative path (`data/raw.dvc`), its name the file name.
 *
 * Only what the graph needs is read here (paths, flags, `wdir`, `frozen`, `desc`, `meta`); the hashes are the
 * lock layer's (`lock/dvc-file.ts` reads the same file as the stage's lock entry). An import's `deps` (a URL, or a
 * path in another repository) are external: drawn, never hashed.
 */
import path from "node:path";
import { error, type Diagnostic, type SourceLocation } from "../core/diagnostic.js";
import type { DepEntry, OutEntry, Stage } from "../core/model.js";
import { nodeAtPath, nodeLocation, toPlain, yamlDiagnostics, type ParsedYaml, type PathSegment } from "../formats/yaml.js";
import { isUrl, reservedOutput } from "../template/expand.js";

/** Fields of an output entry that are hashes and sizes (the record), not flags. */
const RECORD_FIELDS = new Set(["path", "hash", "md5", "xxh64", "size", "nfiles", "etag", "checksum", "version_id"]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `p` under `dir`, normalised, POSIX; may start with `../` (outside the root). */
function joinRoot(dir: string, p: string): string {
  const j = path.posix.normalize(path.posix.join(dir === "" ? "." : dir, p.replace(/\\/g, "/"))).replace(/\/+$/, "");
  return j === "." ? "" : j;
}

function outsideRoot(rootPath: string): boolean {
  return rootPath === "" || rootPath === ".." || rootPath.startsWith("../") || path.posix.isAbsolute(rootPath);
}

/** The stage a parsed `.dvc` file describes (`dir`: the directory holding it), or its located errors. */
export function dvcFileStage(parsed: ParsedYaml, file: string, dir: string): { stage?: Stage; errors: Diagnostic[] } {
  const errors: Diagnostic[] = [];
  const at = (segs: PathSegment[]): SourceLocation => {
    const n = nodeAtPath(parsed.doc, segs);
    return n.node ? nodeLocation(parsed, n.node) : n.key ? nodeLocation(parsed, n.key) : { file, line: 1, col: 1 };
  };
  if (parsed.doc.errors.length > 0) return { errors: yamlDiagnostics(parsed).errors };
  const plain = toPlain(parsed);
  if (!plain.ok) return { errors: plain.errors };
  const v = plain.value;
  if (!isRecord(v)) return { errors: [error("schema", "a .dvc file must be a mapping with 'outs'", { file, line: 1, col: 1 })] };
  let wdir = dir;
  const w = v["wdir"];
  if (w !== undefined && w !== null) {
    if (typeof w !== "string") errors.push(error("schema", "'wdir' must be a string", at(["wdir"])));
    else {
      wdir = joinRoot(dir, w);
      if (wdir !== "" && outsideRoot(wdir)) errors.push(error("out-outside-root", `wdir '${w}' is outside the project root`, at(["wdir"])));
    }
  }
  const outsRaw = v["outs"];
  if (!Array.isArray(outsRaw) || outsRaw.length === 0) {
    errors.push(error("schema", "a .dvc file needs 'outs': a list of the tracked paths with their hashes", at(outsRaw === undefined ? [] : ["outs"]), { hint: "'pipe add PATH' writes one" }));
  }
  const outs: OutEntry[] = [];
  (Array.isArray(outsRaw) ? outsRaw : []).forEach((o, i) => {
    const p = isRecord(o) ? o["path"] : undefined;
    if (typeof p !== "string" || p === "") {
      errors.push(error("schema", "each output needs a 'path' (a non-empty string)", at(["outs", i])));
      return;
    }
    const loc = at(["outs", i, "path"]);
    const external = isUrl(p);
    const rootPath = external ? p : joinRoot(wdir, p);
    if (!external && outsideRoot(rootPath)) {
      errors.push(error("out-outside-root", `output '${p}' is outside the project root`, loc, { hint: "a .dvc file tracks data inside the project" }));
      return;
    }
    const reserved = external ? undefined : reservedOutput(rootPath);
    if (reserved) {
      errors.push(error("reserved-out", `output '${p}' ${reserved}`, loc));
      return;
    }
    const flags: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(o as Record<string, unknown>)) if (!RECORD_FIELDS.has(k) && k !== "cache" && k !== "persist") flags[k] = val;
    outs.push({ path: p, rootPath, external, kind: "outs", cache: (o as Record<string, unknown>)["cache"] !== false, persist: false, flags, loc });
  });
  const deps: DepEntry[] = [];
  const depsRaw = v["deps"];
  (Array.isArray(depsRaw) ? depsRaw : []).forEach((d, i) => {
    const p = isRecord(d) ? d["path"] : undefined;
    if (typeof p !== "string" || p === "") return;
    // An import's source: a URL, or a path in the repository `repo:` names; never a file of this project.
    deps.push({ path: p, rootPath: isUrl(p) ? p : joinRoot(wdir, p), external: true, outside: false, loc: at(["deps", i, "path"]) });
  });
  if (errors.length > 0) return { errors };
  const stage: Stage = {
    address: file,
    name: path.posix.basename(file),
    file,
    dir,
    wdir,
    ...(wdir !== dir && typeof w === "string" ? { wdirRaw: w } : {}),
    cmd: "",
    deps,
    outs,
    params: [],
    frozen: v["frozen"] === true,
    alwaysChanged: false,
    ...(typeof v["desc"] === "string" ? { desc: v["desc"] } : {}),
    ...(v["meta"] !== undefined ? { meta: v["meta"] } : {}),
    dataSource: true,
    loc: { file, line: 1, col: 1 },
  };
  return { stage, errors: [] };
}
