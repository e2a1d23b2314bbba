/**
 * Discovery of the stages files of a project (spec 1): every `pipe.yaml` and `dvc.yaml` under the root, in a
 * deterministic order (the root's file first, then the others by path, POSIX, byte order).
 *
 * The walk reads each directory once (`readdir` with file types: no `stat` per entry; synchronously, since a
 * thousand directories cost a third as much that way as through a thousand promises) and never descends where no
 * stages file can be:
 * - `.git`, `.pipe`, `.dvc`, `node_modules`, and symlinked directories (never followed: no loops, no escaping the
 *   root);
 * - whatever `.pipeignore` (or, for DVC projects, `.dvcignore`) lists, in gitignore syntax; such a file may sit in any
 *   directory and applies below it, as `.gitignore` files do;
 * - directories git ignores (`.gitignore` files found on the way). This is what keeps a large data directory or a
 *   stage's output directory (which `pipe` adds to `.gitignore`) from costing a walk; a stages file git ignores
 *   could not be committed anyway (DVC refuses one). Only directories are pruned this way. Those `.gitignore`s hold
 *   one literal line per cached output, tested against every directory: `ignore-rules.ts` answers literal lines
 *   from sets and leaves only glob patterns to the `ignore` package;
 * - a subdirectory holding its own `.pipe/` or `.dvc/`: a nested project, loaded from there.
 *
 * A directory holding both `pipe.yaml` and `dvc.yaml` uses `pipe.yaml`, with a warning naming both.
 */
import { readdirSync, readFileSync, statSync, type Dirent, type Stats } from "node:fs";
import path from "node:path";
import { error, fail, ok, warning, type Diagnostic, type Result } from "../core/diagnostic.js";
import { isSpecialFile } from "../formats/input-file.js";
import { compileIgnore, IGNORE_FILES, ignoredBy, type IgnoreMatcher } from "../hash/ignore-rules.js";

export interface DiscoveredFile {
  /** Relative to the root, POSIX separators (`pipe.yaml`, `sub/dvc.yaml`). */
  file: string;
  /** Absolute path. */
  abs: string;
  /** Directory relative to the root (`` for the root). */
  dir: string;
  /** `dvc-file`: a `.dvc` file (`data.xml.dvc`), loaded as a data source stage. */
  flavor: "pipe" | "dvc" | "dvc-file";
}

/** Directories never searched. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set([".git", ".pipe", ".dvc", "node_modules"]);

const STAGES_FILES = ["pipe.yaml", "dvc.yaml"] as const;

type Matcher = IgnoreMatcher;

interface Matchers {
  /** `.pipeignore` / `.dvcignore`: prune files and directories. */
  own: readonly Matcher[];
  /** `.gitignore`: prune directories only. */
  git: readonly Matcher[];
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function readIgnoreFile(abs: string, warnings: Diagnostic[]): string | undefined {
  try {
    return readFileSync(abs, "utf8");
  } catch (e) {
    warnings.push(warning("io", `cannot read ${abs}: ${(e as Error).message}`));
    return undefined;
  }
}

/**
 * Whether a directory entry named like a stages file is one: a regular file, or a FIFO, socket or device, which the
 * load then refuses with an error (skipping it would read the project as having no stages there).
 */
function isStagesFileEntry(d: Pick<Stats, "isFile" | "isFIFO" | "isSocket" | "isCharacterDevice" | "isBlockDevice">): boolean {
  return d.isFile() || isSpecialFile(d);
}

function isStagesFileBehindLink(abs: string): boolean {
  try {
    return isStagesFileEntry(statSync(abs));
  } catch {
    return false;
  }
}

/**
 * Told, before it is read, of every directory the walk lists and every file whose content or type decides the
 * result (ignore files, and stages files behind a symlink), by root-relative path (`` for the root). The result is
 * a function of those alone: a directory gains or loses an entry only by changing its mtime. The status memo
 * stamps them, so that it can tell the result unchanged without walking.
 */
export type DiscoveryObserver = (rel: string, abs: string, kind: "dir" | "file") => void;

/** `data.xml.dvc`: a `.dvc` file (not DVC's `.dvc` directory, nor a file named only `.dvc`). */
export function isDvcFileName(name: string): boolean {
  return name.endsWith(".dvc") && name.length > 4;
}

