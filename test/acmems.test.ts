// ACME Management Server (ACMEMS) users moving over: its answers, its configurations, its start-up,
// written here in its style (its own files are not copied).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { admittingBlock } from '../src/server/auth.js';
import { parseServerConfig, parseServerConfigs } from '../src/server/config.js';
import { acmemsLayout } from '../src/server/orders.js';
import { Failure } from '../src/log.js';
import { ROOT, eventually, openssl, prerequisite, workDir } from './helpers.js';

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

// Fails if [logging] were an unknown section again, its values went unchecked, or a Python
// logging file were read past.
test('[logging]: destination and level read; a Python logging file refused in one line', () => {
  const base = '[account]\ndir = /a\n[logging]\n';
  const config = parseServerConfig('l.ini', `${base}destination = stdout\nlevel = INFO\nformat = %(message)s\n`);
  assert.deepEqual(config.logging, { destination: 'stdout', level: 'info' });
  assert.deepEqual(config.warnings.map((w) => `${w.subject}: ${w.problem}`), ['l.ini:6: format: unknown key in [logging], ignored']);
  assert.deepEqual(parseServerConfig('l.ini', '[account]\ndir = /a\n').logging, { destination: 'stderr', level: 'warning' });
  for (const [line, said] of [
    ['config = /etc/acmems/logging.ini', 'l.ini:4: config: a Python logging configuration file cannot be read here: use destination = stderr|stdout|syslog and level = debug|info|warning|error'],
    ['destination = file', 'l.ini:4: destination: not stderr, stdout, syslog: file'],
    ['level = verbose', 'l.ini:4: level: not debug, info, warning, error: verbose'],
  ] as const) {
    assert.throws(() => parseServerConfig('l.ini', `${base}${line}\n`), (err: unknown) => err instanceof Failure && `${err.subject}: ${err.problem}` === said, line);
  }
});

/** A configuration -t passes, with one warning (line 4), and [logging] as given. */
function loggingConfig(dir: string, logging: string): string {
  const account = join(dir, 'account');
  mkdirSync(account, { recursive: true });
  writeFileSync(join(account, 'account.pem'), 'not read by -t\n');
  const file = join(dir, `${logging.replace(/\W+/g, '-')}.ini`);
  writeFileSync(file, `[account]\ndir = ${account}\n[mgmt]\nmgmt = 127.0.0.1:1313\n[logging]\n${logging}\n[auth "x"]\ndomain = *\n`);
  return file;
}

// Fails if destination = stdout still wrote to stderr, or level = error let warnings through.
test('[logging] destination = stdout and level = error, seen through -t', () => {
  const w = workDir();
  const toStdout = loggingConfig(w.dir, 'destination = stdout');
  const out = spawnSync(process.execPath, [SERVER, '-t', '-f', toStdout], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stderr, '');
  assert.equal(out.stdout, `acme-client-server: ${toStdout}:4: mgmt: unknown key in [mgmt], ignored\nacme-client-server: ${toStdout}: configuration ok\n`);
  const errorsOnly = loggingConfig(w.dir, 'level = error');
  const quiet = runServer(['-t', '-f', errorsOnly]);
  assert.deepEqual(quiet, { status: 0, stderr: '' });
  rmSync(join(w.dir, 'account', 'account.pem'));
  const failing = runServer(['-t', '-f', errorsOnly]);
  assert.equal(failing.status, 1);
  assert.match(failing.stderr, /^acme-client-server: \S+account\.pem: no account key: make one with acme-client-server --register --agree-tos -f \S+\n$/);
});

