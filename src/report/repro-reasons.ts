/**
 * One-line renderings of staleness reasons for `repro` (`Would run 'train': changed params: train.lr 0.1 -> 0.2`,
 * and `-v` on `Running` lines). `status` has the full multi-line layout; `repro` needs a short "why" per stage.
 * Paths and addresses are shown relative to the working directory (`where`). The engine emits the reasons as values
 * (`RunReason`); these are their words.
 */
import { AT_ROOT, type Where } from "../project/where.js";
import { unreachable } from "../core/unreachable.js";
import type { RunReason } from "../exec/events.js";

const MAX_ITEMS = 3;

function list(items: readonly string[]): string {
  if (items.length <= MAX_ITEMS) return items.join(", ");
  return `${items.slice(0, MAX_ITEMS).join(", ")} and ${items.length - MAX_ITEMS} more`;
}

function value(v: unknown): string {
  if (v === undefined) return "-";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 40 ? s.slice(0, 37) + "..." : s;
}

export function reasonText(r: RunReason, where: Where = AT_ROOT): string {
  switch (r.kind) {
    case "forced":
      return "forced";
    case "upstream-will-run":
      return `upstream '${where.address(r.upstream)}' will run`;
    case "no-lock-entry":
      return "no lock entry";
    case "missing-params":
      return r.keys.length === 0 ? `params file ${where.path(r.rootPath)} does not exist` : `params not in ${where.path(r.rootPath)}: ${list(r.keys)}`;
    case "changed-command":
      if (r.vars.length === 0) return "changed command";
      // Variables that do not account for the whole change must not read as if they did.
      return `changed command: ${r.vars.map((v) => `\${${v.name}} ${v.old} -> ${v.new}`).join(", ")}${r.explained ? "" : ", and more"}`;
    case "changed-params": {
      const items: string[] = [];
      for (const f of r.files) {
        if (f.error !== undefined) items.push(`${where.path(f.rootPath)} unreadable`);
        for (const c of f.changes) items.push(c.change === "modified" ? `${c.key} ${value(c.old)} -> ${value(c.new)}` : `${c.change} ${c.key}`);
      }
      return `changed params: ${list(items)}`;
    }
    case "changed-deps":
      return `changed deps: ${list(r.changes.map((c) => `${c.change} ${where.path(c.rootPath)}`))}`;
    case "changed-outs":
      return `changed outs: ${list(r.changes.map((c) => `${c.change} ${where.path(c.rootPath)}`))}`;
    case "always-changed":
      return "always changed";
    case "upstream-stale":
      return `upstream stale: ${r.chain.map((a) => where.address(a)).join(" -> ")}`;
    default:
      return unreachable(r);
  }
}

export function reasonsText(rs: readonly RunReason[], where: Where = AT_ROOT): string[] {
  return rs.map((r) => reasonText(r, where));
}
