// The CA's published request limits, kept by the client itself so that a large order never runs
// into them. Let's Encrypt publishes per-endpoint limits for each client address, as token
// buckets (https://letsencrypt.org/docs/rate-limits/, "Overall Requests Limit"), each endpoint
// counted in its own: newNonce 20 a second with a burst of 10; /acme/*, the endpoints without a
// row of their own (orders, authorizations, challenges, finalize, certificates), 250 a second
// with a burst of 125. newAccount (5, 15), revokeCert (10, 100) and newOrder (300, 200), one to
// three requests a run, go in /acme/*'s bucket too; the directory (40, 40) and renewalInfo (1000,
// 100), once or twice a run, in none. Other CAs publish none or their own. Used by netproc alone
// (src/acme/client.ts).

import { setTimeout as sleep } from 'node:timers/promises';

/** newNonce: 20 a second, a burst of 10. */
export const NEW_NONCE_LIMIT = { burst: 10, perSecond: 20 } as const;
/** Every signed request (/acme/*): 250 a second, a burst of 125. */
export const SIGNED_REQUEST_LIMIT = { burst: 125, perSecond: 250 } as const;

/**
 * A token bucket: `burst` requests at once, then `perSecond`. A token is reserved when asked for,
 * so requests waiting for one go in the order they asked, each 1/perSecond after the one before.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly limit: { burst: number; perSecond: number }, private readonly now: () => number = () => performance.now()) {
    this.tokens = limit.burst;
    this.at = now();
  }

  /** Reserves the next token: how many milliseconds from now it is there (0: at once). */
  reserve(): number {
    const now = this.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.at) * this.limit.perSecond) / 1000) - 1;
    this.at = now;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.limit.perSecond;
  }

  /** Resolves once the reserved token is there (a timer may fire early: it is waited out anew). */
  async take(): Promise<void> {
    const wait = this.reserve();
    const due = this.at + wait; // reserve() set `at` to the time the wait counts from
    for (let left = wait; left > 0; left = due - this.now()) await sleep(left);
  }
}
