/**
 * YAML 1.2 parsing with source positions (the `yaml` package), the mapping from a YAML node (or a path into the
 * document) back to a `file:line:col` location, which every later layer uses to point at the offending text, and the
 * translation of the parser's own errors into diagnostics.
 */
import { createRequire } from "node:module";
import type * as YamlLib from "yaml";
import type { Alias, Document, LineCounter, Node, Pair, YAMLError, YAMLMap, YAMLParseError } from "yaml";
import { error, fail, ok, warning, type Diagnostic, type Result, type SourceLocation } from "../core/diagnostic.js";

/**
 * The `yaml` package, loaded on first use: a no-op `status` answered from the load cache parses no YAML, and importing
 * the package costs more than the rest of that command's modules together. It is CommonJS, so `require` loads it
 * synchronously (the same instance an `import` of it gets) and the functions below stay synchronous.
 */
const requireLib = createRequire(import.meta.url);
let lib: typeof YamlLib | undefined;
export function yamlLib(): typeof YamlLib {
  return (lib ??= requireLib("yaml") as typeof YamlLib);
}

export interface ParsedYaml {
  /** Relative to the project root (as diagnostics show it). */
  file: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** Problems of a syntactically valid document that DVC's loader rejects (collection keys, bad merge keys). */
  checks: Diagnostic[];
}

/**
 * Parses without judging: syntax errors are left in `doc.errors` for the validator to turn into diagnostics. Aliases
 * that have no value (`aliasErrors`) are among them, so a document that has no errors can be turned into a value. A
 * document without errors then gets its merge keys expanded in place (see `expandMergeKeys`) and its keys checked,
 * both recorded in `checks`.
 */
export function parseYaml(file: string, text: string, opts: { intAsBigInt?: boolean } = {}): ParsedYaml {
  const lineCounter = new (yamlLib().LineCounter)();
  // `uniqueKeys: false`: the package compares each key with every earlier key of its mapping (quadratic: 100,000
  // params took minutes); `scanDocument` finds the same duplicates with a hash map, reported as the package would.
  const doc = yamlLib().parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, version: "1.2", keepSourceTokens: false, intAsBigInt: opts.intAsBigInt === true });
  const scan = scanDocument(doc);
  if (scan.duplicates.length > 0) doc.errors = mergeByPosition(doc.errors, scan.duplicates);
  if (doc.errors.length === 0 && scan.targets.size > 0) doc.errors.push(...aliasErrors(doc, scan));
  const p: ParsedYaml = { file, text, doc, lineCounter, checks: [] };
  if (doc.errors.length === 0) {
    checkKeys(p, scan.maps);
    expandMergeKeys(p, scan.maps);
  }
  return p;
}

/**
 * A mapping key that is a list or a mapping (`? [a, b]`) is legal YAML, but no value of ours (or DVC's: a stage
 * name, a variable name) can be keyed by it; the yaml package would silently stringify it (`a,b`) with a Node
 * warning on stderr. It is an error at the key instead.
 */
function checkKeys(p: ParsedYaml, maps: readonly YAMLMap[]): void {
  for (const map of maps) {
    for (const pair of map.items) {
      const key = yamlLib().isAlias(pair.key) ? resolveAlias(p.doc, pair.key) : pair.key;
      if (yamlLib().isCollection(key)) {
        p.checks.push(
          error("yaml-syntax", `a mapping key must be a scalar, not a ${yamlLib().isSeq(key) ? "list" : "mapping"}`, nodeLocation(p, pair.key), {
            hint: "write the key as a string",
          }),
        );
      }
    }
  }
}

/** `<<` written plainly (a quoted `"<<"` is an ordinary key). */
function isMergeKey(key: unknown): boolean {
  return yamlLib().isScalar(key) && key.value === "<<" && key.type === "PLAIN" && !key.tag;
}

