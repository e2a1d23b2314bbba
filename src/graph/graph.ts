// Placeholder with the agreed signature; replaced by the real implementation.
import { fail, type Result } from "../config/diagnostic.js";
import type { Pipeline, StageGraph } from "../model.js";

export function buildGraph(pipeline: Pipeline): Result<StageGraph> {
  void pipeline;
  return fail([]);
}
