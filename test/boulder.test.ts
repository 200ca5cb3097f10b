// Renewal that survives Let's Encrypt's Boulder where Pebble 2.10 behaves otherwise, end to end
// through scripts/boulderproxy.ts in front of a real Pebble: a refused "replaces" (403 and 409 are
// Pebble's own, 404 for another CA's certificate the proxy's), a CA that keeps
// no contacts, renewalInfo 404 for a certificate it does not know, transient server errors and a
// reset connection. The nightly no-op is asserted silent (cron mails whatever it prints).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { BoulderProxy, startBoulderProxy } from '../scripts/boulderproxy.js';
import { ISSUED_SET, STATE_FILE, ecKeys, makeKey, needsRootAndLab, pebbleTakesReplaces, runClient, workDir } from './helpers.js';
import { certificateCertId } from '../src/x509/certid.js';
import { certificateFields } from '../src/x509/names.js';
import { RenewalState, parseRenewalState, renewalStateJson, usablePendingOrder } from '../src/x509/renewal.js';

const skip = needsRootAndLab(labUnavailable);

describe('Boulder\'s ways through a proxy in front of Pebble', { skip }, () => {
  let lab: Lab;
  let proxy: BoulderProxy;
  before(async () => {
    // Let's Encrypt's classic lifetime: a fresh certificate is far from due.
    lab = await startLab({ certificateValidityPeriod: 90 * 86400 });
    proxy = await startBoulderProxy(lab);
  });
  after(async () => {
    await proxy?.stop();
    await lab?.stop();
  });

  const env = (): NodeJS.ProcessEnv => ({ SSL_CERT_FILE: lab.tlsCaFile });
  const certIdIn = (certs: string): string => {
    const id = certificateCertId(certificateFields(new X509Certificate(readFileSync(join(certs, 'cert.pem'))).raw));
    assert.ok(id !== null, 'Pebble certificates carry an AKI');
    return id;
  };
  /** A work area with a certificate issued through `server` (the proxy unless said). */
  // One Pebble could not take as "replaces" (pebbleTakesReplaces) is issued anew, at most ten times.
  const issued = async (name: string, extra: string[] = [], server = proxy.directoryUrl): Promise<{ args: string[]; certs: string; priv: string; certId: string }> => {
    for (let attempt = 0; ; attempt++) {
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const args = ['--server', proxy.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, name];
      const run = await runClient([...extra, ...args.slice(0, 1), server, ...args.slice(2)], { env: env() });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(readdirSync(w.certs).sort(), ISSUED_SET);
      const certId = certIdIn(w.certs);
      if (pebbleTakesReplaces(certId) || attempt >= 9) return { args, certs: w.certs, priv: w.priv, certId };
    }
  };
  const since = (mark: number): string[] => proxy.requests.slice(mark).map((r) => `${r.method} ${r.path.startsWith(`${proxy.renewalInfoPath}/`) ? '<renewalInfo>/<CertID>' : r.path}`);
  const state = (certs: string): Record<string, unknown> => JSON.parse(readFileSync(join(certs, STATE_FILE), 'utf8')) as Record<string, unknown>;

  test('the nightly no-op through Boulder: the window asked, exit 2, nothing on stderr', async () => {
    const { args } = await issued('boulder-noop.example.test');
    const mark = proxy.requests.length;
    const run = await runClient(args, { env: env() });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr, '');
    assert.deepEqual(since(mark), ['GET /dir', 'GET <renewalInfo>/<CertID>']);
  });

  // Product change that fails it: createOrder falling back only on alreadyReplaced (as before).
  test('"replaces" for another account\'s certificate (403 unauthorized): ordered again without it, -v says why', async () => {
    const { args, certs, priv, certId } = await issued('boulder-other-account.example.test');
    // The README's migration: the certificate stays, a new account key is made with -n.
    const fresh = join(priv, 'new-account.pem');
    const withNewAccount = args.map((a, i) => (args[i - 1] === '-f' ? fresh : a));
    const orders = proxy.newOrders.length;
    const mark = proxy.requests.length;
    const run = await runClient(['-v', '-n', '-F', ...withNewAccount], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(proxy.newOrders.slice(orders).map((o) => o.replaces), [certId, undefined]);
    assert.match(run.stderr, /order-plz: "replaces" \S+ refused \(another account requested it: urn:ietf:params:acme:error:unauthorized: .*requester account did not request the certificate being replaced.*\); ordering without it\n/);
    // The refusal's Replay-Nonce signs the second newOrder: no newNonce in between.
    const between = since(mark).slice(since(mark).indexOf('POST /order-plz'));
    assert.deepEqual(between.slice(0, 2), ['POST /order-plz', 'POST /order-plz']);
    assert.notEqual(certIdIn(certs), certId, 'renewed');
  });

  // Product change that fails it: treating renewalInfo 404 as a failure (warned, nothing kept), or
  // dropping the 404 malformed case from createOrder's fallback.
  test('a certificate from another CA (renewalInfo 404): kept silently, the next night asks nothing; "replaces" 404 is ordered again without', async () => {
    // Issued by Pebble directly, unknown to the proxy: for "Boulder" another CA's certificate.
    const { args, certs, certId } = await issued('boulder-other-ca.example.test', [], lab.directoryUrl);
    let mark = proxy.requests.length;
    const first = await runClient(args, { env: env() });
    assert.equal(first.status, 2, first.stderr);
    assert.equal(first.stderr, '', 'a 404 is no warning: the lifetime rule decides');
    assert.deepEqual(since(mark), ['GET /dir', 'GET <renewalInfo>/<CertID>']);
    assert.equal(proxy.requests.at(-1)?.status, 404);
    assert.deepEqual({ certId: state(certs).certId, renewalInfo: state(certs).renewalInfo, directoryUrl: state(certs).directoryUrl },
      { certId, renewalInfo: false, directoryUrl: proxy.directoryUrl });

    mark = proxy.requests.length;
    const second = await runClient(args, { env: env() });
    assert.equal(second.status, 2, second.stderr);
    assert.equal(second.stderr, '');
    assert.deepEqual(since(mark), [], 'nothing asked: the 404 is remembered for this certificate');

    const orders = proxy.newOrders.length;
    const forced = await runClient(['-v', '-F', ...args], { env: env() });
    assert.equal(forced.status, 0, forced.stderr);
    assert.deepEqual(proxy.newOrders.slice(orders).map((o) => o.replaces), [certId, undefined]);
    assert.match(forced.stderr, /"replaces" \S+ refused \(the CA does not know it: urn:ietf:params:acme:error:malformed: .*did not match a known issuer\); ordering without it\n/);
    assert.equal(state(certs).renewalInfo, true, 'the new certificate is the CA\'s own: asked about again');
  });

  test('a newOrder refused otherwise (400 malformed) stays an error: no second order', async () => {
    const { args } = await issued('boulder-other-refusal.example.test');
    const detail = "Could not validate ARI 'replaces' field :: identifiers in this order do not match any identifiers in the certificate being replaced";
    proxy.failOnce = { method: 'POST', pathPrefix: '/order-plz', status: 400, retryAfter: null, problem: { type: 'malformed', detail } };
    const mark = proxy.requests.length;
    const run = await runClient(['-F', ...args], { env: env() });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /order-plz: urn:ietf:params:acme:error:malformed: Could not validate ARI/);
    assert.deepEqual(since(mark).filter((r) => r === 'POST /order-plz'), ['POST /order-plz']);
  });

  // Product change that fails it: updateContacts treating a missing contact member as [] (an update every run).
  test('a CA that keeps no contacts: created with them, then never updated; no false "contacts updated"', async () => {
    const accounts = proxy.newAccounts.length;
    const { args } = await issued('boulder-contact.example.test', ['--contact', 'mailto:ops@example.test']);
    assert.deepEqual(proxy.newAccounts.slice(accounts).map((a) => a.contact), [['mailto:ops@example.test']], 'creating an account sends the contacts');
    const updates = proxy.accountUpdates.length;
    const run = await runClient(['-v', '-F', '--contact', 'mailto:ops@example.test', ...args], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(proxy.accountUpdates.slice(updates), []);
    assert.doesNotMatch(run.stderr, /contacts updated/);
    assert.match(run.stderr, /the CA keeps no contacts: not updated/);
  });

  test('a CA that wants a contact (Google): the refusal says to give --contact, exit 1', async () => {
    proxy.requireContact = true;
    try {
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const run = await runClient(['--server', proxy.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'boulder-nocontact.example.test'], { env: env() });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /^acme-client: https:\/\/127\.0\.0\.1:\d+\/sign-me-up: urn:ietf:params:acme:error:invalidContact: contact is required; the CA wants a contact for a new account: give --contact mailto:<address>\n$/);
      assert.deepEqual(readdirSync(w.certs), []);
    } finally {
      proxy.requireContact = false;
    }
  });

  // Product change that fails it: busyWait back to 503/429 only (the 500 is then the run's error).
  test('a 500 with Retry-After (Boulder\'s) on newOrder: waited, retried, renewed; one -v line', async () => {
    const { args } = await issued('boulder-500.example.test');
    proxy.failOnce = { method: 'POST', pathPrefix: '/order-plz', status: 500, retryAfter: '1' };
    const run = await runClient(['-v', '-F', ...args], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(proxy.failOnce, null, 'the 500 was sent');
    assert.equal(run.stderr.match(/order-plz: server error \(HTTP 500\), retrying in 1 s\n/g)?.length, 1, run.stderr);
  });

  // Product change that fails it: a newOrder with "replaces" failing for good on server errors
  // (Pebble 2.10's, for a serial whose DER form begins with a zero byte) failing the renewal.
  test('a newOrder with "replaces" that keeps failing with 500: after the retries, ordered once more without it', async () => {
    const { args, certs, certId } = await issued('boulder-replaces-500.example.test');
    const orders = proxy.newOrders.length;
    proxy.failReplaces = true;
    try {
      const run = await runClient(['-v', '-F', ...args], { env: env() });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(proxy.newOrders.slice(orders).map((o) => o.replaces), [certId, certId, certId, certId, undefined], 'three retries, then without');
      assert.match(run.stderr, /order-plz: "replaces" \S+ refused \(the CA failed on it, HTTP 500: .*\); ordering without it\n/);
      assert.notEqual(certIdIn(certs), certId, 'renewed');
    } finally {
      proxy.failReplaces = false;
    }
  });

  test('a 503 without Retry-After on renewalInfo: retried after 2 s, and the nightly no-op stays silent', async () => {
    const { args } = await issued('boulder-503.example.test');
    proxy.failOnce = { method: 'GET', pathPrefix: `${proxy.renewalInfoPath}/`, status: 503, retryAfter: null };
    const mark = proxy.requests.length;
    const run = await runClient(args, { env: env() });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr, '');
    assert.deepEqual(proxy.requests.slice(mark).map((r) => r.status), [200, 503, 200]);
  });

  // Product change that fails it: a key change sent again after a lost connection (a second POST,
  // refused had the first arrived, and another line).
  test('a connection reset under the key change: not sent again; exit 1, the outcome said unknown, the key file unchanged', async () => {
    const w = workDir();
    const { acct } = ecKeys(w);
    const registered = await runClient(['--register', '--server', proxy.directoryUrl, '-f', acct], { env: env() });
    assert.equal(registered.status, 0, registered.stderr);
    const before = readFileSync(acct, 'utf8');
    const keyChange = new URL(proxy.directoryUrl).origin;
    proxy.resetOnce = { method: 'POST', pathPrefix: '/rollover-account-key' };
    const mark = proxy.requests.length;
    const run = await runClient(['-n', '--rollover-account-key', join(w.priv, 'new.pem'), '--server', proxy.directoryUrl, '-f', acct], { env: env() });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`^acme-client: ${keyChange.replace(/[.]/g, '\\.')}/rollover-account-key: .*: whether the CA now knows the account by the new key is unknown; the account key file is unchanged\n$`));
    assert.equal(proxy.requests.slice(mark).filter((r) => r.method === 'POST' && r.path.startsWith('/rollover-account-key')).length, 1, 'sent once');
    assert.equal(readFileSync(acct, 'utf8'), before);
  });

  // Product change that fails it: post() without the ConnectionLost retry (the run then fails on the reset).
  test('a connection reset under finalize: sent again once on a new connection with a fresh nonce, renewed', async () => {
    const { args, certId, certs } = await issued('boulder-reset.example.test');
    proxy.resetOnce = { method: 'POST', pathPrefix: '/finalize-order/' };
    const mark = proxy.requests.length;
    const run = await runClient(['-v', '-F', ...args], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(proxy.resetOnce, null, 'the connection was reset');
    assert.equal(run.stderr.match(/finalize-order\/\S+: .*; sending it again on a new connection with a fresh nonce\n/g)?.length, 1, run.stderr);
    // Not counting badNonce answers (400), which npm test's nonce rejection adds.
    const finalizes = proxy.requests.slice(mark).filter((r) => r.path.startsWith('/finalize-order/') && r.status !== 400);
    assert.deepEqual(finalizes.map((r) => r.status), [0, 200]);
    assert.notEqual(certIdIn(certs), certId);
  });

  test('a connection reset under the renewalInfo GET: asked again once, the no-op silent', async () => {
    const { args } = await issued('boulder-reset-get.example.test');
    proxy.resetOnce = { method: 'GET', pathPrefix: `${proxy.renewalInfoPath}/` };
    const mark = proxy.requests.length;
    const run = await runClient(args, { env: env() });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr, '');
    assert.equal(proxy.resetOnce, null);
    assert.deepEqual(proxy.requests.slice(mark).map((r) => r.status), [200, 0, 200]);
  });
  /** A first issuance whose order the CA keeps processing past a 4 s --poll-timeout: exit 1, the order kept. */
  const leftProcessing = async (name: string): Promise<{ args: string[]; certs: string; priv: string; url: string }> => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const args = ['--server', proxy.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, name];
    proxy.holdProcessing = true;
    let run;
    try {
      run = await runClient(['--poll-timeout', '4', ...args], { env: env() });
    } finally {
      proxy.holdProcessing = false;
    }
    assert.equal(run.status, 1, run.stderr);
    const said = /^acme-client: (https:\/\/127\.0\.0\.1:\d+\/my-order\/\S+): order still processing after finalize, giving up; the next run looks at this order first\n$/.exec(run.stderr);
    assert.ok(said, run.stderr);
    const kept = state(w.certs).pendingOrder as { url: string; names: string[]; keptSince: string };
    assert.equal(kept.url, said[1]);
    assert.deepEqual(kept.names, [name]);
    assert.deepEqual(readdirSync(w.certs), [STATE_FILE], 'no certificate yet');
    return { args, certs: w.certs, priv: w.priv, url: kept.url };
  };
  /** newOrders and finalizes the CA accepted (npm test has Pebble reject 30% of nonces: those are retried). */
  const orderedOrFinalized = (mark: number): string[] => proxy.requests.slice(mark)
    .filter((r) => r.status < 300 && r.method === 'POST' && (r.path === '/order-plz' || r.path.startsWith('/finalize-order/'))).map((r) => r.path);

  // Product change that fails it: issue() ordering anew regardless of the verdict's pendingOrder (a
  // second newOrder and finalize), or certproc not keeping the order netproc reports.
  test('an order still processing at --poll-timeout is kept; the next run downloads its certificate without ordering or finalizing again', async () => {
    const { args, certs, url } = await leftProcessing('boulder-processing.example.test');
    const mark = proxy.requests.length;
    const next = await runClient(['-v', ...args], { env: env() });
    assert.equal(next.status, 0, next.stderr);
    assert.deepEqual(orderedOrFinalized(mark), []);
    assert.ok(since(mark).includes(`POST ${new URL(url).pathname}`), 'the kept order was looked at');
    assert.match(next.stderr, /my-order\/\S+: order left processing by an earlier run is valid\n/);
    assert.deepEqual(readdirSync(certs).sort(), ISSUED_SET);
    assert.equal(state(certs).pendingOrder, undefined, 'forgotten once installed');
  });

  const forgetting: [string, (w: { args: string[]; certs: string; priv: string }) => string[], RegExp][] = [
    ['kept more than 7 days ago', ({ args, certs }) => {
      const kept = state(certs);
      const pending = kept.pendingOrder as Record<string, unknown>;
      writeFileSync(join(certs, STATE_FILE), JSON.stringify({ ...kept, pendingOrder: { ...pending, keptSince: new Date(Date.now() - 8 * 86_400_000).toISOString() } }));
      return args;
    }, /the order an earlier run left processing is forgotten: it was kept on \S+, more than 7 days ago\n/],
    ['for other names', ({ args }) => [...args, 'www.boulder-forget-names.example.test'], /the order an earlier run left processing is forgotten: it is for other names\n/],
    // Would fail if netproc signed a request to wherever the state file (or certproc) pointed.
    ['on another host', ({ args, certs }) => {
      const kept = state(certs);
      const pending = kept.pendingOrder as Record<string, unknown>;
      const elsewhere = new URL(pending.url as string);
      elsewhere.hostname = '127.0.0.2';
      writeFileSync(join(certs, STATE_FILE), JSON.stringify({ ...kept, pendingOrder: { ...pending, url: elsewhere.href } }));
      return args;
    }, /the order an earlier run left processing is not at this CA: ordering anew\n/],
    ['for another domain key', ({ args, priv }) => {
      const other = makeKey(join(priv, 'other-domain.pem'), 'ec-p256-sec1');
      return args.map((a, i) => (args[i - 1] === '-k' ? other : a));
    }, /the order an earlier run left processing is for another domain key: ordering anew\n/],
  ];
  for (const [what, change, said] of forgetting) {
    test(`a kept order ${what} is forgotten: ordered anew`, async () => {
      const kept = await leftProcessing(`boulder-forget-${what.replace(/\W+/g, '-')}.example.test`);
      const mark = proxy.requests.length;
      const next = await runClient(['-v', ...change(kept)], { env: env() });
      assert.equal(next.status, 0, next.stderr);
      assert.match(next.stderr, said);
      assert.equal(orderedOrFinalized(mark).length, 2, since(mark).join('\n'));
    });
  }
});

