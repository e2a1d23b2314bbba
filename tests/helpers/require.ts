/**
 * What a test needs from outside the repository (the shared corpus, root for mounts, a server, a browser), and what
 * happens when it is missing. On a user's fresh clone the test is skipped with one line saying how to run it; in CI
 * (`.ci/run` sets PIPE_TEST_REQUIRE_ALL=1) a missing requirement fails instead, so no check silently stops running.
 *
 * Use: `describe.runIf(requires("root", isRoot(), "run the tests as root (bash .ci/run does)"))("...", ...)`.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { CORPUS } from "./project.js";

export const REQUIRE_ALL = process.env.PIPE_TEST_REQUIRE_ALL === "1";

const said = new Set<string>();

/** True when `available`; otherwise skips (one line on stderr) or, under PIPE_TEST_REQUIRE_ALL=1, throws. */
export function requires(what: string, available: boolean, howTo: string): boolean {
  if (available) return true;
  if (REQUIRE_ALL) {
    throw new Error(`${what} is not available, and PIPE_TEST_REQUIRE_ALL=1 forbids skipping its tests: ${howTo}`);
  }
  if (!said.has(what)) {
    said.add(what);
    process.stderr.write(`skipped: tests that need ${what} (${howTo})\n`);
  }
  return false;
}

/** The shared corpus of real dvc.yaml projects and DVC md5 vectors, beside the repository (`CORPUS`). */
export function hasCorpus(): boolean {
  return requires(
    "the shared corpus (../shared/corpus)",
    existsSync(path.join(CORPUS, "dvc-real")) && existsSync(path.join(CORPUS, "dvc-vectors")),
    "they read real projects from a ../shared/corpus folder beside the repository, which development workspaces and CI have",
  );
}

/** Root can mount tmpfs and read-only binds, which the full-disk and read-only-cache fault tests need. */
export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}