/**
 * Expands YAML merge keys (`<<: *base`, `<<: [*a, *b]`) in place, as DVC's loader (ruamel, which follows PyYAML's
 * `flatten_mapping`) does: the merged entries come first, a list of sources in reverse order (so that an earlier
 * source wins), then the mapping's own entries; a key present twice keeps its first position and takes its last
 * value, as a Python dict built from those pairs does. The entries are the anchored mapping's own pair nodes, so a
 * diagnostic about a merged value points at the place it is written. Everything after parsing (validation,
 * `toJS`, templating) then sees ordinary mappings.
 */
function expandMergeKeys(p: ParsedYaml, maps: readonly YAMLMap[]): void {
  const done = new Set<YAMLMap>();
  const active = new Set<YAMLMap>();
  const source = (n: unknown, at: unknown): YAMLMap | undefined => {
    const r = yamlLib().isAlias(n) ? resolveAlias(p.doc, n) : n;
    if (yamlLib().isMap(r)) {
      if (!active.has(r)) return r;
      p.checks.push(error("yaml-syntax", "'<<' cannot merge a mapping into itself", nodeLocation(p, at)));
      return undefined;
    }
    p.checks.push(
      error("yaml-syntax", "'<<' merges mappings: its value must be a mapping, an alias of one, or a list of them", nodeLocation(p, at), {
        hint: "write '<<: *name' where '&name' marks a mapping",
      }),
    );
    return undefined;
  };
  const flatten = (map: YAMLMap): void => {
    if (done.has(map) || active.has(map)) return;
    const items = map.items as Pair[];
    if (!items.some((it) => isMergeKey(it.key))) {
      done.add(map);
      return;
    }
    active.add(map);
    const merged: Pair[] = [];
    const own: Pair[] = [];
    for (const pair of items) {
      if (!isMergeKey(pair.key)) {
        own.push(pair);
        continue;
      }
      const sources: YAMLMap[] = [];
      if (yamlLib().isSeq(pair.value)) {
        for (const it of pair.value.items) {
          const m = source(it, it);
          if (m) sources.push(m);
        }
      } else {
        const m = source(pair.value, pair.value ?? pair.key);
        if (m) sources.push(m);
      }
      for (const m of sources.reverse()) {
        flatten(m);
        merged.push(...(m.items as Pair[]));
      }
    }
    const position = new Map<string, number>();
    const result: Pair[] = [];
    for (const pair of [...merged, ...own]) {
      const k = keyString(pair.key);
      const at = position.get(k);
      if (at === undefined) {
        position.set(k, result.length);
        result.push(pair);
      } else {
        result[at] = pair;
      }
    }
    map.items = result;
    active.delete(map);
    done.add(map);
  };
  for (const map of maps) flatten(map);
}

/**
 * How many values aliases may add to a document, beyond its own nodes: `MAX_ALIAS_GROWTH` times its size, plus
 * `MIN_ALIAS_BUDGET`. Generous for anchors used as defaults (a mapping merged into every stage), and far below an
 * alias bomb (nine nested levels of nine aliases each expand a few lines into 387 million values).
 */
const MIN_ALIAS_BUDGET = 100_000;
const MAX_ALIAS_GROWTH = 10;

/** What one walk over a freshly parsed document finds (see `scanDocument`). */
interface DocumentScan {
  /** Each alias and the node it names: the last node anchored with its name before it, in document order. */
  targets: Map<Alias, Node | undefined>;
  /** How many nodes the document holds (aliases included). */
  nodes: number;
  /** Duplicate mapping keys, as the `yaml` package reports them with `uniqueKeys: true`. */
  duplicates: YAMLParseError[];
  /** Every mapping, in document order. */
  maps: YAMLMap[];
}

/**
 * The alias targets of each document `parseYaml` made, found once in document order, so that resolving an alias is a
 * lookup. The `yaml` package's `Alias.resolve` walks the whole document for every alias (and its `toJS` scans every
 * earlier anchor and alias): quadratic, 4,000 aliases took seconds and 50,000 minutes.
 */
const aliasTargets = new WeakMap<Document, Map<Alias, Node | undefined>>();

/** A duplicate key found by `scanDocument`, for the diagnostic: its name and the first key of that name. */
const duplicateOf = new WeakMap<YAMLError, { name: string; first: Node; second: Node }>();

