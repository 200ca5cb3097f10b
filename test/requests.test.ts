// The requests of an issuance, counted in Pebble's log (issue #23, point 4): none that RFC 8555
// does not need. A known account is not looked up (its URL is kept beside its key), validation is
// watched through the order (one request a look, however many names) and finalize follows its
// "ready" at once, and one newNonce serves a one-name run. Each holds with
// 30% of nonces rejected (npm test runs with ACME_TEST_NONCE_REJECT=30): a retried request is the
// same request again, never a lookup.
//
// What would make each fail: netproc ignoring the kept URL (a POST to newAccount on the second
// run); no lookup when the kept URL is refused (the run fails with accountDoesNotExist); each
// authorization polled again after its challenge (POST /authZ/ after the first POST /chalZ/);
// Replay-Nonce of the answers not kept (a newNonce GET per signed request).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ecKeys, makeKey, needsRootAndLab, runClient, workDir } from './helpers.js';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { proxyInFrontOf, readBody } from '../scripts/proxyutil.js';

const skip = needsRootAndLab(labUnavailable);

describe('requests of an issuance', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  /** One run; the requests Pebble logged for it. */
  async function issue(args: string[]): Promise<{ method: string; path: string }[]> {
    const from = lab.requests().length;
    const run = await runClient(['-F', '-v', '--server', lab.directoryUrl, '-C', lab.challengeDir, ...args], { env: { NODE_EXTRA_CA_CERTS: lab.tlsCaFile } });
    assert.equal(run.status, 0, run.stderr);
    return lab.requests().slice(from);
  }
  const count = (requests: { method: string; path: string }[], method: string, prefix: string): number =>
    requests.filter((r) => r.method === method && r.path.startsWith(prefix)).length;
  type Kept = { server: string; url: string; key: string; newNonce?: string };
  const keptAccount = (acct: string): Kept => JSON.parse(readFileSync(`${acct}.account.json`, 'utf8')) as Kept;

  test('the account URL is kept beside its key: the next run signs with it without asking newAccount', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const args = ['-c', w.certs, '-f', acct, '-k', dom, 'kept.example.test'];
    const first = await issue(args);
    assert.ok(count(first, 'POST', '/sign-me-up') >= 1, 'the first run looks the account up, then creates it');
    const kept = keptAccount(acct);
    assert.equal(kept.server, lab.directoryUrl);
    assert.match(kept.url, /^https:\/\/127\.0\.0\.1:\d+\/my-account\/\w+$/);
    const second = await issue(args);
    assert.equal(count(second, 'POST', '/sign-me-up'), 0, JSON.stringify(second));
    assert.deepEqual(keptAccount(acct), kept);
    // One name, one request at a time: every answer carries the nonce for the next, a badNonce
    // refusal too (§6.5), and newNonce is asked once.
    assert.equal(count(second, 'GET', '/nonce-plz') + count(second, 'HEAD', '/nonce-plz'), 1, JSON.stringify(second));
  });

  // Would fail if the first nonce waited for the directory: in the second run the proxy holds the
  // directory's answer until a newNonce request has been answered, and the run would end at --timeout.
  test('the newNonce URL is kept too: the next run asks its first nonce while the directory is on its way', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    /** Set for the second run: resolved once its first newNonce request is answered. */
    let hold: { nonceAnswered: Promise<void>; release: () => void; directoryHeld: boolean } | null = null;
    const directoryPath = new URL(lab.directoryUrl).pathname;
    const proxy = await proxyInFrontOf(lab, 'holddirectory', async (req, res, forward) => {
      const path = req.url ?? '/';
      const body = await readBody(req);
      if (hold !== null && path === directoryPath) {
        hold.directoryHeld = true;
        await hold.nonceAnswered;
      }
      const answer = await forward(req.method ?? 'GET', path, req.headers, body);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
      if (hold !== null && path.startsWith('/nonce-plz')) hold.release();
    });
    try {
      const run = (): Promise<Awaited<ReturnType<typeof runClient>>> => runClient(['-F', '--timeout', '20', '--server', proxy.directoryUrl, '-C', lab.challengeDir,
        '-c', w.certs, '-f', acct, '-k', dom, 'nonceurl.example.test'], { env: { NODE_EXTRA_CA_CERTS: lab.tlsCaFile } });
      const first = await run();
      assert.equal(first.status, 0, first.stderr);
      assert.equal(keptAccount(acct).newNonce, `${new URL(proxy.directoryUrl).origin}/nonce-plz`);
      let release: () => void = () => undefined;
      const nonceAnswered = new Promise<void>((resolve) => (release = resolve));
      hold = { nonceAnswered, release, directoryHeld: false };
      const second = await run();
      assert.equal(second.status, 0, second.stderr);
      assert.ok((hold as { directoryHeld: boolean }).directoryHeld, 'the second run asked the directory, which was held');
    } finally {
      await proxy.stop();
    }
  });

  test('a kept newNonce URL the CA no longer answers costs one request: the directory\'s is asked, and kept', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const args = ['-c', w.certs, '-f', acct, '-k', dom, 'movednonce.example.test'];
    await issue(args);
    const kept = keptAccount(acct);
    writeFileSync(`${acct}.account.json`, JSON.stringify({ ...kept, newNonce: `${new URL(lab.directoryUrl).origin}/nonce-moved` }));
    const from = lab.requests().length;
    // Pebble logs no request for a path it does not serve: the client's own trace says it was asked.
    const run = await runClient(['-F', '-vv', '--server', lab.directoryUrl, '-C', lab.challengeDir, ...args], { env: { NODE_EXTRA_CA_CERTS: lab.tlsCaFile } });
    assert.equal(run.status, 0, run.stderr);
    const moved = lab.requests().slice(from);
    assert.equal(run.stderr.match(/\/nonce-moved: GET$/gm)?.length, 1, run.stderr);
    assert.equal(count(moved, 'GET', '/nonce-plz'), 1, JSON.stringify(moved));
    assert.equal(count(moved, 'POST', '/sign-me-up'), 0, 'the account itself is still known');
    assert.deepEqual(keptAccount(acct), kept);
  });

  test('a kept URL the CA does not know, or one of another CA: the account is looked up, used, and kept anew', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const args = ['-c', w.certs, '-f', acct, '-k', dom, 'stale.example.test'];
    await issue(args);
    const right = keptAccount(acct);
    // Pebble answers accountDoesNotExist for a kid it never issued (a database reset looks so).
    writeFileSync(`${acct}.account.json`, JSON.stringify({ server: lab.directoryUrl, url: `${new URL(lab.directoryUrl).origin}/my-account/ffffffffffffffff`, key: right.key }));
    const stale = await issue(args);
    assert.ok(count(stale, 'POST', '/sign-me-up') >= 1, 'looked up after the refusal');
    assert.deepEqual(keptAccount(acct), right);
    writeFileSync(`${acct}.account.json`, JSON.stringify({ server: 'https://ca.example.test/dir', url: 'https://ca.example.test/acct/1', key: right.key }));
    const elsewhere = await issue(args);
    assert.ok(count(elsewhere, 'POST', '/sign-me-up') >= 1, 'another CA\'s URL is not used here');
    assert.deepEqual(keptAccount(acct), right);
  });

  test('once the challenges are answered, the order is watched, not each authorization; finalize goes once it is ready', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const requests = await issue(['-c', w.certs, '-f', acct, '-k', dom, 'a.finalize.example.test', 'b.finalize.example.test', 'c.finalize.example.test']);
    const at = (prefix: string, from = 0): number => requests.findIndex((r, i) => i >= from && r.method === 'POST' && r.path.startsWith(prefix));
    // Each challenge goes as its authorization comes (one may be read after another's is answered).
    const lastChallenge = requests.map((r) => r.method === 'POST' && r.path.startsWith('/chalZ/')).lastIndexOf(true);
    const firstFinalize = at('/finalize-order/');
    assert.ok(lastChallenge >= 0 && firstFinalize > lastChallenge, JSON.stringify(requests));
    assert.equal(at('/authZ/', lastChallenge), -1, `no authorization read after the challenges: ${JSON.stringify(requests)}`);
    const look = at('/my-order/', lastChallenge);
    assert.ok(look > lastChallenge && look < firstFinalize, `the order read before finalize: ${JSON.stringify(requests)}`);
  });

  // Would fail if the kept URL were used for whatever key lies beside it: the CA refuses the
  // signature (malformed, not accountDoesNotExist), and every run after a key replaced by hand, or
  // made anew with -n once the old one was removed, would fail.
  test('a key replaced by hand, or made anew with -n: the kept URL is the old key\'s, so the account is looked up', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const args = ['-c', w.certs, '-f', acct, '-k', dom, 'rekeyed.example.test'];
    await issue(args);
    const old = keptAccount(acct);
    makeKey(acct, 'ec-p256-sec1');
    const replaced = await issue(args);
    assert.ok(count(replaced, 'POST', '/sign-me-up') >= 1, 'looked up: the kept URL is another key\'s');
    const renewed = keptAccount(acct);
    assert.notEqual(renewed.url, old.url, 'a new key, a new account');
    assert.notEqual(renewed.key, old.key);
    rmSync(acct);
    const made = await issue(['-n', ...args]);
    assert.ok(count(made, 'POST', '/sign-me-up') >= 1);
    // The run that made the key kept nothing (it might have failed, and the key been removed):
    // the next one looks the account up, and keeps it for the one after.
    const again = await issue(args);
    assert.ok(count(again, 'POST', '/sign-me-up') >= 1, 'the file still names the removed key\'s account');
    assert.notEqual(keptAccount(acct).key, renewed.key);
    const third = await issue(args);
    assert.equal(count(third, 'POST', '/sign-me-up'), 0, 'the new key\'s account is kept once known');
  });
  // Would fail if every authorization were read before the first challenge was answered (the
  // three passes of before: a round trip in three wasted at RTT 50 ms), or if a 100-name order
  // lost its way among nonces rejected (npm test has Pebble reject 30%) and requests waiting for
  // them. The request rates are ratelimit.test's: on loopback a run goes too little over them
  // for a test of the whole to tell.
  test('a 100-name order answers each challenge as its authorization comes', { timeout: 120_000 }, async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const seen: { method: string; path: string }[] = [];
    const proxy = await proxyInFrontOf(lab, 'requestlog', async (req, res, forward) => {
      seen.push({ method: req.method ?? 'GET', path: req.url ?? '/' });
      const answer = await forward(req.method ?? 'GET', req.url ?? '/', req.headers, await readBody(req));
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    });
    try {
      const names = Array.from({ length: 100 }, (_, i) => `n${i + 1}.many.example.test`);
      const run = await runClient(['-F', '--server', proxy.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom, ...names],
        { env: { NODE_EXTRA_CA_CERTS: lab.tlsCaFile } });
      assert.equal(run.status, 0, run.stderr);
    } finally {
      await proxy.stop();
    }
    const firstChallenge = seen.findIndex((r) => r.method === 'POST' && r.path.startsWith('/chalZ/'));
    const lastAuthorization = seen.map((r) => r.method === 'POST' && r.path.startsWith('/authZ/')).lastIndexOf(true);
    assert.ok(firstChallenge >= 0 && firstChallenge < lastAuthorization, `a challenge answered (request ${firstChallenge}) before the last authorization was read (${lastAuthorization})`);
  });
});
