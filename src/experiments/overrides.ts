/**
 * `-S/--set-param [FILE:]KEY=VALUE` overrides: parsing them, expanding grids (`-S a=1,2 -S b=x,y` gives the four
 * combinations, as DVC's hydra sweeps do), and writing them into params files.
 *
 * A value is read as a YAML 1.2 scalar or flow collection (`0.01` a number, `true` a boolean, `[1, 2]` a list,
 * anything else a string), as DVC reads it. A key must exist in the file unless it is written `+KEY=VALUE` (hydra's
 * rule), so a typo does not silently add a parameter no stage reads.
 *
 * YAML files are edited in place: each changed value's source text is replaced by the new value's text and nothing
 * else moves, so comments, quoting, indentation and blank lines stay as the user wrote them (a new key goes through
 * the `yaml` package's Document API, which keeps comments too). JSON and TOML files are rewritten from their values
 * (they keep no comments worth the name: TOML's are lost, as with DVC). Python files get the literal of the assignment
 * (`lr = 0.1`, or `lr = 0.1` inside `class Train:` for `Train.lr`) replaced on its line.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { error, fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import { writeAtomic } from "../core/atomic-write.js";
import { formatOf } from "../formats/params-file.js";
import { yamlLib } from "../formats/yaml.js";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";

/** The params file a bare key belongs to (DVC's default). */
export const DEFAULT_PARAMS = "params.yaml";

export interface Override {
  /** Params file, relative to the project root. */
  file: string;
  /** Dot path. */
  key: string;
  /** The value as written. */
  raw: string;
  /** `+KEY=VALUE`: the key may be new. */
  add: boolean;
}

/** One `-S` as given: a file, a key, and one or more values (a sweep). */
export interface SetParam {
  file: string;
  key: string;
  values: string[];
  add: boolean;
}

/** Parses one `-S` argument. */
export function parseSetParam(arg: string): Result<SetParam> {
  const eq = arg.indexOf("=");
  if (eq <= 0) return fail([error("usage", `invalid -S/--set-param '${arg}': expected [FILE:]KEY=VALUE`)]);
  let left = arg.slice(0, eq);
  const right = arg.slice(eq + 1);
  let file = DEFAULT_PARAMS;
  const colon = left.lastIndexOf(":");
  if (colon >= 0) {
    file = left.slice(0, colon);
    left = left.slice(colon + 1);
  }
  const add = left.startsWith("+");
  if (add) left = left.slice(1);
  if (file === "" || left === "" || left.split(".").some((p) => p === "")) {
    return fail([error("usage", `invalid -S/--set-param '${arg}': expected [FILE:]KEY=VALUE`)]);
  }
  return ok({ file: path.posix.normalize(file.replace(/\\/g, "/")), key: left, values: splitSweep(right), add });
}

/**
 * `0.01,0.1` is two values; commas inside brackets or quotes are not separators (`[1,2]` is one list value), as in
 * hydra's grammar.
 */
