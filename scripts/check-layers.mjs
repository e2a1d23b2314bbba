#!/usr/bin/env node
/**
 * The layer check behind `npm run lint`: imports between folders of `src/` run downward only.
 *
 * Each folder of `src/` belongs to one layer of LAYERS (top to bottom, as in the architecture's layout). A file may
 * import from its own folder and from any folder of a lower layer; an import of a folder in a higher layer, or of a
 * different folder in the same layer, is reported as `file:line: ...` and the check exits 1. A folder that is in no
 * layer (or a file directly in `src/`) is reported too, so a new folder is placed on purpose. With only downward
 * edges the folder graph cannot have a cycle.
 *
 * It reads relative import specifiers (`import ... from`, `export ... from`, `import("...")`, type-only imports
 * included) line by line; no dependency, no TypeScript needed. Usage: `node scripts/check-layers.mjs [src-dir]`.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Top to bottom. Names are today's folders; where a folder is not yet named as the architecture names it, the
 * comment says which target it stands for. Folders the architecture names that do not exist yet are listed so that
 * they have their place when they arrive.
 */
export const LAYERS = [
  ["cli"],
  ["report"],
  ["experiments", "compare"],
  ["exec"],
  ["plan", "executors", "remotes"],
  ["storage"],
  ["status"],
  // params/ is not in the target: it holds the params value helpers that both status/ (judging) and compare/
  // (`params diff`, `metrics diff`) use: key globs, the value diff and Python-style printing of values.
  ["params"],
  ["lock"],
  ["graph"],
  ["project"],
  ["template", "schema"],
  ["hash"],
  // git/ is not in the target: reading trees and blobs at a revision, used by gc (cache/) and the compare code.
  ["git"],
  ["formats"],
  ["core"],
];

/**
 * Upward imports that stay until the change that removes them lands; each says why. `from` and `to` are paths
 * relative to the source directory; an entry without `from` allows any importer of `to`.
 */
export const ALLOWED = [];

const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));

/** Relative import specifiers of one line: static, re-export, side-effect and dynamic imports. */
const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/g;

/**
 * The violations among `files` (`{ file, text }`, `file` relative to the source directory, POSIX separators), as
 * `{ file, line, message }` in file then line order; `shown` is the source directory as messages name it.
 */
export function checkLayers(files, shown = "src") {
  const out = [];
  for (const { file, text } of [...files].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) {
    const folder = folderOf(file);
    const from = layerOf.get(folder);
    if (from === undefined) {
      out.push({ file, line: 1, message: `${folderLabel(folder)} is in no layer: add it to LAYERS in scripts/check-layers.mjs` });
      continue;
    }
    text.split("\n").forEach((line, i) => {
      const t = line.trimStart();
      if (t.startsWith("//") || t.startsWith("*") || t.startsWith("/*")) return;
      for (const m of line.matchAll(SPEC)) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1])).replace(/\.js$/, ".ts");
        const toFolder = folderOf(target);
        if (toFolder === folder) continue;
        if (ALLOWED.some((a) => a.to === target && (a.from === undefined || a.from === file))) continue;
        const to = layerOf.get(toFolder);
        const why =
          to === undefined ? `${folderLabel(toFolder)} is in no layer` :
          to < from ? "a layer below may not import a layer above" :
          to === from ? "folders of one layer may not import each other" : undefined;
        if (why === undefined) continue;
        out.push({ file, line: i + 1, message: `imports ${path.posix.join(shown, target)} (${toFolder}) from ${folder} (${why})` });
      }
    });
  }
  return out;
}

function folderOf(file) {
  const i = file.indexOf("/");
  return i < 0 ? "" : file.slice(0, i);
}

function folderLabel(folder) {
  return folder === "" ? "the top of the source directory" : `folder ${folder}/`;
}

function sourceFiles(dir, rel = "") {
  const out = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(dir, r));
    else if (/\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push({ file: r, text: readFileSync(path.join(dir, r), "utf8") });
  }
  return out;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? "src";
  const shown = path.relative(process.cwd(), path.resolve(dir)) || ".";
  const problems = checkLayers(sourceFiles(dir), shown);
  for (const p of problems) process.stdout.write(`${path.posix.join(shown, p.file)}:${p.line}: ${p.message}\n`);
  if (problems.length > 0) {
    process.stdout.write(`${problems.length} layer violation${problems.length === 1 ? "" : "s"} (layers, top to bottom: ${LAYERS.map((l) => l.join(", ")).join("; ")})\n`);
    process.exitCode = 1;
  }
}
