/**
 * Environment errors: what the operating system refuses for reasons of the machine, not of `pipe` (a full disk, a
 * read-only mount, a path too long for the file system, a permission, the open-file limit, a failing disk). They are
 * expected failures: a layer that can carry them up as a value turns the Node system error into a `Diagnostic` with
 * reason `environment` here, and `cli/main.ts` recognises one that still arrives as an exception, so neither ends
 * as an "internal error". This module owns which errno codes count, and the words: what failed, on which path, and
 * what the user can do about it.
 */
import path from "node:path";
import { error, fail, type Diagnostic, type Result } from "./diagnostic.js";

/** errno codes that describe the machine, never a bug of `pipe`. */
const ENV_CODES: ReadonlySet<string> = new Set([
  "ENOSPC",
  "EDQUOT",
  "EFBIG",
  "EROFS",
  "EACCES",
  "EPERM",
  "ENAMETOOLONG",
  "EMFILE",
  "ENFILE",
  "EIO",
]);

/** A Node system error whose code is an environment error. */
export interface EnvError {
  code: string;
  syscall?: string;
  /** The path the call was about (for `copyfile`, `rename`, `link`: the source). */
  path?: string;
  /** The second path of a two-path call (the destination). */
  dest?: string;
}

/** The environment error `e` is, or undefined (not a system error, or one of another kind: a bug). */
export function envErrorOf(e: unknown): EnvError | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const o = e as { code?: unknown; syscall?: unknown; path?: unknown; dest?: unknown };
  if (typeof o.code !== "string" || !ENV_CODES.has(o.code)) return undefined;
  return {
    code: o.code,
    ...(typeof o.syscall === "string" ? { syscall: o.syscall } : {}),
    ...(typeof o.path === "string" ? { path: o.path } : {}),
    ...(typeof o.dest === "string" ? { dest: o.dest } : {}),
  };
}

/**
 * A path as the user should read it: relative to `root` when inside it, and a temp file of an atomic write
 * (`.name.pipe-tmp-<pid>-<rand>`, `name.tmp-<pid>`) named as the file it was going to become.
 */
function shown(p: string, root: string | undefined): string {
  const base = path.basename(p);
  const m = /^\.(.+)\.pipe-tmp-\d+-[0-9a-f]+$/.exec(base) ?? /^(.+)\.tmp-\d+$/.exec(base) ?? /^(.+)\.[0-9a-f]{12}\.tmp$/.exec(base);
  const named = m ? path.join(path.dirname(p), m[1]!) : p;
  if (root === undefined) return named;
  const rel = path.relative(root, named);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel.split(path.sep).join("/") : named;
}

const VERBS: Record<string, string> = {
  open: "opening",
  write: "writing",
  writev: "writing",
  read: "reading",
  copyfile: "copying",
  rename: "renaming",
  link: "linking",
  symlink: "linking",
  mkdir: "creating the directory",
  unlink: "deleting",
  rmdir: "deleting the directory",
  rm: "deleting",
  chmod: "changing the mode of",
  scandir: "listing",
  stat: "reading",
  lstat: "reading",
  fsync: "writing",
  close: "writing",
};

/** What the caller knows about the failed step. */
export interface EnvContext {
  /** What `pipe` was doing, as a phrase after "while" (`storing 'model.pkl' in the cache`). */
  doing?: string;
  /** The project root: paths inside it are shown relative to it. */
  root?: string;
  /** The path written, for an error that names none (a `write` on an open file). */
  path?: string;
}

/**
 * `{message, hint}` for an environment error. `doing` says what `pipe` was at (`storing 'model.pkl' in the cache`);
 * without it the system call says it. `root` makes paths inside the project relative.
 */
export function describeEnvError(env: EnvError, opts: EnvContext = {}): { message: string; hint: string } {
  const given = env.path ?? opts.path;
  const src = given !== undefined ? shown(given, opts.root) : undefined;
  const dst = env.dest !== undefined ? shown(env.dest, opts.root) : undefined;
  // What was being written: for a copy, a rename or a link, the destination.
  const target = dst ?? src ?? "(unknown path)";
  const verb = env.syscall !== undefined ? VERBS[env.syscall] : undefined;
  const call =
    verb === undefined ? (env.syscall ?? "") : dst !== undefined && src !== undefined ? `${verb} '${src}' to '${dst}'` : src !== undefined ? `${verb} '${src}'` : verb;
  const doing = opts.doing ?? call;
  const at = doing !== "" ? ` (${env.code}, while ${doing})` : ` (${env.code})`;
  const again = "then run the command again; nothing was lost";
  switch (env.code) {
    case "ENOSPC":
      return { message: `no space left on the disk holding '${target}'${at}`, hint: `free space on that disk, ${again}` };
    case "EDQUOT":
      return { message: `disk quota exceeded on the disk holding '${target}'${at}`, hint: `free space within your quota (or get a larger one), ${again}` };
    case "EFBIG":
      return { message: `'${target}' is larger than its file system allows${at}`, hint: `put the project (or the cache) on a file system that allows larger files, ${again}` };
    case "EROFS":
      return { message: `'${target}' is on a read-only file system${at}`, hint: `make it writable (remount it read-write) or run the command where it can write, ${again}` };
    case "EACCES":
    case "EPERM":
      return {
        message: `permission denied on '${target}'${at}`,
        hint: `check the owner and permissions of '${target}' and of the directories above it, ${again}`,
      };
    case "ENAMETOOLONG":
      return { message: `the path '${target}' is too long for its file system${at}`, hint: `use a shorter path (a shorter output or stage name, or a project in a directory with a shorter path), ${again}` };
    case "EMFILE":
    case "ENFILE":
      return { message: `too many open files${at}`, hint: `raise the limit of open files ('ulimit -n') or run fewer stages at once ('-j'), ${again}` };
    case "EIO":
      return { message: `input/output error on '${target}'${at}`, hint: `the disk (or network file system) holding it may be failing: check it, ${again}` };
    default:
      return { message: `${env.code} on '${target}'${at}`, hint: again };
  }
}

/** The environment error as a diagnostic (reason `environment`, the advice as its hint). */
export function envDiagnostic(env: EnvError, opts: EnvContext = {}): Diagnostic {
  const d = describeEnvError(env, opts);
  return error("environment", d.message, undefined, { hint: d.hint });
}

/**
 * For a `catch`: a failed `Result` when `e` is an environment error, otherwise undefined (rethrow it: a bug). Use:
 * `const f = envFailure(e, {doing}); if (f) return f; throw e;`.
 */
export function envFailure<T = never>(e: unknown, opts: EnvContext = {}): Result<T> | undefined {
  const env = envErrorOf(e);
  return env ? fail([envDiagnostic(env, opts)]) : undefined;
}

/** One block for a place that prints a message, not a diagnostic: the message, then its hint as `  = ...`. */
export function envText(env: EnvError, opts: EnvContext = {}): string {
  const d = describeEnvError(env, opts);
  return `${d.message}\n  = ${d.hint}`;
}
