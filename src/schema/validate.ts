/**
 * Validation of one parsed stages file against the grammar of spec 2 (`schema.ts`), before any `${...}` is
 * interpolated, as DVC validates its raw file. Every error of the file is reported at once, each located at the YAML
 * node it is about, sorted by position and phrased for a person: ajv's own message text never reaches the user. ajv
 * errors are translated by what they are about (the instance path: a stage, a stage field, the flags of an out)
 * and by the kind of mapping their schema path names (a foreach stage, the flags of a plot, ...).
 *
 * The schema is not compiled at run time: `validate-stages.generated.ts` is ajv's standalone code for it (see
 * `schema.ts`), so start-up pays about 3 ms instead of about 70.
 */
import type { ErrorObject } from "ajv";
import { isCollection, isScalar } from "yaml";
import { didYouMean, error, warning, type Diagnostic, type SourceLocation } from "../core/diagnostic.js";
import { RESOURCE_KEYS } from "../core/resources.js";
import {
  ARTIFACT_KEYS,
  OUT_FLAG_KEYS,
  PLOT_FLAG_KEYS,
  STAGE_KEYS,
  TOP_LEVEL_KEYS,
  TOP_PLOT_KEYS,
  type SchemaNode,
} from "./schema.js";
import * as generated from "./validate-stages.generated.js";
import { dedupeSorted, nodeAtPath, nodeLocation, toPlain, yamlDiagnostics, type ParsedYaml, type PathSegment } from "../formats/yaml.js";

export interface StagesFileCheck {
  errors: Diagnostic[];
  warnings: Diagnostic[];
  /**
   * Whether the templates can still be expanded despite `errors`, for their own errors (every error of a file at
   * once): the YAML parsed, and the schema errors are confined to stages and top-level sections that `skip` names.
   */
  expandable: boolean;
  skip: ExpansionSkip;
}

/** What expansion leaves out of a file with schema errors: those stages and top-level sections. */
export interface ExpansionSkip {
  stages: Set<string>;
  topLevel: Set<string>;
}

/** Keys whose misspelling or misplacement changes what a stage is (a foreach stage, a matrix). */
const STRUCTURE_KEYS = new Set(["foreach", "do", "matrix"]);

/** The shape of ajv's generated validate function (the generated module is not type-checked). */
interface GeneratedValidate {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

const validateSchema = (generated as { validate: GeneratedValidate }).validate;

/**
 * YAML syntax errors first (when there are any, the document is not checked further: its shape would only produce
 * noise), then the grammar. Warnings: YAML warnings and `checkpoint` flags (accepted, no effect).
 */
export function validateStagesFile(parsed: ParsedYaml): StagesFileCheck {
  const y = yamlDiagnostics(parsed);
  const skip: ExpansionSkip = { stages: new Set(), topLevel: new Set() };
  if (y.errors.length > 0) return { ...y, expandable: false, skip };
  const plain = toPlain(parsed);
  if (!plain.ok) return { errors: plain.errors, warnings: y.warnings, expandable: false, skip };
  let data = plain.value;
  // DVC reads an empty (or falsy) document as an empty mapping.
  if (!data) data = {};
  const errors: Diagnostic[] = [];
  let expandable = true;
  if (!validateSchema(data)) {
    for (const e of validateSchema.errors ?? []) {
      const d = describe(parsed, data, e);
      if (d) errors.push(d);
      if (!d) continue;
      const path = segments(e.instancePath, data);
      const [top, stage] = path;
      if (top === undefined) {
        // An unknown top-level key is left out of expansion anyway; a document that is not a mapping has nothing.
        if (e.keyword !== "additionalProperties") expandable = false;
      } else if (top === "stages" && stage !== undefined) {
        // A stage with only unknown plain keys (`dep:`) still expands as what it is; any other error skips it.
        const onlyUnknownKey =
          e.keyword === "additionalProperties" &&
          (path.length === 2 || (path.length === 3 && path[2] === "do")) &&
          !STRUCTURE_KEYS.has(String((e.params as { additionalProperty: string }).additionalProperty));
        if (!onlyUnknownKey) skip.stages.add(String(stage));
      } else if (top === "stages" || top === "vars") {
        // Without the stages mapping or the variables, expansion would report only noise.
        expandable = false;
      } else {
        skip.topLevel.add(String(top));
      }
    }
  }
  return { errors: dedupeSorted(errors), warnings: dedupeSorted([...y.warnings, ...checkpointWarnings(parsed, data)]), expandable, skip };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Decodes a JSON pointer into path segments, numbers where the value at that level is a list. */
function segments(instancePath: string, data: unknown): PathSegment[] {
  if (instancePath === "") return [];
  const out: PathSegment[] = [];
  let cur = data;
  for (const raw of instancePath.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur)) {
      const i = Number(seg);
      out.push(i);
      cur = cur[i];
    } else {
      out.push(seg);
      cur = isRecord(cur) ? cur[seg] : undefined;
    }
  }
  return out;
}

