/**
 * The JSON Schema of a stages file (`pipe.yaml` / `dvc.yaml`), as the raw file is written, before any `${...}` is
 * interpolated. It mirrors what DVC 3 validates (`dvc/schema.py`: `MULTI_STAGE_SCHEMA`), because DVC validates the
 * raw file too: a field DVC types as a string (`wdir`, `foreach`, a `matrix` axis) may hold a `${...}`, a field it
 * types as a boolean (`frozen`) may not.
 *
 * This object is the single source: `schemas/pipe.schema.json` (for editors, through the YAML language server) is
 * this object serialised, and a unit test keeps the two identical. Unions are written as `type: [..]` lists whose
 * applicators (`items`, `properties`, `additionalProperties`) only apply to the matching type, never as
 * `oneOf`/`anyOf`, so a mistake produces one precise error instead of one per branch. The only conditional is the
 * stage itself (a stage with `foreach` or `do` is a foreach stage), as DVC's `either_or` does. Every mapping with a
 * closed set of keys carries an `x-kind` annotation naming what it is (a foreach stage, the flags of a plot...), and
 * `x-expected` phrases a union, both for error messages (editors ignore such keywords).
 *
 * At run time the schema is not compiled: `validate-stages.generated.ts` is ajv's standalone code for it (compiling
 * costs about 70 ms of start-up; loading the generated code about 3 ms). After editing this file, regenerate that file
 * and `schemas/pipe.schema.json` with `UPDATE_GOLDEN=1 npx vitest run tests/unit/schema.test.ts` (the test fails
 * while either is stale).
 */

/** A JSON Schema node, loosely typed: only this module builds them and `validate.ts` reads a few keywords. */
export type SchemaNode = { [keyword: string]: unknown };

/** The ajv options the generated validator is compiled with (verbose: errors carry their schema node and value). */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true } as const;

/** Annotation keywords of this schema, which ajv must be told about. */
export const ANNOTATION_KEYWORDS = ["x-kind", "x-expected"] as const;

const str = (description?: string): SchemaNode => (description ? { type: "string", description } : { type: "string" });
const bool = (description: string): SchemaNode => ({ type: "boolean", description });
const strList = (description?: string): SchemaNode => ({ type: "array", items: { type: "string" }, ...(description ? { description } : {}) });
const pathList = (description: string): SchemaNode => ({ ...strList(description), "x-expected": "a list of paths" });
const ref = (name: string): SchemaNode => ({ $ref: `#/definitions/${name}` });

/** Top-level keys of a stages file (spec 2). */
export const TOP_LEVEL_KEYS = ["vars", "stages", "params", "metrics", "plots", "artifacts", "datasets"] as const;

/** Fields of a stage (without `matrix`, which sits beside them, and `foreach`/`do`, which replace them). */
export const STAGE_KEYS = ["cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen", "always_changed", "desc", "meta", "vars", "resources"] as const;

/** Flags of an entry of `outs`/`metrics` (DVC's `OUT_PSTAGE_DETAILED_SCHEMA`). */
export const OUT_FLAG_KEYS = ["cache", "persist", "checkpoint", "desc", "type", "labels", "meta", "remote", "push"] as const;

/** Flags of an entry of a stage's `plots`: the out flags plus the plot properties (DVC's `PLOT_PROPS`). */
export const PLOT_FLAG_KEYS = [...OUT_FLAG_KEYS, "template", "x", "y", "x_label", "y_label", "title", "header"] as const;

/** Properties of a top-level plot definition (DVC's `PLOT_DEFINITION`). */
export const TOP_PLOT_KEYS = ["x", "y", "x_label", "y_label", "title", "template"] as const;

/** Fields of a top-level artifact (DVC's `ARTIFACT_SCHEMA`). */
export const ARTIFACT_KEYS = ["path", "desc", "type", "labels", "meta"] as const;

