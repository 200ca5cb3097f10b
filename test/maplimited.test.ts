// mapLimited (src/acme/poll.ts), under the authorizations of an order: at most `limit` at once, and
// after a failure no new item, and the failure thrown only once those running have ended (netproc
// then lets chngproc remove the challenge files: never under a request still on its way).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapLimited } from '../src/acme/poll.js';

const turns = async (n: number): Promise<void> => {
  for (let turn = 0; turn < n; turn++) await new Promise((resolve) => setImmediate(resolve));
};

// Would fail if more than `limit` ran at once, if an item started after the failure, or if the
// failure were thrown while an item was still running (mapLimited's promise settled before the
// slow item was let go).
test('at most the limit at once; after a failure no new item, and the failure once the running have ended', async () => {
  let running = 0;
  let most = 0;
  const started: number[] = [];
  let releaseSlow: () => void = () => undefined;
  const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
  let settled = false;
  const work = mapLimited([0, 1, 2, 3, 4, 5], 3, async (i) => {
    started.push(i);
    most = Math.max(most, ++running);
    try {
      if (i === 0) await slow;
      if (i === 1) throw new Error('item 1 failed');
      await turns(1);
      return i;
    } finally {
      running--;
    }
  });
  work.then(() => undefined, () => undefined).finally(() => (settled = true));
  await turns(20);
  assert.equal(settled, false, 'not settled while item 0 still runs');
  assert.ok(most <= 3, `${most} at once`);
  releaseSlow();
  await assert.rejects(work, /item 1 failed/);
  assert.deepEqual(started.sort(), [0, 1, 2], 'nothing started after the failure');
  assert.equal(running, 0);
});

// Would fail if results came back out of order, or a worker stopped early without a failure.
test('every item, results in the items\' order', async () => {
  const results = await mapLimited([5, 1, 4, 2, 3], 2, async (n) => {
    await turns(n);
    return n * 10;
  });
  assert.deepEqual(results, [50, 10, 40, 20, 30]);
});