/** The plain value at `path`. */
function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let cur = data;
  for (const seg of path) cur = Array.isArray(cur) ? cur[Number(seg)] : isRecord(cur) ? cur[String(seg)] : undefined;
  return cur;
}

/** What the value at `path` is, as a noun phrase for a message. */
function subject(path: readonly PathSegment[]): string {
  const n = path.length;
  if (n === 0) return "the stages file";
  const last = path[n - 1]!;
  if (path[0] === "stages") {
    if (n === 2) return `stage '${last}'`;
    if (n === 3 && last === "do") return `'do' of stage '${path[1]}'`;
    if (n === 4 && path[2] === "matrix") return `matrix axis '${last}'`;
  }
  if (path[0] === "artifacts" && n === 2) return `artifact '${last}'`;
  if (typeof last === "number") {
    for (let i = n - 2; i >= 0; i--) {
      const s = path[i];
      if (typeof s === "string") return `an entry of '${s}'`;
    }
    return "an entry";
  }
  if (typeof path[n - 2] === "number") {
    const list = path[n - 3];
    if (list === "outs" || list === "metrics") return `the flags of '${last}'`;
    if (list === "plots") return n === 3 ? `plot '${last}'` : `the properties of plot '${last}'`;
    if (list === "params") return `the keys of '${last}'`;
  }
  return `'${last}'`;
}

function joinOr(words: string[]): string {
  if (words.length <= 1) return words[0] ?? "";
  return `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]!}`;
}

function expected(schema: SchemaNode): string {
  const phrase = schema["x-expected"];
  if (typeof phrase === "string") return phrase;
  const types = Array.isArray(schema["type"]) ? (schema["type"] as unknown[]) : [schema["type"]];
  return joinOr(
    types.map((t) => {
      switch (t) {
        case "string":
          return "a string";
        case "boolean":
          return "true or false";
        case "array": {
          const items = schema["items"];
          return isRecord(items) && items["type"] === "string" ? "a list of strings" : "a list";
        }
        case "object":
          return "a mapping";
        case "null":
          return "empty";
        default:
          return `a ${String(t)}`;
      }
    }),
  );
}

function actual(v: unknown): string {
  if (v === null || v === undefined) return "empty";
  if (Array.isArray(v)) return "a list";
  if (isRecord(v)) return "a mapping";
  if (typeof v === "string") return "a string";
  if (typeof v === "number") return "a number";
  if (typeof v === "boolean") return "a boolean";
  return typeof v;
}

/**
 * Location for a diagnostic about the value at `path`: the value itself when it is a scalar or a flow collection,
 * else its key (a block collection's first line is usually not the mistake), climbing up when the path has no node.
 */
function locate(p: ParsedYaml, path: readonly PathSegment[], prefer: "value" | "key"): SourceLocation {
  const { node, key } = nodeAtPath(p.doc, path);
  if (prefer === "key" && key) return nodeLocation(p, key);
  if (node) {
    const emptyScalar = isScalar(node) && node.value === null && (!node.range || node.range[0] === node.range[1]);
    const block = isCollection(node) && !node.flow;
    if (key && (emptyScalar || block)) return nodeLocation(p, key);
    if (!emptyScalar) return nodeLocation(p, node);
  }
  if (key) return nodeLocation(p, key);
  for (let i = path.length - 1; i >= 0; i--) {
    const up = nodeAtPath(p.doc, path.slice(0, i));
    if (up.key) return nodeLocation(p, up.key);
    if (up.node) return nodeLocation(p, up.node);
  }
  return nodeLocation(p, p.doc.contents);
}

/** What kind of mapping the failing schema node describes (its `x-kind`: `stage`, `foreachStage`, `outFlags`...). */
function kindOf(e: ErrorObject): string | undefined {
  const k = (e.parentSchema as SchemaNode | undefined)?.["x-kind"];
  return typeof k === "string" ? k : undefined;
}

