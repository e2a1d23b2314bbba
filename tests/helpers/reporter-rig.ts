/** The text reporter of `repro` with a fake clock, collecting what it writes (unit tests of its output). */
import pc from "picocolors";
import type { ReproEvent } from "../../src/exec/events.js";
import { createReproTextReporter, type ReproTextOptions } from "../../src/report/repro-text.js";

export function rig(opts: Partial<ReproTextOptions> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  let t = 0;
  const rep = createReproTextReporter({
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    statusLine: false,
    prefix: false,
    quiet: false,
    verbose: false,
    colors: pc.createColors(false),
    now: () => t,
    tickMs: 0,
    ...opts,
  });
  return {
    out,
    err,
    emit: (...es: ReproEvent[]) => es.forEach((e) => rep.handle(e)),
    tick: (ms: number) => (t += ms),
    close: () => rep.close(),
  };
}
