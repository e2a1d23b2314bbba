/**
 * Bounded concurrency for file work (copying, hashing, linking thousands of files of a directory output): enough
 * in flight to keep the disk busy, never one promise per file at once.
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  const n = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: n }, worker));
}

export const FILE_CONCURRENCY = 16;
