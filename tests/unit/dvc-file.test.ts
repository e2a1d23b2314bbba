/**
 * The `.dvc` file codec (`lock/dvc-file.ts`) and `.dvc` files as data-source stages (`project/dvc-file-stage.ts`,
 * discovery), in process.
 */
import { describe, expect, it } from "vitest";
import { parseDvcFileDoc, serializeDvcFile } from "../../src/lock/dvc-file.js";
import { dvcFileStage } from "../../src/project/dvc-file-stage.js";
import { discoverInListing } from "../../src/project/discover.js";
import { parseYaml } from "../../src/formats/yaml.js";

describe(".dvc file codec", () => {
  it("reads DVC 1, DVC 2, DVC 3 and pipe layouts into one entry shape", () => {
    const v1 = parseDvcFileDoc("a.dvc", "md5: 0123\nouts:\n- md5: 0bee89b07a248e27c83fc3d5951213c1\n  path: a\n  cache: true\n");
    const v2 = parseDvcFileDoc("b.dvc", "outs:\n- md5: 0bee89b07a248e27c83fc3d5951213c1.dir\n  size: 10\n  nfiles: 2\n  path: b\n");
    const v3 = parseDvcFileDoc("c.dvc", "outs:\n- md5: 0bee89b07a248e27c83fc3d5951213c1\n  size: 4\n  hash: md5\n  path: c\n");
    const pipe = parseDvcFileDoc("d.dvc", "outs:\n- xxh64: 0123456789abcdef\n  size: 4\n  hash: xxh64\n  path: d\n");
    for (const r of [v1, v2, v3, pipe]) expect(r.ok).toBe(true);
    if (!v1.ok || !v2.ok || !v3.ok || !pipe.ok) return;
    expect(v1.value.entry.outs).toEqual([{ path: "a", algo: "legacy-md5", hash: "0bee89b07a248e27c83fc3d5951213c1", extra: { cache: true } }]);
    // DVC 1's stage checksum is not an output field and is dropped.
    expect(v1.value.other).toEqual([]);
    expect(v1.value.flavor).toBe("dvc");
    expect(v2.value.entry.outs[0]).toEqual({ path: "b", algo: "legacy-md5", hash: "0bee89b07a248e27c83fc3d5951213c1.dir", size: 10, nfiles: 2 });
    expect(v3.value.entry.outs[0]!.algo).toBe("md5");
    expect(pipe.value.flavor).toBe("pipe");
    expect(pipe.value.entry.cmd).toBe("");
  });

  it("writes DVC 3's key order with xxh64, output flags after, other top-level keys kept in order", () => {
    const text = serializeDvcFile(
      { deps: [], outs: [{ path: "images", algo: "xxh64", hash: "3f6c1a9b0e2d4c58.dir", size: 8437363, nfiles: 1000, extra: { remote: "s3", desc: "faces" } }] },
      [["meta", { owner: "me" }], ["frozen", true]],
    );
    expect(text).toBe("outs:\n- xxh64: 3f6c1a9b0e2d4c58.dir\n  size: 8437363\n  nfiles: 1000\n  hash: xxh64\n  path: images\n  desc: faces\n  remote: s3\nmeta:\n  owner: me\nfrozen: true\n");
    const back = parseDvcFileDoc("images.dvc", text);
    expect(back.ok && back.value.entry.outs[0]).toEqual({ path: "images", algo: "xxh64", hash: "3f6c1a9b0e2d4c58.dir", size: 8437363, nfiles: 1000, extra: { desc: "faces", remote: "s3" } });
    expect(back.ok && serializeDvcFile(back.value.entry, back.value.other)).toBe(text);
  });

  it("quotes a hash of digits only, so it reads back as a string", () => {
    const text = serializeDvcFile({ deps: [], outs: [{ path: "x", algo: "xxh64", hash: "1234567890123456", size: 1 }] });
    expect(text).toContain("xxh64: '1234567890123456'\n");
    const back = parseDvcFileDoc("x.dvc", text);
    expect(back.ok && back.value.entry.outs[0]!.hash).toBe("1234567890123456");
  });

  it("locates what is wrong", () => {
    const r = parseDvcFileDoc("bad.dvc", "outs:\n- md5: 123\n  path: x\n");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors[0]!.location).toMatchObject({ file: "bad.dvc", line: 2, col: 8 });
    expect(r.errors[0]!.hint).toContain("the .dvc file is damaged");
    const empty = parseDvcFileDoc("e.dvc", "meta: {}\n");
    expect(!empty.ok && empty.errors[0]!.message).toContain("a .dvc file needs 'outs'");
  });
});

describe(".dvc files as stages", () => {
  it("a .dvc file is a data source: no command, its outputs relative to its directory (or its wdir)", () => {
    const text = "outs:\n- md5: 0bee89b07a248e27c83fc3d5951213c1\n  path: raw\n  desc: raw data\nfrozen: true\ndesc: the set\n";
    const r = dvcFileStage(parseYaml("data/raw.dvc", text), "data/raw.dvc", "data");
    expect(r.errors).toEqual([]);
    expect(r.stage).toMatchObject({ address: "data/raw.dvc", name: "raw.dvc", file: "data/raw.dvc", dir: "data", wdir: "data", cmd: "", dataSource: true, frozen: true, desc: "the set" });
    expect(r.stage!.outs).toMatchObject([{ path: "raw", rootPath: "data/raw", cache: true, flags: { desc: "raw data" } }]);
    const w = dvcFileStage(parseYaml("meta/x.dvc", "wdir: ../data\nouts:\n- path: x\n"), "meta/x.dvc", "meta");
    expect(w.stage!.outs[0]!.rootPath).toBe("data/x");
  });

  it("refuses outputs outside the root or in .git, located", () => {
    const r = dvcFileStage(parseYaml("x.dvc", "outs:\n- path: ../../etc/passwd\n"), "x.dvc", "");
    expect(r.stage).toBeUndefined();
    expect(r.errors[0]).toMatchObject({ reason: "out-outside-root", location: { file: "x.dvc", line: 2, col: 9 } });
    const g = dvcFileStage(parseYaml("y.dvc", "outs:\n- path: .git/config\n"), "y.dvc", "");
    expect(g.errors[0]!.reason).toBe("reserved-out");
  });

  it("discovery at a revision lists .dvc files after the root's stages file, by path, and never DVC's own directory", async () => {
    const found = await discoverInListing(["b.dvc", "dvc.yaml", "a/x.dvc", ".dvc/config", ".dvc/cache.dvc", "node_modules/m.dvc", "sub/dvc.yaml"], async () => new Map());
    expect(found.map((f) => [f.file, f.flavor])).toEqual([
      ["dvc.yaml", "dvc"],
      ["a/x.dvc", "dvc-file"],
      ["b.dvc", "dvc-file"],
      ["sub/dvc.yaml", "dvc"],
    ]);
  });
});
