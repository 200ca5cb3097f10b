// ACME Management Server (ACMEMS) users moving over: its answers, its configurations, its start-up,
// written here in its style (its own files are not copied).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { admittingBlock } from '../src/server/auth.js';
import { parseServerConfig } from '../src/server/config.js';
import { acmemsLayout } from '../src/server/orders.js';
import { Failure } from '../src/log.js';
import { ROOT, openssl, workDir } from './helpers.js';

const SERVER = join(ROOT, 'dist', 'acme-client-server.js');

/** n self-signed certificates (what they sign does not matter to the layout), as one PEM text. */
function certificates(n: number): string[] {
  const w = workDir();
  return Array.from({ length: n }, (_, i) => {
    const key = join(w.dir, `k${i}.pem`);
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    return openssl(['req', '-x509', '-new', '-key', key, '-subj', `/CN=cert${i}.example.test`, '-days', '1']);
  });
}

// Fails if the answer goes back as fullchain.pem has it (no empty line), or with an empty line
// between the chain's own certificates too.
test('the 200 answer: the certificate, an empty line, the chain; a client splitting at the first empty line gets both', () => {
  const [leaf, first, second] = certificates(3) as [string, string, string];
  const answer = acmemsLayout(leaf + first + second);
  assert.equal(answer, `${leaf}\n${first}${second}`);
  const [certificate, chain, ...more] = answer.split('\n\n');
  assert.deepEqual(more, []);
  assert.equal(new X509Certificate(certificate as string).subject, 'CN=cert0.example.test');
  assert.equal(new X509Certificate(chain as string).subject, 'CN=cert1.example.test');
  // ACMEMS's own test: a leaf with one issuer splits in exactly two.
  assert.equal(acmemsLayout(leaf + first).split('\n\n').length, 2);
  assert.equal(acmemsLayout(leaf), leaf, 'no chain: no empty line');
});

// Fails if [auth] stops knowing `all`, or if `all = yes` lifted the block's domains.
test('[auth] all = yes admits every client, still for the block\'s domains alone', () => {
  const config = parseServerConfig('all.ini', '[account]\ndir = /var/lib/acmems\n[auth "everyone"]\nall = yes\ndomain = *.open.example.test\n');
  const attempt = (peer: string, names: string[]): string | null =>
    admittingBlock(config.auth, { peer, authentication: null, body: Buffer.from('csr'), names })?.name ?? null;
  assert.equal(attempt('203.0.113.9', ['a.open.example.test']), 'everyone');
  assert.equal(attempt('2001:db8::9', ['b.open.example.test']), 'everyone');
  assert.equal(attempt('203.0.113.9', ['a.closed.example.test']), null);
  assert.throws(() => parseServerConfig('all.ini', '[account]\ndir = /a\n[auth "x"]\nall = no\ndomain = *\n'),
    (err: unknown) => err instanceof Failure && `${err.subject}: ${err.problem}` === 'all.ini:4: all: not "yes": no (all = yes admits every client)');
});

/** An ACMEMS-style configuration with what ACMEMS reads past: an old [listeners] section, misplaced keys. */
const LENIENT = `stray = 1
[account]
dir = /var/lib/acmems
email = hostmaster@example.test

[listeners]
http = 127.0.0.1:1380

[mgmt]
mgmt = 127.0.0.1:1313
listener = 127.0.0.1:1313

[verification "dns"]
type = dns01-dnsUpdate
listener = 127.0.0.1:1380

[storage "none"]
type = none
directory = /tmp

[auth "local"]
ip = 127.0.0.1
domain = *.example.test
`;

// Fails if any of these becomes an error again, or is read past without a word.
test('what ACMEMS only warns about is a warning with file and line, and the rest is read', () => {
  const config = parseServerConfig('lenient.ini', LENIENT);
  assert.deepEqual(config.warnings.map((w) => `${w.subject}: ${w.problem}`), [
    'lenient.ini:1: stray: before the first section, ignored',
    'lenient.ini:6: [listeners]: unknown section, ignored',
    'lenient.ini:4: email: unknown key in [account], ignored',
    'lenient.ini:10: mgmt: unknown key in [mgmt], ignored',
    'lenient.ini:15: listener: unknown key in [verification "dns"], ignored',
    'lenient.ini:19: directory: unknown key in [storage "none"], ignored',
  ]);
  assert.deepEqual(config.mgmtListeners, [{ host: '127.0.0.1', port: 1313 }]);
  assert.equal(config.auth[0]?.verification.type, 'dns01-dnsUpdate');
});

