/** What every remote kind shares: URL kinds, names inside a remote, labels without passwords, default -j. */
import { describe, expect, it } from "vitest";
import { defaultJobs, jobsOf, keyOfPath, labelOf, redactUrl, scrub, timeoutOption } from "../../src/remotes/common.js";
import { kindOf } from "../../src/remotes/index.js";

describe("remote basics", () => {
  it("pick the kind by scheme", () => {
    expect(kindOf("s3://b/p")).toEqual({ kind: "s3" });
    expect(kindOf("gs://b/p")).toEqual({ kind: "s3" });
    expect(kindOf("ssh://h/p")).toEqual({ kind: "ssh" });
    expect(kindOf("webdavs://h/p")).toEqual({ kind: "webdav" });
    expect(kindOf("https://h/p")).toEqual({ kind: "http" });
    expect(kindOf("../cache")).toEqual({ kind: "dir" });
    expect(kindOf("hdfs://x")).toMatchObject({ unsupported: expect.stringMatching(/'hdfs:\/\/' is not supported/) });
  });

  it("read keys back from paths in DVC 3's and DVC 2's layouts, and nothing else", () => {
    expect(keyOfPath("files/xxh64/ab/cdef012345678901")).toBeUndefined(); // 18 hex digits: not an xxh64 id
    expect(keyOfPath("files/xxh64/ab/cdef0123456789")).toEqual({ algo: "xxh64", id: "abcdef0123456789" });
    expect(keyOfPath("files/md5/d4/1d8cd98f00b204e9800998ecf8427e.dir")).toEqual({ algo: "md5", id: "d41d8cd98f00b204e9800998ecf8427e.dir" });
    expect(keyOfPath("d4/1d8cd98f00b204e9800998ecf8427e")).toEqual({ algo: "md5", id: "d41d8cd98f00b204e9800998ecf8427e" });
    expect(keyOfPath("files/xxh64/ab/.cdef0123456789.pipe-tmp-1-0")).toBeUndefined();
    expect(keyOfPath("runs/ab/cdef0123456789")).toBeUndefined();
  });

  it("name a remote without its password, and scrub secrets from messages", () => {
    const spec = { name: "dav", url: "webdavs://ann:s3cret-pw@host/p", options: {}, source: "x" };
    expect(labelOf(spec)).toBe("remote 'dav' (webdavs://ann:***@host/p)");
    expect(redactUrl("s3://bucket/prefix")).toBe("s3://bucket/prefix");
    expect(scrub("bad signature for s3cret-pw here", ["s3cret-pw", undefined])).toBe("bad signature for *** here");
  });

  it("default -j per kind, overridden by the remote's jobs option", () => {
    expect(defaultJobs("s3")).toBeGreaterThan(defaultJobs("ssh"));
    expect(jobsOf({ name: "r", url: "s3://b", options: { jobs: "5" }, source: "x" }, "s3")).toBe(5);
    expect(jobsOf({ name: "r", url: "s3://b", options: { jobs: "zero" }, source: "x" }, "s3")).toBe(defaultJobs("s3"));
  });
});

describe("the timeout option", () => {
  it("is seconds (fractions too) in milliseconds, null when unset, and undefined when it is not a positive number", () => {
    expect(timeoutOption(undefined)).toBeNull();
    expect(timeoutOption("20")).toBe(20_000);
    expect(timeoutOption("0.5")).toBe(500);
    for (const bad of ["0", "-3", "soon", ""]) expect(timeoutOption(bad)).toBeUndefined();
  });
});
