/**
 * `pipe remote add|list|modify|remove|default`: the remotes of `.pipe/config.yaml` (and the git-ignored
 * `.pipe/config.local.yaml` with `--local`), as DVC 3's `dvc remote`. DVC's `.dvc/config` remotes are listed and
 * used, never edited. The reading, merging and editing is `remotes/config.ts`'s; the words are `report/remote.ts`'s.
 */
import type { Result } from "../../core/diagnostic.js";
import type { EditOutcome } from "../../remotes/config.js";
import { EXIT_OK, EXIT_USAGE, type CommandContext } from "../context.js";
import { findRootForCommand, printDiagnostics } from "../load.js";

export interface RemoteOptions {
  default?: boolean;
  force?: boolean;
  local?: boolean;
  unset?: boolean;
  json?: boolean;
}

async function withRoot(ctx: CommandContext, body: (root: string, cfg: typeof import("../../remotes/config.js")) => Promise<number>): Promise<number> {
  const project = await findRootForCommand(ctx);
  if (typeof project === "number") return project;
  return body(project.root, await import("../../remotes/config.js"));
}

function done(ctx: CommandContext, r: Result<EditOutcome>): number {
  if (!r.ok) {
    printDiagnostics(ctx, r.errors);
    return EXIT_USAGE;
  }
  if (!ctx.global.quiet) for (const n of r.value.notes) ctx.io.err(`note: ${n}\n`);
  return EXIT_OK;
}

export function add(ctx: CommandContext, name: string, url: string, opts: RemoteOptions): Promise<number> {
  return withRoot(ctx, async (root, cfg) => done(ctx, await cfg.addRemote(root, name, url, opts)));
}

export function modify(ctx: CommandContext, name: string, key: string, value: string | undefined, opts: RemoteOptions): Promise<number> {
  if ((value === undefined) !== (opts.unset === true)) {
    ctx.io.err(opts.unset ? "error: --unset takes no value\n" : `error: missing the value of '${key}' (or pass --unset)\n`);
    return Promise.resolve(EXIT_USAGE);
  }
  return withRoot(ctx, async (root, cfg) => done(ctx, await cfg.modifyRemote(root, name, key, value, opts)));
}

export function remove(ctx: CommandContext, name: string): Promise<number> {
  return withRoot(ctx, async (root, cfg) => done(ctx, await cfg.removeRemote(root, name)));
}

export function setDefault(ctx: CommandContext, name: string | undefined, opts: RemoteOptions): Promise<number> {
  return withRoot(ctx, async (root, cfg) => {
    if (name === undefined && !opts.unset) {
      const r = await cfg.readRemoteConfig(root);
      if (!r.ok) return done(ctx, r);
      if (!r.value.defaultRemote) {
        ctx.io.err("error: no default remote is set ('pipe remote default NAME' sets one)\n");
        return 1;
      }
      ctx.io.out(r.value.defaultRemote.name + "\n");
      return EXIT_OK;
    }
    return done(ctx, await cfg.setDefaultRemote(root, opts.unset ? undefined : name, opts));
  });
}

export function list(ctx: CommandContext, opts: RemoteOptions): Promise<number> {
  return withRoot(ctx, async (root, cfg) => {
    const r = await cfg.readRemoteConfig(root);
    if (!r.ok) return done(ctx, r);
    const say = await import("../../report/remote.js");
    ctx.io.out(opts.json ? say.remoteListJson(r.value) : say.remoteListText(r.value, ctx.global.verbose));
    return EXIT_OK;
  });
}