function splitSweep(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = "";
  let cur = "";
  for (const ch of text) {
    if (quote !== "") {
      if (ch === quote) quote = "";
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "[" || ch === "{") depth++;
    else if (ch === "]" || ch === "}") depth--;
    else if (ch === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += ch;
  }
  out.push(cur.trim());
  return out;
}

/** Every combination of the sweeps, in the order the flags were given (the last flag varying fastest). */
export function expandGrid(sets: readonly SetParam[]): Override[][] {
  let combos: Override[][] = [[]];
  for (const s of sets) {
    const next: Override[][] = [];
    for (const c of combos) for (const raw of s.values) next.push([...c, { file: s.file, key: s.key, raw, add: s.add }]);
    combos = next;
  }
  return combos;
}

/** The value of an override as DVC reads it: a YAML scalar or flow collection, else the string itself. */
export function overrideValue(raw: string): unknown {
  try {
    const v: unknown = yamlLib().parse(raw, { version: "1.2" });
    return v === undefined ? raw : v;
  } catch {
    return raw;
  }
}

/** Applies overrides to the params files under `root`; returns the files changed (relative to `root`). */
export async function applyOverrides(root: string, overrides: readonly Override[]): Promise<Result<string[]>> {
  const byFile = new Map<string, Override[]>();
  for (const o of overrides) byFile.set(o.file, [...(byFile.get(o.file) ?? []), o]);
  const changed: string[] = [];
  const errors: Diagnostic[] = [];
  for (const [file, list] of [...byFile].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const abs = path.join(root, file);
    let text: string;
    try {
      text = await readFile(abs, "utf8");
    } catch {
      errors.push(error("usage", `-S ${list[0]!.key}: params file '${file}' does not exist`));
      continue;
    }
    const r = editParamsText(file, text, list);
    if (!r.ok) {
      errors.push(...r.errors);
      continue;
    }
    if (r.value !== text) {
      await writeAtomic(abs, r.value);
      changed.push(file);
    }
  }
  return errors.length > 0 ? fail(errors) : ok(changed);
}

/** The text of a params file with the overrides applied. */
export function editParamsText(file: string, text: string, overrides: readonly Override[]): Result<string> {
  switch (formatOf(file)) {
    case "yaml":
      return editYaml(file, text, overrides);
    case "json":
      return editValues(file, text, overrides, (t) => JSON.parse(t) as unknown, (v, t) => JSON.stringify(v, null, indentOf(t)) + "\n");
    case "toml":
      return editToml(file, text, overrides);
    case "python":
      return editPython(file, text, overrides);
  }
}

function indentOf(text: string): number | string {
  const m = /\n([ \t]+)\S/.exec(text);
  return m ? (m[1]!.includes("\t") ? "\t" : m[1]!.length) : 2;
}

function missingKey(file: string, o: Override): Diagnostic {
  return error("usage", `-S ${o.key}: no such key in '${file}' (write '+${o.key}=${o.raw}' to add it)`);
}

function editYaml(file: string, text: string, overrides: readonly Override[]): Result<string> {
  const Y = yamlLib();
  const doc = Y.parseDocument(text, { version: "1.2" });
  if (doc.errors.length > 0) return fail([error("params", `${file}: cannot parse YAML: ${doc.errors[0]!.message}`)]);
  // Replacements of existing scalars by offset; additions through the Document API afterwards (rare, and they may
  // move text, so then the whole document is printed by the package, comments kept).
  const splices: { start: number; end: number; text: string }[] = [];
  const additions: Override[] = [];
  for (const o of overrides) {
    const segs = o.key.split(".");
    const node = nodeAt(doc, segs);
    if (node?.range && Y.isScalar(node)) {
      splices.push({ start: node.range[0], end: node.range[1], text: yamlText(o.raw) });
    } else if (node !== undefined || o.add) additions.push(o);
    else return fail([missingKey(file, o)]);
  }
  splices.sort((a, b) => b.start - a.start);
  let out = text;
  for (const s of splices) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  if (additions.length === 0) return ok(out);
  const doc2 = Y.parseDocument(out, { version: "1.2" });
  for (const o of additions) doc2.setIn(o.key.split("."), overrideValue(o.raw));
  return ok(doc2.toString());
}

function nodeAt(doc: import("yaml").Document, segs: readonly string[]): import("yaml").Node | undefined {
  const Y = yamlLib();
  let cur: unknown = doc.contents;
  for (const s of segs) {
    if (Y.isMap(cur)) cur = cur.get(s, true);
    else if (Y.isSeq(cur) && /^\d+$/.test(s)) cur = cur.get(Number(s), true);
    else return undefined;
    if (cur === undefined || cur === null) return undefined;
  }
  return Y.isNode(cur) ? cur : undefined;
}

/**
 * The source text of a value: as the user wrote it when YAML reads it back as the same plain value on one line
 * (`0.010` stays `0.010`), else a double-quoted string (JSON's quoting is YAML's).
 */
function yamlText(raw: string): string {
  if (raw !== "" && !/[\n#]/.test(raw) && !/^\s|\s$/.test(raw) && !raw.includes(": ")) {
    try {
      yamlLib().parse(raw, { version: "1.2" });
      return raw;
    } catch {
      // not a plain YAML value: quoted below
    }
  }
  return JSON.stringify(raw);
}

function setIn(obj: unknown, segs: readonly string[], value: unknown, add: boolean): boolean {
  let cur = obj;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const last = i === segs.length - 1;
    if (Array.isArray(cur) && /^\d+$/.test(s)) {
      const n = Number(s);
      if (n >= cur.length && !add) return false;
      if (last) cur[n] = value;
      else cur = cur[n];
      continue;
    }
    if (cur === null || typeof cur !== "object") return false;
    const rec = cur as Record<string, unknown>;
    if (!(s in rec)) {
      if (!add) return false;
      if (!last) rec[s] = {};
    }
    if (last) rec[s] = value;
    else cur = rec[s];
  }
  return true;
}

function editValues(
  file: string,
  text: string,
  overrides: readonly Override[],
  parse: (t: string) => unknown,
  print: (v: unknown, t: string) => string,
): Result<string> {
  let value: unknown;
  try {
    value = parse(text);
  } catch (e) {
    return fail([error("params", `${file}: cannot parse: ${e instanceof Error ? e.message : String(e)}`)]);
  }
  for (const o of overrides) if (!setIn(value, o.key.split("."), overrideValue(o.raw), o.add)) return fail([missingKey(file, o)]);
  return ok(print(value, text));
}

function editToml(file: string, text: string, overrides: readonly Override[]): Result<string> {
  return editValues(file, text, overrides, (t) => parseToml(t), (v) => stringifyToml(v) + "\n");
}

/** A Python literal of a value. */
function pyLiteral(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isInteger(v) && !Object.is(v, -0) ? String(v) : String(v).replace(/^(-?\d+)$/, "$1.0");
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyLiteral).join(", ")}]`;
  if (typeof v === "object") return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${JSON.stringify(k)}: ${pyLiteral(x)}`).join(", ")}}`;
  return String(v);
}

function editPython(file: string, text: string, overrides: readonly Override[]): Result<string> {
  const lines = text.split("\n");
  for (const o of overrides) {
    const segs = o.key.split(".");
    if (segs.length > 2) return fail([error("usage", `-S ${o.key}: in a Python params file only NAME or Class.NAME can be set`)]);
    let from = 0;
    let to = lines.length;
    let indent = "";
    if (segs.length === 2) {
      const at = lines.findIndex((l) => new RegExp(`^class\\s+${escapeRe(segs[0]!)}\\b.*:`).test(l));
      if (at < 0) return fail([missingKey(file, o)]);
      from = at + 1;
      const end = lines.findIndex((l, i) => i > at && /^\S/.test(l));
      to = end < 0 ? lines.length : end;
      indent = "\\s+";
    }
    const name = segs[segs.length - 1]!;
    const re = new RegExp(`^(${indent}${escapeRe(name)}\\s*(?::[^=]*)?=\\s*)([^#]*?)(\\s*(?:#.*)?)$`);
    let done = false;
    for (let i = from; i < to; i++) {
      const m = re.exec(lines[i]!);
      if (!m) continue;
      lines[i] = m[1]! + pyLiteral(overrideValue(o.raw)) + m[3]!;
      done = true;
      break;
    }
    if (!done) {
      if (!o.add || segs.length === 2) return fail([missingKey(file, o)]);
      lines.splice(lines[lines.length - 1] === "" ? lines.length - 1 : lines.length, 0, `${name} = ${pyLiteral(overrideValue(o.raw))}`);
    }
  }
  return ok(lines.join("\n"));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