const outFlagProperties: Record<string, SchemaNode> = {
  cache: bool("Store the output in the cache (default true); false: hashed and recorded in the lock only."),
  persist: bool("Keep the output when the stage re-runs instead of deleting it first (default false)."),
  checkpoint: bool("Accepted for DVC compatibility; has no effect."),
  desc: str("User description of the output."),
  type: str("User-assigned type of the output."),
  labels: strList("User-assigned labels of the output."),
  meta: { description: "Custom metadata of the output." },
  remote: str("Name of the remote to push/fetch this output with."),
  push: bool("Whether the output is pushed to a remote (default true)."),
};

const plotFlagProperties: Record<string, SchemaNode> = {
  ...outFlagProperties,
  template: str("Default plot template."),
  x: str("Field to use as x-axis data."),
  y: str("Field to use as y-axis data."),
  x_label: str("Label of the x-axis."),
  y_label: str("Label of the y-axis."),
  title: str("Plot title."),
  header: bool("Whether the CSV/TSV file has a header row."),
};

const stageProperties: Record<string, SchemaNode> = {
  cmd: {
    type: ["string", "array"],
    items: { type: "string" },
    description: "Command to run in wdir: a string (a multi-line string runs as one script) or a list run item by item.",
  },
  wdir: str("Working directory, relative to the stages file's directory; every path of the stage is relative to it."),
  deps: pathList("Files or directories the stage reads."),
  params: { type: "array", "x-expected": "a list of params", items: ref("paramsEntry"), description: "Parameter dependencies: keys of params.yaml, or {file: [keys]} (empty: the whole file)." },
  outs: { type: "array", "x-expected": "a list of paths", items: ref("out"), description: "Files or directories the stage writes." },
  metrics: { type: "array", "x-expected": "a list of paths", items: ref("out"), description: "Outputs that hold metrics (JSON/YAML/TOML/CSV)." },
  plots: { type: "array", "x-expected": "a list of paths", items: ref("plotOut"), description: "Outputs that hold plot data." },
  frozen: bool("Never re-run and never reported stale."),
  always_changed: bool("Always stale."),
  desc: str("Description of the stage."),
  meta: { description: "Additional information, carried into `dag --json`." },
  vars: ref("vars"),
  resources: ref("resources"),
};

const stageDescription = "A stage: a command with its dependencies and outputs.";

