/**
 * The project settings file, `.pipe/config.yaml` (spec 1): the cache link strategy, the default number of jobs,
 * whether cached outputs are added to `.gitignore`, and the executor that runs stage commands. A missing file means the defaults. Unknown keys are warnings (a
 * newer `pipe` may know them); a value of the wrong shape is a located error, as in a stages file.
 *
 *     cache:
 *       type: reflink,copy      # or hardlink, symlink, copy, reflink, or a comma-separated preference list
 *     jobs: auto                # or a positive integer
 *     gitignore: true
 *     executor: local           # what runs stage commands (src/executors/): local or slurm
 *     slurm:                    # the SLURM executor's settings (README, "Running on a SLURM cluster")
 *       submit: plan            # or ready: when a stage's job is submitted
 *       resources: {partition: debug, time: "1:00:00"}   # for every stage
 *       stages:                 # by stage address or pattern (`*`, `?`); later entries win, an exact name last
 *         train: {gpus: 1, mem: 16G, sbatch: [--exclusive]}
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Node, Scalar, YAMLMap } from "yaml";
import { didYouMean, error, fail, ok, warning, type Diagnostic, type Result, type SourceLocation } from "../core/diagnostic.js";
import { isResourceKey, RESOURCE_KEYS, setResource, type Resources } from "../core/resources.js";
import { dedupeSorted, keyString, nodeLocation, parseYaml, yamlDiagnostics, yamlLib, type ParsedYaml } from "../formats/yaml.js";

// The YAML library is loaded when a config file is parsed, not when this module is imported: most projects have no
// `.pipe/config`, and loading the library costs a `repro` ~50 ms.
const isMap = (n: unknown): n is YAMLMap => yamlLib().isMap(n);
const isScalar = (n: unknown): n is Scalar => yamlLib().isScalar(n);

export type LinkType = "reflink" | "copy" | "hardlink" | "symlink";

export const LINK_TYPES: readonly LinkType[] = ["reflink", "copy", "hardlink", "symlink"];

/**
 * The executors `pipe` knows (`src/executors/`). The names live here, below the executors, so that the
 * configuration can check them; `executors/index.ts` makes one from its name.
 */
export type ExecutorName = "local" | "slurm";

export const EXECUTOR_NAMES: readonly ExecutorName[] = ["local", "slurm"];

/** `slurm:` in the config: how the SLURM executor submits, and what each stage asks for. */
export interface SlurmSettings {
  /**
   * `plan` (default): a stage is submitted as soon as the stages it needs are submitted, with `afterok` on their
   * jobs; `ready`: only once they have finished and been recorded (early cutoff kept, one hand-off per stage slower).
   */
  submit: "plan" | "ready";
  /** For every stage. */
  resources: Resources;
  /** By stage address or glob pattern, in file order; applied over `resources` and a stage's own `resources:`. */
  stages: { pattern: string; resources: Resources }[];
}

/** `name` as an executor name, or undefined when no executor has that name. */
export function executorNamed(name: string): ExecutorName | undefined {
  return (EXECUTOR_NAMES as readonly string[]).includes(name) ? (name as ExecutorName) : undefined;
}

/** An unknown executor's error, from the config file (located) or `--executor` (a usage error): the known names. */
export function unknownExecutor(name: string, from: "config" | "flag", loc?: SourceLocation): Diagnostic {
  const hint = didYouMean(name, EXECUTOR_NAMES);
  const message = `unknown executor '${name}'${from === "flag" ? " for --executor" : ""} (known: ${EXECUTOR_NAMES.join(", ")})`;
  return error(from === "flag" ? "usage" : "wrong-type", message, loc, hint ? { hint } : {});
}

export interface PipeConfig {
  cache: {
    /** As written (normalised: no spaces), default `reflink,copy`. */
    type: string;
    /** `type` split: the strategies to try, in order. */
    links: LinkType[];
  };
  /** Default for `repro -j`; undefined when not configured (then 1). */
  jobs?: number | "auto";
  /** Add cached outputs to a `.gitignore` beside the stages file (default true). */
  gitignore: boolean;
  /** What runs stage commands (default `local`; `repro --executor` overrides it). */
  executor: ExecutorName;
  slurm: SlurmSettings;
}