/**
 * One walk over a document: alias targets (resolved as the `yaml` package resolves them: the last anchor of that name
 * before the alias) and duplicate keys. Two keys are duplicates when the package's default `uniqueKeys` check says so
 * (the same node, or two scalars with `===` values: `1` and `01` are, `1` and `"1"` are not, two `.nan` are not); the
 * error is the package's own, at the same position, so every reader words it as before. A hash map per mapping makes
 * it linear where the package's check compares each key with every earlier one.
 */
function scanDocument(doc: Document): DocumentScan {
  const Y = yamlLib();
  const targets = new Map<Alias, Node | undefined>();
  const anchors = new Map<string, Node>();
  const duplicates: YAMLParseError[] = [];
  const maps: YAMLMap[] = [];
  let nodes = 0;
  // Depth-first in document order (a key before its value), as `visit` goes, with a stack of its own: `visit`
  // recurses (and copies the path at every node), so very deep nesting would overflow it.
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Y.isPair(node)) {
      stack.push(node.value, node.key);
      continue;
    }
    if (!Y.isNode(node)) continue;
    nodes++;
    if (Y.isAlias(node)) {
      targets.set(node, anchors.get(node.source));
      continue;
    }
    if (node.anchor) anchors.set(node.anchor, node);
    if (Y.isMap(node)) {
      maps.push(node);
      if (node.items.length > 1) duplicateKeys(node, duplicates);
      for (let i = node.items.length - 1; i >= 0; i--) {
        const pair = node.items[i]!;
        stack.push(pair.value, pair.key);
      }
    } else if (Y.isSeq(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
    }
  }
  aliasTargets.set(doc, targets);
  // The walk meets a mapping's keys before the keys of mappings nested in it; the parser reports in text order.
  duplicates.sort((a, b) => a.pos[0] - b.pos[0]);
  return { targets, nodes, duplicates, maps };
}

/** Appends the duplicate keys of one mapping to `out` (see `scanDocument`). */
function duplicateKeys(map: YAMLMap, out: YAMLParseError[]): void {
  const Y = yamlLib();
  const values = new Set<unknown>();
  // The first key of each string form, which the diagnostic's note points at (`1` and `"1"` share one).
  const byName = new Map<string, Node>();
  for (const pair of map.items) {
    const key = pair.key;
    if (!Y.isScalar(key)) continue;
    const v = key.value;
    if (typeof v === "number" && Number.isNaN(v)) continue;
    const name = keyString(key);
    if (values.has(v)) {
      const start = key.range?.[0] ?? 0;
      const e = new Y.YAMLParseError([start, start + 1], "DUPLICATE_KEY", "Map keys must be unique");
      duplicateOf.set(e, { name, first: byName.get(name) ?? key, second: key });
      out.push(e);
    } else {
      values.add(v);
    }
    if (!byName.has(name)) byName.set(name, key);
  }
}

/** The node an alias names (undefined when no anchor of its name comes before it), in constant time. */
export function resolveAlias(doc: Document, alias: Alias): Node | undefined {
  let targets = aliasTargets.get(doc);
  if (!targets) targets = scanDocument(doc).targets;
  return targets.has(alias) ? targets.get(alias) : (alias.resolve(doc) as Node | undefined);
}

/** `extra` inserted into `errors` by position, each before the first error that starts after it; `errors` keep their order. */
function mergeByPosition(errors: YAMLParseError[], extra: YAMLParseError[]): YAMLParseError[] {
  const out: YAMLParseError[] = [];
  let i = 0;
  for (const e of errors) {
    while (i < extra.length && extra[i]!.pos[0] < e.pos[0]) out.push(extra[i++]!);
    out.push(e);
  }
  while (i < extra.length) out.push(extra[i++]!);
  return out;
}

/**
 * The aliases of a document that have no value, as parser errors at the alias: one without an anchor before it, one
 * inside the collection it refers to (an infinite value), and the first of the aliases whose expansion is largest
 * when all of them together expand the document beyond the budget above (an alias bomb, which would take every
 * later reader of the value, and `toJS`, exponential time).
 *
 * The targets come from `scanDocument`; one pass computes each node's expanded size, memoised, so the check is linear
 * in the document's size.
 */
