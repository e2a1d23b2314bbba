/** Glob params keys: fnmatch segments over the dotted path, as DVC's `dpath` matches them. */
import { describe, expect, it } from "vitest";
import { fnmatchRegExp, globCovers, globMatches, isGlobKey } from "../../src/params/glob.js";
import { getDotted, isAbsent } from "../../src/status/params.js";

describe("params glob keys", () => {
  it("reads segments as fnmatch patterns", () => {
    expect(fnmatchRegExp("moons*").test("moons_big")).toBe(true);
    expect(fnmatchRegExp("moons*").test("circles")).toBe(false);
    expect(fnmatchRegExp("m?ons").test("moons")).toBe(true);
    expect(fnmatchRegExp("[!c]*").test("circles")).toBe(false);
    expect(fnmatchRegExp("[!c]*").test("moons")).toBe(true);
    expect(fnmatchRegExp("[]x]").test("]")).toBe(true);
    expect(fnmatchRegExp("a[").test("a[")).toBe(true);
    expect(fnmatchRegExp("a.b*").test("axb")).toBe(false);
    expect(isGlobKey("train.lr")).toBe(false);
  });

  it("matches one level per segment, lists by index, `**` at any depth", () => {
    const v = { d: { moons: { n: 1 }, circles: { n: 2 } }, l: [{ x: 1 }, { x: 2 }] };
    expect(globMatches(v, "d.moons*").map((m) => m.path.join("."))).toEqual(["d.moons"]);
    expect(globMatches(v, "d.*").map((m) => m.path.join("."))).toEqual(["d.moons", "d.circles"]);
    expect(globMatches(v, "l.*.x").map((m) => m.value)).toEqual([1, 2]);
    expect(globMatches(v, "**.n").map((m) => m.value)).toEqual([1, 2]);
    expect(globMatches(v, "*").length).toBe(2);
  });

  it("gives the one value a glob matches, none for no match or several (DVC's dpath.get)", () => {
    const v = { d: { moons: { n: 1 }, circles: { n: 2 } } };
    expect(getDotted(v, "d.moon*")).toEqual({ n: 1 });
    expect(isAbsent(getDotted(v, "d.star*"))).toBe(true);
    expect(isAbsent(getDotted(v, "d.*"))).toBe(true);
  });

  it("covers the flat keys under every match", () => {
    expect(globCovers("d.moons.n", "d.moon*")).toBe(true);
    expect(globCovers("d.moons", "d.moon*")).toBe(true);
    expect(globCovers("d.circles.n", "d.moon*")).toBe(false);
    expect(globCovers("d", "d.moon*")).toBe(false);
  });
});