/** Root-relative POSIX path of the config file, as diagnostics name it. */
export const CONFIG_FILE = ".pipe/config.yaml";

export function defaultConfig(): PipeConfig {
  return { cache: { type: "reflink,copy", links: ["reflink", "copy"] }, gitignore: true, executor: "local", slurm: { submit: "plan", resources: {}, stages: [] } };
}

// `core` and `remote` are read by remotes/config.ts (the remotes a transfer uses).
const TOP_KEYS = ["cache", "jobs", "gitignore", "executor", "slurm", "core", "remote"];
const SLURM_KEYS = ["submit", "resources", "stages"];
const CACHE_KEYS = ["type"];

/**
 * Reads `.pipe/config.yaml` under `root`. When `sources` is given, the file's text is put in it (keyed by
 * `CONFIG_FILE`) so diagnostics can be rendered with the source line.
 */
export async function readConfig(root: string, sources?: Map<string, string>): Promise<Result<PipeConfig>> {
  let text: string;
  try {
    text = await readFile(path.join(root, CONFIG_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return ok(defaultConfig());
    return fail([error("io", `cannot read ${CONFIG_FILE}: ${(e as Error).message}`)]);
  }
  sources?.set(CONFIG_FILE, text);
  return parseConfig(parseYaml(CONFIG_FILE, text));
}

/** Interprets an already parsed config file (exposed for tests and for `pipe init`, which writes one). */
export function parseConfig(p: ParsedYaml): Result<PipeConfig> {
  const y = yamlDiagnostics(p);
  if (y.errors.length > 0) return fail(y.errors, y.warnings);
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [...y.warnings];
  const config = defaultConfig();
  const contents = p.doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) return ok(config, warnings);
  if (!isMap(contents)) {
    return fail([error("wrong-type", `${CONFIG_FILE} must be a mapping of settings`, nodeLocation(p, contents))], warnings);
  }
  for (const pair of contents.items) {
    const key = keyString(pair.key);
    const value = pair.value as Node | null;
    const keyLoc = nodeLocation(p, pair.key);
    const valueLoc = value ? nodeLocation(p, value) : keyLoc;
    switch (key) {
      case "cache": {
        if (value === null || (isScalar(value) && value.value === null)) break;
        if (!isMap(value)) {
          errors.push(error("wrong-type", "'cache' must be a mapping (cache: {type: reflink,copy})", valueLoc));
          break;
        }
        for (const cp of value.items) {
          const ck = keyString(cp.key);
          const cv = cp.value as Node | null;
          if (ck !== "type") {
            warnings.push(unknownKey(p, `cache.${ck}`, cp.key, didYouMean(ck, CACHE_KEYS)));
            continue;
          }
          const raw = isScalar(cv) && typeof cv.value === "string" ? cv.value : undefined;
          const links = raw === undefined ? undefined : parseLinks(raw);
          if (raw === undefined || links === undefined) {
            errors.push(
              error("wrong-type", "'cache.type' must be a comma-separated list of reflink, copy, hardlink, symlink", cv ? nodeLocation(p, cv) : nodeLocation(p, cp.key), {
                hint: "for example: type: reflink,copy",
              }),
            );
          } else {
            config.cache = { type: links.join(","), links };
          }
        }
        break;
      }
      case "jobs": {
        const v = isScalar(value) ? value.value : undefined;
        if (v === "auto") config.jobs = "auto";
        else if (typeof v === "number" && Number.isInteger(v) && v >= 1) config.jobs = v;
        else errors.push(error("wrong-type", "'jobs' must be a positive integer or 'auto'", valueLoc));
        break;
      }
      case "gitignore": {
        const v = isScalar(value) ? value.value : undefined;
        if (typeof v === "boolean") config.gitignore = v;
        else errors.push(error("wrong-type", "'gitignore' must be true or false", valueLoc));
        break;
      }
      case "executor": {
        const v = isScalar(value) ? value.value : undefined;
        const name = typeof v === "string" ? executorNamed(v) : undefined;
        if (name !== undefined) config.executor = name;
        else if (typeof v === "string") errors.push(unknownExecutor(v, "config", valueLoc));
        else errors.push(error("wrong-type", `'executor' must be the name of an executor (${EXECUTOR_NAMES.join(", ")})`, valueLoc));
        break;
      }
      case "slurm":
        if (value === null || (isScalar(value) && value.value === null)) break;
        parseSlurm(p, value, config.slurm, errors, warnings);
        break;
      case "core":
      case "remote":
        break;
      default:
        warnings.push(unknownKey(p, key, pair.key, didYouMean(key, TOP_KEYS)));
    }
  }
  return errors.length > 0 ? fail(dedupeSorted(errors), dedupeSorted(warnings)) : ok(config, dedupeSorted(warnings));
}

function parseSlurm(p: ParsedYaml, node: Node, out: SlurmSettings, errors: Diagnostic[], warnings: Diagnostic[]): void {
  if (!isMap(node)) {
    errors.push(error("wrong-type", "'slurm' must be a mapping (slurm: {submit: plan, resources: {...}, stages: {...}})", nodeLocation(p, node)));
    return;
  }
  for (const pair of node.items) {
    const key = keyString(pair.key);
    const value = pair.value as Node | null;
    const loc = nodeLocation(p, value ?? pair.key);
    switch (key) {
      case "submit": {
        const v = isScalar(value) ? value.value : undefined;
        if (v === "plan" || v === "ready") out.submit = v;
        else errors.push(error("wrong-type", "'slurm.submit' must be 'plan' or 'ready'", loc));
        break;
      }
      case "resources": {
        const r = parseResources(p, value, "slurm.resources", errors);
        if (r) out.resources = r;
        break;
      }
      case "stages": {
        if (value === null || (isScalar(value) && value.value === null)) break;
        if (!isMap(value)) {
          errors.push(error("wrong-type", "'slurm.stages' must be a mapping of stage names or patterns to resources", loc));
          break;
        }
        for (const sp of value.items) {
          const pattern = keyString(sp.key);
          const r = parseResources(p, sp.value as Node | null, `slurm.stages.${pattern}`, errors);
          if (r) out.stages.push({ pattern, resources: r });
        }
        break;
      }
      default:
        warnings.push(unknownKey(p, `slurm.${key}`, pair.key, didYouMean(key, SLURM_KEYS)));
    }
  }
}

/** A mapping of resources (`core/resources.ts`); an unknown name or a wrong value is a located error. */
function parseResources(p: ParsedYaml, node: Node | null, where: string, errors: Diagnostic[]): Resources | undefined {
  if (node === null || (isScalar(node) && node.value === null)) return {};
  if (!isMap(node)) {
    errors.push(error("wrong-type", `'${where}' must be a mapping of resources (${RESOURCE_KEYS.join(", ")})`, nodeLocation(p, node)));
    return undefined;
  }
  const r: Resources = {};
  let bad = false;
  for (const pair of node.items) {
    const key = keyString(pair.key);
    if (!isResourceKey(key)) {
      const hint = didYouMean(key, RESOURCE_KEYS);
      errors.push(error("wrong-type", `unknown resource '${key}' in '${where}' (known: ${RESOURCE_KEYS.join(", ")})`, nodeLocation(p, pair.key), hint ? { hint } : {}));
      bad = true;
      continue;
    }
    const v = pair.value as Node | null;
    const plain: unknown = v === null ? null : (v.toJSON() as unknown);
    const msg = setResource(r, key, plain);
    if (msg !== undefined) {
      errors.push(error("wrong-type", `${msg} (in '${where}')`, nodeLocation(p, v ?? pair.key)));
      bad = true;
    }
  }
  return bad ? undefined : r;
}

function unknownKey(p: ParsedYaml, name: string, keyNode: unknown, hint: string | undefined): Diagnostic {
  return warning("warning", `unknown setting '${name}' in ${CONFIG_FILE} (ignored)`, nodeLocation(p, keyNode), hint ? { hint } : {});
}

/** `reflink,copy` -> ['reflink', 'copy']; undefined when a name is unknown, repeated, or the list is empty. */
export function parseLinks(raw: string): LinkType[] | undefined {
  const parts = raw.split(",").map((s) => s.trim());
  const out: LinkType[] = [];
  for (const s of parts) {
    if (!(LINK_TYPES as readonly string[]).includes(s) || out.includes(s as LinkType)) return undefined;
    out.push(s as LinkType);
  }
  return out.length > 0 ? out : undefined;
}
