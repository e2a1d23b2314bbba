/**
 * TOML through smol-toml, with its errors as located diagnostics.
 *
 * smol-toml throws a `TomlError` whose message carries its own excerpt of the file; printed as is, it reads
 * differently from every other error and has no `file:line:col`. Its `line` and `column` are kept and the excerpt
 * dropped, so the renderer quotes the line with its marker as it does for YAML and JSON.
 */
import { createRequire } from "node:module";
import type * as TomlLib from "smol-toml";
import { error, fail, ok, type Result } from "../core/diagnostic.js";

/**
 * smol-toml, loaded on first use (most projects have no TOML file; a no-op `status` should not pay for the import).
 * Its CommonJS build, through `require`, so parsing stays synchronous; every use goes through here, so `TomlError`
 * below is the class its `parse` throws.
 */
const requireLib = createRequire(import.meta.url);
let lib: typeof TomlLib | undefined;
function tomlLib(): typeof TomlLib {
  return (lib ??= requireLib("smol-toml") as typeof TomlLib);
}

export interface TomlOptions {
  /**
   * `true`: every integer as a BigInt, so that every remaining number is a float (`1.0` stays a float);
   * `"asNeeded"`: only integers a double cannot hold exactly.
   */
  integersAsBigInt?: boolean | "asNeeded";
}

/** Parses TOML text; `file` (root-relative) names it in diagnostics. A leading byte-order mark is skipped. */
export function parseTomlText(file: string, text: string, opts: TomlOptions = {}): Result<Record<string, unknown>> {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return ok(tomlLib().parse(text, { integersAsBigInt: opts.integersAsBigInt ?? false }) as Record<string, unknown>);
  } catch (e) {
    if (!(e instanceof tomlLib().TomlError)) throw e;
    const first = e.message.replace(/^Invalid TOML document:\s*/, "").split("\n")[0] ?? "";
    const what = first.replace(/\.$/, "");
    return fail([error("params", `invalid TOML: ${what.charAt(0).toLowerCase()}${what.slice(1)}`, { file, line: e.line, col: e.column })]);
  }
}
