/**
 * One long-lived `git cat-file --batch` process answering any number of object requests in order, for readers that
 * walk many commits (`gc -A`): a request is one line written to its stdin, and answers are parsed from its stdout as
 * they stream in, so thousands of trees and blobs cost one process instead of one each.
 *
 * Requests may be issued concurrently: git answers in request order, and so are the promises settled. A name git
 * does not know is `missing`; git dying or failing to start settles every pending request with an error, never an
 * exception.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

export type BatchObject = { kind: "missing" } | { kind: "object"; oid: string; type: string; body: Buffer };

const HEADER = /^([0-9a-f]{40,64}) (blob|tree|commit|tag) (\d+)$/;

// Readers never take the index lock (spec 6: readers never block); messages are parsed, so they must be English.
const GIT_ENV = { ...process.env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C", LANGUAGE: "C" };

export class CatFileBatch {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: ((r: BatchObject | Error) => void)[] = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  private dead: Error | undefined;
  private stderr = "";

  constructor(cwd: string) {
    this.child = spawn("git", ["cat-file", "--batch"], { cwd, env: GIT_ENV, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.on("data", (c: Buffer) => {
      this.chunks.push(c);
      this.buffered += c.length;
      this.drain();
    });
    this.child.stderr.on("data", (c: Buffer) => (this.stderr += c.toString("utf8")));
    this.child.stdin.on("error", () => undefined); // git died early; reported by "close"
    this.child.on("error", (e) => this.fail(new Error(`cannot run git: ${e.message}`)));
    this.child.on("close", (code) => this.fail(new Error(`git cat-file exited with ${code}${this.stderr.trim() ? `: ${this.stderr.trim()}` : ""}`)));
  }

  /** The object `spec` names (`<oid>`, `<commit>^{tree}`, `<commit>:<path>`). */
  get(spec: string): Promise<BatchObject | Error> {
    if (this.dead) return Promise.resolve(this.dead);
    // A name with a newline cannot be asked on one line, so it cannot name an object as asked.
    if (spec.includes("\n")) return Promise.resolve({ kind: "missing" });
    return new Promise((resolve) => {
      this.pending.push(resolve);
      this.child.stdin.write(spec + "\n");
    });
  }

  /** Ends the process (pending requests are still answered). */
  close(): void {
    this.child.stdin.end();
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.splice(0)) p(this.dead);
  }

  private drain(): void {
    while (this.pending.length > 0 && this.buffered > 0) {
      const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [buf];
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return;
      const header = buf.subarray(0, nl).toString("utf8");
      const m = HEADER.exec(header);
      let used: number;
      let answer: BatchObject;
      if (!m) {
        // `<name> missing` (or `ambiguous`): the header is the whole answer.
        used = nl + 1;
        answer = { kind: "missing" };
      } else {
        const size = Number(m[3]);
        if (buf.length < nl + 1 + size + 1) return;
        used = nl + 1 + size + 1;
        answer = { kind: "object", oid: m[1]!, type: m[2]!, body: Buffer.from(buf.subarray(nl + 1, nl + 1 + size)) };
      }
      const rest = buf.subarray(used);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.pending.shift()!(answer);
    }
  }
}

/** An entry of a tree object. */
export interface TreeEntry {
  /** Octal mode as git writes it: `40000` tree, `100644`/`100755` file, `120000` symlink, `160000` submodule. */
  mode: string;
  name: string;
  oid: string;
}

/** The entries of a tree object's body (`<mode> <name>\0<binary oid>`...); `oidBytes` is 20 (SHA-1) or 32 (SHA-256). */
export function parseTree(body: Buffer, oidBytes: number): TreeEntry[] {
  const out: TreeEntry[] = [];
  let at = 0;
  while (at < body.length) {
    const sp = body.indexOf(0x20, at);
    const nul = body.indexOf(0, sp + 1);
    if (sp < 0 || nul < 0 || nul + 1 + oidBytes > body.length) break;
    out.push({
      mode: body.subarray(at, sp).toString("latin1"),
      name: body.subarray(sp + 1, nul).toString("utf8"),
      oid: body.subarray(nul + 1, nul + 1 + oidBytes).toString("hex"),
    });
    at = nul + 1 + oidBytes;
  }
  return out;
}
