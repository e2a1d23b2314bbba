// Placeholder with the agreed signature; replaced by the real implementation.
import { error, fail, type Result } from "../config/diagnostic.js";

export interface ProjectRoot {
  /** Absolute path of the project root. */
  root: string;
  /** Absolute path of the enclosing git work tree, if any. */
  gitRoot?: string;
  hasPipeDir: boolean;
  hasDvcDir: boolean;
}

export async function findProjectRoot(cwd: string): Promise<Result<ProjectRoot>> {
  return fail([error("project", `no pipe project found at or above ${cwd}`)]);
}
