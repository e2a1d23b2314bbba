/**
 * How paths and stage addresses are shown to people: relative to the directory the command runs in (the shell's, or
 * `-C DIR`), as DVC 3 shows them (`relpath` of every dep, out and stages file, `Stage.addressing`). A stage of the
 * stages file in that directory is its bare name (`train`, `build@us`); any other is that file's relative path and
 * the name (`sub/dvc.yaml:train` from the root, `../dvc.yaml:prepare` from `sub/`). What is printed can be pasted
 * into a command run in the same place. `--json` documents keep root-relative paths and root addresses instead, so
 * they read the same from anywhere.
 *
 * Internally every path is root-relative and every address is the root form (`train`, `sub/dvc.yaml:train`); only
 * what reaches a person goes through a `Where`.
 */
import path from "node:path";

export interface Where {
  /** A root-relative path as shown: relative to the working directory, POSIX (`.` for the directory itself). */
  path(rootPath: string): string;
  /** A stage address (root form) as shown. */
  address(address: string): string;
}

/** Shows everything as it is: for a command run at the root, and for tests. */
export const AT_ROOT: Where = { path: (p) => (p === "" ? "." : p), address: (a) => a };

/** Splits a root-form address into its stages file (undefined: the root's) and name, as `graph/select.ts` reads one. */
export function splitAddress(address: string): { file?: string; name: string } {
  const at = address.indexOf("@");
  const head = at < 0 ? address : address.slice(0, at);
  const colon = head.lastIndexOf(":");
  return colon < 0 ? { name: address } : { file: address.slice(0, colon), name: address.slice(colon + 1) };
}

/**
 * The `Where` of a command run in `cwd` (absolute) in the project at `root` (absolute). `rootStagesFile` is the
 * root's stages file (`dvc.yaml` or `pipe.yaml`), which names a root stage seen from a subdirectory.
 */
export function whereOf(root: string, cwd: string, rootStagesFile = "dvc.yaml"): Where {
  const here = path.relative(root, cwd).split(path.sep).join("/");
  // A working directory outside the root (never chosen by root discovery, but possible by hand): root-relative, as
  // DVC falls back to.
  if (here === "" || here === ".." || here.startsWith("../") || path.isAbsolute(here)) return AT_ROOT;
  const rel = (p: string): string => path.posix.relative(here, p) || ".";
  return {
    path: rel,
    address(a) {
      const { file, name } = splitAddress(a);
      const shown = rel(file ?? rootStagesFile);
      return shown.includes("/") ? `${shown}:${name}` : name;
    },
  };
}

/** The `Where` of a command run in `cwd` (absolute) on a loaded pipeline. */
export function whereForPipeline(p: { root: string; files: readonly { file: string }[] }, cwd: string): Where {
  return whereOf(p.root, cwd, p.files.find((f) => !f.file.includes("/"))?.file);
}
