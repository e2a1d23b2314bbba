/**
 * YAML 1.2 parsing with source positions (the `yaml` package), and the mapping from a YAML node back to a
 * `file:line:col` location, which every later layer uses to point at the offending text.
 */
import { isNode, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { SourceLocation } from "./diagnostic.js";

export interface ParsedYaml {
  /** Relative to the project root (as diagnostics show it). */
  file: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

/** Parses without judging: syntax errors are left in `doc.errors` for the validator to turn into diagnostics. */
export function parseYaml(file: string, text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: "1.2", keepSourceTokens: false });
  return { file, text, doc, lineCounter };
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
  if (isNode(node) && node.range) {
    const [start, valueEnd] = (node as Node).range!;
    return offsetLocation(p, start, valueEnd - start);
  }
  return { file: p.file, line: 1, col: 1 };
}
