/**
 * Root-relative paths to absolute ones, on the hot path of every no-op check (tens of thousands of calls), so the
 * usual case is a plain join and only unusual paths go through `path.resolve`.
 */
import path from "node:path";

/** Absolute path of a root-relative path (a plain join for the usual `a/b/c`, `path.resolve` for anything else). */
export function absOf(root: string, rootPath: string): string {
  if (path.sep === "/" && rootPath !== "" && !rootPath.startsWith(".") && !rootPath.startsWith("/") && !rootPath.includes("/.") && !rootPath.includes("//") && !rootPath.endsWith("/") && !rootPath.includes("\\")) {
    return `${root}/${rootPath}`;
  }
  return path.resolve(root, rootPath);
}
