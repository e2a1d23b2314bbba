/**
 * The variable context of a stages file: what `${...}` can name, where each variable came from, and the rules for
 * adding to it, as DVC's `dvc/parsing/context.py` has them.
 *
 * - Sources merge recursively: two files may both define keys under `train`, but a leaf (or a leaf against a
 *   mapping) defined twice is an error naming both sources; every conflict is reported, not only the first.
 * - A file loaded whole may be listed again (ignored); a file loaded partially (`file.yaml:a,b`) cannot be loaded
 *   whole too, nor whole then partially, nor the same key twice.
 * - Inside a `foreach`/`matrix` member, `item` (and `key`) are set on top of the context and reserved: stage-level
 *   `vars` cannot redefine them.
 *
 * Every variable keeps its origin (a label such as `params.yaml`, and a source location when the file format gives
 * one), so a conflict can point at both definitions.
 */
import type { SourceLocation } from "../core/diagnostic.js";
import { isVMap, type Locations, type Value, type VMap } from "./value.js";

/** Where a variable was defined. */
export interface Origin {
  /** `params.yaml`, `configs/train.yaml`, `the inline vars of pipe.yaml`. */
  label: string;
  loc?: SourceLocation;
  /** The vars file (root-relative) it was read from; undefined for inline vars. */
  file?: string;
}

/** A variable read from a vars file: the file (root-relative) and the variable's dotted path in it. */
export interface VarSource {
  file: string;
  key: string;
}

/** A set of variables about to be merged into a context. */
export interface VarsSource {
  label: string;
  /** The vars file (root-relative) the variables come from; undefined for inline vars. */
  file?: string;
  value: VMap;
  /** Locations of the values by dotted path, within the source (a vars file, or the stages file for inline vars). */
  locs: Locations;
  /** True for inline mappings: a conflict is located at the conflicting key rather than at the vars entry. */
  inline: boolean;
}

export interface MergeConflict {
  /** Dotted path of the variable defined twice. */
  path: string;
  first: Origin;
  second: Origin;
}

export type Lookup = { ok: true; value: Value } | { ok: false; /** Index of the first step that could not be followed. */ failedAt: number; /** The value the path reached before failing. */ reached?: Value };

/** Python's `int()` of a list index step: optional sign, digits, `_` between digits. */
const INDEX = /^[-+]?\d+(?:_\d+)*$/;

function deepCopy(m: VMap): VMap {
  const out: VMap = new Map();
  for (const [k, v] of m) out.set(k, isVMap(v) ? deepCopy(v) : v);
  return out;
}

export class Context {
  /** Top-level variables. */
  data: VMap;
  origins: Map<string, Origin>;
  /** Files loaded (root-relative path) -> the keys loaded, `null` for the whole file. */
  imports: Map<string, string[] | null>;
  /** `item`/`key` of a foreach or matrix member: looked up before `data`, and reserved. */
  overlay: VMap;
  /**
   * Where overlay values (or, for a matrix `item`, its axes) came from, when a `${...}` took them from a vars file:
   * `item` of `foreach: ${models}` is `models.<key>` of that file, as DVC's nodes keep their source.
   */
  overlaySources: Map<string, VarSource>;

  constructor(
    data: VMap = new Map(),
    origins = new Map<string, Origin>(),
    imports = new Map<string, string[] | null>(),
    overlay: VMap = new Map(),
    overlaySources = new Map<string, VarSource>(),
  ) {
    this.data = data;
    this.origins = origins;
    this.imports = imports;
    this.overlay = overlay;
    this.overlaySources = overlaySources;
  }

  /** An independent copy, for stage-level `vars` (members share the file's context otherwise). */
  clone(): Context {
    const imports = new Map<string, string[] | null>();
    for (const [k, v] of this.imports) imports.set(k, v === null ? null : [...v]);
    return new Context(deepCopy(this.data), new Map(this.origins), imports, new Map(this.overlay), new Map(this.overlaySources));
  }

  /** The same variables with `item`/`key` set on top (a foreach or matrix member); `sources` keyed like `overlaySources`. */
  withOverlay(overlay: VMap, sources = new Map<string, VarSource>()): Context {
    return new Context(this.data, this.origins, this.imports, overlay, sources);
  }

