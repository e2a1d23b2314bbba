/**
 * The project's cache (`.pipe/cache`, `LocalCache`) passes the object-store contract, writable (as `repro`, `commit`
 * and `checkout` open it) and read-only (as `--dry` and the readers open it).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { LocalCache } from "../../src/storage/store.js";
import { objectStoreContract, type ContractStore } from "./object-store-contract.js";

function localCache(readOnly: boolean): () => Promise<ContractStore> {
  return async () => {
    const root = mkdtempSync(path.join(tmpdir(), "pipe-local-cache-"));
    const store = new LocalCache(root, undefined, readOnly ? { readOnly: true } : { recordVerified: true });
    const objPath = (id: string): string => path.join(root, ".pipe/cache", id.slice(0, 2), id.slice(2));
    return {
      store,
      seed: async (key, bytes) => {
        const p = objPath(key.id);
        mkdirSync(path.dirname(p), { recursive: true });
        rmSync(p, { force: true });
        writeFileSync(p, bytes);
        chmodSync(p, 0o444);
      },
      seedGarbage: async () => {
        const shard = path.join(root, ".pipe/cache", "ab");
        mkdirSync(shard, { recursive: true });
        writeFileSync(path.join(shard, ".cdef0123456789.pipe-tmp-4242-0badcafe"), "half an object");
      },
      cleanup: async () => rmSync(root, { recursive: true, force: true }),
    };
  };
}

objectStoreContract("local cache", localCache(false));
objectStoreContract("local cache, read-only", localCache(true), { readOnly: true });
