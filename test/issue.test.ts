// End to end against a real Pebble, with nginx serving the challenge directory: the path a root
// crontab takes every night.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { ISSUED_SET, KeyKind, ecKeys, makeKey, needsRootAndLab, openssl, runClient, workDir } from './helpers.js';

const skip = needsRootAndLab(labUnavailable);

describe('issuance against Pebble over http-01', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  const common = (w: ReturnType<typeof workDir>, acct: string, dom: string): string[] =>
    ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', acct, '-k', dom];
  const serial = (certs: string): string => new X509Certificate(readFileSync(join(certs, 'cert.pem'))).serialNumber;

  test('first run issues (exit 0), second asks only the renewal window (exit 2), third nothing before Retry-After, -F renews (exit 0)', async () => {
    const w = workDir();
    const acct = join(w.priv, 'account.pem');
    const dom = join(w.priv, 'domain.pem');
    const names = ['one.example.test', 'www.one.example.test'];

    const first = await runClient(['-n', '-N', ...common(w, acct, dom), ...names], { env: env() });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, '');

    for (const key of [acct, dom]) {
      assert.equal(statSync(key).mode & 0o777, 0o600, `${key} mode`);
      assert.match(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    }
    assert.deepEqual(readdirSync(w.certs).sort(), ISSUED_SET);
    for (const f of ['cert.pem', 'chain.pem', 'fullchain.pem']) assert.equal(statSync(join(w.certs, f)).mode & 0o777, 0o444, `${f} mode`);
    const cert = readFileSync(join(w.certs, 'cert.pem'), 'utf8');
    const chain = readFileSync(join(w.certs, 'chain.pem'), 'utf8');
    assert.equal(readFileSync(join(w.certs, 'fullchain.pem'), 'utf8'), cert + chain);
    assert.equal(cert.match(/BEGIN CERTIFICATE/g)?.length, 1);
    const leaf = new X509Certificate(cert);
    assert.equal(leaf.subjectAltName, 'DNS:one.example.test, DNS:www.one.example.test');
    assert.equal(leaf.subject, 'CN=one.example.test');

    const roots = join(w.dir, 'pebble-issuers.pem');
    writeFileSync(roots, await lab.issuerPems());
    const verified = openssl(['verify', '-CAfile', roots, '-untrusted', join(w.certs, 'chain.pem'), join(w.certs, 'cert.pem')]);
    assert.match(verified, /cert\.pem: OK/);
    assert.deepEqual(readdirSync(lab.challengeDir), [], 'challenge files removed');

    // Pebble publishes renewal information: the no-op night asks the window (two GETs, nothing
    // signed), the next night, before the CA's Retry-After, asks nothing.
    const asked = (from: number): string[] => lab.requestLog().split('\n')
      .map((l) => /^Pebble \S+ \S+ (\S+ \S+) -> calling handler\(\)$/.exec(l)?.[1]).filter((r) => r !== undefined).slice(from);
    const requests = lab.requestCount();
    const second = await runClient([...common(w, acct, dom), ...names], { env: env() });
    assert.equal(second.status, 2, second.stderr);
    assert.equal(second.stderr, '');
    const windowAsked = asked(requests);
    assert.equal(windowAsked.length, 2, windowAsked.join(', '));
    assert.equal(windowAsked[0], 'GET /dir');
    assert.match(windowAsked[1]!, /^GET \/\S+\/renewalInfo\/$/); // Pebble logs the handler's pattern, not the CertID
    const third = await runClient([...common(w, acct, dom), ...names], { env: env() });
    assert.equal(third.status, 2, third.stderr);
    assert.deepEqual(asked(requests + 2), [], 'the night before Retry-After sent nothing to the CA');
    assert.equal(readFileSync(join(w.certs, 'cert.pem'), 'utf8'), cert);

    const forced = await runClient(['-F', ...common(w, acct, dom), ...names], { env: env() });
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stderr, /forcing renewal/);
    assert.notEqual(serial(w.certs), leaf.serialNumber);
    assert.ok(lab.requestCount() > requests);
  });

  const keyPairs: [KeyKind, KeyKind][] = [
    ['ec-p256-sec1', 'ec-p384-pkcs8'],
    ['ec-p384-pkcs8', 'ec-p256-params'],
    ['rsa2048-pkcs1', 'rsa2048-pkcs8'],
  ];
  for (const [acctKind, domKind] of keyPairs) {
    test(`account key ${acctKind}, domain key ${domKind}`, async () => {
      const w = workDir();
      const acct = makeKey(join(w.priv, 'account.pem'), acctKind);
      const dom = makeKey(join(w.priv, 'domain.pem'), domKind);
      const before = readFileSync(acct, 'utf8') + readFileSync(dom, 'utf8');
      const name = `${acctKind}.${domKind}.example.test`;
      const run = await runClient(['-v', ...common(w, acct, dom), name], { env: env() });
      assert.equal(run.status, 0, run.stderr);
      const leaf = new X509Certificate(readFileSync(join(w.certs, 'cert.pem')));
      assert.equal(leaf.subjectAltName, `DNS:${name}`);
      const want = domKind.startsWith('rsa') ? 'rsa' : 'ec';
      assert.equal(leaf.publicKey.asymmetricKeyType, want);
      assert.equal(readFileSync(acct, 'utf8') + readFileSync(dom, 'utf8'), before, 'keys untouched');
    });
  }

  test('a failed validation exits 1 with the CA\'s reason, writes nothing and removes its challenge files', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    // w.www is not what nginx serves: Pebble finds nothing there.
    const run = await runClient(['--server', lab.directoryUrl, '-C', w.www, '-c', w.certs, '-f', acct, '-k', dom, 'fail.example.test'], { env: env() });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^acme-client: fail\.example\.test: validation failed: urn:ietf:params:acme:error:unauthorized: .+$/m);
    assert.deepEqual(readdirSync(w.certs), []);
    assert.deepEqual(readdirSync(w.www), []);
  });

  // Would fail if chngproc removed every temporary file it found: a run beside it on the same
  // directory (two crontab lines at the same minute) would lose its challenge file between the
  // write and the rename, and fail.
  test('in the challenge directory a killed run\'s temporary file (an hour old) is removed, one being written now is kept', async () => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    const [old, fresh] = ['.oldtoken.0123456789ab.tmp', '.freshtoken.0123456789ab.tmp'];
    for (const name of [old, fresh]) writeFileSync(join(w.www, name), 'x');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(w.www, old), hourAgo, hourAgo);
    // w.www is not what nginx serves: the validation fails, after chngproc has looked.
    const run = await runClient(['-v', '--server', lab.directoryUrl, '-C', w.www, '-c', w.certs, '-f', acct, '-k', dom, 'temps.example.test'], { env: env() });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /\.oldtoken\.0123456789ab\.tmp: removed a temporary file left by a killed run$/m);
    assert.deepEqual(readdirSync(w.www), [fresh]);
  });
});