/** The root's stages file first, then every other stages file and `.dvc` file by path. */
function discoveryOrder(a: { dir: string; file: string; flavor: string }, b: { dir: string; file: string; flavor: string }): number {
  const ra = a.dir === "" && a.flavor !== "dvc-file" ? 0 : 1;
  const rb = b.dir === "" && b.flavor !== "dvc-file" ? 0 : 1;
  return ra !== rb ? ra - rb : byteOrder(a.file, b.file);
}

/** Returns the stages files under `root`. Fails only when the root itself cannot be read. */
export async function discoverStagesFiles(root: string, observe?: DiscoveryObserver): Promise<Result<DiscoveredFile[]>> {
  const found: DiscoveredFile[] = [];
  const warnings: Diagnostic[] = [];

  function visit(rel: string, inherited: Matchers): void {
    const abs = rel === "" ? root : path.join(root, rel);
    let entries: Dirent[];
    observe?.(rel, abs, "dir");
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (rel === "") throw e;
      // Vanished while walking, or unreadable: nothing can be loaded from there; say so unless it simply vanished.
      if (code !== "ENOENT" && code !== "ENOTDIR") warnings.push(warning("io", `cannot read directory ${rel}: ${(e as Error).message}`));
      return;
    }
    const prefix = rel === "" ? "" : `${rel}/`;
    const names = new Map<string, Dirent>();
    for (const d of entries) names.set(d.name, d);
    if (rel !== "" && [".pipe", ".dvc"].some((n) => names.get(n)?.isDirectory())) return;

    let matchers = inherited;
    const own: Matcher[] = [];
    for (const f of IGNORE_FILES) {
      if (!names.get(f)?.isFile()) continue;
      observe?.(prefix + f, path.join(abs, f), "file");
      const text = readIgnoreFile(path.join(abs, f), warnings);
      if (text !== undefined) own.push({ base: prefix, ig: compileIgnore(text) });
    }
    let git: Matcher | undefined;
    if (names.get(".gitignore")?.isFile()) {
      observe?.(`${prefix}.gitignore`, path.join(abs, ".gitignore"), "file");
      const text = readIgnoreFile(path.join(abs, ".gitignore"), warnings);
      if (text !== undefined) git = { base: prefix, ig: compileIgnore(text) };
    }
    if (own.length > 0 || git) matchers = { own: [...inherited.own, ...own], git: git ? [...inherited.git, git] : inherited.git };

    const here: DiscoveredFile[] = [];
    for (const name of STAGES_FILES) {
      const d = names.get(name);
      if (!d) continue;
      if (d.isSymbolicLink()) observe?.(prefix + name, path.join(abs, name), "file");
      const isFile = isStagesFileEntry(d) || (d.isSymbolicLink() && isStagesFileBehindLink(path.join(abs, name)));
      if (!isFile || ignoredBy(matchers.own, prefix + name)) continue;
      here.push({ file: prefix + name, abs: path.join(abs, name), dir: rel, flavor: name === "pipe.yaml" ? "pipe" : "dvc" });
    }
    // `.dvc` files (data sources: `pipe add`, `dvc add`), any number per directory.
    for (const d of entries) {
      if (!isDvcFileName(d.name)) continue;
      const p = prefix + d.name;
      if (d.isSymbolicLink()) observe?.(p, path.join(abs, d.name), "file");
      const isFile = d.isFile() || (d.isSymbolicLink() && isStagesFileBehindLink(path.join(abs, d.name)));
      if (!isFile || ignoredBy(matchers.own, p)) continue;
      found.push({ file: p, abs: path.join(abs, d.name), dir: rel, flavor: "dvc-file" });
    }
    const [first, second] = here;
    if (first) found.push(first);
    if (first && second) {
      const where = rel === "" ? "the project root" : `${rel}/`;
      warnings.push(warning("warning", `both ${first.file} and ${second.file} are in ${where}: using ${first.file}, ignoring ${second.file}`));
    }

    for (const d of entries) {
      if (!d.isDirectory() || SKIPPED_DIRS.has(d.name)) continue;
      const sub = prefix + d.name;
      if (ignoredBy(matchers.own, `${sub}/`) || ignoredBy(matchers.git, `${sub}/`)) continue;
      visit(sub, matchers);
    }
  }

  try {
    visit("", { own: [], git: [] });
  } catch (e) {
    return fail([error("io", `cannot read the project root ${root}: ${(e as Error).message}`)]);
  }
  // The root's file first, then the others by path.
  found.sort(discoveryOrder);
  warnings.sort((a, b) => byteOrder(a.message, b.message));
  return ok(found, warnings);
}

