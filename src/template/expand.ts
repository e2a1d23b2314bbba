/**
 * Expansion of one validated stages file into concrete stages (spec 2.1-2.3): the template context (`params.yaml`,
 * `vars`), `${...}` interpolation, `foreach`/`do` and `matrix` generation, and the normalisation of every stage's
 * paths, outputs and params against the project root.
 *
 * It follows DVC 3 (`dvc/parsing/`) where DVC accepts a file, so that names and commands match what DVC writes in
 * `dvc.lock`: the same context rules, the same generated names (`build@us`, `train@0.1-cnn-cfg0`), the same text
 * for interpolated values (Python's, see `value.ts`). Where DVC fails, we fail too, but with every error of the file
 * at once, each located at the `${...}` (or the node) it is about and saying what is defined instead.
 *
 * The expansion works on the YAML nodes rather than on plain values: nodes carry the source positions that
 * diagnostics and `loc` fields need, and the scalar text that tells a float (`1.0`) from an integer.
 */
import path from "node:path";
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Pair, type YAMLMap } from "yaml";
import { error, fail, nearest, ok, warning, type Diagnostic, type Result, type SourceLocation } from "../core/diagnostic.js";
import { isResourceKey, RESOURCE_KEYS, setResource, type Resources } from "../core/resources.js";
import { dedupeSorted, keyString, nodeLocation, resolveAlias } from "../formats/yaml.js";
import type { CmdPiece, DepEntry, OutEntry, OutKind, ParamsDep, Stage, TopLevelFile, VarsUse } from "../core/model.js";
import { Context, type Lookup, type VarSource } from "./context.js";
import { findReferences, isWholeReference, parseReference, unescape, type Reference } from "./expr.js";
import { isComposite, isVMap, keyText, NestedIterableError, nodeToValue, preview, toPlain, toStr, unpackFlags, type ParsingConfig, type Value, type VMap } from "./value.js";
import { DEFAULT_PARAMS_FILE, joinRel, VarsLoader, type ReadObserver, type TextReader } from "./vars.js";

export type { ParsingConfig } from "./value.js";

export interface ExpandInput {
  /** Absolute project root. */
  root: string;
  /** The stages file, relative to the root, POSIX. */
  file: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** Texts of the vars/params files read are added here (by root-relative path) so diagnostics in them render. */
  sources: Map<string, string>;
  /** DVC's `parsing` settings for mappings unpacked into `cmd` (defaults: `store_true`, `nargs`). */
  parsing?: ParsingConfig;
  /** Told about every vars/params file looked at, before it is read (for the load cache). */
  onRead?: ReadObserver;
  /**
   * Stages and top-level sections to leave out: those with schema errors, when the file is expanded anyway so that
   * one run reports its template errors too (`validateStagesFile`'s `skip`).
   */
  skip?: { stages: ReadonlySet<string>; topLevel: ReadonlySet<string> };
  /** Reads vars/params files from elsewhere than the disk (a git revision); see `StagesSource.readText`. */
  readText?: TextReader;
  /** Lower limits than `EXPANSION_LIMITS` (tests). */
  limits?: Partial<ExpansionLimits>;
}

export interface ExpandedFile {
  stages: Stage[];
  params: TopLevelFile[];
  metrics: TopLevelFile[];
  plots: TopLevelFile[];
}

/** A value that could not be resolved; its diagnostics are already recorded. */
const FAILED: unique symbol = Symbol("failed");
type Maybe<T> = T | typeof FAILED;

/** Diagnostics of one stage, tagged with the generated member they came from. */
interface Tagged {
  d: Diagnostic;
  member?: string;
}

interface Scope {
  ctx: Context;
  /** The stage field being resolved (DVC's `key`): `cmd` may take a mapping, other fields only scalars; null: any. */
  field: string | null;
  /** Collects the vars-file keys a stage's fields read: file -> dotted keys (DVC's `tracked_vars`). */
  used?: Map<string, Set<string>>;
  /** Receives the pieces (`CmdPiece`) of the text being resolved for `cmd`. */
  cmdPieces?: { pieces?: CmdPiece[] };
  /** What generated the stage, for hints about `item`/`key`. */
  gen?: "foreach-list" | "foreach-mapping" | "matrix";
  out: Tagged[];
  member?: string;
}

const URL_RE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

export function isUrl(p: string): boolean {
  return URL_RE.test(p);
}

function pairsOf(node: unknown): Pair[] {
  return isMap(node) ? (node.items as Pair[]) : [];
}

function field(map: unknown, key: string): { pair: Pair; value: unknown } | undefined {
  for (const pair of pairsOf(map)) if (keyString(pair.key) === key) return { pair, value: pair.value };
  return undefined;
}

function describeKind(v: Value): string {
  if (isVMap(v)) return "a mapping";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return "a string";
  if (typeof v === "boolean") return "a boolean";
  if (v === null) return "null";
  return "a number";
}

