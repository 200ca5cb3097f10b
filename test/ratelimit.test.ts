// The CA's published request rates, as the client keeps them (src/acme/ratelimit.ts): the rule
// itself, on a clock the test moves, so that a second of refill needs no second of waiting; then
// AcmeClient's nonces and signed requests under it (requests.test issues 100 names from Pebble
// under them).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AcmeClient, type Signer } from '../src/acme/client.js';
import { MAX_CONNECTIONS, type HttpClient, type HttpResponse } from '../src/acme/http.js';
import { Deadline, mapLimited } from '../src/acme/poll.js';
import { NEW_NONCE_LIMIT, SIGNED_REQUEST_LIMIT, TokenBucket } from '../src/acme/ratelimit.js';

// Would fail if the burst were larger or smaller than asked, if waiting requests did not queue
// one interval apart, if the bucket refilled past its burst, or if the limits changed from Let's
// Encrypt's published ones.
test('a token bucket: the burst at once, then one per interval in turn; refilled, never past the burst', () => {
  assert.deepEqual(NEW_NONCE_LIMIT, { burst: 10, perSecond: 20 });
  assert.deepEqual(SIGNED_REQUEST_LIMIT, { burst: 125, perSecond: 250 });
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

const CA = 'https://ca.example.test';

/**
 * An AcmeClient over a fake transport: `newNonce` answers each GET of CA/nonce (a nonce, or
 * another status), `post` each signed request; every answer carries a fresh Replay-Nonce but a
 * newNonce refused. `directory` holds the directory's answer until it resolves. Each GET of a
 * nonce URL is stamped in `asked`.
 */
function fakeClient(options: { post: (url: string, answer: (status: number) => HttpResponse) => Promise<HttpResponse>; newNonceStatus?: () => number; directory?: Promise<void> }) {
  let nonces = 0;
  const asked: { url: string; at: number }[] = [];
  const answer = (url: string, status: number, body: unknown = {}): HttpResponse => ({
    url, status, headers: { ...(status < 300 ? { 'replay-nonce': `nonce${++nonces}` } : { 'retry-after': '0' }), 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  });
  const transport = {
    get: async (url: string): Promise<HttpResponse> => {
      if (url === `${CA}/dir`) {
        await options.directory;
        return answer(url, 200, { newNonce: `${CA}/nonce`, newAccount: `${CA}/acct`, newOrder: `${CA}/order`, revokeCert: `${CA}/revoke` });
      }
      asked.push({ url, at: performance.now() });
      return answer(url, url === `${CA}/nonce` ? (options.newNonceStatus?.() ?? 204) : 204);
    },
    post: (url: string): Promise<HttpResponse> => options.post(url, (status) => answer(url, status)),
  } as unknown as HttpClient;
  const signer: Signer = { sign: async () => ({ protected: 'p', payload: 'e30', signature: 's' }) };
  const acme = new AcmeClient(transport, signer, `${CA}/dir`, new Deadline(60_000));
  const useAccount = (): Promise<unknown> => acme.account(false, { contact: [], externalAccountBinding: async () => null, keep: async () => undefined }, `${CA}/acct/1`);
  return { acme, asked, useAccount };
}

const turns = async (n: number): Promise<void> => {
  for (let turn = 0; turn < n; turn++) await new Promise((resolve) => setImmediate(resolve));
};

// Would fail if every request waiting for a nonce asked newNonce for itself at once (a 100-name
// order's first wave asked thirty), or if the answers' nonces did not go to the requests waiting
// (newNonce asked for each, or a request left waiting for ever: this test's timeout).
test('requests waiting for nonces: newNonce asked at most the burst at once, the rest served by the answers', { timeout: 20_000 }, async () => {
  // Every POST is held until the test lets the answers go: until then only newNonce gives nonces.
  const held: (() => void)[] = [];
  const start = performance.now();
  const { acme, asked, useAccount } = fakeClient({ post: (_url, answer) => new Promise((resolve) => held.push(() => resolve(answer(200)))) });
  await acme.loadDirectory();
  await useAccount();
  const posts = Array.from({ length: 40 }, (_, i) => acme.post(`${CA}/authz/${i}`, null));
  await turns(20);
  const burst = (now: number): number => NEW_NONCE_LIMIT.burst + Math.floor((NEW_NONCE_LIMIT.perSecond * (now - start)) / 1000);
  assert.ok(asked.length >= NEW_NONCE_LIMIT.burst && asked.length <= burst(performance.now()), `newNonce asked ${asked.length} times at once`);
  assert.equal(held.length, asked.length, 'each nonce went to a waiting request');
  // Each answer's nonce goes to the next request waiting, without newNonce.
  while (held.length > 0) {
    held.shift()?.();
    await turns(5);
  }
  assert.equal((await Promise.all(posts)).length, 40);
  assert.ok(asked.length <= burst(performance.now()), `newNonce asked ${asked.length} times in all`);
});

// Would fail if a refused newNonce were asked again outside the newNonce rate: ten refused at
// once (503, Retry-After 0) would all be asked again at once. The bucket lets the eleventh go no
// sooner than 50 ms after the run began, each further one 50 ms later: lower bounds, which a slow
// machine only makes easier to meet (the bucket waits out a timer that fires early).
test('a newNonce asked again after a server error keeps the newNonce rate', { timeout: 20_000 }, async () => {
  const { burst } = NEW_NONCE_LIMIT;
  let calls = 0;
  let allAsked: () => void = () => undefined;
  const twice = new Promise<void>((resolve) => (allAsked = resolve));
  const start = performance.now();
  // POSTs are never answered: every nonce comes from newNonce, each refused once.
  const { acme, asked, useAccount } = fakeClient({
    post: () => new Promise<never>(() => undefined),
    newNonceStatus: () => {
      if (++calls === 2 * burst) allAsked();
      return calls <= burst ? 503 : 204;
    },
  });
  await acme.loadDirectory();
  await useAccount();
  for (let i = 0; i < burst; i++) void acme.post(`${CA}/authz/${i}`, null);
  await twice;
  asked.slice(burst).forEach(({ at }, i) => {
    const earliest = start + ((i + 1) * 1000) / NEW_NONCE_LIMIT.perSecond;
    assert.ok(at >= earliest, `newNonce ${burst + i + 1} asked ${(at - start).toFixed(1)} ms after the start, before ${(earliest - start).toFixed(1)}`);
  });
});

// Would fail if the nonces kept for a large order's first authorizations waited only for the
// first nonce: asked from a kept newNonce URL, it may come before the directory, and each of the
// others then failed on a directory not yet loaded (and spent its turn at the newNonce rate).
test('nonces kept for many names are fetched even when the first, from a kept URL, comes before the directory', async () => {
  let release: () => void = () => undefined;
  const directory = new Promise<void>((resolve) => (release = resolve));
  const { acme, asked } = fakeClient({ post: async (_url, answer) => answer(200), directory });
  const loading = acme.loadDirectory();
  acme.prefetchNonce(`${CA}/kept-nonce`);
  acme.stockNonces(5);
  await turns(20);
  assert.deepEqual(asked.map((a) => a.url), [`${CA}/kept-nonce`], 'the kept URL asked at once, nothing else before the directory');
  release();
  await loading;
  await turns(20);
  assert.deepEqual(asked.map((a) => a.url), [`${CA}/kept-nonce`, ...Array.from({ length: 5 }, () => `${CA}/nonce`)]);
});

// Would fail if the first nonce, asked from a kept newNonce URL, took no turn at the newNonce
// rate: with the burst's worth kept for a large order beside it, burst + 1 newNonce requests
// would go at once. With its turn, the last goes no sooner than one interval after the start: a
// lower bound, which a slow machine only makes easier to meet.
test('a nonce from a kept newNonce URL takes its turn at the newNonce rate', { timeout: 20_000 }, async () => {
  const { burst, perSecond } = NEW_NONCE_LIMIT;
  const start = performance.now();
  let stocked = 0;
  let allAsked: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (allAsked = resolve));
  const { acme, asked } = fakeClient({
    post: async (_url, answer) => answer(200),
    newNonceStatus: () => {
      if (++stocked === burst) allAsked();
      return 204;
    },
  });
  await acme.loadDirectory();
  acme.prefetchNonce(`${CA}/kept-nonce`);
  acme.stockNonces(burst);
  await all;
  assert.equal(asked[0]?.url, `${CA}/kept-nonce`);
  const last = asked[burst] as { at: number };
  const earliest = start + 1000 / perSecond;
  assert.ok(last.at >= earliest, `newNonce ${burst + 1} asked ${(last.at - start).toFixed(1)} ms after the start, before ${(earliest - start).toFixed(1)}`);
});

// Would fail without the bucket in front of every sending of a signed request: 300 sendings
// answered at once (each request refused badNonce once, then accepted) go out in a fraction of a
// second; or with the bucket taken once a request, not once a sending: the retries would go at
// once. With it, sending k (k > 125) goes no sooner than (k - 125) / 250 s after the first was
// asked for: lower bounds, which a slow machine only makes easier to meet.
test('every sending of a signed request waits its turn, a retry too: 125 at once, then 250 a second', async () => {
  const sent: number[] = [];
  const refused = new Set<string>();
  const start = performance.now();
  const { acme, useAccount } = fakeClient({
    post: async (url, answer) => {
      sent.push(performance.now());
      const accepted = answer(200);
      if (refused.has(url)) return accepted;
      refused.add(url);
      return {
        ...accepted, status: 400, headers: { ...accepted.headers, 'content-type': 'application/problem+json' },
        body: Buffer.from(JSON.stringify({ type: 'urn:ietf:params:acme:error:badNonce', detail: 'stale' })),
      };
    },
  });
  await acme.loadDirectory();
  await useAccount();
  // As netproc sends them: at most MAX_CONNECTIONS at once.
  await mapLimited(Array.from({ length: 150 }, (_, i) => i), MAX_CONNECTIONS, (i) => acme.post(`${CA}/authz/${i}`, null));
  assert.equal(sent.length, 300);
  sent.forEach((at, i) => {
    const earliest = start + (Math.max(0, i + 1 - SIGNED_REQUEST_LIMIT.burst) * 1000) / SIGNED_REQUEST_LIMIT.perSecond;
    assert.ok(at >= earliest, `sending ${i + 1} at ${(at - start).toFixed(1)} ms after the start, before ${(earliest - start).toFixed(1)}`);
  });
});
