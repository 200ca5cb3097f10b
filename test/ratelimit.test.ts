// The CA's published request rates, as the client keeps them (src/acme/ratelimit.ts): the rule
// itself, on a clock the test moves, so that a second of refill needs no second of waiting; then
// AcmeClient's nonces and HttpClient's requests under it. requests.test checks the same limits on
// the requests a 100-name issuance sends to Pebble.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { AcmeClient, type Signer } from '../src/acme/client.js';
import { HttpClient, type HttpResponse } from '../src/acme/http.js';
import { Deadline } from '../src/acme/poll.js';
import { NEW_NONCE_LIMIT, REQUEST_LIMIT, TokenBucket } from '../src/acme/ratelimit.js';

// Would fail if the burst were larger or smaller than asked, if waiting requests did not queue
// one interval apart, if the bucket refilled past its burst, or if the limits changed from Let's
// Encrypt's published ones.
test('a token bucket: the burst at once, then one per interval in turn; refilled, never past the burst', () => {
  assert.deepEqual(NEW_NONCE_LIMIT, { burst: 10, perSecond: 20 });
  assert.deepEqual(REQUEST_LIMIT, { burst: 125, perSecond: 250 });
  let now = 1_000;
  const bucket = new TokenBucket({ burst: 10, perSecond: 20 }, () => now);
  const waits = Array.from({ length: 13 }, () => bucket.reserve());
  assert.deepEqual(waits, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 100, 150], 'ten at once, then every 50 ms in order');
  now += 150; // the three reserved are there now, and no more
  assert.equal(bucket.reserve(), 50);
  now += 60_000; // a minute idle: the burst again, not 1200 tokens
  assert.deepEqual(Array.from({ length: 11 }, () => bucket.reserve()), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50]);
  now += 25; // half an interval: the next waits the other half, after the one already waiting
  assert.equal(bucket.reserve(), 75);
});

// Would fail if every request waiting for a nonce asked newNonce for itself at once (a 100-name
// order's first wave asked thirty), or if the answers' nonces did not go to the requests waiting
// (newNonce asked for each, or a request left waiting for ever).
test('requests waiting for nonces: newNonce asked at most the burst at once, the rest served by the answers', { timeout: 20_000 }, async () => {
  const CA = 'https://ca.example.test';
  let nonces = 0;
  const asked: number[] = [];
  const held: (() => void)[] = [];
  const answer = (url: string, status: number, body: unknown): HttpResponse => ({
    url, status, headers: { 'replay-nonce': `nonce${++nonces}`, 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)),
  });
  const http = {
    get: async (url: string): Promise<HttpResponse> => {
      if (url === `${CA}/dir`) return answer(url, 200, { newNonce: `${CA}/nonce`, newAccount: `${CA}/acct`, newOrder: `${CA}/order`, revokeCert: `${CA}/revoke` });
      asked.push(performance.now());
      return answer(url, 204, {});
    },
    // Every POST is held until the test lets the answers go: until then only newNonce gives nonces.
    post: (url: string): Promise<HttpResponse> => new Promise((resolve) => held.push(() => resolve(answer(url, 200, {})))),
  } as unknown as HttpClient;
  const signer: Signer = { sign: async () => ({ protected: 'p', payload: 'e30', signature: 's' }) };
  const start = performance.now();
  const acme = new AcmeClient(http, signer, `${CA}/dir`, new Deadline(60_000));
  await acme.loadDirectory();
  await acme.account(false, { contact: [], externalAccountBinding: async () => null, keep: async () => undefined }, `${CA}/acct/1`);
  const posts = Array.from({ length: 40 }, (_, i) => acme.post(`${CA}/authz/${i}`, null));
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
  const burst = (now: number): number => NEW_NONCE_LIMIT.burst + Math.floor((NEW_NONCE_LIMIT.perSecond * (now - start)) / 1000);
  assert.ok(asked.length >= NEW_NONCE_LIMIT.burst && asked.length <= burst(performance.now()), `newNonce asked ${asked.length} times at once`);
  assert.equal(held.length, asked.length, 'each nonce went to a waiting request');
  // Each answer's nonce goes to the next request waiting, without newNonce.
  while (held.length > 0) {
    held.shift()?.();
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal((await Promise.all(posts)).length, 40);
  assert.ok(asked.length <= burst(performance.now()), `newNonce asked ${asked.length} times in all`);
});

// Would fail without the bucket in front of every request: 300 requests to a server answering at
// once go out in a fraction of a second on loopback. A request reaches the server a little later
// than it was let go: each window is allowed one request and 25 ms over.
test('every request waits its turn: never more than 125 at once and 250 a second', async () => {
  const arrived: number[] = [];
  const server = http.createServer((_req, res) => {
    arrived.push(performance.now());
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new HttpClient({
    userAgent: 'test', connectTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxBodyBytes: 1024,
    secureContext: tls.createSecureContext(), plainHttp: true, early: null,
  });
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    const answers = await Promise.all(Array.from({ length: 300 }, () => client.get(url)));
    assert.ok(answers.every((a) => a.status === 200));
  } finally {
    client.close();
    server.close();
  }
  arrived.sort((a, b) => a - b);
  for (let i = 0; i < arrived.length; i++) {
    for (let j = i; j < arrived.length; j++) {
      const allowed = REQUEST_LIMIT.burst + 1 + (REQUEST_LIMIT.perSecond * ((arrived[j] as number) - (arrived[i] as number) + 25)) / 1000;
      assert.ok(j - i + 1 <= allowed, `${j - i + 1} requests in ${((arrived[j] as number) - (arrived[i] as number)).toFixed(1)} ms`);
    }
  }
});
