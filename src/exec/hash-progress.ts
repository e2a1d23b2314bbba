/**
 * "Never silent" for big inputs: while a command hashes a lot of data (a 10 GB dataset the first time), this watches
 * the hasher's counters and emits `hash-progress` events (bytes done of bytes set out to read, rate, time left), so
 * a reporter can show them: on the status line at a terminal, as a line every 10 s in a CI log.
 *
 * A batch starts when the hasher has bytes queued that are not read yet, and ends when it has caught up. Only a
 * batch of at least `minBytes` (1 GB) is reported: hashing a few small files is over before anyone would look, and a
 * line about it would be noise. The events are facts (bytes, rate); the words are the reporters'.
 */
import type { HasherStats } from "../hash/hasher.js";
import type { EventSink } from "./events.js";

export interface HashProgressOptions {
  /** Sampling period (ms). Default 1000. */
  intervalMs?: number;
  /** Smallest batch that is reported. Default 1 GB (10^9 bytes). */
  minBytes?: number;
  /** Clock (ms), injectable for tests. */
  now?: () => number;
}

/** Watches `stats` until the returned function is called; emits through `emit`. */
export function watchHashing(stats: Readonly<HasherStats>, emit: EventSink, opts: HashProgressOptions = {}): () => void {
  const now = opts.now ?? (() => performance.now());
  const minBytes = opts.minBytes ?? 1e9;
  let batch: { read0: number; queued0: number; startedAt: number; reported: boolean } | undefined;
  const sample = (last = false): void => {
    const outstanding = stats.bytesQueued - stats.bytesRead;
    if (batch === undefined) {
      if (outstanding <= 0) return;
      // The batch began with the bytes queued since the last sample: count from what was read before them.
      batch = { read0: stats.bytesRead, queued0: stats.bytesRead, startedAt: now(), reported: false };
    }
    const total = stats.bytesQueued - batch.queued0;
    const done = Math.min(total, stats.bytesRead - batch.read0);
    const finished = outstanding <= 0 || last;
    if (total >= minBytes) {
      const elapsedMs = Math.max(1, now() - batch.startedAt);
      const rate = (done / elapsedMs) * 1000;
      emit({
        type: "hash-progress",
        bytesDone: done,
        bytesTotal: total,
        bytesPerSecond: Math.round(rate),
        ...(rate > 0 && !finished ? { secondsLeft: Math.ceil((total - done) / rate) } : {}),
        done: finished,
      });
      batch.reported = true;
    }
    if (finished) batch = undefined;
  };
  const timer = setInterval(() => sample(), opts.intervalMs ?? 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    // The watched command is done: a reported batch gets its last event, so the reporter can take it down.
    if (batch?.reported) sample(true);
  };
}
