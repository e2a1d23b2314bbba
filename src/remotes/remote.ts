/**
 * What a configured remote is before it is opened: its name, its URL and its options (from `.pipe/config.yaml`,
 * `.pipe/config.local.yaml`, or DVC's `.dvc/config` and `.dvc/config.local`), and the one way to open it as an
 * `ObjectStore` (`openRemote`, in `index.ts`). Every kind lays objects out as DVC 3 does (`files/<algo>/<2>/<rest>`,
 * run-cache entries under `runs/`), reads DVC 2's `<2>/<30>` layout for md5 objects, and passes the object-store
 * contract suite against its real server.
 */
import type { ObjectStore, StoreResult } from "../storage/object-store.js";

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

/**
 * What a remote offers beyond the object-store contract: the run-cache entries DVC 3 keeps under `runs/` (small
 * files, named by a path relative to `runs/`, such as `ab/cdef.../0123...`), and how many transfers at once suit it.
 */
export interface RemoteStore extends ObjectStore {
  readonly kind: RemoteKind;
  /** Transfers at once when `-j` is not given (the remote's `jobs` option, else the kind's default). */
  readonly jobs: number;
  /** Every run-cache entry's path relative to `runs/`, in no particular order. */
  listRuns(): AsyncIterable<StoreResult<string>>;
  /** The bytes of one run-cache entry, undefined when it is not there. */
  getRun(rel: string): Promise<StoreResult<Buffer | undefined>>;
  /** Stores a run-cache entry whole (temp name, then rename), replacing one of the same path. */
  putRun(rel: string, data: Uint8Array): Promise<StoreResult<void>>;
  /** Releases connections (SSH sessions, sockets); the store is unusable afterwards. */
  close(): Promise<void>;
}