function listNames(names: readonly string[], max = 8): string {
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown} (and ${names.length - max} more)` : shown;
}

function quoteList(names: readonly string[]): string {
  const q = names.map((n) => `'${n}'`);
  if (q.length <= 1) return q.join("");
  return `${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}`;
}

/**
 * How much one stages file may expand to. A `matrix` multiplies its axes, so a few lines can ask for millions of
 * stages, and the process would run out of memory before saying anything; these limits are checked before a
 * definition generates anything. The largest real pipelines we know (the corpus of public DVC projects) stay far
 * below them: 275 stages from one definition, 1,347 stages and 4,313 paths in one file.
 */
export const EXPANSION_LIMITS: Readonly<{ stagesPerDefinition: number; stagesPerFile: number; pathsPerFile: number }> = {
  /** Stages one `foreach` or `matrix` may generate. */
  stagesPerDefinition: 10_000,
  /** Stages of one stages file, generated ones included. */
  stagesPerFile: 50_000,
  /** Entries of `deps`, `outs`, `metrics`, `plots` and `params` over all the stages of one stages file. */
  pathsPerFile: 500_000,
};

export type ExpansionLimits = typeof EXPANSION_LIMITS;

/**
 * The longest file name and path the system takes (NAME_MAX, PATH_MAX less its terminating NUL, in bytes): any
 * longer one fails every file operation with ENAMETOOLONG, so a stage naming one could never run or be checked.
 */
const NAME_MAX = 255;
const PATH_MAX = process.platform === "darwin" ? 1023 : 4095;

/** Why the system cannot take `abs` (an absolute path), or undefined. */
function pathTooLong(abs: string): string | undefined {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most paths are short enough to need no counting (this runs for
  // every path of every stage).
  if (abs.length * 3 <= NAME_MAX) return undefined;
  let longest = 0;
  for (const part of abs.split(path.sep)) if (part.length * 3 > NAME_MAX) longest = Math.max(longest, Buffer.byteLength(part));
  if (longest > NAME_MAX) return `a name in it is ${countText(longest)} bytes long; file systems allow at most ${NAME_MAX} bytes per name`;
  const n = abs.length * 3 <= PATH_MAX ? 0 : Buffer.byteLength(abs);
  if (n > PATH_MAX) return `it is ${countText(n)} bytes long as an absolute path; the system allows at most ${countText(PATH_MAX)}`;
  return undefined;
}

/** A count as the limit messages show it: `9,765,625`. */
function countText(n: number): string {
  return n >= 1e15 ? "more than 10^15" : n.toLocaleString("en-US");
}

export async function expandStagesFile(input: ExpandInput): Promise<Result<ExpandedFile>> {
  return new Expander(input).run();
}

class Expander {
  private readonly dir: string;
  private readonly loader: VarsLoader;
  private readonly errors: Diagnostic[] = [];
  private readonly warnings: Diagnostic[] = [];
  private readonly parsing: ParsingConfig;
  /** Stages and paths the definitions so far expanded to (see `EXPANSION_LIMITS`). */
  private expanded = { stages: 0, paths: 0 };

  constructor(private readonly input: ExpandInput) {
    const d = path.posix.dirname(input.file);
    this.dir = d === "." ? "" : d;
    this.loader = new VarsLoader(input);
    this.parsing = input.parsing ?? {};
    if (!input.sources.has(input.file)) input.sources.set(input.file, input.text);
  }

  private loc(node: unknown): SourceLocation {
    return nodeLocation(this.input, node);
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? resolveAlias(this.input.doc, node) : node;
  }

  async run(): Promise<Result<ExpandedFile>> {
    const top = this.input.doc.contents;
    const ctx = new Context();
    const varsNode = field(top, "vars")?.value;
    const varsDiags: Diagnostic[] = [];
    if (this.loader.checkNoInterpolation(varsNode, varsDiags)) {
      await this.loader.loadDefault(ctx, this.dir, varsDiags);
      await this.loader.loadList(ctx, varsNode, this.dir, undefined, varsDiags);
    }
    // Nothing interpolated in a broken context is worth reporting: every reference would be an error. The vars files
    // of the stages are still read, so that every broken vars file is reported at once.
    if (varsDiags.length > 0) {
      await this.stageVarsOnly(ctx, varsDiags);
      return fail(dedupeSorted(varsDiags), this.warnings);
    }

    const stages: Stage[] = [];
    for (const pair of pairsOf(this.deref(field(top, "stages")?.value))) {
      if (this.input.skip?.stages.has(keyString(pair.key))) continue;
      for (const s of await this.definition(pair, ctx)) stages.push(s);
    }
    this.checkDuplicateNames(stages);
    this.checkReferences(ctx, "artifacts");
    this.checkReferences(ctx, "datasets");
    const result: ExpandedFile = {
      stages,
      params: this.topLevel(ctx, "params"),
      metrics: this.topLevel(ctx, "metrics"),
      plots: this.topPlots(ctx),
    };
    if (this.errors.length > 0) return fail(dedupeSorted(this.errors), dedupeSorted(this.warnings));
    return ok(result, dedupeSorted(this.warnings));
  }

  /** Loads the `vars` of every stage (and of every `do`) whose wdir needs no interpolation, for their diagnostics. */
  private async stageVarsOnly(ctx: Context, diags: Diagnostic[]): Promise<void> {
    for (const pair of pairsOf(this.deref(field(this.input.doc.contents, "stages")?.value))) {
      const body = this.deref(pair.value);
      const doBody = this.deref(field(body, "do")?.value);
      for (const b of [body, doBody]) {
        const varsNode = field(b, "vars")?.value;
        if (!isSeq(varsNode) || !this.loader.checkNoInterpolation(varsNode, diags)) continue;
        const wdirNode = this.deref(field(b, "wdir")?.value);
        let wdir = this.dir;
        if (isScalar(wdirNode) && typeof wdirNode.value === "string" && wdirNode.value !== "") {
          if (findReferences(wdirNode.value).length > 0) continue;
          wdir = this.rootRel(this.dir, wdirNode.value);
        }
        await this.loader.loadList(ctx.clone(), varsNode, wdir, keyString(pair.key), diags);
      }
    }
  }

  // ---- interpolation -------------------------------------------------------------------------------------------

  /** Resolves the string `s` held by YAML node `node` (a scalar or a mapping key). */
  private resolveText(node: unknown, s: string, scope: Scope): Maybe<Value> {
    const refs = findReferences(s);
    if (refs.length === 0) return unescape(s);
    const values = refs.map((ref) => this.lookupRef(node, s, ref, scope));
    const whole = isWholeReference(s, refs);
    // For `cmd`: the literal text and each reference's text, in order (see `CmdPiece`).
    const sink = scope.cmdPieces;
    const pieces: CmdPiece[] | undefined = sink ? [] : undefined;
    let buf = "";
    let index = 0;
    let failed = false;
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      const v = values[i]!;
      if (v === FAILED) {
        failed = true;
        continue;
      }
      if (isComposite(v)) {
        if (isVMap(v) && scope.field === "cmd") {
          try {
            const flags = unpackFlags(v, this.parsing);
            if (whole) {
              if (sink) sink.pieces = [{ v: ref.inner.trim(), text: flags }];
              return flags;
            }
            pieces?.push(unescape(s.slice(index, ref.start)), { v: ref.inner.trim(), text: flags });
            buf += s.slice(index, ref.start) + flags;
            index = ref.end;
            continue;
          } catch (e) {
            if (!(e instanceof NestedIterableError)) throw e;
            this.report(scope, error("template", `cannot unpack '${ref.text}' into flags: '${e.key}' is a list holding a list or a mapping`, this.loader.refLocation(node, s, ref), {
              hint: "only lists of strings, numbers and booleans unpack into a flag's values",
            }));
            failed = true;
            continue;
          }
        }
        // A whole-value reference keeps its type where the field takes any value (foreach, matrix, top level).
        if (whole && scope.field === null) return v;
        this.report(scope, this.compositeError(node, s, ref, v, scope));
        failed = true;
        continue;
      }
      if (whole) {
        // `scalarText` turns the value into the command's text the same way.
        if (sink) sink.pieces = [{ v: ref.inner.trim(), text: typeof v === "string" ? v : toStr(v) }];
        return v;
      }
      pieces?.push(unescape(s.slice(index, ref.start)), { v: ref.inner.trim(), text: toStr(v) });
      buf += s.slice(index, ref.start) + toStr(v);
      index = ref.end;
    }
    if (failed) return FAILED;
    if (sink && pieces) {
      pieces.push(unescape(s.slice(index)));
      sink.pieces = pieces;
    }
    return unescape(buf + s.slice(index));
  }

  private compositeError(node: unknown, s: string, ref: Reference, v: Value, scope: Scope): Diagnostic {
    const at = this.loader.refLocation(node, s, ref);
    const inner = ref.inner.trim();
    if (isVMap(v)) {
      const keys = [...v.keys()].slice(0, 3).map((k) => `'\${${inner}.${k}}'`);
      return error("template", `cannot interpolate a mapping into a string: '${ref.text}' is ${preview(v)}`, at, {
        hint:
          (keys.length > 0 ? `name one of its values (${keys.join(", ")}); ` : "") +
          `only strings, numbers and booleans can be interpolated${scope.field === "cmd" ? "" : " (in 'cmd', a mapping unpacks into --key value flags)"}`,
      });
    }
    return error("template", `cannot interpolate a list into a string: '${ref.text}' is ${preview(v)}`, at, {
      hint: `name one element ('\${${inner}[0]}'), or generate one stage per element with foreach or matrix`,
    });
  }

  private lookupRef(node: unknown, s: string, ref: Reference, scope: Scope): Maybe<Value> {
    const parsed = parseReference(ref.inner);
    if (!parsed.ok) {
      this.report(scope, error("template", `invalid reference '${ref.text}': ${parsed.message}`, this.loader.refLocation(node, s, ref), {
        hint: "a reference is a name, with dotted keys and list indexes: ${name}, ${train.lr}, ${layers[0]}, ${a.b[1].c}",
      }));
      return FAILED;
    }
    const r = scope.ctx.lookup(parsed.steps);
    if (!r.ok) {
      this.report(scope, this.undefinedError(ref, parsed.steps, r, scope, this.loader.refLocation(node, s, ref)));
      return FAILED;
    }
    if (scope.used) {
      const src = scope.ctx.sourceOf(parsed.steps);
      if (src) {
        const keys = scope.used.get(src.file) ?? new Set<string>();
        keys.add(src.key);
        scope.used.set(src.file, keys);
      }
    }
    return r.value;
  }

  private undefinedError(ref: Reference, steps: readonly string[], r: Extract<Lookup, { ok: false }>, scope: Scope, at: SourceLocation): Diagnostic {
    const name = steps.join(".");
    const msg = `undefined variable '${name}' in '${ref.text}'`;
    let hint: string;
    if (r.failedAt === 0) {
      const first = steps[0]!;
      const cands = nearest(name, scope.ctx.names(), 2);
      if ((first === "item" || first === "key") && !scope.ctx.has(first)) {
        if (first === "key" && scope.gen === "foreach-list") hint = "'key' is set only when foreach iterates over a mapping; over a list, use '${item}'";
        else if (scope.gen === undefined) hint = `'${first}' is set only in the stages that foreach/do or matrix generate`;
        else hint = `'${first}' is not set here`;
      } else if (cands.length > 0) {
        hint = `did you mean ${quoteList(cands)}?`;
      } else {
        const top = [...new Set([...scope.ctx.overlay.keys(), ...scope.ctx.data.keys()])];
        hint =
          top.length > 0
            ? `defined: ${listNames(top)}`
            : `no variables are defined: there is no ${DEFAULT_PARAMS_FILE} beside ${this.input.file}, and no vars`;
      }
    } else {
      const prefix = steps.slice(0, r.failedAt).join(".");
      const step = steps[r.failedAt]!;
      const reached = r.reached ?? null;
      if (isVMap(reached)) {
        const keys = [...reached.keys()];
        const cands = nearest(step, keys, 2).map((k) => `${prefix}.${k}`);
        hint = cands.length > 0 ? `did you mean ${quoteList(cands)}?` : keys.length > 0 ? `'${prefix}' has: ${listNames(keys)}` : `'${prefix}' is an empty mapping`;
      } else if (Array.isArray(reached)) {
        hint = reached.length > 0 ? `'${prefix}' is a list of ${reached.length} (indexes 0 to ${reached.length - 1})` : `'${prefix}' is an empty list`;
      } else {
        hint = `'${prefix}' is ${preview(reached)}, not a mapping or a list`;
      }
    }
    return error("undefined-variable", msg, at, { hint });
  }

  /** Resolves any node: strings are interpolated, mappings (keys too) and lists recursively. */
  private resolveNode(node: unknown, scope: Scope, open = new Set<unknown>()): Maybe<Value> {
    const alias = isAlias(node) ? node : undefined;
    node = this.deref(node);
    if (open.has(node)) {
      this.report(scope, error("yaml-syntax", "this alias refers to a collection that contains it, which has no value", this.loc(alias ?? node)));
      return FAILED;
    }
    if (isMap(node)) {
      open.add(node);
      const m: VMap = new Map();
      let failed = false;
      for (const pair of node.items as Pair[]) {
        const key = this.resolveKey(pair.key, scope);
        const v = this.resolveNode(pair.value, scope, open);
        if (key === FAILED || v === FAILED) failed = true;
        else m.set(key, v);
      }
      open.delete(node);
      return failed ? FAILED : m;
    }
    if (isSeq(node)) {
      open.add(node);
      const out: Value[] = [];
      let failed = false;
      for (const it of node.items) {
        const v = this.resolveNode(it, scope, open);
        if (v === FAILED) failed = true;
        else out.push(v);
      }
      open.delete(node);
      return failed ? FAILED : out;
    }
    if (isScalar(node) && typeof node.value === "string") return this.resolveText(node, node.value, scope);
    return nodeToValue(this.input, node);
  }

  private resolveKey(keyNode: unknown, scope: Scope): Maybe<string> {
    keyNode = this.deref(keyNode);
    if (isScalar(keyNode) && typeof keyNode.value === "string") {
      const v = this.resolveText(keyNode, keyNode.value, scope);
      return v === FAILED ? FAILED : this.scalarText(keyNode, v, scope);
    }
    return keyText(this.input.doc, keyNode);
  }

  /** A resolved value where text is needed (a path, a key, a command). */
  private scalarText(node: unknown, v: Value, scope: Scope): Maybe<string> {
    if (typeof v === "string") return v;
    if (isComposite(v)) {
      this.report(scope, error("template", `expected a string here, but the value is ${describeKind(v)}: ${preview(v)}`, this.loc(node)));
      return FAILED;
    }
    return toStr(v);
  }

  private text(node: unknown, scope: Scope): Maybe<string> {
    node = this.deref(node);
    if (isScalar(node) && typeof node.value === "string") {
      const v = this.resolveText(node, node.value, scope);
      return v === FAILED ? FAILED : this.scalarText(node, v, scope);
    }
    const v = this.resolveNode(node, scope);
    return v === FAILED ? FAILED : this.scalarText(node, v, scope);
  }

  private report(scope: Scope, d: Diagnostic): void {
    scope.out.push(scope.member === undefined ? { d } : { d, member: scope.member });
  }

  // ---- stage definitions ---------------------------------------------------------------------------------------

  private async definition(pair: Pair, ctx: Context): Promise<Stage[]> {
    const name = keyString(pair.key);
    const body = this.deref(pair.value);
    const out: Tagged[] = [];
    let stages: Stage[] = [];
    let members: string[] = [];
    if (field(body, "matrix")) {
      ({ stages, members } = await this.matrix(name, pair, body as YAMLMap, ctx, out));
    } else if (field(body, "foreach")) {
      ({ stages, members } = await this.foreach(name, pair, body as YAMLMap, ctx, out));
    } else if (this.withinLimits(name, "stage", 1, body, pair.key, out)) {
      const s = await this.entry(name, pair, body, ctx, { ctx, field: null, out });
      if (s) stages = [s];
    }
    this.collect(out, members);
    return stages;
  }

  /**
   * Whether a definition that would make `count` stages from `body` keeps the file within `EXPANSION_LIMITS`; if it
   * does, they are counted, else the error is reported at `at` (the `foreach`/`matrix` key, or the stage's name).
   * Every stage of a definition has as many paths as its body lists: `deps`, `outs` and the rest are lists in the
   * file (never a `${...}` that could grow), so the total is known before anything is generated.
   */
  private withinLimits(name: string, kind: "foreach" | "matrix" | "stage", count: number, body: unknown, at: unknown, out: Tagged[]): boolean {
    const { stagesPerDefinition, stagesPerFile, pathsPerFile } = { ...EXPANSION_LIMITS, ...this.input.limits };
    let per = 0;
    for (const f of ["deps", "outs", "metrics", "plots", "params"]) {
      const list = this.deref(field(this.deref(body), f)?.value);
      if (isSeq(list)) per += list.items.length;
    }
    const stages = this.expanded.stages + count;
    const paths = this.expanded.paths + count * per;
    const file = this.input.file;
    let d: Diagnostic | undefined;
    if (kind !== "stage" && count > stagesPerDefinition) {
      d = error("foreach", `${kind} would generate ${countText(count)} stages; pipe generates at most ${countText(stagesPerDefinition)} from one foreach or matrix`, this.loc(at), {
        hint: kind === "matrix" ? "use fewer axes or fewer values per axis, or split the matrix over several stages" : "split the items over several stages, or loop inside the command",
      });
    } else if (stages > stagesPerFile) {
      d = error("foreach", `'${name}' would bring ${file} to ${countText(stages)} stages; pipe expands at most ${countText(stagesPerFile)} stages per stages file`, this.loc(at), {
        hint: "split the pipeline over several stages files (one per directory)",
      });
    } else if (paths > pathsPerFile) {
      const these = kind === "stage" ? `${countText(per)}` : `${countText(count)} stages of ${countText(per)} each`;
      d = error("foreach", `'${name}' would bring ${file} to ${countText(paths)} deps, outs, metrics, plots and params (${these}); pipe expands at most ${countText(pathsPerFile)} per stages file`, this.loc(at), {
        hint: "depend on a directory rather than on each file in it, or split the pipeline over several stages files",
      });
    }
    if (d) {
      out.push({ d });
      return false;
    }
    this.expanded = { stages, paths };
    return true;
  }

  /**
   * Moves a definition's diagnostics into the file's. The same problem in several generated stages is reported
   * once; when only some members have it, the message names them.
   */
  private collect(out: Tagged[], members: string[]): void {
    const byKey = new Map<string, { d: Diagnostic; members: string[] }>();
    for (const t of out) {
      const l = t.d.location;
      const key = `${l ? `${l.file}:${l.line}:${l.col}` : ""}\u0000${t.d.message}`;
      let e = byKey.get(key);
      if (!e) {
        e = { d: t.d, members: [] };
        byKey.set(key, e);
      }
      if (t.member !== undefined && !e.members.includes(t.member)) e.members.push(t.member);
    }
    for (const { d, members: ms } of byKey.values()) {
      if (ms.length > 0 && ms.length < members.length) {
        const shown = ms.slice(0, 3).map((m) => `'${m}'`).join(", ");
        const more = ms.length > 3 ? ` and ${ms.length - 3} more` : "";
        this.push({ ...d, message: `${d.message} (in stage${ms.length > 1 ? "s" : ""} ${shown}${more})` });
      } else {
        this.push(d);
      }
    }
  }

  private push(d: Diagnostic): void {
    if (d.severity === "warning") this.warnings.push(d);
    else this.errors.push(d);
  }

  private async foreach(name: string, pair: Pair, body: YAMLMap, ctx: Context, out: Tagged[]): Promise<{ stages: Stage[]; members: string[] }> {
    const fe = field(body, "foreach")!;
    const doNode = field(body, "do")?.value;
    const node = this.deref(fe.value);
    const scope: Scope = { ctx, field: null, out };
    const data = this.resolveNode(node, scope);
    if (data === FAILED) return { stages: [], members: [] };
    if (!isComposite(data)) {
      const written = isScalar(node) ? String(node.value) : "";
      const refs = findReferences(written);
      let msg: string;
      let hint: string;
      if (refs.length > 0) {
        msg = `foreach needs a list or a mapping, but '${written}' is ${describeKind(data)}${typeof data === "string" ? ` ('${data}')` : ""}`;
        hint = "name a variable that holds a list or a mapping";
      } else {
        msg = `foreach needs a list, a mapping, or a '\${...}' naming one, not ${typeof data === "string" ? `the string '${data}'` : describeKind(data)}`;
        const looked = typeof data === "string" ? scope.ctx.lookup(data.split(".")) : undefined;
        hint =
          looked?.ok && isComposite(looked.value)
            ? `'${data}' is a variable: write 'foreach: \${${data}}'`
            : "write the items as a list (foreach: [a, b]) or a mapping, or name a variable that holds one (foreach: ${items})";
      }
      out.push({ d: error("foreach", msg, this.loc(node), { hint }) });
      return { stages: [], members: [] };
    }
    const overMapping = isVMap(data);
    this.warnShadowing(ctx, overMapping ? ["item", "key"] : ["item"], name, fe.pair.key);
    // DVC's normalisation: mapping keys, list indexes as soon as one item is a list or mapping, else the items.
    // Each item also keeps its place in the data (`at`), for the vars file the data came from.
    const items = new Map<string, { item: Value; at: string }>();
    if (isVMap(data)) for (const [k, v] of data) items.set(k, { item: v, at: k });
    else if (data.some(isComposite)) data.forEach((v, i) => items.set(String(i), { item: v, at: String(i) }));
    else data.forEach((v, i) => items.set(toStr(v), { item: v, at: String(i) }));
    if (!this.withinLimits(name, "foreach", items.size, doNode, fe.pair.key, out)) return { stages: [], members: [] };
    const from = this.wholeReferenceSource(node, ctx);
    const stages: Stage[] = [];
    const members: string[] = [];
    for (const [key, { item, at }] of items) {
      const member = `${name}@${key}`;
      members.push(member);
      const overlay: VMap = new Map([["item", item]]);
      if (overMapping) overlay.set("key", key);
      const mctx = ctx.withOverlay(overlay, from ? new Map([["item", { file: from.file, key: `${from.key}.${at}` }]]) : undefined);
      const s = await this.entry(member, pair, doNode, mctx, { ctx: mctx, field: null, out, member, gen: overMapping ? "foreach-mapping" : "foreach-list" }, name);
      if (s) stages.push(s);
    }
    return { stages, members };
  }

  private async matrix(name: string, pair: Pair, body: YAMLMap, ctx: Context, out: Tagged[]): Promise<{ stages: Stage[]; members: string[] }> {
    const mx = field(body, "matrix")!;
    const scope: Scope = { ctx, field: null, out };
    const axes: [string, Value[]][] = [];
    const axisSources = new Map<string, VarSource>();
    let failed = false;
    for (const axis of pairsOf(this.deref(mx.value))) {
      const axisName = keyString(axis.key);
      const node = this.deref(axis.value);
      const v = this.resolveNode(node, scope);
      if (v === FAILED) {
        failed = true;
        continue;
      }
      if (!Array.isArray(v)) {
        const written = isScalar(node) ? String(node.value) : "";
        out.push({
          d: error("foreach", `matrix axis '${axisName}' must be a list, but '${written}' is ${describeKind(v)}`, this.loc(node), {
            hint: "write the values as a list, or name a variable that holds a list",
          }),
        });
        failed = true;
        continue;
      }
      axes.push([axisName, v]);
      const from = this.wholeReferenceSource(node, ctx);
      if (from) axisSources.set(axisName, from);
    }
    if (failed) return { stages: [], members: [] };
    this.warnShadowing(ctx, ["item", "key"], name, mx.pair.key);
    // The product's size before the product: a few axes can ask for millions of stages. (Duplicate names among the
    // combinations make fewer stages; the limit is far enough above real matrices not to need that precision.)
    const size = axes.reduce((n, [, values]) => n * values.length, 1);
    if (!this.withinLimits(name, "matrix", size, body, mx.pair.key, out)) return { stages: [], members: [] };
    // The cartesian product in axis order, the last axis varying fastest (itertools.product).
    let combos: { key: string[]; item: VMap; sources: Map<string, VarSource> }[] = [{ key: [], item: new Map(), sources: new Map() }];
    for (const [axisName, values] of axes) {
      const next: typeof combos = [];
      const from = axisSources.get(axisName);
      for (const c of combos) {
        values.forEach((v, i) => {
          const item: VMap = new Map(c.item);
          item.set(axisName, v);
          const sources = new Map(c.sources);
          if (from) sources.set(`item.${axisName}`, { file: from.file, key: `${from.key}.${i}` });
          next.push({ key: [...c.key, isComposite(v) ? `${axisName}${i}` : toStr(v)], item, sources });
        });
      }
      combos = next;
    }
    const unique = new Map<string, { item: VMap; sources: Map<string, VarSource> }>();
    for (const c of combos) unique.set(c.key.join("-"), c);
    const stages: Stage[] = [];
    const members: string[] = [];
    for (const [key, { item, sources }] of unique) {
      const member = `${name}@${key}`;
      members.push(member);
      const mctx = ctx.withOverlay(
        new Map<string, Value>([
          ["key", key],
          ["item", item],
        ]),
        sources,
      );
      const s = await this.entry(member, pair, body, mctx, { ctx: mctx, field: null, out, member, gen: "matrix" }, name);
      if (s) stages.push(s);
    }
    return { stages, members };
  }

  private warnShadowing(ctx: Context, keys: string[], name: string, at: unknown): void {
    const shadowed = keys.filter((k) => ctx.data.has(k));
    if (shadowed.length === 0) return;
    const names = shadowed.map((k) => `'${k}'`).join(" and ");
    const where = shadowed.map((k) => ctx.origins.get(k)?.label).filter((l): l is string => l !== undefined);
    this.warnings.push(
      warning("warning", `${names} ${shadowed.length > 1 ? "are" : "is"} already defined${where.length > 0 ? ` (in ${[...new Set(where)].join(", ")})` : ""}; in the stages generated from '${name}' ${shadowed.length > 1 ? "they name" : "it names"} the current item instead`, this.loc(at)),
    );
  }

  /** The vars file and key a `foreach`/matrix axis value came from, when it is one whole `${...}` of a file's value. */
  private wholeReferenceSource(node: unknown, ctx: Context): VarSource | undefined {
    if (!isScalar(node) || typeof node.value !== "string") return undefined;
    const refs = findReferences(node.value);
    if (!isWholeReference(node.value, refs)) return undefined;
    const parsed = parseReference(refs[0]!.inner);
    return parsed.ok ? ctx.sourceOf(parsed.steps) : undefined;
  }

  /** One concrete stage from its definition body (`do` of a foreach, the stage itself otherwise). */
  private async entry(name: string, pair: Pair, bodyNode: unknown, ctx: Context, base: Scope, group?: string): Promise<Stage | undefined> {
    const body = this.deref(bodyNode);
    // Every field's references count, `wdir` too, as DVC tracks them while it resolves the whole stage.
    const used = new Map<string, Set<string>>();
    const sc = (f: string | null, c: Context = ctx): Scope => ({ ...base, ctx: c, field: f, used });
    let failed = false;

    // wdir first: stage vars are relative to it.
    let wdirRaw: string | undefined;
    const wdirNode = field(body, "wdir")?.value;
    if (wdirNode !== undefined && wdirNode !== null) {
      const w = this.text(wdirNode, sc("wdir"));
      if (w === FAILED) failed = true;
      else if (w !== "") wdirRaw = w;
    }
    const wdir = wdirRaw === undefined ? this.dir : this.rootRel(this.dir, wdirRaw);
    const wdirLong = wdirRaw === undefined ? undefined : pathTooLong(path.resolve(this.input.root, wdir));
    if (wdirLong !== undefined) {
      this.report(base, error("schema", `wdir is too long: ${wdirLong}`, this.loc(this.deref(wdirNode))));
      return undefined;
    }
    if (wdirRaw !== undefined && (wdir === ".." || wdir.startsWith("../") || path.posix.isAbsolute(wdir))) {
      // The command runs in wdir: outside the root it could write anywhere, whether or not it declares outs.
      this.report(base, error("out-outside-root", `wdir '${wdirRaw}' is outside the project root${wdirRaw === wdir ? "" : ` (it resolves to ${wdir})`}`, this.loc(this.deref(wdirNode)), {
        hint: "a stage's command runs in its wdir, which must lie inside the project; a stage may still read files outside it (deps)",
      }));
      return undefined;
    }

    const varsNode = field(body, "vars")?.value;
    if (varsNode !== undefined && varsNode !== null) {
      const diags: Diagnostic[] = [];
      if (this.loader.checkNoInterpolation(varsNode, diags) && isSeq(varsNode) && varsNode.items.length > 0) {
        ctx = ctx.clone();
        await this.loader.loadList(ctx, varsNode, wdir, name, diags);
      }
      for (const d of diags) this.report(base, d);
      if (diags.length > 0) return undefined;
    }

    // cmd
    let cmdTemplate: CmdPiece[][] | undefined = [];
    const cmdText = (node: unknown): Maybe<string> => {
      const sink: { pieces?: CmdPiece[] } = {};
      const t = this.text(node, { ...sc("cmd"), cmdPieces: sink });
      if (t === FAILED) return t;
      // Text without references (or not a string) is one literal piece. Pieces that do not join back to the command
      // (an escape that a value completed) would explain nothing soundly: then there is no template at all.
      const pieces = sink.pieces ?? [t];
      if (pieces.map((p) => (typeof p === "string" ? p : p.text)).join("") !== t) cmdTemplate = undefined;
      else cmdTemplate?.push(pieces);
      return t;
    };
    const cmdNode = this.deref(field(body, "cmd")?.value);
    let cmd: string | string[] = "";
    if (isSeq(cmdNode)) {
      const parts: string[] = [];
      for (const it of cmdNode.items) {
        const t = cmdText(it);
        if (t === FAILED) failed = true;
        else parts.push(t);
      }
      cmd = parts;
    } else if (cmdNode !== undefined && cmdNode !== null) {
      const t = cmdText(cmdNode);
      if (t === FAILED) failed = true;
      else cmd = t;
    } else {
      cmdTemplate = undefined;
    }

    const deps: DepEntry[] = [];
    const depsNode = this.deref(field(body, "deps")?.value);
    if (isSeq(depsNode)) {
      for (const it of depsNode.items) {
        const p = this.text(it, sc("deps"));
        if (p === FAILED) {
          failed = true;
          continue;
        }
        const place = this.place(wdir, p);
        const long = place.external ? undefined : pathTooLong(path.resolve(this.input.root, place.rootPath));
        if (long !== undefined) {
          this.report(base, error("schema", `dependency '${preview(p)}' is too long: ${long}`, this.loc(it)));
          failed = true;
          continue;
        }
        deps.push({ path: p, ...place, loc: this.loc(it) });
      }
    }

    const outs: OutEntry[] = [];
    for (const kind of ["outs", "metrics", "plots"] as OutKind[]) {
      const listNode = this.deref(field(body, kind)?.value);
      if (!isSeq(listNode)) continue;
      for (const it of listNode.items) {
        const o = this.out(this.deref(it), kind, wdir, sc(kind));
        if (o === FAILED) failed = true;
        else outs.push(o);
      }
    }

    const params = this.params(this.deref(field(body, "params")?.value), wdir, sc("params"));
    if (params === FAILED) failed = true;

    let desc: string | undefined;
    const descNode = field(body, "desc")?.value;
    if (descNode !== undefined && descNode !== null) {
      const d = this.text(descNode, sc("desc"));
      if (d === FAILED) failed = true;
      else desc = d;
    }
    let meta: unknown;
    const metaNode = field(body, "meta");
    if (metaNode) {
      const m = this.resolveNode(metaNode.value, sc("meta"));
      if (m === FAILED) failed = true;
      else meta = toPlain(m);
    }
    // `frozen: ${freeze}` resolves to the variable's boolean, as DVC resolves every field.
    const flag = (key: string): boolean => {
      const n = this.deref(field(body, key)?.value);
      if (!isScalar(n)) return false;
      if (typeof n.value !== "string") return n.value === true;
      const v = this.resolveText(n, n.value, sc(key));
      if (v === FAILED) failed = true;
      return v === true;
    };
    const frozen = flag("frozen");
    const alwaysChanged = flag("always_changed");
    let resources: Resources | undefined;
    const resNode = field(body, "resources");
    if (resNode) {
      const r = this.resources(resNode.pair, sc("resources"));
      if (r === FAILED) failed = true;
      else resources = r;
    }

    if (failed || params === FAILED) return undefined;
    const stage: Stage = {
      address: this.dir === "" ? name : `${this.input.file}:${name}`,
      name,
      file: this.input.file,
      dir: this.dir,
      wdir,
      cmd,
      deps,
      outs,
      params,
      frozen,
      alwaysChanged,
      loc: this.loc(pair.key),
    };
    if (used.size > 0) {
      const varsUsed: VarsUse[] = [...used]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([file, keys]) => ({ file, keys: [...keys].sort() }));
      stage.varsUsed = varsUsed;
    }
    if (cmdTemplate !== undefined) stage.cmdTemplate = cmdTemplate;
    if (group !== undefined) stage.group = group;
    if (wdirRaw !== undefined) stage.wdirRaw = wdirRaw;
    if (desc !== undefined) stage.desc = desc;
    if (metaNode) stage.meta = meta;
    if (resources !== undefined) stage.resources = resources;
    return stage;
  }

  /**
   * `resources:` (the schema checked its names): pipe.yaml only, since DVC rejects unknown stage keys. Values may be
   * `${...}`; each is checked after interpolation, at its position.
   */
  private resources(pair: Pair, scope: Scope): Maybe<Resources> {
    if (path.posix.basename(this.input.file) === "dvc.yaml") {
      this.report(scope, error("unknown-key", "'resources' is a pipe.yaml key: DVC would reject this dvc.yaml", this.loc(pair.key), {
        hint: `give the stage's resources in .pipe/config.yaml instead (slurm: stages: NAME: {...}), or rename the file pipe.yaml`,
      }));
      return FAILED;
    }
    const node = this.deref(pair.value);
    if (!isMap(node)) return {};
    const out: Resources = {};
    let failed = false;
    for (const item of node.items as Pair[]) {
      const key = keyString(item.key);
      if (!isResourceKey(key)) {
        this.report(scope, error("unknown-key", `unknown resource '${key}' (known: ${RESOURCE_KEYS.join(", ")})`, this.loc(item.key)));
        failed = true;
        continue;
      }
      const v = this.resolveNode(item.value, scope);
      if (v === FAILED) {
        failed = true;
        continue;
      }
      const msg = setResource(out, key, toPlain(v));
      if (msg !== undefined) {
        this.report(scope, error("wrong-type", msg, this.loc(item.value ?? item.key)));
        failed = true;
      }
    }
    return failed ? FAILED : out;
  }

  private out(node: unknown, kind: OutKind, wdir: string, scope: Scope): Maybe<OutEntry> {
    let flags: VMap = new Map();
    if (isMap(node)) {
      const first = (node.items as Pair[])[0];
      if (!first) return FAILED;
      const pathNode = this.deref(first.key);
      if (first.value !== null && first.value !== undefined) {
        const f = this.resolveNode(first.value, scope);
        if (f === FAILED) return FAILED;
        if (isVMap(f)) flags = f;
      }
      const p = this.resolveKey(first.key, scope);
      if (p === FAILED) return FAILED;
      return this.makeOut(p, kind, wdir, flags, this.loc(pathNode), scope);
    }
    const p = this.text(node, scope);
    if (p === FAILED) return FAILED;
    return this.makeOut(p, kind, wdir, flags, this.loc(node), scope);
  }

  private makeOut(p: string, kind: OutKind, wdir: string, flags: VMap, loc: SourceLocation, scope: Scope): Maybe<OutEntry> {
    const place = this.place(wdir, p);
    const long = place.external ? undefined : pathTooLong(path.resolve(this.input.root, place.rootPath));
    if (long !== undefined) {
      this.report(scope, error("schema", `output '${preview(p)}' is too long: ${long}`, loc));
      return FAILED;
    }
    if (place.outside) {
      this.report(scope, error("out-outside-root", `output '${p}' is outside the project root${p === place.rootPath ? "" : ` (it resolves to ${place.rootPath})`}`, loc, {
        hint: "outputs must lie inside the project, which pipe never writes outside of; a stage may read files outside it (deps)",
      }));
      return FAILED;
    }
    const reserved = place.external ? undefined : reservedOutput(place.rootPath);
    if (reserved) {
      this.report(scope, error("reserved-out", `output '${p}'${p === place.rootPath ? "" : ` (${place.rootPath})`} ${reserved}`, loc, {
        hint: "a stage's outputs are deleted before it runs and replaced from the cache; DVC refuses such outputs too",
      }));
      return FAILED;
    }
    const rest: Record<string, unknown> = {};
    for (const [k, v] of flags) if (k !== "cache" && k !== "persist") rest[k] = toPlain(v);
    return {
      path: p,
      rootPath: place.rootPath,
      external: place.external,
      kind,
      cache: flags.get("cache") !== false,
      persist: flags.get("persist") === true,
      flags: rest,
      loc,
    };
  }

  /**
   * Params dependencies, merged per file as DVC's `_merge_params` does: bare keys belong to `params.yaml` in wdir,
   * a file listed with no keys (or an empty list) is tracked whole and then drops its specific keys.
   */
  private params(node: unknown, wdir: string, scope: Scope): Maybe<ParamsDep[]> {
    if (!isSeq(node)) return [];
    const byFile = new Map<string, { file: string; keys: Set<string> | null; loc: SourceLocation }>();
    const add = (file: string, keys: string[] | null, loc: SourceLocation): void => {
      const rootPath = this.rootRel(wdir, file);
      const e = byFile.get(rootPath);
      if (!e) byFile.set(rootPath, { file, keys: keys === null ? null : new Set(keys), loc });
      else if (keys === null || e.keys === null) e.keys = null;
      else for (const k of keys) e.keys.add(k);
    };
    let failed = false;
    for (const raw of node.items) {
      const it = this.deref(raw);
      if (isMap(it)) {
        for (const pair of it.items as Pair[]) {
          const file = this.resolveKey(pair.key, scope);
          const v = this.deref(pair.value);
          const keys: string[] = [];
          if (isSeq(v)) {
            for (const k of v.items) {
              const t = this.text(k, scope);
              if (t === FAILED) failed = true;
              else keys.push(t);
            }
          }
          if (file === FAILED) {
            failed = true;
            continue;
          }
          add(file, keys.length > 0 ? keys : null, this.loc(this.deref(pair.key)));
        }
      } else {
        const k = this.text(it, scope);
        if (k === FAILED) failed = true;
        else add(DEFAULT_PARAMS_FILE, [k], this.loc(it));
      }
    }
    if (failed) return FAILED;
    return [...byFile].map(([rootPath, e]) => ({
      file: e.file,
      rootPath,
      keys: e.keys === null ? null : [...e.keys].sort(),
      loc: e.loc,
    }));
  }

  // ---- paths ---------------------------------------------------------------------------------------------------

  /** A path relative to `base` (root-relative), made root-relative; absolute paths inside the root too. */
  private rootRel(base: string, p: string): string {
    if (path.posix.isAbsolute(p)) {
      const rel = path.relative(this.input.root, p).split(path.sep).join("/");
      if (rel === "") return "";
      if (!rel.startsWith("../") && rel !== ".." && !path.isAbsolute(rel)) return rel;
      return joinRel("", p);
    }
    return joinRel(base, p);
  }

  private place(wdir: string, p: string): { rootPath: string; external: boolean; outside: boolean } {
    if (isUrl(p)) return { rootPath: p, external: true, outside: false };
    const rootPath = this.rootRel(wdir, p);
    return { rootPath, external: false, outside: rootPath === ".." || rootPath.startsWith("../") || path.posix.isAbsolute(rootPath) };
  }

  // ---- top level -----------------------------------------------------------------------------------------------

  /**
   * Interpolates a top-level section pipe has no use for (`artifacts`, `datasets`) only for its errors: DVC
   * resolves both (`resolve_artifacts`, `resolve_datasets`) with the file's variables, so a `${...}` there that
   * does not resolve breaks the file for DVC's commands that read them.
   */
  private checkReferences(ctx: Context, key: "artifacts" | "datasets"): void {
    if (this.input.skip?.topLevel.has(key)) return;
    const node = field(this.input.doc.contents, key)?.value;
    if (node === undefined || node === null) return;
    const out: Tagged[] = [];
    this.resolveNode(node, { ctx, field: null, out });
    this.collect(out, []);
  }

  private topLevel(ctx: Context, key: "params" | "metrics"): TopLevelFile[] {
    const out: Tagged[] = [];
    const files: TopLevelFile[] = [];
    if (this.input.skip?.topLevel.has(key)) return files;
    const node = this.deref(field(this.input.doc.contents, key)?.value);
    if (isSeq(node)) {
      for (const it of node.items) {
        const p = this.text(it, { ctx, field: null, out });
        if (p !== FAILED) files.push({ rootPath: isUrl(p) ? p : this.rootRel(this.dir, p), file: this.input.file, loc: this.loc(it) });
      }
    }
    this.collect(out, []);
    return files;
  }

  /** Files of top-level plots: a path, or a plot id whose `y` (and `x`) mappings name the data files. */
  private topPlots(ctx: Context): TopLevelFile[] {
    const out: Tagged[] = [];
    const files: TopLevelFile[] = [];
    const seen = new Set<string>();
    const addFile = (p: string, loc: SourceLocation): void => {
      const rootPath = isUrl(p) ? p : this.rootRel(this.dir, p);
      if (seen.has(rootPath)) return;
      seen.add(rootPath);
      files.push({ rootPath, file: this.input.file, loc });
    };
    if (this.input.skip?.topLevel.has("plots")) return files;
    const node = this.deref(field(this.input.doc.contents, "plots")?.value);
    const scope: Scope = { ctx, field: null, out };
    if (isSeq(node)) {
      for (const raw of node.items) {
        const it = this.deref(raw);
        if (!isMap(it)) {
          const p = this.text(it, scope);
          if (p !== FAILED) addFile(p, this.loc(it));
          continue;
        }
        for (const pair of it.items as Pair[]) {
          const id = this.resolveKey(pair.key, scope);
          const def = pair.value === null || pair.value === undefined ? new Map() : this.resolveNode(pair.value, scope);
          if (id === FAILED || def === FAILED) continue;
          const loc = this.loc(this.deref(pair.key));
          const fromAxes: string[] = [];
          if (isVMap(def)) {
            for (const axis of ["x", "y"]) {
              const a = def.get(axis);
              if (isVMap(a)) fromAxes.push(...a.keys());
            }
          }
          if (fromAxes.length > 0) for (const f of fromAxes) addFile(f, loc);
          else addFile(id, loc);
        }
      }
    }
    this.collect(out, []);
    return files;
  }

  private checkDuplicateNames(stages: readonly Stage[]): void {
    const seen = new Map<string, Stage>();
    for (const s of stages) {
      const prev = seen.get(s.name);
      if (prev) {
        this.errors.push(error("foreach", `stage '${s.name}' is defined twice in ${this.input.file}`, s.loc, { related: [{ message: "first defined here", location: prev.loc }] }));
      } else {
        seen.set(s.name, s);
      }
    }
  }
}

