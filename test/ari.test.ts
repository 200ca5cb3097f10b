// Renewal for today's CAs, end to end, where Pebble 2.10 cannot play the CA: renewal information
// it cannot give (a Retry-After other than six hours, errors, broken or slow answers), a profile
// offered then refused, and the must-staple refusal, through scripts/ariproxy.ts in front of a real
// Pebble. Each test issues a certificate through the proxy, then sets what the CA says and runs the
// nightly command again. What Pebble does itself (a window set through /set-renewal-info/, its
// profiles, its checks of "replaces") is in pebbleari.test.ts, with no proxy.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { AriProxy, startAriProxy } from '../scripts/ariproxy.js';
import { CLIENT, ISSUED_SET, STATE_FILE, childrenOf, childrenStarted, ecKeys, eventually, needsRootAndLab, pebbleTakesReplaces, runClient, snapshot, workDir } from './helpers.js';
import { certificateCertId } from '../src/x509/certid.js';
import { certificateFields } from '../src/x509/names.js';

const skip = needsRootAndLab(labUnavailable);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('ARI, a refused profile and must-staple through a proxy in front of Pebble', { skip }, () => {
  let lab: Lab;
  let proxy: AriProxy;
  before(async () => {
    // Let's Encrypt's classic lifetime, so that a window two months ahead is the usual one.
    lab = await startLab({ certificateValidityPeriod: 90 * 86400 });
    proxy = await startAriProxy(lab);
  });
  after(async () => {
    await proxy?.stop();
    await lab?.stop();
  });

  /** A work area with a certificate issued through the proxy (which offers ARI, window far ahead). */
  // One Pebble could not take as "replaces" (pebbleTakesReplaces) is issued anew, at most ten times.
  const issued = async (name: string, extra: string[] = []): Promise<{ args: string[]; certs: string; certId: string; env: NodeJS.ProcessEnv }> => {
    for (let attempt = 0; ; attempt++) {
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      const args = [...extra, '--server', proxy.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, name];
      const env = { SSL_CERT_FILE: lab.tlsCaFile };
      proxy.renewalInfo = { kind: 'window', start: new Date(Date.now() + 60 * DAY), end: new Date(Date.now() + 62 * DAY) };
      const run = await runClient(args, { env });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(readdirSync(w.certs).sort(), ISSUED_SET);
      const certId = certificateCertId(certificateFields(new X509Certificate(readFileSync(join(w.certs, 'cert.pem'))).raw));
      assert.ok(certId !== null, 'Pebble certificates carry an AKI');
      if (pebbleTakesReplaces(certId) || attempt >= 9) return { args, certs: w.certs, certId, env };
    }
  };
  const since = (mark: number): string[] => proxy.requests.slice(mark).map((r) => `${r.method} ${r.path.replace(/\/renewal-info\/.*/, '/renewal-info/<CertID>')}`);
  /** askAfter (kept to the second) lies between the two instants. */
  const assertWithin = (askAfter: unknown, earliest: number, latest: number): void => {
    const at = Date.parse(askAfter as string);
    assert.ok(at >= earliest - 1000 && at <= latest + 1000, `askAfter ${String(askAfter)} not within ${new Date(earliest).toISOString()} .. ${new Date(latest).toISOString()}`);
  };
  const state = (certs: string): Record<string, unknown> => JSON.parse(readFileSync(join(certs, STATE_FILE), 'utf8')) as Record<string, unknown>;

  // Would fail if a window ahead started the key holders or an order, or if the CA's Retry-After
  // were not what is kept (certproc's six-hour default in its place), or the next run asked again.
  test('a window ahead: exit 2 after two unauthenticated GETs, keys unread; the Retry-After is kept, and the next run asks nothing', async () => {
    const { args, certs, certId, env } = await issued('ari-ahead.example.test');
    // Two hours: not certproc's own six-hour default, so a Retry-After ignored shows.
    proxy.renewalInfo = { kind: 'window', start: new Date(Date.now() + 60 * DAY), end: new Date(Date.now() + 62 * DAY), retryAfter: '7200', explanationURL: 'https://ca.example/why' };
    const before = snapshot(certs);
    const mark = proxy.requests.length;
    const asked = Date.now();
    const run = await runClient(['-v', ...args], { env });
    const answered = Date.now();
    assert.equal(run.status, 2, run.stderr);
    assert.deepEqual(since(mark), ['GET /dir', 'GET /renewal-info/<CertID>']);
    assert.equal(proxy.renewalInfoAsked.at(-1), certId);
    // acctproc, keyproc and chngproc never started: the keys were not read.
    assert.deepEqual(childrenStarted(run.stderr), ['certproc', 'fileproc', 'netproc']);
    assert.match(run.stderr, /renewal window explained: https:\/\/ca\.example\/why/);
    assert.match(run.stderr, /cert\.pem: certificate valid: the CA's renewal window .* renewing from /);
    const kept = state(certs);
    assert.equal(kept.certId, certId);
    assertWithin(kept.askAfter, asked + 2 * HOUR, answered + 2 * HOUR);
    for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem']) assert.equal(snapshot(certs)[f], before[f], `${f} untouched`);

    const again = mark + 2;
    const quiet = await runClient(args, { env });
    assert.equal(quiet.status, 2, quiet.stderr);
    assert.equal(quiet.stderr, '');
    assert.deepEqual(since(again), [], 'inside the Retry-After: nothing asked');
  });

  // Would fail if certproc took any Retry-After as is, or ignored it (six hours), or lost the floor
  // (a CA saying "5" would be asked on every run) or the cap (a week without asking).
  for (const [retryAfter, waitMs, what] of [['5', 60_000, 'the one-minute floor'], ['604800', DAY, 'the 24-hour cap']] as const) {
    test(`a Retry-After of ${retryAfter} s is kept as ${what}`, async () => {
      const { args, certs, env } = await issued(`ari-retry-${retryAfter}.example.test`);
      proxy.renewalInfo = { kind: 'window', start: new Date(Date.now() + 60 * DAY), end: new Date(Date.now() + 62 * DAY), retryAfter };
      const asked = Date.now();
      const run = await runClient(args, { env });
      const answered = Date.now();
      assert.equal(run.status, 2, run.stderr);
      assertWithin(state(certs).askAfter, asked + waitMs, answered + waitMs);
    });
  }

  test('certproc killed while the CA is asked: the run stops at once, exit 1 and one line naming it, nothing written, no child left', async () => {
    const { args, certs, env } = await issued('ari-certkill.example.test');
    // The CA holds its answer far past the test, and netproc's --timeout is as long: only certproc's
    // death can end the run soon.
    proxy.renewalInfo = { kind: 'window', start: new Date(Date.now() + 60 * DAY), end: new Date(Date.now() + 62 * DAY), delayMs: 600_000 };
    const before = snapshot(certs);
    const asked = proxy.renewalInfoAsked.length;
    const run = spawn(process.execPath, [CLIENT, '--timeout', '600', ...args], { env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    run.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = once(run, 'close');
    // The question reaching the CA means certproc has said "ask" and waits for the answer.
    assert.equal(await eventually(() => proxy.renewalInfoAsked.length > asked), true, 'the CA was asked');
    const tree = childrenOf(run.pid as number);
    assert.deepEqual([...tree.keys()].sort(), ['certproc', 'fileproc', 'netproc']);
    process.kill(tree.get('certproc') as number, 'SIGKILL');
    const ended = await eventually(() => run.exitCode !== null || run.signalCode !== null);
    if (!ended) run.kill('SIGKILL');
    const [status] = (await closed) as [number | null];
    assert.ok(ended, `the run still waited on the CA after certproc had gone:\n${stderr}`);
    assert.equal(status, 1, stderr);
    assert.equal(stderr, 'acme-client: certproc: killed by SIGKILL\n');
    assert.deepEqual(snapshot(certs), before, 'no file written or removed, the state file included');
    for (const pid of tree.values()) assert.throws(() => process.kill(pid, 0), /ESRCH/, `pid ${pid} still there`);
  });

  const failures: [string, () => AriProxy['renewalInfo'], string[], RegExp][] = [
    ['a 500', () => ({ kind: 'status', status: 500 }), [], /renewal-info\/\S+: no renewal information \(HTTP status 500\); the certificate's lifetime decides$/],
    ['malformed JSON', () => ({ kind: 'body', body: '{"suggestedWindow": ' }), [], /: no renewal information \(malformed JSON\); /],
    ['a window that ends before it starts', () => ({ kind: 'body', body: JSON.stringify({ suggestedWindow: { start: '2030-01-02T00:00:00Z', end: '2030-01-01T00:00:00Z' } }) }), [],
      /: no renewal information \(suggestedWindow ends before it starts\); /],
    ['an oversized answer', () => ({ kind: 'body', body: `{"x":"${'a'.repeat(100_000)}"}` }), [], /: no renewal information \(response larger than 65536 bytes\); /],
    ['an answer slower than --timeout', () => ({ kind: 'window', start: new Date(), end: new Date(Date.now() + HOUR), delayMs: 4000 }), ['--timeout', '1'],
      /: no renewal information \(no complete answer within 1 s\); /],
  ];
  for (const [what, reply, extra, warning] of failures) {
    // Would fail if the failure were a warning (cron mails it every night), or if it were kept.
    test(`ARI failing (${what}): silent without -v, said with it, the lifetime rule decides (exit 2), and the next run asks again`, async () => {
      const { args, certs, env } = await issued(`ari-${what.replace(/\W+/g, '-')}.example.test`);
      const kept = readFileSync(join(certs, STATE_FILE), 'utf8');
      proxy.renewalInfo = reply();
      const quiet = await runClient([...extra, ...args], { env });
      assert.equal(quiet.status, 2, quiet.stderr);
      assert.equal(quiet.stderr, '', 'a night with nothing to do prints nothing');
      const run = await runClient(['-v', ...extra, ...args], { env });
      assert.equal(run.status, 2, run.stderr);
      assert.ok(run.stderr.split('\n').some((line) => warning.test(line)), run.stderr);
      assert.equal(readFileSync(join(certs, STATE_FILE), 'utf8'), kept, 'the state is as it was: no answer remembered');
      proxy.renewalInfo = { kind: 'window', start: new Date(Date.now() + 60 * DAY), end: new Date(Date.now() + 62 * DAY) };
      const mark = proxy.requests.length;
      const next = await runClient(args, { env });
      assert.equal(next.status, 2, next.stderr);
      assert.deepEqual(since(mark), ['GET /dir', 'GET /renewal-info/<CertID>'], 'the next run asks again');
    });
  }

  test('a state file that cannot be read or written: a warning each, the run\'s status untouched', async () => {
    const { args, certs, env } = await issued('ari-state-dir.example.test');
    const state = join(certs, STATE_FILE);
    rmSync(state);
    mkdirSync(state);
    proxy.renewalInfo = { kind: 'window', start: new Date(Date.now() - 2 * DAY), end: new Date(Date.now() - DAY) };
    const run = await runClient(args, { env });
    // Renewed (the window is past) and so changed: exit 0, whatever became of the state.
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stderr.split('\n').slice(0, -1).sort(), [
      `acme-client: ${state}: not a regular file; ignored`,
      `acme-client: ${state}: cannot write: illegal operation on a directory; the next run asks the CA again`,
    ].sort());
    assert.ok(statSync(state).isDirectory());
  });

  test('--no-ari: the CA is not asked, the lifetime rule decides, and -F orders without "replaces"', async () => {
    const { args, env } = await issued('ari-off.example.test');
    proxy.renewalInfo = { kind: 'window', start: new Date(Date.now() - 2 * DAY), end: new Date(Date.now() - DAY) };
    const mark = proxy.requests.length;
    const run = await runClient(['--no-ari', ...args], { env });
    assert.equal(run.status, 2, run.stderr);
    assert.deepEqual(since(mark), []);
    const orders = proxy.newOrders.length;
    const forced = await runClient(['--no-ari', '-F', ...args], { env });
    assert.equal(forced.status, 0, forced.stderr);
    assert.deepEqual(proxy.newOrders.slice(orders).map((o) => 'replaces' in o), [false]);
  });

  // Pebble's own profiles (its directory's meta.profiles); the proxy records what was sent.
  test('--profile: sent in newOrder when the CA offers it; without it no profile is sent', async () => {
    // issued() orders once more for the one certificate in 200 Pebble cannot take as "replaces".
    const orders = proxy.newOrders.length;
    await issued('profile.example.test', ['--profile', 'default']);
    const between = proxy.newOrders.length;
    await issued('noprofile.example.test');
    const withProfile = proxy.newOrders.slice(orders, between);
    const without = proxy.newOrders.slice(between);
    assert.ok(withProfile.length > 0 && without.length > 0);
    assert.deepEqual(withProfile.map((o) => o.profile), withProfile.map(() => 'default'));
    assert.deepEqual(without.filter((o) => 'profile' in o), []);
  });

  test('a CA refusing the profile (invalidProfile): its problem in one line, exit 1', async () => {
    proxy.profiles = { shortlived: 'six days' };
    try {
      const w = workDir();
      const { acct, dom } = ecKeys(w);
      proxy.refuseNewOrder = { problem: { status: 400, type: 'invalidProfile', detail: 'profile "shortlived" is not available to this account' }, onlyWithReplaces: false };
      const run = await runClient(['--profile', 'shortlived', '--server', proxy.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, 'refused-profile.example.test'],
        { env: { SSL_CERT_FILE: lab.tlsCaFile } });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /^acme-client: https:\/\/127\.0\.0\.1:\d+\/order-plz: urn:ietf:params:acme:error:invalidProfile: profile "shortlived" is not available to this account\n$/);
      assert.deepEqual(readdirSync(w.certs), []);
    } finally {
      proxy.profiles = null;
      proxy.refuseNewOrder = null;
    }
  });

  test('-O refused at finalize as Let\'s Encrypt does: one line that says to drop -O, exit 1, nothing written', async () => {
    const { args, certs, env } = await issued('staple.example.test');
    const before = snapshot(certs);
    proxy.refuseFinalize = { status: 403, type: 'unauthorized', detail: 'Error finalizing order :: OCSP must-staple extension is no longer available: see https://letsencrypt.org/2024/12/05/ending-ocsp' };
    try {
      const run = await runClient(['-O', '-F', ...args], { env });
      assert.equal(run.status, 1);
      const lines = run.stderr.split('\n').slice(0, -1).filter((l) => !l.includes('forcing renewal'));
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0] as string, /^acme-client: https:\/\/127\.0\.0\.1:\d+\/finalize-order\/\S+: the CA refuses OCSP must-staple: run without -O \(urn:ietf:params:acme:error:unauthorized: .*must-staple.*\)$/);
      assert.deepEqual(snapshot(certs), before);
    } finally {
      proxy.refuseFinalize = null;
    }
  });
});