function describe(p: ParsedYaml, data: unknown, e: ErrorObject): Diagnostic | undefined {
  const path = segments(e.instancePath, data);
  switch (e.keyword) {
    case "if":
      // The stage's foreach/plain switch: the failing branch reports its own errors.
      return undefined;
    case "type": {
      const what = subject(path);
      const want = expected((e.parentSchema ?? {}) as SchemaNode);
      const loc = locate(p, path, "value");
      if (e.data === null || e.data === undefined) {
        const hint = want.startsWith("a list") ? "write [] for an empty list, or remove the key" : undefined;
        return error("wrong-type", `${what} is empty; it must be ${want}`, loc, withHint(hint));
      }
      return error("wrong-type", `${what} must be ${want}, not ${actual(e.data)}`, loc, withHint(typeHint(path, want, e.data)));
    }
    case "additionalProperties": {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      return unknownKey(p, path, key, kindOf(e), data);
    }
    case "required": {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      // A `do` holding a nested foreach is reported as that; its missing `cmd` would only repeat it.
      const body = valueAt(data, path);
      if (kindOf(e) === "doStage" && isRecord(body) && ("foreach" in body || "do" in body)) return undefined;
      return missingKey(p, path, missing, kindOf(e));
    }
    case "minProperties":
      return error("schema", `${subject(path)} is an empty mapping; write a path, or {path: {flags}}`, locate(p, path, "value"));
    default:
      return error("schema", `${subject(path)} is not valid here`, locate(p, path, "value"));
  }
}

/** A likely cause of a type error, when one is recognisable. */
function typeHint(path: readonly PathSegment[], want: string, value: unknown): string | undefined {
  const last = path[path.length - 1];
  if (path.length === 2 && path[0] === "stages" && (STAGE_KEYS as readonly string[]).includes(String(last))) {
    return `'${String(last)}' is a stage field: indent it as deep as the other fields of its stage`;
  }
  if (want.startsWith("a list") && typeof value === "string") {
    if (value.includes("${")) return `'${String(last)}' is read before templating, so it cannot be a \${...} (as in DVC): list the entries`;
    return `a single entry is still a list: write [${value}]`;
  }
  if (want === "true or false" && typeof value === "string") {
    if (value.includes("${")) return `'${String(last)}' is read before templating, so it cannot use \${...} (as in DVC)`;
    if (/^(yes|no|on|off|y|n)$/i.test(value)) return `YAML 1.2 reads '${value}' as a string: write true or false`;
  }
  return undefined;
}

function withHint(hint: string | undefined): Partial<Diagnostic> {
  return hint ? { hint } : {};
}

function unknownKey(p: ParsedYaml, path: readonly PathSegment[], key: string, def: string | undefined, data: unknown): Diagnostic | undefined {
  const loc = locate(p, [...path, key], "key");
  const stageName = path[0] === "stages" ? String(path[1]) : "";
  switch (def) {
    case "file": {
      let hint = didYouMean(key, TOP_LEVEL_KEYS);
      const value = isRecord(data) ? data[key] : undefined;
      if (!hint && isRecord(value) && "cmd" in value) hint = `'${key}' looks like a stage: stages go under 'stages:'`;
      else if (!hint && (STAGE_KEYS as readonly string[]).includes(key)) hint = `'${key}' is a stage field: put it under a stage in 'stages:'`;
      return error("unknown-key", `unknown top-level key '${key}'`, loc, withHint(hint));
    }
    case "stage":
      return error("unknown-key", `unknown stage key '${key}'`, loc, withHint(stageKeyHint(key, true)));
    case "doStage": {
      const body = valueAt(data, path);
      // One message for a nested `foreach` + `do` pair, at the `foreach`.
      if (key === "do" && isRecord(body) && "foreach" in body) return undefined;
      if (key === "foreach" || key === "do") {
        return error("unknown-key", `'${key}' cannot be nested inside 'do' of stage '${stageName}': nested foreach is not supported`, loc, {
          hint: "DVC does not support it either; for every combination of several lists, use 'matrix'",
        });
      }
      if (key === "matrix") {
        return error("unknown-key", `'matrix' cannot be used inside 'do' of stage '${stageName}'`, loc, {
          hint: "a stage is expanded by 'foreach' or by 'matrix', not both",
        });
      }
      return error("unknown-key", `unknown stage key '${key}'`, loc, withHint(stageKeyHint(key, false)));
    }
    case "foreachStage": {
      let hint: string | undefined;
      if (key === "matrix") hint = "a stage is expanded by 'foreach' or by 'matrix', not both";
      else if ((STAGE_KEYS as readonly string[]).includes(key)) hint = `move '${key}' under 'do'`;
      else hint = didYouMean(key, ["foreach", "do"]);
      return error("unknown-key", `a foreach stage takes only 'foreach' and 'do', found '${key}'`, loc, withHint(hint));
    }
    case "resources":
      return error("unknown-key", `unknown resource '${key}' of stage '${stageName}'`, loc, withHint(didYouMean(key, RESOURCE_KEYS)));
    case "outFlags":
      return error("unknown-key", `unknown output flag '${key}'`, loc, withHint(didYouMean(key, OUT_FLAG_KEYS)));
    case "plotFlags":
    case "plotFlagsOrList":
      return error("unknown-key", `unknown plot flag '${key}'`, loc, withHint(didYouMean(key, PLOT_FLAG_KEYS)));
    case "topPlotDef": {
      let hint = didYouMean(key, TOP_PLOT_KEYS);
      if (!hint && (OUT_FLAG_KEYS as readonly string[]).includes(key)) hint = "output flags belong to the 'plots' of a stage, not to top-level plots";
      return error("unknown-key", `unknown plot property '${key}'`, loc, withHint(hint));
    }
    case "artifact":
      return error("unknown-key", `unknown artifact field '${key}'`, loc, withHint(didYouMean(key, ARTIFACT_KEYS)));
    default:
      return error("unknown-key", `unknown key '${key}' in ${subject(path)}`, loc);
  }
}

