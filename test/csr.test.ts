import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { buildCsr } from '../src/x509/csr.js';

const generateKeyPairAsync = promisify(generateKeyPair);

let workDir = '';
before(() => {
  workDir = mkdtempSync(join(tmpdir(), 'acme-csr-test-'));
});
after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

interface OpensslReport {
  status: number | null;
  /** stdout and stderr together: OpenSSL 3 prints the verify result on stderr. */
  output: string;
}

let csrCounter = 0;
function opensslReq(der: Buffer, extraArgs: string[]): OpensslReport {
  const file = join(workDir, `request-${++csrCounter}.der`);
  writeFileSync(file, der);
  const result = spawnSync('openssl', ['req', '-inform', 'DER', '-in', file, '-noout', ...extraArgs], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The DNS names listed after "X509v3 Subject Alternative Name:" in `openssl req -text`. */
function sanNames(text: string): string[] {
  const match = /X509v3 Subject Alternative Name: *\n\s*(.*)\n/.exec(text);
  assert.ok(match?.[1], 'no subjectAltName in the request');
  return match[1].split(', ').map((entry) => {
    assert.match(entry, /^DNS:/);
    return entry.slice('DNS:'.length);
  });
}

const KEY_CASES = [
  { label: 'RSA 2048', signatureAlgorithm: 'sha256WithRSAEncryption', makeKey: () => generateKeyPairAsync('rsa', { modulusLength: 2048 }) },
  { label: 'EC P-256', signatureAlgorithm: 'ecdsa-with-SHA256', makeKey: () => generateKeyPairAsync('ec', { namedCurve: 'P-256' }) },
  { label: 'EC P-384', signatureAlgorithm: 'ecdsa-with-SHA384', makeKey: () => generateKeyPairAsync('ec', { namedCurve: 'P-384' }) },
] as const;

const HUNDRED_NAMES = Array.from({ length: 100 }, (_, index) => (index === 0 ? 'example.com' : `san${index}.example.com`));
const NAME_CASES = [
  ['example.com'],
  ['www.example.org', 'example.org', '*.example.net'],
  HUNDRED_NAMES,
];

for (const { label, signatureAlgorithm, makeKey } of KEY_CASES) {
  test(`buildCsr with ${label}: openssl verifies it and sees the names, key and extensions`, async () => {
    const { privateKey, publicKey } = await makeKey();
    const expectedPublicKeyPem = publicKey.export({ type: 'spki', format: 'pem' });
    for (const names of NAME_CASES) {
      for (const mustStaple of [false, true]) {
        const what = `${names.length} names, mustStaple ${mustStaple}`;
        const der = buildCsr(privateKey, names, mustStaple);
        assert.equal(der[0], 0x30, what);

        const report = opensslReq(der, ['-verify', '-text']);
        assert.equal(report.status, 0, `${what}: ${report.output}`);
        assert.match(report.output, /Certificate request self-signature verify OK/, what);
        assert.match(report.output, /Version: 1 \(0x0\)/, what);
        assert.match(report.output, new RegExp(`Subject: CN ?= ?${names[0]?.replace(/[.*]/g, '\\$&')}\\n`), what);
        assert.deepEqual(sanNames(report.output), names, what);
        assert.equal(/TLS Feature: *\n\s*status_request\n/.test(report.output), mustStaple, what);
        assert.equal(report.output.includes('TLS Feature'), mustStaple, what);
        assert.match(report.output, new RegExp(`Signature Algorithm: ${signatureAlgorithm}\\n`), what);

        // The request carries the public half of the signing key, byte for byte.
        const pubkey = opensslReq(der, ['-pubkey']);
        assert.equal(pubkey.output, expectedPublicKeyPem, what);
      }
    }
  });
}

test('buildCsr refuses no names, non-ASCII names, public keys and unsupported keys', async () => {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  assert.throws(() => buildCsr(privateKey, [], false), /at least one name/);
  assert.throws(() => buildCsr(privateKey, ['bücher.example'], false), /not a printable ASCII name/);
  assert.throws(() => buildCsr(privateKey, ['a.example', 'b .example'], false), /not a printable ASCII name/);
  assert.throws(() => buildCsr(publicKey, ['a.example'], false), /must be signed with a private key/);
  const ed25519: KeyObject = (await generateKeyPairAsync('ed25519')).privateKey;
  assert.throws(() => buildCsr(ed25519, ['a.example'], false), /cannot sign a CSR with key type ed25519/);
  const p521: KeyObject = (await generateKeyPairAsync('ec', { namedCurve: 'P-521' })).privateKey;
  assert.throws(() => buildCsr(p521, ['a.example'], false), /cannot sign a CSR with key type ec secp521r1/);
});

test('buildCsr: IP addresses become iPAddress names and never the CN; a first name over 64 characters gets no CN', async () => {
  const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const text = (names: string[]): string => {
    const report = opensslReq(buildCsr(privateKey, names, false), ['-verify', '-text']);
    assert.equal(report.status, 0, report.output);
    return report.output;
  };
  const san = (output: string): string => /X509v3 Subject Alternative Name: *\n\s*(.*)\n/.exec(output)?.[1] ?? '';
  const subject = (output: string): string => /Subject:(.*)\n/.exec(output)?.[1]?.trim() ?? '';

  const mixed = text(['127.0.0.1', 'example.com', '2001:db8::1', '::1']);
  assert.equal(san(mixed), 'IP Address:127.0.0.1, DNS:example.com, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(subject(mixed), '', 'an address is not a common name');
  assert.equal(subject(text(['example.com', '127.0.0.1'])), 'CN = example.com');

  const at64 = `${'a'.repeat(52)}.example.com`;
  const over64 = `${'a'.repeat(53)}.example.com`;
  assert.equal(at64.length, 64);
  assert.equal(subject(text([at64])), `CN = ${at64}`);
  assert.equal(subject(text([over64, 'short.example'])), '');
  assert.equal(san(text([over64, 'short.example'])), `DNS:${over64}, DNS:short.example`);
});