/** The whole schema, draft-07 (what editors support best). */
export const STAGES_FILE_SCHEMA: SchemaNode = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "pipe.yaml / dvc.yaml",
  description: "A pipe stages file (the dvc.yaml grammar of DVC 3).",
  "x-kind": "file",
  type: "object",
  additionalProperties: false,
  properties: {
    vars: ref("vars"),
    stages: {
      type: "object",
      description: "The stages of the pipeline, by name.",
      additionalProperties: ref("stageEntry"),
    },
    params: pathList("Params files to show in `params diff`."),
    metrics: pathList("Metrics files to show in `metrics show/diff`."),
    plots: { type: "array", "x-expected": "a list of plots", items: ref("topPlot"), description: "Top-level plot definitions." },
    artifacts: { type: "object", additionalProperties: ref("artifact"), description: "Artifacts, by name." },
    datasets: { type: "array", items: ref("dataset"), description: "Datasets (DVC 3.50+): each has at least a name and a type." },
  },
  definitions: {
    vars: {
      type: "array",
      "x-expected": "a list of files or mappings",
      items: { type: ["string", "object"], "x-expected": "a file name or a mapping of variables" },
      description: "Template variables: params files (`file.yaml`, `file.yaml:a,b`) or inline mappings.",
    },
    stageEntry: {
      type: "object",
      if: { anyOf: [{ required: ["foreach"] }, { required: ["do"] }] },
      then: ref("foreachStage"),
      else: ref("stage"),
    },
    stage: {
      "x-kind": "stage",
      type: "object",
      description: stageDescription,
      required: ["cmd"],
      additionalProperties: false,
      properties: {
        ...stageProperties,
        matrix: {
          type: "object",
          description: "Expand the stage over the cartesian product of these axes (each a list, or a `${...}` naming one).",
          additionalProperties: { type: ["string", "array"], "x-expected": "a list or a '${...}' string" },
        },
      },
    },
    foreachStage: {
      "x-kind": "foreachStage",
      type: "object",
      description: "A group of stages: `do` expanded once for each item of `foreach`.",
      required: ["foreach", "do"],
      additionalProperties: false,
      properties: {
        foreach: { type: ["string", "array", "object"], "x-expected": "a list, a mapping or a '${...}' string", description: "A list, a mapping, or a `${...}` naming one." },
        do: ref("doStage"),
      },
    },
    doStage: {
      "x-kind": "doStage",
      type: "object",
      description: stageDescription,
      required: ["cmd"],
      additionalProperties: false,
      properties: stageProperties,
    },
    resources: {
      "x-kind": "resources",
      type: "object",
      additionalProperties: false,
      description:
        "pipe.yaml only (DVC rejects it in a dvc.yaml: set resources in .pipe/config.yaml there): what the stage asks of a cluster scheduler with `--executor slurm`. The config's `slurm.stages` entries override these.",
      properties: {
        partition: str("SLURM partition (--partition)."),
        time: { type: ["string", "integer"], description: "Time limit (--time): minutes, MM:SS, HH:MM:SS or D-HH:MM:SS." },
        cpus: { type: ["integer", "string"], description: "CPUs for the stage's command (--cpus-per-task)." },
        mem: { type: ["string", "integer"], description: "Memory (--mem): 500M, 4G." },
        gpus: { type: ["string", "integer"], description: "GPUs (--gpus): a count, or type:count." },
        account: str("Account to charge (--account)."),
        qos: str("Quality of service (--qos)."),
        constraint: str("Node features (--constraint)."),
        sbatch: { type: ["array", "string"], items: { type: "string" }, description: "Further sbatch flags, as written." },
      },
    },
    paramsEntry: {
      type: ["string", "object"],
      "x-expected": "a key of params.yaml or a {file: [keys]} mapping",
      additionalProperties: { type: ["array", "null"], items: { type: "string" } },
    },
    out: {
      type: ["string", "object"],
      "x-expected": "a path or a {path: {flags}} mapping",
      minProperties: 1,
      additionalProperties: ref("outFlags"),
    },
    outFlags: { "x-kind": "outFlags", type: "object", additionalProperties: false, properties: outFlagProperties },
    plotOut: {
      type: ["string", "object"],
      "x-expected": "a path or a {path: {flags}} mapping",
      minProperties: 1,
      additionalProperties: ref("plotFlagsOrList"),
    },
    plotFlagsOrList: {
      "x-kind": "plotFlagsOrList",
      type: ["object", "array"],
      items: ref("plotFlags"),
      additionalProperties: false,
      properties: plotFlagProperties,
    },
    plotFlags: { "x-kind": "plotFlags", type: "object", additionalProperties: false, properties: plotFlagProperties },
    topPlot: {
      type: ["string", "object"],
      "x-expected": "a path or a {plot id or path: {properties}} mapping",
      minProperties: 1,
      additionalProperties: ref("topPlotDef"),
    },
    topPlotDef: {
      "x-kind": "topPlotDef",
      type: ["object", "null"],
      additionalProperties: false,
      properties: {
        x: {
          type: ["string", "object"],
          additionalProperties: { type: "string" },
          description: "A column name, or {data file: column}.",
        },
        y: {
          type: ["string", "array", "object"],
          items: { type: "string" },
          additionalProperties: { type: ["string", "array"], items: { type: "string" } },
          description: "A column name, a list of them, or {data file: column(s)}.",
        },
        x_label: str("Label of the x-axis."),
        y_label: str("Label of the y-axis."),
        title: str("Plot title."),
        template: str("Plot template."),
      },
    },
    artifact: {
      "x-kind": "artifact",
      type: "object",
      required: ["path"],
      additionalProperties: false,
      properties: {
        path: str("Path to the artifact."),
        desc: str("Description of the artifact."),
        type: str("Type of the artifact."),
        labels: strList("Labels of the artifact."),
        meta: { description: "Custom metadata of the artifact." },
      },
    },
    dataset: {
      "x-kind": "dataset",
      type: "object",
      required: ["name", "type"],
      properties: { name: str("Name of the dataset."), type: str("`dvc`, `dc` or `url`.") },
    },
  },
};
