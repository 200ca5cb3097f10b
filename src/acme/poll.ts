// Waiting on the CA: every wait of a run (authorizations, the order before and after finalize)
// shares one deadline and one backoff, and a Retry-After may lengthen a wait but never past the
// deadline.

import { setTimeout as sleep } from 'node:timers/promises';
import { Failure } from '../log.js';

/**
 * The first look goes at once: the answer that started the wait took a round trip to come, and the
 * look takes half of one to arrive, time enough for a CA on the same network (bench/RESULTS.md:
 * a 10 ms pause cost a whole run 21 ms at RTT 50 ms). Then the looks back off from 10 ms.
 */
const FIRST_INTERVAL_MS = 10;
const MAX_INTERVAL_MS = 5_000;
/** A CA asking for a day between looks is asked again within a minute. */
const MAX_RETRY_AFTER_MS = 60_000;

export class Deadline {
  private readonly at: number;

  constructor(ms: number) {
    this.at = Date.now() + ms;
  }

  get passed(): boolean {
    return Date.now() >= this.at;
  }

  /** What is left of it, in milliseconds (0 once passed). */
  remainingMs(): number {
    return Math.max(0, this.at - Date.now());
  }

  /** Whether `ms` from now is still before the deadline. */
  leaves(ms: number): boolean {
    return Date.now() + ms < this.at;
  }

  /** Sleeps `ms`, or until the deadline if that comes first: one last look is still made. */
  async pause(ms: number): Promise<void> {
    await sleep(Math.max(0, Math.min(ms, this.at - Date.now())));
  }
}

/** The wait before look number `round` (1 is the first look after the initial one). */
export function pollDelay(round: number, retryAfter: number | null): number {
  if (retryAfter !== null) return Math.min(retryAfter, MAX_RETRY_AFTER_MS);
  if (round <= 1) return 0;
  return Math.min(MAX_INTERVAL_MS, FIRST_INTERVAL_MS * 2 ** (round - 2));
}

/** pollUntil's own giving up at the deadline (a look that failed is that look's error). */
export class GaveUp extends Failure {}

/**
 * Looks at a resource until `settled` says so: `first` is what is known already, each further look
 * comes after pollDelay. Gives up at the deadline with `<subject>: <what>, giving up` (GaveUp).
 * `firstRound`: 2 when `first` is itself a look just made, so that the next waits its 10 ms.
 */
export async function pollUntil<T>(
  deadline: Deadline, subject: string, first: { value: T; retryAfter: number | null },
  look: () => Promise<{ value: T; retryAfter: number | null }>, settled: (value: T) => boolean, what: (value: T) => string, firstRound = 1,
): Promise<T> {
  let { value, retryAfter } = first;
  for (let round = firstRound; !settled(value); round++) {
    if (deadline.passed) throw new GaveUp(subject, `${what(value)}, giving up`);
    await deadline.pause(pollDelay(round, retryAfter));
    ({ value, retryAfter } = await look());
  }
  return value;
}

/**
 * Maps fn over items with at most `limit` running at once. The first failure starts no further
 * item and is thrown once those running have ended: a caller that cleans up after it (chngproc
 * removing challenge files) then never does so under a request still on its way.
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (failures.length === 0 && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
  return results;
}
