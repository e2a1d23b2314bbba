/**
 * The typed shapes that flow between the layers (see the architecture doc):
 *
 *     text --load--> ParsedFile --validate+expand--> Stage[] --collect--> Pipeline --graph--> StageGraph
 *
 * Only a `Pipeline` (concrete stages with resolved, normalised paths) reaches the graph layer, and only a
 * `StageGraph` reaches planning and execution. Every path here is POSIX-style; "root paths" are relative to the
 * project root (no leading `./`, never starting with `../` unless the path lies outside the root).
 */
import type { Resources } from "./resources.js";
import type { SourceLocation } from "./diagnostic.js";

/** A dependency on a file or directory. */
export interface DepEntry {
  /** As written in the stage, after interpolation (relative to the stage's wdir). */
  path: string;
  /** Normalised, relative to the project root; for a URL, the URL itself. */
  rootPath: string;
  /** `https://...`, `s3://...`: loaded and drawn, never hashed. */
  external: boolean;
  /** Resolves outside the project root (allowed for deps: hashed, never written). */
  outside: boolean;
  loc?: SourceLocation;
}

export type OutKind = "outs" | "metrics" | "plots";

export interface OutEntry {
  path: string;
  rootPath: string;
  external: boolean;
  kind: OutKind;
  /** Default true. false: hashed and recorded in the lock, never stored in or restored from the cache. */
  cache: boolean;
  /** Default false. true: not deleted before the stage runs. */
  persist: boolean;
  /** Remaining flags as written (desc, type, labels, x, y, template, push, remote, ...), for `dag --json`. */
  flags: Record<string, unknown>;
  loc?: SourceLocation;
}

/** One params file a stage depends on. */
export interface ParamsDep {
  /** As written (relative to wdir); `params.yaml` for bare keys. */
  file: string;
  rootPath: string;
  /** Dot-keys tracked, sorted and de-duplicated; `null` means the whole file. */
  keys: string[] | null;
  loc?: SourceLocation;
}

/**
 * Keys of one vars file (`params.yaml` beside the stages file, or a `vars:` file) that `${...}` in a stage read: DVC's
 * `tracked_vars`, which `params diff` lists. Keys are dotted, list indexes included (`${layers[0]}` is `layers.0`).
 */
export interface VarsUse {
  /** Root-relative. */
  file: string;
  /** Sorted, de-duplicated. */
  keys: string[];
}

/**
 * A piece of an interpolated command: literal text of the template (unescaped), or the text one `${...}` produced
 * there (`v`: the reference as written inside `${...}`, trimmed). Joined, the pieces of a command are the command.
 */
export type CmdPiece = string | { v: string; text: string };

export interface Stage {
  /** `train`, `build@foo`, or `sub/dir/pipe.yaml:train` outside the root stages file. */
  address: string;
  /** The expanded name as DVC writes it in the lock: `train`, `build@foo`, `train@0.1-cnn-cfg0`. */
  name: string;
  /** For `foreach`/`matrix` members: the group name (`build`); otherwise undefined. */
  group?: string;
  /** Stages file, relative to the project root (`pipe.yaml`, `sub/dvc.yaml`). */
  file: string;
  /** The stages file's directory relative to the root (`` for the root). */
  dir: string;
  /** The working directory relative to the root (`` for the root). */
  wdir: string;
  /** `wdir` as written (after interpolation), or undefined when absent. */
  wdirRaw?: string;
  /** Interpolated command: one string, or a list run item by item. */
  cmd: string | string[];
  /**
   * How `cmd` was built: its pieces, one list per command (one for a string `cmd`, one per item of a list), so that
   * `status` can recover each variable's old value from the lock's command by position. Absent for stages not built
   * by the template expander (tests) or when the pieces would not join back to `cmd`.
   */
  cmdTemplate?: CmdPiece[][];
  deps: DepEntry[];
  /** outs, metrics and plots together, in declaration order (outs first, then metrics, then plots). */
  outs: OutEntry[];
  params: ParamsDep[];
  /** Vars-file keys the stage's `${...}` read, by file path; absent when none. */
  varsUsed?: VarsUse[];
  frozen: boolean;
  alwaysChanged: boolean;
  desc?: string;
  meta?: unknown;
  /**
   * A `.dvc` file (`pipe add`): a data source with outputs only and no command (`cmd` is ``). Its `file` is the
   * `.dvc` file, its `dir` and `wdir` the directory holding it, and its record is the file itself, not a lock entry
   * (`lock/dvc-file.ts`).
   */
  dataSource?: boolean;
  /** What the stage asks of a cluster scheduler (`resources:`, pipe.yaml only). */
  resources?: Resources;
  loc: SourceLocation;
}

/** A `metrics:`/`plots:`/`params:` entry at the top level of a stages file. */
export interface TopLevelFile {
  /** Relative to the project root. */
  rootPath: string;
  /** The stages file that declared it. */
  file: string;
  loc?: SourceLocation;
}

export interface StagesFileInfo {
  /** Relative to the root (`dvc.yaml`, `sub/pipe.yaml`). */
  file: string;
  /** The file's full text, so diagnostics can quote it. */
  text: string;
  /** `pipe` or `dvc`: which grammar name it was found under; `dvc-file` for a `.dvc` file (a data source). */
  flavor: "pipe" | "dvc" | "dvc-file";
}

export interface Pipeline {
  /** Absolute path of the project root. */
  root: string;
  files: StagesFileInfo[];
  /** Every expanded stage, in definition order: root stages file first, then the other files by path. */
  stages: Stage[];
  params: TopLevelFile[];
  metrics: TopLevelFile[];
  plots: TopLevelFile[];
}

/** The checked stage graph (built by `graph/`). Edges run producer -> consumer. */
export interface StageGraph {
  pipeline: Pipeline;
  /** Every stage by address. */
  stages: ReadonlyMap<string, Stage>;
  /** Direct upstream stages (producers of its deps) of each stage, in the order its deps are declared, de-duplicated. */
  upstream: ReadonlyMap<string, readonly string[]>;
  /** Direct downstream stages of each stage, in execution order. */
  downstream: ReadonlyMap<string, readonly string[]>;
  /** Every stage address in the deterministic execution order of spec 4. */
  order: readonly string[];
}
