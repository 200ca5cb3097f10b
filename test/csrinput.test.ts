// acme-client --csr against a real Pebble: requests made once by openssl, as the user of seed
// 000_* keeps them; the names come from the request, keyproc never starts, and a request that is
// not what it claims to be is refused before the CA hears of it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { KeyKind, makeKey, needsRootAndLab, openssl, runClient, workDir } from './helpers.js';

const skip = needsRootAndLab(labUnavailable);

/** A CSR made by `openssl req`: CN the first name, and a subjectAltName with all of them unless cnOnly. */
export function makeCsr(path: string, keyFile: string, names: string[], cnOnly = false): string {
  const san = cnOnly ? [] : ['-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`];
  openssl(['req', '-new', '-sha256', '-key', keyFile, '-subj', `/CN=${names[0]}`, ...san, '-out', path]);
  return path;
}

/** The same request with one bit of its signature flipped: well-formed, signed by nobody. */
function withBadSignature(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
  der[der.length - 1] ^= 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').trim()}\n-----END CERTIFICATE REQUEST-----\n`;
}

describe('acme-client --csr against Pebble', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });
  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  const common = (w: ReturnType<typeof workDir>): string[] =>
    ['--server', lab.directoryUrl, '-C', lab.challengeDir, '-c', w.certs, '-f', makeKey(join(w.priv, 'account.pem'), 'ec-p256-sec1')];
  const leafOf = (certs: string): X509Certificate => new X509Certificate(readFileSync(join(certs, 'cert.pem')));
  const spkiOf = (keyFile: string): Buffer => createPublicKey(readFileSync(keyFile)).export({ type: 'spki', format: 'der' });

  const kinds: [KeyKind, string][] = [['rsa2048-pkcs8', 'rsa'], ['ec-p256-sec1', 'ec'], ['ec-p384-pkcs8', 'ec']];
  for (const [kind, type] of kinds) {
    test(`a ${kind} request: issued for its names and key without keyproc (0), then nothing to do (2), -F -b renews (0)`, async () => {
      const w = workDir();
      const key = makeKey(join(w.priv, 'domain.pem'), kind);
      const names = [`${kind}.csr.example.test`, `www.${kind}.csr.example.test`];
      const csr = makeCsr(join(w.dir, 'request.csr'), key, names);
      const args = common(w);

      const first = await runClient(['-v', ...args, '--csr', csr], { env: env() });
      assert.equal(first.status, 0, first.stderr);
      assert.doesNotMatch(first.stderr, /^acme-client: keyproc:/m, 'keyproc never started');
      assert.match(first.stderr, /^acme-client: certproc: /m);
      const leaf = leafOf(w.certs);
      assert.equal(leaf.subjectAltName, names.map((n) => `DNS:${n}`).join(', '));
      assert.equal(leaf.publicKey.asymmetricKeyType, type);
      assert.ok(leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(spkiOf(key)), 'the certificate carries the request\'s key');

      // --no-ari: the names are matched on this machine, with no renewal window to ask Pebble for.
      const requests = lab.requestCount();
      const again = await runClient(['--no-ari', ...args, '--csr', csr, ...names.slice().reverse()], { env: env() });
      assert.equal(again.status, 2, again.stderr);
      assert.equal(again.stderr, '');
      assert.equal(lab.requestCount(), requests, 'nothing asked of the CA');

      const forced = await runClient(['-F', '-b', ...args, '--csr', csr], { env: env() });
      assert.equal(forced.status, 0, forced.stderr);
      assert.notEqual(leafOf(w.certs).serialNumber, leaf.serialNumber);
      assert.equal(readdirSync(w.certs).filter((f) => /^cert-\d+\.pem$/.test(f)).length, 1, '-b kept the old certificate');
    });
  }

  test('a request with a CN only (the seed\'s first openssl line) is ordered for that name; Pebble wants a subjectAltName', async () => {
    const w = workDir();
    const key = makeKey(join(w.priv, 'domain.pem'), 'rsa2048-pkcs1');
    const csr = makeCsr(join(w.dir, 'cn.csr'), key, ['cn-only.example.test'], true);
    const run = await runClient(['-v', ...common(w), '--csr', csr, 'cn-only.example.test'], { env: env() });
    // Let's Encrypt takes the CN as a name; Pebble (2.4 as 2.10) counts subjectAltNames only, and says so.
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^acme-client: cn-only\.example\.test: authorization valid$/m);
    assert.match(run.stderr, /finalize-order\/.*: urn:ietf:params:acme:error:unauthorized: Order includes different number of DNSnames identifiers than CSR specifies$/m);
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('a request for an address and a name (IP:127.0.0.1 in its subjectAltName) issues for both', async () => {
    const w = workDir();
    const key = makeKey(join(w.priv, 'domain.pem'), 'ec-p256-sec1');
    const csr = join(w.dir, 'ip.csr');
    openssl(['req', '-new', '-sha256', '-key', key, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:ip.csr.example.test', '-out', csr]);
    const run = await runClient([...common(w), '--csr', csr, 'ip.csr.example.test', '127.0.0.1'], { env: env() });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(leafOf(w.certs).subjectAltName?.split(', ').sort(), ['DNS:ip.csr.example.test', 'IP Address:127.0.0.1']);
  });

  test('a new request with another key renews a current certificate; -e adds a name, as with -k', async () => {
    const w = workDir();
    const args = common(w);
    const first = makeKey(join(w.priv, 'first.pem'), 'ec-p256-sec1');
    const csr = join(w.dir, 'request.csr');
    makeCsr(csr, first, ['rekey.example.test']);
    assert.equal((await runClient([...args, '--csr', csr], { env: env() })).status, 0);
    const second = makeKey(join(w.priv, 'second.pem'), 'ec-p256-sec1');
    makeCsr(csr, second, ['rekey.example.test']);
    const rekeyed = await runClient([...args, '--csr', csr], { env: env() });
    assert.equal(rekeyed.status, 0, rekeyed.stderr);
    assert.ok(leafOf(w.certs).publicKey.export({ type: 'spki', format: 'der' }).equals(spkiOf(second)));

    makeCsr(csr, second, ['rekey.example.test', 'more.rekey.example.test']);
    const unexpanded = await runClient([...args, '--csr', csr], { env: env() });
    assert.equal(unexpanded.status, 1);
    assert.match(unexpanded.stderr, /domain not listed: more\.rekey\.example\.test$/m);
    const expanded = await runClient(['-e', ...args, '--csr', csr], { env: env() });
    assert.equal(expanded.status, 0, expanded.stderr);
    assert.equal(leafOf(w.certs).subjectAltName, 'DNS:rekey.example.test, DNS:more.rekey.example.test');
  });

  test('refused before the CA is asked: other names, a bad signature, an unsupported key, not a request', async () => {
    const w = workDir();
    const args = common(w);
    const key = makeKey(join(w.priv, 'domain.pem'), 'ec-p256-sec1');
    const good = makeCsr(join(w.dir, 'good.csr'), key, ['refused.example.test', 'www.refused.example.test']);
    const forged = join(w.dir, 'forged.csr');
    writeFileSync(forged, withBadSignature(readFileSync(good, 'utf8')));
    const weakKey = join(w.priv, 'weak.pem');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521', '-out', weakKey]);
    const p521 = makeCsr(join(w.dir, 'p521.csr'), weakKey, ['refused.example.test']);
    const notCsr = join(w.dir, 'key.csr');
    writeFileSync(notCsr, readFileSync(key));
    const cases: [string[], RegExp][] = [
      [['--csr', good, 'refused.example.test'], new RegExp(`^acme-client: ${good}: the request names www\\.refused\\.example\\.test, not given on the command line$`)],
      [['--csr', good, 'refused.example.test', 'www.refused.example.test', 'other.example.test'],
        new RegExp(`^acme-client: ${good}: the request does not name other\\.example\\.test, given on the command line$`)],
      [['-F', '--csr', forged], new RegExp(`^acme-client: ${forged}: bad signature: the request was not signed by its own key$`)],
      [['--csr', p521], new RegExp(`^acme-client: ${p521}: unsupported key type EC P-521 \\(use RSA of at least 2048 bits or EC P-256/P-384\\)$`)],
      [['--csr', notCsr], new RegExp(`^acme-client: ${notCsr}: not a PEM certificate request$`)],
    ];
    for (const [extra, line] of cases) {
      const requests = lab.requests().length;
      const run = await runClient([...args, ...extra], { env: env() });
      assert.equal(run.status, 1, extra.join(' '));
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr.trim(), line);
      // netproc starts first when work is certain and may have fetched the directory: nothing else.
      assert.deepEqual(lab.requests().slice(requests).filter((r) => !(r.method === 'GET' && r.path === '/dir')), [], `${extra.join(' ')}: the CA was not asked`);
      assert.deepEqual(readdirSync(w.certs), []);
    }
  });
});