/** Folders that hold version control or pipe's and DVC's own state; DVC ignores them at any depth. */
const RESERVED_DIRS = new Set([".git", ".hg", ".dvc", ".pipe"]);
/** Files pipe and DVC read as pipeline definitions or records. */
const PIPELINE_FILES: Record<string, string> = { "pipe.yaml": "a stages file", "dvc.yaml": "a stages file", "pipe.lock": "a lock file", "dvc.lock": "a lock file" };

/**
 * Why a root-relative path can never be a stage output, or undefined. A `repro` deletes an output before the run, so
 * an output `.git` or `pipe.yaml` would destroy the repository or the pipeline; DVC rejects the same paths
 * (`OutputIsStageFileError`, and `OutputIsIgnoredError` for its always-ignored `.git`, `.hg`, `.dvc`).
 */
export function reservedOutput(rootPath: string): string | undefined {
  const parts = rootPath.split("/");
  const base = parts[parts.length - 1] ?? "";
  if (RESERVED_DIRS.has(base)) return `is reserved: pipe and DVC never treat '${base}' as data`;
  const inside = parts.find((c) => RESERVED_DIRS.has(c));
  if (inside !== undefined) return `lies inside '${inside}', which pipe and DVC never treat as data`;
  const kind = PIPELINE_FILES[base];
  if (kind) return `is ${kind}`;
  if (base.endsWith(".dvc")) return "is a DVC tracking file";
  return undefined;
}