function stageKeyHint(key: string, matrixAllowed: boolean): string | undefined {
  if (key === "live") return "the 'live' section of DVC 2 was removed in DVC 3: declare DVCLive's files as 'metrics' and 'plots'";
  const known: string[] = [...STAGE_KEYS, "foreach", "do"];
  if (matrixAllowed) known.push("matrix");
  return didYouMean(key, known);
}

function missingKey(p: ParsedYaml, path: readonly PathSegment[], missing: string, def: string | undefined): Diagnostic {
  const loc = locate(p, path, "key");
  const name = String(path[1]);
  switch (def) {
    case "stage":
      return error("schema", `stage '${name}' has no '${missing}'`, loc, { hint: "every stage needs a 'cmd': the command to run" });
    case "doStage":
      return error("schema", `the 'do' of stage '${name}' has no '${missing}'`, loc, { hint: "every stage needs a 'cmd': the command to run" });
    case "foreachStage":
      return missing === "do"
        ? error("foreach", `foreach stage '${name}' has no 'do'`, loc, { hint: "'do' holds the stage definition expanded for each item" })
        : error("foreach", `stage '${name}' has 'do' but no 'foreach'`, loc, { hint: "'foreach' gives the list or mapping to expand 'do' over" });
    default:
      return error("schema", `${subject(path)} has no '${missing}'`, loc);
  }
}

/**
 * One warning per file that sets `checkpoint` on an output (DVC 3 still validates the flag but it does nothing),
 * located at the first one.
 */
function checkpointWarnings(p: ParsedYaml, data: unknown): Diagnostic[] {
  if (!isRecord(data) || !isRecord(data["stages"])) return [];
  const found: PathSegment[][] = [];
  for (const [name, def] of Object.entries(data["stages"])) {
    if (!isRecord(def)) continue;
    const bodies: [PathSegment[], unknown][] = [[["stages", name], def]];
    if (isRecord(def["do"])) bodies.push([["stages", name, "do"], def["do"]]);
    for (const [base, body] of bodies) {
      if (!isRecord(body)) continue;
      for (const kind of ["outs", "metrics", "plots"]) {
        const list = body[kind];
        if (!Array.isArray(list)) continue;
        list.forEach((entry, i) => {
          if (!isRecord(entry)) return;
          for (const [out, flags] of Object.entries(entry)) {
            const at = [...base, kind, i, out];
            if (isRecord(flags) && "checkpoint" in flags) found.push([...at, "checkpoint"]);
            if (Array.isArray(flags)) flags.forEach((f, j) => isRecord(f) && "checkpoint" in f && found.push([...at, j, "checkpoint"]));
          }
        });
      }
    }
  }
  const first = found[0];
  if (!first) return [];
  const more = found.length > 1 ? ` (${found.length} outputs in this file)` : "";
  return [warning("warning", `'checkpoint' has no effect and is ignored, as in DVC 3${more}`, locate(p, first, "key"))];
}
