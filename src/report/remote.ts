/**
 * The words of `pipe remote`: the list (secrets masked: `maskSecrets` is the only way options reach the screen)
 * and the `--json` document.
 */
import { maskSecrets, type RemoteConfig } from "../remotes/config.js";

/** `remote list`: `NAME<TAB>URL`, `(default)` after the default; `-v` adds options, secrets as `***`. */
export function remoteListText(cfg: RemoteConfig, verbose: boolean): string {
  let out = "";
  for (const spec of cfg.remotes.values()) {
    const m = maskSecrets(spec);
    const dflt = cfg.defaultRemote?.name === spec.name ? "\t(default)" : "";
    out += `${spec.name}\t${m.url}${dflt}\n`;
    if (verbose) {
      out += `    from ${spec.source}\n`;
      for (const [k, v] of Object.entries(m.options)) out += `    ${k} = ${v}\n`;
    }
  }
  return out;
}

export function remoteListJson(cfg: RemoteConfig): string {
  const remotes = [...cfg.remotes.values()].map((spec) => {
    const m = maskSecrets(spec);
    return { name: spec.name, url: m.url, options: m.options, source: spec.source, default: cfg.defaultRemote?.name === spec.name };
  });
  return JSON.stringify({ remotes, default: cfg.defaultRemote?.name ?? null }, null, 2) + "\n";
}