// Fails if syslog were not written, or without each line's priority (daemon.warning is <28>).
// /dev/log is this test's socket in a mount namespace of the server's own.
test('[logging] destination = syslog: each line to /dev/log through logger(1), with its priority', { skip: prerequisite(process.getuid?.() === 0 ? false : 'needs root for a mount namespace') }, async () => {
  const w = workDir();
  const file = loggingConfig(w.dir, 'destination = syslog');
  const socket = join(w.dir, 'log');
  let received = '';
  const syslog = createServer((connection) => connection.setEncoding('utf8').on('data', (text: string) => (received += text)));
  await new Promise<void>((resolve) => syslog.listen(socket, resolve));
  try {
    const realDev = join(w.dir, 'dev');
    mkdirSync(realDev);
    const script = `mount --bind /dev ${realDev} && mount -t tmpfs none /dev && touch /dev/null && mount --bind ${realDev}/null /dev/null && ln -s ${socket} /dev/log && exec "$@"`;
    const run = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, SERVER, '-t', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    assert.deepEqual(run, { status: 0, stderr: '' });
    assert.ok(await eventually(() => received.includes('configuration ok')), received);
    const lines = received.trim().split('\n');
    assert.equal(lines.length, 2, received);
    assert.match(lines[0] as string, new RegExp(`^<28>.* acme-client-server\\[\\d+\\]: ${file}:4: mgmt: unknown key in \\[mgmt\\], ignored$`));
    assert.match(lines[1] as string, new RegExp(`^<28>.* acme-client-server\\[\\d+\\]: ${file}: configuration ok$`));
  } finally {
    syslog.close();
  }
});

// Fails if a relative dir or directory were refused again, resolved against anything but the
// working directory, or taken without a word.
test('relative paths: against the working directory, as ACMEMS takes them, with a warning naming the absolute path', () => {
  const config = parseServerConfig('r.ini', '[account]\ndir = account\n[storage "disk"]\ntype = file\ndirectory = ./cache/certs\n[auth "x"]\ndomain = *\n');
  assert.equal(config.accountDir, join(process.cwd(), 'account'));
  assert.deepEqual(config.auth[0]?.storage, { name: 'disk', type: 'file', directory: join(process.cwd(), 'cache/certs'), renewWithinDays: null });
  assert.deepEqual(config.warnings.map((w) => `${w.subject}: ${w.problem}`), [
    `r.ini:2: dir: relative path account, taken as ${join(process.cwd(), 'account')} (against the working directory)`,
    `r.ini:5: directory: relative path ./cache/certs, taken as ${join(process.cwd(), 'cache/certs')} (against the working directory)`,
  ]);
});

// Fails if the files were not read as one (a block in the second naming one in the first), if a
// problem named the wrong file or line, or if a section could be given in two files.
test('several files are read in order as one, each line still named by its own file', () => {
  const first = { file: 'main.ini', text: '[account]\ndir = /a\n[verification "dns"]\ntype = dns01-dnsUpdate\n' };
  const config = parseServerConfigs([first, { file: 'clients.ini', text: '[auth "x"]\nverification = dns\ndomain = *.example.test\n' }]);
  assert.equal(config.auth[0]?.verification.name, 'dns');
  assert.equal(config.file, 'main.ini clients.ini');
  assert.throws(() => parseServerConfigs([first, { file: 'clients.ini', text: '[auth "x"]\nverification = dns\nhttp = 1\n' }]),
    (err: unknown) => err instanceof Failure && `${err.subject}: ${err.problem}` === 'clients.ini:3: http: unknown key in [auth "x"]');
  assert.throws(() => parseServerConfigs([first, { file: 'more.ini', text: '\n[account]\ndir = /b\n' }]),
    (err: unknown) => err instanceof Failure && `${err.subject}: ${err.problem}` === 'more.ini:2: [account]: section given twice (first at main.ini:1)');
});

// Fails if -f took one file only, or the relative account dir were not found from the working directory.
test('-t -f CONFIG...: the files in order as one, relative paths from the working directory', () => {
  const w = workDir();
  mkdirSync(join(w.dir, 'account'));
  writeFileSync(join(w.dir, 'account', 'account.pem'), 'not read by -t\n');
  writeFileSync(join(w.dir, 'main.ini'), '[account]\ndir = account\n');
  writeFileSync(join(w.dir, 'clients.ini'), '[auth "x"]\ndomain = *.example.test\n');
  const run = spawnSync(process.execPath, [SERVER, '-t', '-f', 'main.ini', 'clients.ini'], { encoding: 'utf8', cwd: w.dir });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, `acme-client-server: main.ini:2: dir: relative path account, taken as ${join(w.dir, 'account')} (against the working directory)\n`
    + 'acme-client-server: main.ini clients.ini: configuration ok\n');
  const twice = spawnSync(process.execPath, [SERVER, '-t', '-f', 'main.ini', '-f', 'clients.ini'], { encoding: 'utf8', cwd: w.dir });
  assert.equal(twice.status, 1);
  assert.match(twice.stderr, /^acme-client-server: -f is given once, followed by every configuration file\n/);
});