// Product changes that fail it: the state file dropping pendingOrder or refusing a null certId
// (the order of a first issuance), or usablePendingOrder without one of its checks.
test('the state file keeps a pending order, with or without a certificate; it is usable for 7 days, the same CA and names', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  const state: RenewalState = {
    certId: null, directoryUrl: 'https://ca.example/dir', renewalInfo: true, window: null, askAfter: null,
    pendingOrder: { url: 'https://ca.example/order/1', names: ['a.example', 'b.example'], publicKey: 'AAAA', keptSince: now - 86_400_000 },
  };
  assert.deepEqual(parseRenewalState(renewalStateJson(state)), state);
  const withCert = { ...state, certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE' };
  assert.deepEqual(parseRenewalState(renewalStateJson(withCert)), withCert);
  const usable = (s: RenewalState, dir = 'https://ca.example/dir', names = ['b.example', 'a.example'], at = now): string | null => {
    const { order, forgotten } = usablePendingOrder(s, dir, names, at);
    return order !== null ? 'usable' : forgotten;
  };
  assert.equal(usable(state), 'usable', 'names in any order');
  assert.equal(usable(state, 'https://other.example/dir'), 'it is at another CA');
  assert.equal(usable(state, undefined, ['a.example']), 'it is for other names');
  assert.match(usable(state, undefined, undefined, now + 7 * 86_400_000) ?? '', /more than 7 days ago/);
  assert.match(usable(state, undefined, undefined, now - 2 * 86_400_000) ?? '', /yet to come/);
  assert.equal(usable({ ...state, pendingOrder: undefined } as RenewalState), null, 'nothing kept, nothing forgotten');
});
