// --rollover-account-key (RFC 8555 §7.3.5) against Pebble: afterwards the CA knows the account by
// the new key alone, the -f file holds it, the old one is kept as <file>.old, and issuance goes on
// with -f; a change the CA refuses leaves every file as it was.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { startBoulderProxy } from '../scripts/boulderproxy.js';
import { makeKey, needsRootAndLab, runClient, snapshot, workDir } from './helpers.js';
import { signJws } from '../src/acme/jws.js';
import { keyDescription } from '../src/x509/keys.js';
import { USAGE } from '../src/args.js';
import { probeCapabilities } from '../src/isolation.js';

const skip = needsRootAndLab(labUnavailable);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function fetchFrom(url: string, ca: Buffer, method: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Pebble 2.10 refuses a request without a User-Agent.
    const headers = { 'user-agent': 'rollover.test', ...(body === undefined ? {} : { 'content-type': 'application/jose+json', 'content-length': String(Buffer.byteLength(body)) }) };
    const req = request(url, { method, ca, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('--rollover-account-key against Pebble', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });

  /** What the CA says to newAccount {onlyReturnExisting} signed by this key: the account URL, or the problem type. */
  const lookUp = async (keyFile: string): Promise<string> => {
    const ca = readFileSync(lab.tlsCaFile);
    const directory = JSON.parse((await fetchFrom(lab.directoryUrl, ca, 'GET')).body) as { newNonce: string; newAccount: string };
    const key = createPrivateKey(readFileSync(keyFile, 'utf8'));
    // npm test has Pebble reject some good nonces: ask again on badNonce.
    for (let attempt = 0; attempt < 30; attempt++) {
      const nonce = (await fetchFrom(directory.newNonce, ca, 'GET')).headers['replay-nonce'] as string;
      const jws = signJws(key, { url: directory.newAccount, nonce }, JSON.stringify({ onlyReturnExisting: true }));
      const answer = await fetchFrom(directory.newAccount, ca, 'POST', JSON.stringify(jws));
      if (answer.status === 200) return answer.headers.location as string;
      const type = (JSON.parse(answer.body) as { type: string }).type;
      if (type !== 'urn:ietf:params:acme:error:badNonce') return type;
    }
    throw new Error('Pebble rejected 30 nonces in a row');
  };

  /** A work area with keys and a certificate issued, so that the account of `account.pem` exists. */
  const withAccount = async (server = lab.directoryUrl): Promise<{ w: ReturnType<typeof workDir>; acct: string; dom: string; issue: string[] }> => {
    const w = workDir();
    const acct = makeKey(join(w.priv, 'account.pem'), 'ec-p256-sec1');
    const dom = makeKey(join(w.priv, 'domain.pem'), 'ec-p256-sec1');
    const issue = ['--server', server, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom];
    const first = await runClient([...issue, 'rollover.example.test'], { env: env() });
    assert.equal(first.status, 0, first.stderr);
    return { w, acct, dom, issue };
  };

  test('-n makes the new key; the CA then knows the account by it alone; -f holds it, <file>.old the old one; issuance goes on', async () => {
    const { w, acct, issue } = await withAccount();
    const oldPem = readFileSync(acct, 'utf8');
    const accountUrl = await lookUp(acct);
    assert.match(accountUrl, /^https:\/\/127\.0\.0\.1:\d+\/my-account\/\S+$/);
    const newKey = join(w.priv, 'next.pem');

    const run = await runClient(['-v', '-n', '--account-key-type', 'ec384', '--rollover-account-key', newKey, '--server', lab.directoryUrl, '-f', acct], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '');
    // Only the two children run; acctproc, which must replace a file in root's directory, stays
    // root jailed to that directory, with the key files alone on its list.
    assert.deepEqual([...run.stderr.matchAll(/^acme-client: (\w+proc): user /gm)].map((m) => m[1]), ['netproc', 'acctproc']);
    const plan = /^acme-client: acctproc: (.*)$/m.exec(run.stderr)?.[1] ?? '';
    assert.match(plan, /^user root \(uid 0\); /);
    assert.doesNotMatch(plan, /eab|domain/);
    // Where the machine can jail; under CI=true always, so that a missing layer fails there.
    if ((await probeCapabilities()).jail || process.env.CI === 'true') assert.match(plan, new RegExp(`; jailed to ${w.priv.replace(/[.]/g, '\\.')}$`));
    assert.match(run.stderr, /: replaced by \S+next\.pem, the old key kept as \S+account\.pem\.old$/m);

    assert.equal(keyDescription(createPrivateKey(readFileSync(newKey, 'utf8'))), 'EC P-384');
    assert.equal(readFileSync(acct, 'utf8'), readFileSync(newKey, 'utf8'), '-f now holds the new key');
    assert.equal(readFileSync(`${acct}.old`, 'utf8'), oldPem, 'the old key is kept');
    for (const file of [acct, `${acct}.old`, newKey]) assert.equal(statSync(file).mode & 0o777, 0o600, file);

    assert.equal(await lookUp(`${acct}.old`), 'urn:ietf:params:acme:error:accountDoesNotExist', 'the old key finds no account');
    assert.equal(await lookUp(acct), accountUrl, 'the new key finds the same account');

    const renewed = await runClient(['-v', '-F', ...issue, 'rollover.example.test'], { env: env() });
    assert.equal(renewed.status, 0, renewed.stderr);
    assert.match(renewed.stderr, new RegExp(`: ${accountUrl.replace(/[.]/g, '\\.')}: using account \\(ES384\\)$`, 'm'));
    assert.doesNotMatch(renewed.stderr, /account created/);
  });

  // Pebble 2.10 accepts a new key that another account has; Boulder refuses it (409), as RFC 8555
  // says, and so does the Boulder proxy in front of Pebble here.
  test('a change the CA refuses (the new key has an account of its own): exit 1, one line, every file as it was', async (t) => {
    const proxy = await startBoulderProxy(lab);
    t.after(() => proxy.stop());
    const { w, acct } = await withAccount(proxy.directoryUrl);
    // Another account, whose key is then offered as the new key of the first.
    const taken = makeKey(join(w.priv, 'taken.pem'), 'ec-p256-sec1');
    const other = await runClient(['--server', proxy.directoryUrl, '-C', lab.challengeDir, '-c', w.www, '-f', taken, '-k', join(w.priv, 'domain.pem'), 'other.example.test'], { env: env() });
    assert.equal(other.status, 0, other.stderr);
    const before = snapshot(w.priv);

    const run = await runClient(['--rollover-account-key', taken, '--server', proxy.directoryUrl, '-f', acct], { env: env() });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^acme-client: https:\/\/127\.0\.0\.1:\d+\/rollover-account-key: urn:ietf:params:acme:error:malformed: New key is already in use for a different account\n$/);
    assert.deepEqual(snapshot(w.priv), before);
    assert.notEqual(await lookUp(acct), 'urn:ietf:params:acme:error:accountDoesNotExist', 'the old key still has its account');
  });

  test('accepted by the CA but the file cannot be replaced: exit 1, one line saying which key the CA now knows', async () => {
    const { w, acct } = await withAccount();
    const oldPem = readFileSync(acct, 'utf8');
    const newKey = makeKey(join(w.priv, 'next.pem'), 'ec-p256-sec1');
    // <file>.old is written first; a directory in its place makes that fail.
    mkdirSync(`${acct}.old`);
    const run = await runClient(['--rollover-account-key', newKey, '--server', lab.directoryUrl, '-f', acct], { env: env() });
    assert.equal(run.status, 1);
    assert.match(run.stderr, new RegExp(`^acme-client: ${acct.replace(/[.]/g, '\\.')}: the CA now knows the account by ${newKey.replace(/[.]/g, '\\.')} alone, `
      + 'but this file was not replaced: cannot replace key: [^\\n]+\\n$'));
    assert.equal(readFileSync(acct, 'utf8'), oldPem, '-f is whole, and still the old key');
    assert.deepEqual(readdirSync(w.priv).filter((name) => name.endsWith('.tmp')), [], 'no temporary file left');
    assert.equal(await lookUp(acct), 'urn:ietf:params:acme:error:accountDoesNotExist');
    assert.match(await lookUp(newKey), /^https:\/\//, 'the new key, which the message names, has the account');
  });

  test('misuse: names, -m, a missing new key without -n, a new key elsewhere or the key itself; one line each, nothing touched', async () => {
    const w = workDir();
    const acct = makeKey(join(w.priv, 'account.pem'), 'ec-p256-sec1');
    const before = snapshot(w.priv);
    const server = ['--server', lab.directoryUrl];
    const usage = [
      [['--rollover-account-key', join(w.priv, 'n.pem'), '-f', acct, 'example.test'], '--rollover-account-key takes no domain'],
      [['-m', '--rollover-account-key', join(w.priv, 'n.pem'), '-f', acct], '--rollover-account-key takes no domain, which -m needs'],
    ] as const;
    for (const [args, problem] of usage) {
      const run = await runClient([...server, ...args], { env: env() });
      assert.equal(run.status, 1);
      assert.equal(run.stderr, `acme-client: ${problem}\n${USAGE}\n`);
    }
    const elsewhere = join(w.dir, 'n.pem');
    const lines = [
      [['--rollover-account-key', join(w.priv, 'n.pem'), '-f', acct], `${join(w.priv, 'n.pem')}: --rollover-account-key file must exist`],
      [['-n', '--rollover-account-key', elsewhere, '-f', acct], `${elsewhere}: --rollover-account-key file must be in the account key's directory, ${w.priv}`],
      [['--rollover-account-key', acct, '-f', acct], `${acct}: --rollover-account-key file is the account key itself`],
      [['-n', '--rollover-account-key', join(w.priv, 'n.pem'), '-f', join(w.priv, 'none.pem')], `${join(w.priv, 'none.pem')}: -f file must exist`],
    ] as const;
    for (const [args, line] of lines) {
      const run = await runClient([...server, ...args], { env: env() });
      assert.equal(run.status, 1, line);
      assert.equal(run.stderr, `acme-client: ${line}\n`);
    }
    assert.deepEqual(snapshot(w.priv), before);
  });
});