/** A stages file found in a listing (a git revision's files): `DiscoveredFile` without a place on disk. */
export type ListedStagesFile = Omit<DiscoveredFile, "abs">;

/**
 * The stages files among `files` (every file of the project at a git revision, root-relative, POSIX), by the walk's
 * rules, so a revision is read as the workspace would be: skipped directories, `.pipeignore`/`.dvcignore` rules
 * (`readTexts` gives the texts of those files), nested projects, `pipe.yaml` over `dvc.yaml`. What differs:
 * - a nested project is a directory with any tracked file under its `.pipe/` or `.dvc/` (their contents are mostly
 *   git-ignored, but `pipe init` and `dvc init` commit `config.yaml`/`config` and `.gitignore` there);
 * - `.gitignore` rules are not needed: a revision holds only tracked files;
 * - no warning for a directory with both `pipe.yaml` and `dvc.yaml` (the workspace's load gives it).
 */
export async function discoverInListing(files: readonly string[], readTexts: (paths: string[]) => Promise<Map<string, string>>): Promise<ListedStagesFile[]> {
  const nested = new Set<string>();
  const ignoreFiles: string[] = [];
  const candidates: string[] = [];
  for (const f of files) {
    const segs = f.split("/");
    for (let i = 1; i < segs.length - 1; i++) if (segs[i] === ".pipe" || segs[i] === ".dvc") nested.add(segs.slice(0, i).join("/"));
    const base = segs[segs.length - 1]!;
    if ((IGNORE_FILES as readonly string[]).includes(base)) ignoreFiles.push(f);
    if ((STAGES_FILES as readonly string[]).includes(base) || isDvcFileName(base)) candidates.push(f);
  }
  const texts = ignoreFiles.length > 0 ? await readTexts(ignoreFiles) : new Map<string, string>();
  /** Rules by the directory holding them (`` or `a/b/`), `.pipeignore` before `.dvcignore` as the walk adds them. */
  const rulesAt = new Map<string, Matcher[]>();
  for (const name of IGNORE_FILES) {
    for (const f of ignoreFiles) {
      const text = texts.get(f);
      if (text === undefined || (f !== name && !f.endsWith(`/${name}`))) continue;
      const base = f.slice(0, f.length - name.length);
      rulesAt.set(base, [...(rulesAt.get(base) ?? []), { base, ig: compileIgnore(text) }]);
    }
  }
  const byDir = new Map<string, ListedStagesFile>();
  const dvcFiles: ListedStagesFile[] = [];
  outer: for (const f of candidates) {
    const segs = f.split("/");
    const dirSegs = segs.slice(0, -1);
    if (dirSegs.some((s) => SKIPPED_DIRS.has(s))) continue;
    // Walk down as `visit` does: a directory is pruned by the rules above it, then its own rules apply below it.
    let matchers = rulesAt.get("") ?? [];
    for (let k = 1; k <= dirSegs.length; k++) {
      const sub = dirSegs.slice(0, k).join("/");
      if (ignoredBy(matchers, `${sub}/`) || nested.has(sub)) continue outer;
      matchers = [...matchers, ...(rulesAt.get(`${sub}/`) ?? [])];
    }
    if (ignoredBy(matchers, f)) continue;
    const dir = dirSegs.join("/");
    if (isDvcFileName(segs[segs.length - 1]!)) {
      dvcFiles.push({ file: f, dir, flavor: "dvc-file" });
      continue;
    }
    const flavor = segs[segs.length - 1] === "pipe.yaml" ? "pipe" : "dvc";
    if (flavor === "pipe" || !byDir.has(dir)) byDir.set(dir, { file: f, dir, flavor });
  }
  return [...byDir.values(), ...dvcFiles].sort(discoveryOrder);
}
