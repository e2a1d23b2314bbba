/**
 * The project's cache as the commands that restore open it: `.pipe/cache`, with DVC's own cache as a read-only source
 * of md5 objects when the project is a DVC project (`dvc-cache.ts`), so outputs DVC recorded are restored from the
 * objects DVC already has instead of being made again.
 */
import type { Digester } from "./digest.js";
import { dvcSources } from "./dvc-cache.js";
import { LocalCache, type StoreOptions } from "./store.js";

export function projectCache(root: string, opts: Omit<StoreOptions, "sources"> = {}, digester?: Digester): LocalCache {
  return new LocalCache(root, digester, { ...opts, sources: dvcSources(root) });
}