// Fails if an unknown key in [auth] were only warned about: the block would be read without it.
test('in [auth] an unknown key stays an error: a misspelt hmac_key must not leave the block open', () => {
  const text = LENIENT.replace('ip = 127.0.0.1', 'ip = 127.0.0.1\nhmac_type = sha256\nhmac-key = secret');
  assert.throws(() => parseServerConfig('lenient.ini', text),
    (err: unknown) => err instanceof Failure && `${err.subject}: ${err.problem}` === 'lenient.ini:24: hmac-key: unknown key in [auth "local"]');
});

// Fails if the test-only types were accepted, or refused without saying what to use.
test('ACMEMS\'s test-only verification types are refused, saying so and what to use', () => {
  for (const type of ['dns01-boulder', 'dns01-server']) {
    assert.throws(() => parseServerConfig('t.ini', `[account]\ndir = /a\n[verification "test"]\ntype = ${type}\n`), (err: unknown) =>
      err instanceof Failure && `${err.subject}: ${err.problem}` === `t.ini:4: type: ${type} is documented by the ACME Management Server as for its tests only: use dns01-dnsUpdate (a DNS server taking RFC 2136 updates) or http01`);
  }
});

function runServer(args: string[]): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, [SERVER, ...args], { encoding: 'utf8' });
  return { status: run.status, stderr: run.stderr };
}

// Fails if -t started the service (the port held here makes a bind fail), made or registered the
// account, stopped at the first problem, or said nothing of the warnings.
test('-t checks the configuration and exits: 0, or 1 with every problem, one per line; no port bound, the account untouched', async () => {
  const w = workDir();
  const account = join(w.dir, 'account');
  mkdirSync(account);
  const held = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  try {
    const port = (held.address() as AddressInfo).port;
    const good = join(w.dir, 'good.ini');
    writeFileSync(good, LENIENT.replace('/var/lib/acmems', account).replace(/127\.0\.0\.1:1313/g, `127.0.0.1:${port}`));
    writeFileSync(join(account, 'account.pem'), 'not read by -t\n');
    const ok = runServer(['-t', '-f', good]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /good\.ini:10: mgmt: unknown key in \[mgmt\], ignored\n/);
    assert.match(ok.stderr, new RegExp(`${good}: configuration ok\\n$`));
    assert.equal(readFileSync(join(account, 'account.pem'), 'utf8'), 'not read by -t\n');

    const bad = join(w.dir, 'bad.ini');
    writeFileSync(bad, `[account]\ndir = ${account}\n[mgmt]\nmax-size = 4g\n[verification "b"]\ntype = dns01-boulder\n[auth "x"]\nhmac-key = k\ndomain = *\n[auth "y"]\nip = 10.0.0.0/33\ndomain = *\n`);
    const refused = runServer(['-t', '-f', bad]);
    assert.equal(refused.status, 1);
    assert.deepEqual(refused.stderr.trim().split('\n').map((line) => line.replace(/^acme-client-server: [^:]*bad\.ini:/, '')), [
      '4: max-size: not a size of at most 1m (such as 4096, 4k): 4g',
      '6: type: dns01-boulder is documented by the ACME Management Server as for its tests only: use dns01-dnsUpdate (a DNS server taking RFC 2136 updates) or http01',
      '8: hmac-key: unknown key in [auth "x"]',
      '11: ip: prefix length out of range: 10.0.0.0/33',
    ]);

    const places = join(w.dir, 'places.ini');
    const noAccount = join(w.dir, 'none');
    writeFileSync(places, `[account]\ndir = ${noAccount}\n[storage "f"]\ntype = file\ndirectory = ${join(w.dir, 'missing')}\n[auth "x"]\ndomain = *\n`);
    const missing = runServer(['-t', '-f', places]);
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 2, missing.stderr);
    assert.match(missing.stderr, /none\/account\.pem: no account key/);
    assert.match(missing.stderr, /missing: storage "f": directory must exist and be writable/);
    assert.equal(existsSync(noAccount), false, 'no account made');
  } finally {
    held.close();
  }
});
