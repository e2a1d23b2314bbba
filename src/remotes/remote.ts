/**
 * What a configured remote is before it is opened: its name, its URL and its options (from `.pipe/config.yaml`,
 * `.pipe/config.local.yaml`, or DVC's `.dvc/config` and `.dvc/config.local`), and the one way to open it as an
 * `ObjectStore` (`openRemote`, in `index.ts`). Every kind lays objects out as DVC 3 does (`files/<algo>/<2>/<rest>`,
 * run-cache entries under `runs/`), reads DVC 2's `<2>/<30>` layout for md5 objects, and passes the object-store
 * contract suite against its real server.
 */

/** A remote as configured. */
export interface RemoteSpec {
  /** The name it is configured under (`storage`). */
  name: string;
  /** `/mnt/shared/cache`, `file:///...`, `s3://bucket/prefix`, `ssh://user@host:port/path`, `webdav://...`, `https://...`. */
  url: string;
  /** Every other key of its section (`endpointurl`, `region`, `profile`, `keyfile`, `user`, `password`, `jobs`, ...). */
  options: Readonly<Record<string, string>>;
  /** Where it was configured, for messages (`.pipe/config.yaml`, `.dvc/config`). */
  source: string;
}

/** The kinds `pipe` can open. */
export type RemoteKind = "dir" | "s3" | "ssh" | "webdav" | "http";