function aliasErrors(doc: Document, { targets: target, nodes }: DocumentScan): YAMLParseError[] {
  if (target.size === 0) return [];
  const errs: YAMLParseError[] = [];
  const at = (a: Alias): [number, number] => (a.range ? [a.range[0], a.range[1]] : [0, 0]);
  const size = new Map<unknown, number>();
  const open = new Set<unknown>();
  const broken = new Set<Alias>();
  // Expanded size of a node (an alias counts as what it refers to); NaN for a value that cannot exist.
  const sizeOf = (n: unknown): number => {
    if (yamlLib().isAlias(n)) {
      const t = target.get(n);
      if (t === undefined || open.has(t)) {
        if (!broken.has(n)) {
          broken.add(n);
          errs.push(
            new (yamlLib().YAMLParseError)(
              at(n),
              "BAD_ALIAS",
              t === undefined ? `alias '*${n.source}' has no anchor '&${n.source}' before it` : "this alias refers to a collection that contains it, which has no value",
            ),
          );
        }
        return NaN;
      }
      return sizeOf(t);
    }
    const known = size.get(n);
    if (known !== undefined) return known;
    let total = 1;
    if (yamlLib().isCollection(n)) {
      open.add(n);
      for (const it of n.items) total += sizeOf(it);
      open.delete(n);
    } else if (yamlLib().isPair(n)) {
      total = sizeOf(n.key) + sizeOf(n.value);
    }
    size.set(n, total);
    return total;
  };
  let total: number;
  try {
    total = sizeOf(doc.contents);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    // Nesting deeper than the stack: the `yaml` package would overflow converting it too.
    return [new (yamlLib().YAMLParseError)([0, 0], "RESOURCE_EXHAUSTION", "the document is nested too deeply to be read")];
  }
  if (errs.length > 0) return errs;
  if (total - nodes > MIN_ALIAS_BUDGET + MAX_ALIAS_GROWTH * nodes) {
    let worst: Alias | undefined;
    let worstSize = -1;
    for (const [a, t] of target) {
      const n = sizeOf(t);
      if (n > worstSize) {
        worst = a;
        worstSize = n;
      }
    }
    const shown = total >= 1e15 ? "more than 10^15" : String(total);
    errs.push(
      new (yamlLib().YAMLParseError)(
        worst ? at(worst) : [0, 0],
        "RESOURCE_EXHAUSTION",
        `aliases expand this document of ${nodes} values into ${shown} values (an alias bomb?); pipe reads at most ${MAX_ALIAS_GROWTH} times the document's size plus ${MIN_ALIAS_BUDGET}`,
      ),
    );
  }
  return errs;
}

/**
 * The plain value of a document that parsed without errors (`parseYaml` has checked its aliases: none is missing,
 * circular or part of a bomb), integers beyond 2^53 exact when it was parsed with `intAsBigInt` (see
 * `plainValue`). Conversion should not fail then; should it, the failure is a located diagnostic, never an exception.
 */
export function toPlain(p: ParsedYaml, reason: "yaml-syntax" | "lock" = "yaml-syntax"): Result<unknown> {
  try {
    return ok(plainValue(p.doc));
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return fail([error(reason, `cannot read the document: ${why}`, nodeLocation(p, p.doc.contents))]);
  }
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * What `doc.toJS()` gives, in time linear in the value's size: the package's own conversion scans every earlier
 * anchor and alias for each alias it meets (quadratic in their number). Same result: a mapping is an object whose
 * keys are the keys' string forms (null as `''`; a repeated key keeps its first position and takes its last value;
 * `__proto__` an own property), an anchored node converts once and each alias of it is that same value.
 */
