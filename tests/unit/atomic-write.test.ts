/** The one atomic writer (`core/atomic-write.ts`): whole files, their mode, and no temp file left when it fails. */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { writeAtomic } from "../../src/core/atomic-write.js";
import { makeProject } from "../helpers/project.js";

describe("writeAtomic", () => {
  it("replaces a file with text, bytes or parts, durably or not, with the mode asked for", async () => {
    const dir = makeProject({ "f": "old" });
    const f = path.join(dir, "f");
    await writeAtomic(f, "text", { durable: true });
    expect(readFileSync(f, "utf8")).toBe("text");
    await writeAtomic(f, [Buffer.from("a"), Buffer.from("b"), new Uint8Array([0x63])], { durable: true });
    expect(readFileSync(f, "utf8")).toBe("abc");
    await writeAtomic(f, Buffer.from("bytes"), { mode: 0o444 });
    expect(readFileSync(f, "utf8")).toBe("bytes");
    expect(statSync(f).mode & 0o777).toBe(0o444);
    expect(readdirSync(dir)).toEqual(["f"]);
  });

  it("writes a name near the 255-byte limit (its temp name is shortened)", async () => {
    const dir = makeProject();
    const f = path.join(dir, "n".repeat(250));
    await writeAtomic(f, "x", { durable: true });
    expect(readFileSync(f, "utf8")).toBe("x");
    expect(readdirSync(dir)).toEqual(["n".repeat(250)]);
  });

  it("leaves the old content and no temp file when the rename fails", async () => {
    const dir = makeProject();
    const target = path.join(dir, "d");
    mkdirSync(target);
    writeFileSync(path.join(target, "keep"), "k");
    await expect(writeAtomic(target, "x", { durable: true })).rejects.toMatchObject({ code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST)$/) });
    expect(readdirSync(dir)).toEqual(["d"]);
    expect(readFileSync(path.join(target, "keep"), "utf8")).toBe("k");
  });
});
