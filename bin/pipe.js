#!/usr/bin/env node
// `pipe --version` has a start-up budget (near `node -e 0`), and importing the CLI loads commander (~18 ms). So the
// exact argv `--version` is answered here, from package.json, before anything else is imported; the output is the
// one commander prints (the version and a newline, exit code 0). Every other argv, `--version` among other
// arguments included, goes through the CLI's `main`, which runs it with this process's cwd, environment and streams and sets
// the exit code.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
if (args.length === 1 && args[0] === "--version") {
  // A reader that went away (`pipe --version | true`) is not an error, as in the CLI.
  process.stdout.on("error", (e) => {
    if (e.code !== "EPIPE") throw e;
  });
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`${version}\n`);
} else {
  // The CLI is a function of its arguments and io (tests call it in process); this file gives it the process's own.
  const { main } = await import("../dist/cli/main.js");
  await main(args);
}