function plainValue(doc: Document): unknown {
  const Y = yamlLib();
  const anchored = new Map<Node, unknown>();
  const go = (n: unknown): unknown => {
    if (Y.isAlias(n)) {
      const t = resolveAlias(doc, n);
      if (t === undefined) throw new ReferenceError(`Unresolved alias (the anchor must be set before the alias): ${n.source}`);
      return anchored.has(t) ? anchored.get(t) : go(t);
    }
    if (!Y.isNode(n)) return n ?? null;
    let v: unknown;
    if (Y.isScalar(n)) {
      v = n.value;
      // Of a document parsed with `intAsBigInt`, only integers beyond 2^53 stay bigints: they keep every digit (as
      // Python, and so DVC, reads them); any other integer is the number it always was.
      if (typeof v === "bigint" && v >= MIN_SAFE && v <= MAX_SAFE) v = Number(v);
    } else if (Y.isSeq(n)) {
      v = n.items.map(go);
    } else if (Y.isMap(n)) {
      const o: Record<string, unknown> = {};
      for (const pair of n.items) {
        const k = go(pair.key);
        const name = k === null ? "" : typeof k === "object" ? collectionKey(doc, pair.key) : String(k as string);
        const value = go(pair.value);
        if (name in o) Object.defineProperty(o, name, { value, writable: true, enumerable: true, configurable: true });
        else o[name] = value;
      }
      v = o;
    } else {
      return n.toJS(doc, { maxAliasCount: -1 });
    }
    if (n.anchor) anchored.set(n, v);
    return v;
  };
  return go(doc.contents);
}

/**
 * The name the `yaml` package gives a mapping key that is a collection (its flow YAML text). `parseYaml` reports such
 * a key as an error, but the lock reader converts a document before it judges its shape.
 */
function collectionKey(doc: Document, key: unknown): string {
  const Y = yamlLib();
  const single = new Y.YAMLMap();
  single.items.push(new Y.Pair(key, null));
  return Object.keys(single.toJS(doc, { maxAliasCount: -1 }) as object)[0] ?? "";
}

/** Location of a character offset. */
export function offsetLocation(p: Pick<ParsedYaml, "file" | "lineCounter">, offset: number, length = 1): SourceLocation {
  const { line, col } = p.lineCounter.linePos(offset);
  return { file: p.file, line, col, length: Math.max(1, length) };
}

/**
 * Location of a node (its first character; the marker spans the node on its first line). Falls back to 1:1 for
 * nodes without a range (synthesised ones).
 */
export function nodeLocation(p: Pick<ParsedYaml, "file" | "lineCounter">, node: unknown): SourceLocation {
  if (yamlLib().isNode(node) && node.range) {
    const [start, valueEnd] = (node as Node).range!;
    return offsetLocation(p, start, valueEnd - start);
  }
  return { file: p.file, line: 1, col: 1 };
}

/** A step into a YAML tree: a mapping key (as its string form) or a sequence index. */
export type PathSegment = string | number;

export interface NodeAtPath {
  /** The node at the path (undefined when the path leaves the tree, or for an empty value written as `key:`). */
  node?: Node | undefined;
  /** When the last step is a mapping key: that key's node. */
  key?: Node | undefined;
}

/**
 * Follows `path` from the document root. Mapping keys are matched by their string form, because that is how the
 * validated plain-JS value names them (`1:` and `"1":` are both `"1"`); a later duplicate key never wins.
 */
export function nodeAtPath(doc: Document.Parsed, path: readonly PathSegment[]): NodeAtPath {
  let cur: unknown = doc.contents;
  let key: Node | undefined;
  for (const seg of path) {
    key = undefined;
    if (yamlLib().isMap(cur)) {
      const pair = cur.items.find((it) => keyString(it.key) === String(seg));
      if (!pair) return {};
      key = yamlLib().isNode(pair.key) ? pair.key : undefined;
      cur = pair.value;
    } else if (yamlLib().isSeq(cur)) {
      const i = typeof seg === "number" ? seg : Number(seg);
      cur = Number.isInteger(i) ? cur.items[i] : undefined;
      if (cur === undefined) return {};
    } else {
      return {};
    }
  }
  return { node: yamlLib().isNode(cur) ? cur : undefined, key };
}

