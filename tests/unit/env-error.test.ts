import { describe, expect, it } from "vitest";
import { describeEnvError, envErrorOf, envFailure } from "../../src/core/env-error.js";

function sysError(code: string, syscall: string, p?: string, dest?: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${syscall}`) as NodeJS.ErrnoException & { dest?: string };
  e.code = code;
  e.syscall = syscall;
  if (p !== undefined) e.path = p;
  if (dest !== undefined) e.dest = dest;
  return e;
}

describe("environment errors", () => {
  it("are recognised by errno code; other errors (bugs, ENOENT) are not", () => {
    for (const code of ["ENOSPC", "EDQUOT", "EROFS", "ENAMETOOLONG", "EACCES", "EPERM", "EMFILE", "ENFILE", "EIO"]) {
      expect(envErrorOf(sysError(code, "open", "/x"))?.code).toBe(code);
    }
    expect(envErrorOf(sysError("ENOENT", "open", "/x"))).toBeUndefined();
    expect(envErrorOf(new TypeError("x is undefined"))).toBeUndefined();
    expect(envErrorOf("ENOSPC")).toBeUndefined();
    expect(envFailure(new RangeError("bug"))).toBeUndefined();
  });

  it("name the path written (a copy's destination), inside the project relative to it, a temp file as the file it was becoming", () => {
    const env = envErrorOf(sysError("ENOSPC", "copyfile", "/p/model.bin", "/p/.pipe/cache/ab/.cdef.pipe-tmp-12-0a1b2c3d"))!;
    const d = describeEnvError(env, { root: "/p" });
    expect(d.message).toBe("no space left on the disk holding '.pipe/cache/ab/cdef' (ENOSPC, while copying 'model.bin' to '.pipe/cache/ab/cdef')");
    expect(d.hint).toBe("free space on that disk, then run the command again; nothing was lost");
    const outside = describeEnvError(envErrorOf(sysError("EROFS", "open", "/mnt/ro/state.tmp-99"))!, { root: "/p", doing: "saving the stat cache" });
    expect(outside.message).toBe("'/mnt/ro/state' is on a read-only file system (EROFS, while saving the stat cache)");
  });

  it("use the caller's path when the error has none (a write on an open file)", () => {
    const f = envFailure(sysError("ENOSPC", "write"), { root: "/p", path: "/p/pipe.lock", doing: "writing pipe.lock" });
    expect(f?.ok).toBe(false);
    if (f && !f.ok) {
      expect(f.errors[0]!.reason).toBe("environment");
      expect(f.errors[0]!.message).toBe("no space left on the disk holding 'pipe.lock' (ENOSPC, while writing pipe.lock)");
    }
  });

  it("say what to do for each kind", () => {
    const hint = (code: string): string => describeEnvError({ code, syscall: "open", path: "/p/x" }).hint;
    expect(hint("EACCES")).toMatch(/^check the owner and permissions of '\/p\/x'/);
    expect(hint("ENAMETOOLONG")).toMatch(/^use a shorter path/);
    expect(hint("EMFILE")).toMatch(/ulimit -n/);
    expect(hint("EROFS")).toMatch(/^make it writable/);
    expect(hint("EIO")).toMatch(/may be failing/);
  });
});
