/**
 * Reading a file the user names as input (a stages, vars or params file) whole, without ever blocking on it.
 *
 * `readFile` on a FIFO waits for a writer, forever if there is none, and on a character device may never reach an
 * end; DVC would hang the same way. Such a file is refused instead, as a value the caller turns into a diagnostic:
 * the type is checked with `stat` before opening (opening some devices has effects), and again on the open file
 * (`O_NONBLOCK`, so that a FIFO swapped in between cannot block the open either).
 */
import { constants, type Stats } from "node:fs";
import { open, stat } from "node:fs/promises";

/** The file exists but is not a regular file (a directory, FIFO, socket or device). */
export class NotRegularFile extends Error {
  constructor(readonly kind: string) {
    super(`it is ${kind}, not a regular file`);
  }
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "not a file";
}

/** Whether a directory entry of this type is something `readRegularFile` refuses without opening it. */
export function isSpecialFile(st: Pick<Stats, "isFIFO" | "isSocket" | "isCharacterDevice" | "isBlockDevice">): boolean {
  return st.isFIFO() || st.isSocket() || st.isCharacterDevice() || st.isBlockDevice();
}

/**
 * The bytes of the regular file at `abs` (symlinks followed), or why not: `NotRegularFile`, or the system's error
 * (`code` ENOENT and so on).
 */
export async function readRegularFile(abs: string): Promise<Buffer | NotRegularFile | NodeJS.ErrnoException> {
  try {
    const st = await stat(abs);
    if (!st.isFile()) return new NotRegularFile(kindOf(st));
    const fh = await open(abs, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const again = await fh.stat();
      if (!again.isFile()) return new NotRegularFile(kindOf(again));
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
}