/** The string form of a mapping key, as `doc.toJS()` names it. */
export function keyString(key: unknown): string {
  if (yamlLib().isScalar(key)) return String(key.value);
  if (yamlLib().isNode(key)) return String(key.toJSON());
  return String(key);
}

/** Start offset of a node, for sorting diagnostics by position. */
export function nodeOffset(node: unknown): number | undefined {
  return yamlLib().isNode(node) && node.range ? node.range[0] : undefined;
}

/**
 * Turns the parser's errors and warnings into located diagnostics, every one of them (not only the first), with
 * messages a user can act on: a tab used for indentation, a duplicate key (with a note on the first one), a value
 * holding `: ` that must be quoted.
 */
export function yamlDiagnostics(p: ParsedYaml): { errors: Diagnostic[]; warnings: Diagnostic[] } {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  // A line indented deeper than a `key: value` line above continues that value (a multi-line plain scalar); the
  // parser then reports two errors at the value, where one about the indented line says what happened.
  const continued = new Set<number>();
  for (const e of p.doc.errors) {
    if (e.code === "BLOCK_AS_IMPLICIT_KEY" && /compact mappings/.test(e.message)) {
      const colon = p.text.slice(e.pos[0]).search(/:(\s|$)/);
      const nl = p.text.indexOf("\n", e.pos[0]);
      if (colon >= 0 && nl >= 0 && nl < e.pos[0] + colon) {
        continued.add(e.pos[0]);
        const at = firstNonBlank(p, p.text.lastIndexOf("\n", e.pos[0] + colon) + 1) ?? offsetLocation(p, e.pos[0]);
        errors.push(
          error("yaml-syntax", "this line is indented deeper than the line above, so YAML reads it as part of that line's value", at, {
            hint: "align it with the keys above it",
          }),
        );
        continue;
      }
    }
    if (e.code === "MULTILINE_IMPLICIT_KEY" && continued.has(e.pos[0])) continue;
    errors.push(describeYamlError(p, e));
  }
  for (const w of p.doc.warnings) {
    const at = offsetLocation(p, w.pos[0], w.pos[1] - w.pos[0]);
    if (w.code === "TAG_RESOLVE_FAILED") {
      // DVC's safe loader refuses a tag it does not know rather than reading the value as a plain string.
      const tag = p.text.slice(w.pos[0], w.pos[1]);
      errors.push(
        error("yaml-syntax", `unknown tag '${tag}'`, at, {
          hint: /^!!python\//.test(tag)
            ? "Python tags are refused: stages and params files are read with a safe loader, as DVC reads them"
            : "remove the tag; YAML's own types (strings, numbers, booleans, null, lists, mappings) need none",
        }),
      );
      continue;
    }
    warnings.push(warning("yaml-syntax", sentence(w.message), at));
  }
  errors.push(...p.checks);
  return { errors: dedupeSorted(errors), warnings: dedupeSorted(warnings) };
}

