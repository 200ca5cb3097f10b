import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ChainError, splitPemCertificates, topIssuerCommonName } from '../src/x509/chain.js';
import { linkTargets } from '../src/acme/client.js';
import { certificateFields, certificateNames } from '../src/x509/names.js';
import { canonicalIp } from '../src/x509/ip.js';

// A self-contained openssl configuration, so the system openssl.cnf does not matter.
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[leaf]
basicConstraints = CA:FALSE
subjectAltName = DNS:Example.COM, IP:192.0.2.1, DNS:www.example.com, email:hostmaster@example.com, DNS:*.Example.NET
[leaf_dirname]
subjectAltName = @dirname_names
[dirname_names]
DNS.1 = first.example
dirName.1 = directory
DNS.2 = second.example
[directory]
CN = Example, Inc.
O = "Quotes" and \\\\backslashes
[leaf_ipv6]
subjectAltName = IP:2001:DB8:0:0:0:0:0:1, IP:0:0:0:0:0:0:0:1, IP:127.0.0.1
[leaf_comma]
subjectAltName = @comma_names
[comma_names]
DNS.1 = good.example
DNS.2 = bad,name.example
`;

let workDir = '';
let root = '';
let intermediate = '';
let leaf = '';
let dirnameLeaf = '';
let commaLeaf = '';
let ipv6Leaf = '';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: workDir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes `name`.pem signed by `issuer` (or self-signed) with the config's `extensions` section. */
function makeCertificate(name: string, subject: string, curve: string, extensions: string, issuer?: string): string {
  const common = ['-subj', subject, '-config', 'openssl.cnf', '-nodes', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-keyout', `${name}.key`];
  if (issuer === undefined) {
    openssl(['req', '-x509', ...common, '-days', '2', '-extensions', extensions, '-out', `${name}.pem`]);
  } else {
    openssl(['req', '-new', ...common, '-out', `${name}.csr`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-set_serial', '2',
      '-days', '2', '-extfile', 'openssl.cnf', '-extensions', extensions, '-out', `${name}.pem`]);
  }
  return readFileSync(join(workDir, `${name}.pem`), 'utf8');
}

before(() => {
  workDir = mkdtempSync(join(tmpdir(), 'acme-chain-test-'));
  writeFileSync(join(workDir, 'openssl.cnf'), OPENSSL_CONFIG);
  root = makeCertificate('root', '/CN=Test Root', 'P-256', 'ca');
  intermediate = makeCertificate('intermediate', '/CN=Test Intermediate', 'P-384', 'ca', 'root');
  leaf = makeCertificate('leaf', '/CN=example.com', 'P-256', 'leaf', 'intermediate');
  dirnameLeaf = makeCertificate('dirname', '/CN=first.example', 'P-256', 'leaf_dirname', 'intermediate');
  commaLeaf = makeCertificate('comma', '/CN=good.example', 'P-256', 'leaf_comma', 'intermediate');
  ipv6Leaf = makeCertificate('ipv6', '/CN=ip', 'P-256', 'leaf_ipv6', 'intermediate');
});
after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function assertChainError(text: string, problem: RegExp): void {
  assert.throws(
    () => splitPemCertificates(text),
    (err: unknown) => {
      assert.ok(err instanceof ChainError, `expected ChainError, got ${String(err)}`);
      assert.ok(err instanceof Error);
      assert.match(err.problem, problem);
      assert.equal(err.message, err.problem);
      return true;
    },
  );
}

test('the openssl-made chain is what the tests assume', () => {
  for (const pem of [root, intermediate, leaf]) assert.match(pem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
  const [rootCert, intermediateCert, leafCert] = [root, intermediate, leaf].map((pem) => new X509Certificate(pem));
  assert.ok(leafCert?.checkIssued(intermediateCert as X509Certificate));
  assert.ok(intermediateCert?.checkIssued(rootCert as X509Certificate));
});

test('splits a three- and a two-certificate chain, in order, unchanged', () => {
  assert.deepEqual(splitPemCertificates(leaf + intermediate + root), [leaf, intermediate, root]);
  assert.deepEqual(splitPemCertificates(leaf + intermediate), [leaf, intermediate]);
  assert.deepEqual(splitPemCertificates(leaf), [leaf]);
  const subjects = splitPemCertificates(leaf + intermediate + root).map((pem) => new X509Certificate(pem).subject);
  assert.deepEqual(subjects, ['CN=example.com', 'CN=Test Intermediate', 'CN=Test Root']);
});

test('CRLF input gives the same blocks with LF line endings', () => {
  const crlf = (leaf + intermediate + root).replace(/\n/g, '\r\n');
  const blocks = splitPemCertificates(crlf);
  assert.deepEqual(blocks, [leaf, intermediate, root]);
  for (const block of blocks) assert.doesNotMatch(block, /\r/);
});

test('whitespace around and between blocks is accepted and normalised away', () => {
  const spaced = `\n\n  ${leaf}\n\n${intermediate.replace('-----END CERTIFICATE-----', '-----END CERTIFICATE-----  \t')}\t\n${root.trimEnd()}`;
  assert.deepEqual(splitPemCertificates(spaced), [leaf, intermediate, root]);
  // Trailing spaces on the base64 lines and a blank line inside a block, too.
  const ragged = leaf.replace(/\n(?=[A-Za-z0-9])/g, ' \n').replace('-----BEGIN CERTIFICATE-----\n', '-----BEGIN CERTIFICATE-----\n\n');
  assert.deepEqual(splitPemCertificates(ragged), [leaf]);
});

test('junk before, between or after the certificates is refused', () => {
  assertChainError(`hello\n${leaf}${intermediate}`, /^unexpected content before the first certificate: 5 bytes of non-PEM text$/);
  assertChainError(`${leaf}garbage\n${intermediate}`, /^unexpected content after certificate 1: 7 bytes of non-PEM text$/);
  assertChainError(`${leaf}${intermediate}${root}trailer`, /^unexpected content after certificate 3: 7 bytes of non-PEM text$/);
  assertChainError(`${leaf}${intermediate}-----END CERTIFICATE-----\n`, /^unexpected content after certificate 2: an "-----END CERTIFICATE-----" line/);
  assertChainError(leaf.trimEnd() + intermediate, /^certificate 2 does not start on a line of its own$/);
});

test('empty input and input without certificates are refused', () => {
  assertChainError('', /^no certificate: the chain is empty$/);
  assertChainError(' \r\n\n\t', /^no certificate: the chain is empty$/);
  assertChainError('<html>Service Unavailable</html>', /^no PEM certificate found, only 32 bytes of non-PEM text$/);
  const key = readFileSync(join(workDir, 'leaf.key'), 'utf8');
  assertChainError(key, /^no PEM certificate found, only a "PRIVATE KEY" PEM block$/);
});

test('a non-certificate PEM block in the chain is refused', () => {
  const key = readFileSync(join(workDir, 'leaf.key'), 'utf8');
  const request = readFileSync(join(workDir, 'leaf.csr'), 'utf8');
  assertChainError(leaf + key + intermediate, /^unexpected content after certificate 1: a "PRIVATE KEY" PEM block$/);
  assertChainError(key + leaf, /^unexpected content before the first certificate: a "PRIVATE KEY" PEM block$/);
  assertChainError(leaf + request, /^unexpected content after certificate 1: a "CERTIFICATE REQUEST" PEM block$/);
});

test('broken certificate blocks are refused', () => {
  const truncated = intermediate.replace('-----END CERTIFICATE-----\n', '');
  assertChainError(leaf + truncated, /^certificate 2 is not valid PEM: no "-----END CERTIFICATE-----" line$/);
  // An unterminated block followed by a good one swallows the next BEGIN line.
  assertChainError(truncated + leaf, /^certificate 1 is not valid PEM: its body is not base64$/);
  assertChainError(leaf.replace(/\n([A-Za-z0-9+/]{10})/, '\n$1!'), /^certificate 1 is not valid PEM: its body is not base64$/);
  assertChainError('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', /^certificate 1 is not valid PEM: its body is not base64$/);
  assertChainError('-----BEGIN CERTIFICATE----- extra\nAAAA\n-----END CERTIFICATE-----\n', /^certificate 1 is not valid PEM: text after/);

  const notACertificate = `-----BEGIN CERTIFICATE-----\n${Buffer.from('definitely not DER').toString('base64')}\n-----END CERTIFICATE-----\n`;
  assertChainError(leaf + notACertificate, /^certificate 2 does not parse: /);

  // A certificate followed by an (empty) X509_CERT_AUX trust record in the same block: OpenSSL's
  // reader, and so X509Certificate, quietly accepts the trailer.
  const der = new X509Certificate(leaf).raw;
  const withTrailer = Buffer.concat([der, Buffer.from([0x30, 0x00])]).toString('base64').replace(/.{64}/g, '$&\n');
  const trailerBlock = `-----BEGIN CERTIFICATE-----\n${withTrailer}\n-----END CERTIFICATE-----\n`;
  assert.deepEqual(new X509Certificate(trailerBlock).raw, der);
  assertChainError(trailerBlock, /^certificate 1 is not valid PEM: data follows the certificate$/);
});

test('certificateNames lists the DNS names, lower-cased, and the IP addresses, in order, from the DER', () => {
  const leafCert = new X509Certificate(leaf);
  assert.deepEqual(certificateNames(certificateFields(leafCert.raw)), ['example.com', '192.0.2.1', 'www.example.com', '*.example.net']);
  assert.deepEqual(certificateNames(certificateFields(new X509Certificate(root).raw)), []);
});

test('certificateNames reads past other kinds of name, whatever they hold', () => {
  assert.deepEqual(certificateNames(certificateFields(new X509Certificate(dirnameLeaf).raw)), ['first.example', 'second.example']);
});

test('certificateNames refuses a DNS name that cannot be a host name', () => {
  assert.throws(
    () => certificateNames(certificateFields(new X509Certificate(commaLeaf).raw)),
    (err: unknown) => err instanceof ChainError && err.problem === 'certificate has an invalid DNS name in subjectAltName: "bad,name.example"',
  );
});

test('certificateNames writes IPv6 addresses in their canonical form', () => {
  assert.deepEqual(certificateNames(certificateFields(new X509Certificate(ipv6Leaf).raw)), ['2001:db8::1', '::1', '127.0.0.1']);
});

test('canonicalIp: one text form per address, null for anything else', () => {
  assert.equal(canonicalIp('127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(canonicalIp('::ffff:192.0.2.1'), '::ffff:c000:201');
  for (const bad of ['example.com', '1.2.3', '256.0.0.1', '[::1]', '::1%eth0', '']) assert.equal(canonicalIp(bad), null, bad);
});

test('topIssuerCommonName: the CN of the issuer of the last certificate; null for a chain that does not parse', () => {
  assert.equal(topIssuerCommonName(leaf + intermediate), 'Test Root');
  assert.equal(topIssuerCommonName(leaf), 'Test Intermediate');
  assert.equal(topIssuerCommonName(leaf + intermediate + root), 'Test Root');
  assert.equal(topIssuerCommonName(`${leaf}garbage\n${intermediate}`), null);
  assert.equal(topIssuerCommonName(''), null);
});

test('linkTargets: the alternate chains of a Link header, repeated or joined, resolved against the URL', () => {
  const response = (link: string | string[] | undefined): Parameters<typeof linkTargets>[0] =>
    ({ url: 'https://ca.example/cert/1', status: 200, headers: link === undefined ? {} : { link } as Record<string, string>, body: Buffer.alloc(0) });
  assert.deepEqual(linkTargets(response('<https://ca.example/dir>;rel="index", </cert/1/1>;rel="alternate", <https://ca.example/cert/1/2>; rel=alternate'), 'alternate'),
    ['https://ca.example/cert/1/1', 'https://ca.example/cert/1/2']);
  assert.deepEqual(linkTargets(response(['</cert/1/1>;rel="alternate"', '<2>;title="x, y";rel="up alternate"']), 'alternate'),
    ['https://ca.example/cert/1/1', 'https://ca.example/cert/2']);
  assert.deepEqual(linkTargets(response('<https://ca.example/dir>;rel="index"'), 'alternate'), []);
  assert.deepEqual(linkTargets(response(undefined), 'alternate'), []);
  assert.deepEqual(linkTargets(response('<http://[>;rel="alternate"'), 'alternate'), [], 'not a URL');
});
