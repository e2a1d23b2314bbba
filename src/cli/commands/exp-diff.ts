/**
 * `pipe exp diff [A [B]]`: the metrics and the params of two revisions side by side (default `HEAD` and the
 * workspace), where a revision may be an experiment's name (git resolves `refs/exps/.../NAME`: `git/git.ts`). It is
 * `metrics diff` then `params diff`, as DVC prints them; `--json` puts both under `metrics` and `params`.
 */
import { EXIT_OK, type CommandContext } from "../context.js";

export interface ExpDiffOptions {
  all?: boolean;
  md?: boolean;
  json?: boolean;
}

export async function run(ctx: CommandContext, a: string | undefined, b: string | undefined, opts: ExpDiffOptions): Promise<number> {
  const { metricsDiff, paramsDiff } = await import("../compare.js");
  if (opts.json === true) {
    const parts: Record<string, unknown> = {};
    for (const [key, f] of [
      ["metrics", (c: CommandContext) => metricsDiff(c, a, b, { json: true, all: opts.all === true })],
      ["params", (c: CommandContext) => paramsDiff(c, a, b, { json: true, all: opts.all === true })],
    ] as const) {
      let text = "";
      const code = await f({ ...ctx, io: { ...ctx.io, out: (t) => (text += t) } });
      if (code !== EXIT_OK) return code;
      parts[key] = JSON.parse(text) as unknown;
    }
    ctx.io.out(JSON.stringify(parts, null, 2) + "\n");
    return EXIT_OK;
  }
  const code = await metricsDiff(ctx, a, b, { all: opts.all === true, md: opts.md === true });
  if (code !== EXIT_OK) return code;
  if (!opts.md) ctx.io.out("\n");
  return paramsDiff(ctx, a, b, { all: opts.all === true, md: opts.md === true });
}
