/**
 * `--open` of `plots show/diff` and `report`: hands a written page to the desktop's browser (`xdg-open`, `open` on
 * macOS, `start` on Windows), detached, so `pipe` exits at once. No browser is no failure: a warning says where the
 * page is.
 */
import { spawn } from "node:child_process";
import { warning } from "../core/diagnostic.js";
import type { CommandContext } from "./context.js";
import { printWarnings } from "./compare.js";

export async function openInBrowser(ctx: CommandContext, file: string): Promise<void> {
  const [cmd, args] = process.platform === "darwin" ? ["open", [file]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", file]] : ["xdg-open", [file]];
  const started = await new Promise<boolean>((resolve) => {
    const child = spawn(cmd, args, { detached: true, stdio: "ignore" });
    child.once("error", () => resolve(false));
    child.once("spawn", () => {
      child.unref();
      resolve(true);
    });
  });
  if (!started) printWarnings(ctx, [warning("warning", `cannot open a browser (${cmd} is not available); open ${file} yourself`)]);
}
