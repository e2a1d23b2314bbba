/**
 * What every command receives from `main.ts`: where to run, how to write, and the global flags. Commands never touch
 * `process.stdout` or `process.exit` themselves, so they can be driven from tests and their output stays in one place.
 */
import pc from "picocolors";
import type { Colors } from "../report/colors.js";

export interface Io {
  /** Human output (stdout). */
  out(text: string): void;
  /** Diagnostics and progress (stderr). */
  err(text: string): void;
  /** stderr is a terminal (live status line allowed). */
  errIsTTY: boolean;
  /** stdout is a terminal (`repro --tty` hands stages one). */
  outIsTTY?: boolean;
  /**
   * Asks the user a question on the terminal and resolves to the answer line, or undefined at end of input; absent
   * when stdin or stderr is not a terminal (nobody to ask: commands that need consent then require a flag).
   */
  ask?: (question: string) => Promise<string | undefined>;
}

/**
 * What one run of the CLI is given by whoever starts it: the process (`bin/pipe.js`, through `processIo` in
 * `main.ts`) or a test running the CLI in its own process. Nothing below `main.ts` reads the process's cwd,
 * environment or streams, so two runs in one process do not see each other.
 */
export interface RunIo {
  /** The directory the run starts in (`-C` is relative to it). */
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdout(text: string): void;
  stderr(text: string): void;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /** Terminal widths, when the stream is a terminal (commander wraps help to them). */
  stdoutColumns?: number | undefined;
  stderrColumns?: number | undefined;
  /** The terminal shows colours (`tty.hasColors()`; a `TERM=dumb` terminal does not). Undefined: as `isTTY`. */
  stdoutHasColors?: boolean | undefined;
  stderrHasColors?: boolean | undefined;
  /** As `Io.ask`: present only when there is a terminal to ask on. */
  ask?: ((question: string) => Promise<string | undefined>) | undefined;
}

export interface GlobalOptions {
  /** Absolute directory the command runs as if started in (`-C DIR`). */
  cwd: string;
  color: boolean;
  verbose: boolean;
  quiet: boolean;
}

export interface CommandContext {
  io: Io;
  global: GlobalOptions;
  /** The run's environment (credentials of remotes come from it); absent in contexts tests build by hand. */
  env?: Readonly<Record<string, string | undefined>>;
}

export type { Colors };

export function colors(ctx: CommandContext): Colors {
  return pc.createColors(ctx.global.color);
}

/** Exit codes of spec section 5. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;

/** `--precision` of `metrics show`/`diff` when none is given: DVC's `DEFAULT_PRECISION` (dvc/commands/metrics.py). */
export const DEFAULT_PRECISION = 5;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;