function describeYamlError(p: ParsedYaml, e: YAMLError): Diagnostic {
  const [start, end] = e.pos;
  const at = offsetLocation(p, start, end - start);
  switch (e.code) {
    case "TAB_AS_INDENT": {
      const lineStart = p.text.lastIndexOf("\n", start - 1) + 1;
      const indent = /^[ \t]*/.exec(p.text.slice(lineStart))?.[0] ?? "";
      return error("yaml-syntax", "tab character used for indentation", offsetLocation(p, lineStart, Math.max(1, indent.length)), {
        hint: "YAML indents with spaces only: replace the tab with spaces",
      });
    }
    case "DUPLICATE_KEY": {
      const dup = duplicateOf.get(e);
      if (dup) {
        return error("yaml-syntax", `duplicate key '${dup.name}'`, nodeLocation(p, dup.second), {
          related: [{ message: `'${dup.name}' is first defined here`, location: nodeLocation(p, dup.first) }],
        });
      }
      return error("yaml-syntax", "duplicate key in a mapping", at);
    }
    case "MULTIPLE_DOCS":
      return error("yaml-syntax", "the file holds more than one YAML document", at, { hint: "remove the second '---' and what follows, or merge the documents" });
    case "BLOCK_AS_IMPLICIT_KEY":
      if (/compact mappings/.test(e.message)) {
        return error("yaml-syntax", "a value holding ': ' starts a nested mapping", at, { hint: "quote the whole value: key: \"a: b\"" });
      }
      return error("yaml-syntax", sentence(e.message), at);
    case "BAD_INDENT": {
      const flow = /^Flow (sequence|map) in block collection/.exec(e.message);
      if (flow) {
        const open = flow[1] === "sequence" ? "[" : "{";
        const close = flow[1] === "sequence" ? "]" : "}";
        const at2 = unclosedBracket(p, start, open, close);
        return error("yaml-syntax", `'${open}' is not closed: a flow ${flow[1]} must end with '${close}'`, at2 ?? at, {
          hint: `add the missing '${close}'; a ${flow[1]} continued on later lines must indent them deeper than its key`,
        });
      }
      return error("yaml-syntax", sentence(e.message), firstNonBlank(p, start) ?? at, { hint: "check the indentation of this line against the lines above it" });
    }
    case "MISSING_CHAR":
      if (/closing .?quote/i.test(e.message)) {
        const q = unclosedQuote(p, start);
        return error("yaml-syntax", "a quoted string is not closed", q ?? at, { hint: "add the closing quote, or escape the quote inside the string" });
      }
      return error("yaml-syntax", sentence(e.message), at);
    default:
      return error("yaml-syntax", sentence(e.message), at);
  }
}

/** When `offset` is at the start of a line's indentation, the line's first non-blank character. */
function firstNonBlank(p: ParsedYaml, offset: number): SourceLocation | undefined {
  const lineStart = p.text.lastIndexOf("\n", offset - 1) + 1;
  const m = /^[ \t]*/.exec(p.text.slice(lineStart));
  const first = lineStart + (m?.[0].length ?? 0);
  return first > offset && p.text[first] !== "\n" && first < p.text.length ? offsetLocation(p, first, 1) : undefined;
}

/** The last `open` before `offset` that no `close` follows (the parser reports where it gave up, not the cause). */
function unclosedBracket(p: ParsedYaml, offset: number, open: string, close: string): SourceLocation | undefined {
  let depth = 0;
  for (let i = Math.min(offset, p.text.length) - 1; i >= 0; i--) {
    const c = p.text[i];
    if (c === close) depth++;
    else if (c === open) {
      if (depth === 0) return offsetLocation(p, i, 1);
      depth--;
    }
  }
  return undefined;
}

/** The quoted scalar the parser was reading when the text ended: the last one starting before `offset`. */
function unclosedQuote(p: ParsedYaml, offset: number): SourceLocation | undefined {
  let best: number | undefined;
  yamlLib().visit(p.doc, {
    Scalar(_, node) {
      if ((node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE") && node.range && node.range[0] < offset) {
        if (best === undefined || node.range[0] > best) best = node.range[0];
      }
    },
  });
  return best === undefined ? undefined : offsetLocation(p, best, 1);
}

/** The parser's message as a diagnostic message: lower-case first letter, no trailing period or excerpt. */
function sentence(message: string): string {
  const first = (message.split("\n")[0] ?? message).replace(/\s*at line \d+, column \d+:?\s*$/, "").replace(/\.$/, "");
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/** Sorts diagnostics by position (errors without a location last) and drops exact repeats. */
export function dedupeSorted(ds: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of ds) {
    const k = `${d.location ? `${d.location.file}:${d.location.line}:${d.location.col}` : ""}\u0000${d.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
  }
  return out.sort(compareDiagnostics);
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  const la = a.location;
  const lb = b.location;
  if (la && lb) {
    if (la.file !== lb.file) return la.file < lb.file ? -1 : 1;
    if (la.line !== lb.line) return la.line - lb.line;
    if (la.col !== lb.col) return la.col - lb.col;
  } else if (la || lb) {
    return la ? -1 : 1;
  }
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}
