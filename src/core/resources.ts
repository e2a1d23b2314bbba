/**
 * What a stage asks of a cluster scheduler: the resource names a stage may set (in `.pipe/config.yaml`'s `slurm:`
 * section, or as a `resources:` key of a stage in `pipe.yaml`) and the check of each value. Both readers (the config,
 * the template expander) use these, so the names and their types are written once; an unknown name is a located
 * error where it is written. What a name becomes on the command line is the SLURM executor's (`executors/slurm-job.ts`).
 */

export interface Resources {
  /** `--partition`. */
  partition?: string;
  /** `--time`, in SLURM's own forms (`30`, `1:00:00`, `2-00:00:00`). */
  time?: string;
  /** `--cpus-per-task`. */
  cpus?: number;
  /** `--mem` (`4G`, `500M`). */
  mem?: string;
  /** `--gpus` (`1`, `a100:2`). */
  gpus?: string;
  account?: string;
  qos?: string;
  constraint?: string;
  /** Further `sbatch` flags, passed as written (`--exclusive`, `--nice=10`). */
  sbatch?: string[];
}

export const RESOURCE_KEYS = ["partition", "time", "cpus", "mem", "gpus", "account", "qos", "constraint", "sbatch"] as const;
export type ResourceKey = (typeof RESOURCE_KEYS)[number];

export function isResourceKey(k: string): k is ResourceKey {
  return (RESOURCE_KEYS as readonly string[]).includes(k);
}

/** One more value of `r`, checked: the error's words when it has the wrong shape. */
export function setResource(r: Resources, key: ResourceKey, value: unknown): string | undefined {
  const text = typeof value === "string" ? value.trim() : typeof value === "number" && Number.isFinite(value) ? String(value) : undefined;
  switch (key) {
    case "cpus":
      if (typeof value === "number" && Number.isInteger(value) && value >= 1) r.cpus = value;
      else return "'cpus' must be a positive integer";
      return undefined;
    case "sbatch": {
      const list = typeof value === "string" ? value.split(/\s+/).filter((s) => s !== "") : Array.isArray(value) ? value : undefined;
      if (list === undefined || !list.every((s): s is string => typeof s === "string" && s.startsWith("-"))) {
        return "'sbatch' must be a list of sbatch flags (for example: [--exclusive, --nice=10])";
      }
      r.sbatch = [...(r.sbatch ?? []), ...list];
      return undefined;
    }
    case "time":
      if (text === undefined || !/^[0-9]+(-[0-9]+)?(:[0-9]+){0,2}$/.test(text)) return "'time' must be a SLURM time (minutes, MM:SS, HH:MM:SS or D-HH:MM:SS)";
      r.time = text;
      return undefined;
    case "mem":
      if (text === undefined || !/^[0-9]+[KMGT]?$/i.test(text)) return "'mem' must be a size such as 500M or 4G";
      r.mem = text;
      return undefined;
    default:
      if (text === undefined || text === "") return `'${key}' must be a string`;
      r[key] = text;
      return undefined;
  }
}

/** `over`'s values replace `base`'s; `sbatch` flags add up. */
export function mergeResources(base: Resources, over: Resources): Resources {
  const out: Resources = { ...base, ...over };
  if (base.sbatch || over.sbatch) out.sbatch = [...(base.sbatch ?? []), ...(over.sbatch ?? [])];
  return out;
}
