/**
 * A directory's listing as hashing walks it (every file's absolute path and stat, in walk order), and its
 * fingerprint: a digest of (relpath, inode, size, mtime_ns) of every file. The stat cache keeps the fingerprint next to
 * the directory's hash, so a directory whose listing is unchanged is answered without a per-file stat cache lookup,
 * without building, sorting and serialising its manifest and without hashing it: on a no-op `status` of a
 * 100,000-file directory that leaves the stats themselves (the cost ninja would pay too) and one pass over numbers.
 *
 * Why the fingerprint is enough: a file whose (path, inode, size, mtime_ns) is unchanged is taken to be unchanged by
 * the stat cache already, and the listing holds every file of the directory by relpath, so an edit (mtime), an added,
 * removed or renamed file (relpath) and a file replaced by another (inode) all change it. Its hash being recorded only
 * when no file is racy (see `state.ts`) makes it exactly as trustworthy as the per-file entries it summarises.
 *
 * The stats are kept in typed arrays rather than as one object per file: 100,000 retained objects (and their
 * bigints) are what the garbage collector would copy around for the whole walk.
 *
 * The listing is what remains after the ignore rules (`ignore.ts`), so it changes whenever they change which files
 * are in; the rules themselves (their version and the text of every ignore file that applied) are part of the
 * fingerprint too, so that a record always says under which rules it was taken.
 *
 * Fingerprint encoding (in the machine's byte order: `.pipe/state` never leaves it): the rules' identity (its UTF-16
 * length, 32 bits, and code units); the number of files (32 bits); per file, the relpath's UTF-16 length (32 bits)
 * and code units; then every inode (64 bits), every size (a 64-bit float, exact below 2^53) and every mtime_ns (64
 * bits), in walk order. Lengths make it unambiguous. It is hashed with SHA-256 (native, and it needs no wasm, so
 * checking a DVC project's md5 directories never loads xxhash), truncated to 128 bits.
 */
import { createHash } from "node:crypto";
import type { FsStat } from "./fs.js";

export class Listing {
  /** Absolute paths of the files, in walk order. */
  readonly abs: string[] = [];
  /** Sum of the file sizes. */
  totalSize = 0;
  /** The newest mtime among the files (`undefined` while empty). */
  newestMtimeNs: bigint | undefined;
  private ino = new BigUint64Array(256);
  private sizes = new Float64Array(256);
  private mtimeNs = new BigInt64Array(256);

  get length(): number {
    return this.abs.length;
  }

  add(abs: string, st: FsStat): void {
    const i = this.abs.length;
    if (i === this.sizes.length) this.grow();
    this.abs.push(abs);
    this.ino[i] = st.ino;
    this.sizes[i] = st.size;
    this.mtimeNs[i] = st.mtimeNs;
    this.totalSize += st.size;
    if (this.newestMtimeNs === undefined || st.mtimeNs > this.newestMtimeNs) this.newestMtimeNs = st.mtimeNs;
  }

  size(i: number): number {
    return this.sizes[i]!;
  }

  /** The stat the walk saw for file `i` (a new object; `dev` is not kept, only directories need it). */
  stat(i: number): FsStat {
    return { kind: "file", dev: 0n, ino: this.ino[i]!, size: this.sizes[i]!, mtimeNs: this.mtimeNs[i]! };
  }

  /** 32 hex digits; each path's relpath starts at `relStart`; `rules` identifies the ignore rules that applied. */
  fingerprint(relStart: number, rules = ""): string {
    const n = this.abs.length;
    let chars = new Uint16Array(Math.max(64, n * 24));
    let at = 0;
    for (let i = 0; i < n; i++) {
      const abs = this.abs[i]!;
      const len = abs.length - relStart;
      if (at + len + 2 > chars.length) {
        const bigger = new Uint16Array(Math.max(chars.length * 2, at + len + 2));
        bigger.set(chars.subarray(0, at));
        chars = bigger;
      }
      chars[at++] = len & 0xffff;
      chars[at++] = len >>> 16;
      for (let c = relStart; c < abs.length; c++) chars[at++] = abs.charCodeAt(c);
    }
    const ruleChars = new Uint16Array(rules.length);
    for (let c = 0; c < rules.length; c++) ruleChars[c] = rules.charCodeAt(c);
    return createHash("sha256")
      .update(new Uint32Array([rules.length]))
      .update(ruleChars)
      .update(new Uint32Array([n]))
      .update(chars.subarray(0, at))
      .update(this.ino.subarray(0, n))
      .update(this.sizes.subarray(0, n))
      .update(this.mtimeNs.subarray(0, n))
      .digest("hex")
      .slice(0, 32);
  }

  private grow(): void {
    const n = this.sizes.length * 2;
    const ino = new BigUint64Array(n);
    ino.set(this.ino);
    this.ino = ino;
    const sizes = new Float64Array(n);
    sizes.set(this.sizes);
    this.sizes = sizes;
    const mtimeNs = new BigInt64Array(n);
    mtimeNs.set(this.mtimeNs);
    this.mtimeNs = mtimeNs;
  }
}
