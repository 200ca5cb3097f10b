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
import { readFileSync, writeFileSync } from 'node:fs';
import { ecKeys, needsRootAndLab, runClient, workDir } from './helpers.js';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';

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
  const keptAccount = (acct: string): { server: string; url: string } => JSON.parse(readFileSync(`${acct}.account.json`, 'utf8')) as { server: string; url: string };

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

  test('a kept URL the CA does not know, or one of another CA: the account is looked up, used, and kept anew', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const args = ['-c', w.certs, '-f', acct, '-k', dom, 'stale.example.test'];
    await issue(args);
    const right = keptAccount(acct);
    // Pebble answers accountDoesNotExist for a kid it never issued (a database reset looks so).
    writeFileSync(`${acct}.account.json`, JSON.stringify({ server: lab.directoryUrl, url: `${new URL(lab.directoryUrl).origin}/my-account/ffffffffffffffff` }));
    const stale = await issue(args);
    assert.ok(count(stale, 'POST', '/sign-me-up') >= 1, 'looked up after the refusal');
    assert.deepEqual(keptAccount(acct), right);
    writeFileSync(`${acct}.account.json`, JSON.stringify({ server: 'https://ca.example.test/dir', url: 'https://ca.example.test/acct/1' }));
    const elsewhere = await issue(args);
    assert.ok(count(elsewhere, 'POST', '/sign-me-up') >= 1, 'another CA\'s URL is not used here');
    assert.deepEqual(keptAccount(acct), right);
  });

  test('once the challenges are answered, the order is watched, not each authorization; finalize goes once it is ready', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const requests = await issue(['-c', w.certs, '-f', acct, '-k', dom, 'a.finalize.example.test', 'b.finalize.example.test', 'c.finalize.example.test']);
    const at = (prefix: string, from = 0): number => requests.findIndex((r, i) => i >= from && r.method === 'POST' && r.path.startsWith(prefix));
    const firstChallenge = at('/chalZ/');
    const firstFinalize = at('/finalize-order/');
    assert.ok(firstChallenge >= 0 && firstFinalize > firstChallenge, JSON.stringify(requests));
    assert.equal(at('/authZ/', firstChallenge), -1, `no authorization read after the challenges: ${JSON.stringify(requests)}`);
    assert.ok(at('/my-order/', firstChallenge) < firstFinalize, `the order read before finalize: ${JSON.stringify(requests)}`);
  });
});