  /**
   * The vars file and dotted key a reference (`steps`, as `lookup` takes them) reads, as DVC's tracked vars record
   * it (list indexes are steps too: `${a[0]}` is `a.0`); undefined for inline vars and for `item`/`key` values that
   * came from no file. `overlaySources` may hold `item` itself or, for a matrix, `item.<axis>`.
   */
  sourceOf(steps: readonly string[]): VarSource | undefined {
    const first = steps[0];
    if (first === undefined) return undefined;
    if (this.overlay.has(first)) {
      for (let i = Math.min(steps.length, 2); i >= 1; i--) {
        const s = this.overlaySources.get(steps.slice(0, i).join("."));
        if (s) return { file: s.file, key: [s.key, ...steps.slice(i)].join(".") };
      }
      return undefined;
    }
    // The longest prefix with a recorded origin: nested mappings may merge from several files.
    for (let i = steps.length; i >= 1; i--) {
      const o = this.origins.get(steps.slice(0, i).join("."));
      if (o) return o.file === undefined ? undefined : { file: o.file, key: steps.join(".") };
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.overlay.has(name) || this.data.has(name);
  }

  get reserved(): ReadonlySet<string> {
    return new Set(this.overlay.keys());
  }

  lookup(steps: readonly string[]): Lookup {
    let cur: Value | undefined;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      let next: Value | undefined;
      if (i === 0) next = this.overlay.has(s) ? this.overlay.get(s) : this.data.get(s);
      else if (isVMap(cur)) next = cur.get(s);
      else if (Array.isArray(cur)) {
        if (INDEX.test(s)) {
          const n = Number(s.replace(/_/g, ""));
          next = cur[n < 0 ? cur.length + n : n];
        }
      } else {
        return { ok: false, failedAt: i, reached: cur };
      }
      if (next === undefined) return i === 0 ? { ok: false, failedAt: 0 } : { ok: false, failedAt: i, reached: cur };
      cur = next;
    }
    return { ok: true, value: cur === undefined ? null : cur };
  }

  /** Dotted names of every variable (mappings are walked, lists are leaves), for "did you mean" hints. */
  names(limit = 2000): string[] {
    const out: string[] = [];
    const walk = (m: VMap, prefix: string): void => {
      for (const [k, v] of m) {
        if (out.length >= limit) return;
        const name = prefix ? `${prefix}.${k}` : k;
        out.push(name);
        if (isVMap(v)) walk(v, name);
      }
    };
    walk(this.overlay, "");
    const top = new Map([...this.data].filter(([k]) => !this.overlay.has(k)));
    walk(top, "");
    return out;
  }

  /** Top-level names of `source` that are reserved here (`item`, `key` inside a member). */
  reservedIn(source: VMap): string[] {
    return [...source.keys()].filter((k) => this.overlay.has(k));
  }

  /**
   * Merges `source` into the context (DVC's `merge_update` without overwrite). Returns every conflict; the
   * non-conflicting variables are merged regardless, so later references still resolve.
   */
  merge(source: VarsSource): MergeConflict[] {
    const conflicts: MergeConflict[] = [];
    const originOf = (path: string): Origin => {
      const loc = source.locs.get(path);
      const o: Origin = loc ? { label: source.label, loc } : { label: source.label };
      if (source.file !== undefined) o.file = source.file;
      return o;
    };
    const record = (v: Value, path: string): void => {
      this.origins.set(path, originOf(path));
      if (isVMap(v)) for (const [k, x] of v) record(x, `${path}.${k}`);
    };
    const go = (into: VMap, update: VMap, prefix: string): void => {
      for (const [k, v] of update) {
        const path = prefix ? `${prefix}.${k}` : k;
        const existing = into.get(k);
        if (isVMap(existing) && isVMap(v)) {
          go(existing, v, path);
        } else if (into.has(k)) {
          conflicts.push({ path, first: this.origins.get(path) ?? { label: "an earlier source" }, second: originOf(path) });
        } else {
          // A copy, so that a later merge into this mapping never changes the source's own value.
          const own = isVMap(v) ? deepCopy(v) : v;
          into.set(k, own);
          record(own, path);
        }
      }
    };
    go(this.data, source.value, "");
    return conflicts;
  }
}
