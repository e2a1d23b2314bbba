/**
 * Opening a configured remote: the URL's scheme picks the kind, and each kind lives in its own module, imported
 * only when a remote of that kind is opened (the AWS SDK alone costs more start-up than all of `pipe status`).
 * Kinds `pipe` does not support (Google Drive, Azure, ...) are a clear error that names the ones it does.
 */
import { error, fail, type Result } from "../core/diagnostic.js";
import type { RemoteKind, RemoteSpec, RemoteStore } from "./remote.js";

export { defaultJobs } from "./common.js";
export type { RemoteKind, RemoteSpec, RemoteStore } from "./remote.js";

/** What a remote needs from its surroundings: the project root (relative directory URLs) and the environment. */
export interface RemoteContext {
  root: string;
  env: NodeJS.ProcessEnv;
}

const SUPPORTED = "a directory (a path or file://), s3:// (and S3-compatible stores, gs:// through GCS's S3 API), ssh://, webdav:// or webdavs://, http:// or https:// (read-only)";

/** The kind a URL names, or a message saying why it names none `pipe` supports. */
export function kindOf(url: string): { kind: RemoteKind } | { unsupported: string } {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url);
  if (!m) return { kind: "dir" };
  const scheme = m[1]!.toLowerCase();
  switch (scheme) {
    case "file":
      return { kind: "dir" };
    case "s3":
    case "gs":
      return { kind: "s3" };
    case "ssh":
    case "sftp":
      return { kind: "ssh" };
    case "webdav":
    case "webdavs":
      return { kind: "webdav" };
    case "http":
    case "https":
      return { kind: "http" };
    case "gdrive":
      return {
        unsupported: `Google Drive remotes are not supported; pipe supports ${SUPPORTED}. To move a Drive remote, copy its folder to one of these (for example with 'rclone copy gdrive:FOLDER s3:BUCKET/PREFIX') and point the remote's url there`,
      };
    case "azure":
    case "az":
      return { unsupported: `Azure remotes are not supported; pipe supports ${SUPPORTED}` };
    default:
      return { unsupported: `remote URL scheme '${scheme}://' is not supported; pipe supports ${SUPPORTED}` };
  }
}

/** Opens the remote as an object store; a bad URL or option is a located error (exit 2) naming the remote. */
export async function openRemote(spec: RemoteSpec, ctx: RemoteContext): Promise<Result<RemoteStore>> {
  const k = kindOf(spec.url);
  if ("unsupported" in k) {
    return fail([error("usage", `remote '${spec.name}' (${spec.source}): ${k.unsupported}`)]);
  }
  switch (k.kind) {
    case "dir":
      return (await import("./dir.js")).openDir(spec, ctx);
    case "s3":
      return (await import("./s3.js")).openS3(spec, ctx);
    case "ssh":
      return (await import("./ssh.js")).openSsh(spec, ctx);
    case "webdav":
      return (await import("./webdav.js")).openWebdav(spec, ctx);
    case "http":
      return (await import("./http.js")).openHttp(spec, ctx);
  }
}
