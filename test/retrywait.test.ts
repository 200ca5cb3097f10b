// How long the client waits before asking the CA again (src/acme/client.ts busyWait): the rule
// itself, so that the one-minute cap is checked without a test that waits a minute.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { busyWait } from '../src/acme/client.js';
import type { HttpResponse } from '../src/acme/http.js';
import { pollDelay } from '../src/acme/poll.js';

const answer = (status: number, retryAfter?: string): HttpResponse =>
  ({ url: 'https://ca.example/x', status, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter }, body: Buffer.alloc(0) });

// Would fail if a server error's long Retry-After were reported instead of waited a minute, or
// waited in full; if a server error without one were not retried after 2 s; or if 429 changed.
test('server errors wait their Retry-After, a minute at most, 2 s without one; a 429 only a minute or less', () => {
  for (const status of [500, 502, 503, 504]) {
    assert.equal(busyWait(answer(status, '1')), 1_000, `${status} Retry-After 1`);
    assert.equal(busyWait(answer(status, '60')), 60_000, `${status} Retry-After 60`);
    assert.equal(busyWait(answer(status, '7200')), 60_000, `${status} Retry-After 7200 is capped`);
    assert.equal(busyWait(answer(status)), 2_000, `${status} without Retry-After`);
  }
  assert.equal(busyWait(answer(429, '30')), 30_000);
  assert.equal(busyWait(answer(429, '61')), null, 'a 429 asking for longer is a rate limit: reported');
  assert.equal(busyWait(answer(429)), null);
  for (const status of [400, 403, 404, 501]) assert.equal(busyWait(answer(status, '1')), null, `${status} is not retried`);
});

// Would fail with the first look after a pause (a run at RTT 50 ms lost 21 ms to two of them), or
// with a backoff that never grows (a CA validating for a minute asked every 10 ms).
test('looks at a resource being worked on: the first at once, then from 10 ms doubling to 5 s; a Retry-After as given, a minute at most', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((round) => pollDelay(round, null)), [0, 10, 20, 40, 80]);
  assert.equal(pollDelay(12, null), 5_000);
  assert.equal(pollDelay(1, 3_000), 3_000);
  assert.equal(pollDelay(1, 86_400_000), 60_000);
});
