import type { CommandContext } from "../context.js";
export async function run(_ctx: CommandContext, _a: string | undefined, _b: string | undefined, _opts: Record<string, unknown>): Promise<number> {
  return 2;
}
