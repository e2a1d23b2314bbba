// Placeholder with the agreed signature; replaced by the real implementation.
import { fail, type Result } from "../config/diagnostic.js";
import type { Pipeline } from "../model.js";

/**
 * Discovers, parses, validates and expands every stages file under `root`. Every file text read is put into
 * `sources` (keyed by the same `file` string diagnostics use) so diagnostics can be rendered even on failure.
 */
export async function loadPipeline(root: string, sources: Map<string, string>): Promise<Result<Pipeline>> {
  void root;
  void sources;
  return fail([]);
}
