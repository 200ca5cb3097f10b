// acme-client-server's configuration (the ACME Management Server's INI files) and its auth blocks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { parseServerConfig } from '../src/server/config.js';
import { admittingBlock, globMatches } from '../src/server/auth.js';
import { Failure } from '../src/log.js';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, prerequisite, workDir } from './helpers.js';

const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

/** The Management Server's README example, every section and key, with its [mgmt] listener. */
const FULL = `[account]
# the ACME server to talk to
acme-server = https://acme-staging-v02.api.letsencrypt.org/directory
dir = /etc/acmems/account/

[mgmt]
listener=192.0.2.13:1313
max-size = 4k
default-verification = http
default-storage = file

[verification "http"]
type = http01
listener=192.0.2.80:1380
listener=[2001:db8::80]:1380

[verification "dns"]
type = dns01-dnsUpdate
dns-server=192.0.2.53
ttl=5
timeout=30

; Storages
[storage "none"]
type = none

[storage "file"]
type = file
directory=/etc/acmems/storage
renew-within=14

[auth "mail"]
ip=192.0.2.0/24
ip=198.51.100.21
domain=mail.example.org
domain=mail.example.com

[auth "ext"]
ip=198.51.100.128/28
domain=*.test.example.org

[auth "mail-secure"]
verification = dns
storage = file
ip=198.51.100.21
hmac_type=sha256
hmac_key=A1YP67armNf3c;Brec#yJHdb035
domain=mail?.example.org
domain=mail.example.com
`;

test('the Management Server\'s example: every section and key, repeated keys as lists', () => {
  const config = parseServerConfig('/etc/acmems/acmems.ini', FULL);
  assert.equal(config.accountDir, '/etc/acmems/account/');
  assert.equal(config.acmeServer, 'https://acme-staging-v02.api.letsencrypt.org/directory');
  assert.deepEqual(config.mgmtListeners, [{ host: '192.0.2.13', port: 1313 }]);
  assert.equal(config.maxSize, 4096);
  assert.deepEqual(config.verifications, [
    { name: 'http', type: 'http01', listeners: [{ host: '192.0.2.80', port: 1380 }, { host: '2001:db8::80', port: 1380 }] },
    { name: 'dns', type: 'dns01-dnsUpdate', dnsServers: ['192.0.2.53'], ttl: 5, timeoutSeconds: 30, tsigKeyFile: null },
  ]);
  assert.deepEqual(config.auth.map((b) => [b.name, b.networks.length, b.domains, b.verification.name, b.storage.name, b.hmac?.algorithm ?? null]), [
    ['mail', 2, ['mail.example.org', 'mail.example.com'], 'http', 'file', null],
    ['ext', 1, ['*.test.example.org'], 'http', 'file', null],
    ['mail-secure', 1, ['mail?.example.org', 'mail.example.com'], 'dns', 'file', 'sha256'],
  ]);
  assert.equal(config.auth[2]?.hmac?.key.toString(), 'A1YP67armNf3c;Brec#yJHdb035', '; and # belong to the value');
  assert.deepEqual(config.auth[0]?.storage, { name: 'file', type: 'file', directory: '/etc/acmems/storage', renewWithinDays: 14 });
});

// Would fail if the block lost its resolver, or took one acme-client's --dns-server refuses.
test('a dns-persist01 block: the resolver as ADDRESS:PORT, or none for the system\'s', () => {
  const config = parseServerConfig('p.ini', '[account]\ndir=/a\n[verification "persist"]\ntype=dns-persist01\ndns-server=::1\n'
    + '[verification "system"]\ntype=dns-persist01\n[auth "x"]\ndomain=a\nverification=persist\n');
  assert.deepEqual(config.verifications.slice(0, 2), [{ name: 'persist', type: 'dns-persist01', dnsServer: '[::1]:53' }, { name: 'system', type: 'dns-persist01', dnsServer: null }]);
  assert.equal(config.auth[0]?.verification.name, 'persist');
});

// Fails if an unnamed CA were Let's Encrypt's production service, as it was before #26.
test('defaults as the Management Server has them', () => {
  const config = parseServerConfig('a.ini', '[account]\ndir=/var/lib/acme\n[auth "all"]\ndomain=*\n');
  assert.equal(config.acmeServer, 'https://acme-staging-v02.api.letsencrypt.org/directory');
  assert.deepEqual(config.mgmtListeners, [{ host: '127.0.0.1', port: 1313 }, { host: '::1', port: 1313 }]);
  assert.equal(config.maxSize, 4096);
  assert.deepEqual(config.auth[0]?.verification, { name: 'http', type: 'http01', listeners: [{ host: '0.0.0.0', port: 1380 }, { host: '::', port: 1380 }] });
  assert.deepEqual(config.auth[0]?.storage, { name: 'none', type: 'none' });
  // The only block of its kind is the default; renew-within left out means "a third of the lifetime".
  const one = parseServerConfig('b.ini', '[account]\ndir=/a\n[storage "disk"]\ntype=file\ndirectory=/c\n[verification v]\ntype=http01\nlistener=127.0.0.1:80\n[auth x]\ndomain=a\n');
  assert.deepEqual(one.auth[0]?.storage, { name: 'disk', type: 'file', directory: '/c', renewWithinDays: null });
  assert.equal(one.auth[0]?.verification.name, 'v');
});

// What the Management Server only warns about is a warning (test/acmems.test.ts); the rest fails.
test('anything not understood is one line naming file, line and key', () => {
  const base = '[account]\ndir=/var/lib/acme\n';
  const cases: [string, string][] = [
    ['[verification "v"]\ntype=tls-alpn01\n', 'f.ini:4: type: unknown verification type tls-alpn01 (http01, dns01-dnsUpdate or dns-persist01)'],
    ['[verification "v"]\ntype=dns-persist01\ndns-server=ns.example.org\n', 'f.ini:5: dns-server: not an IP address with an optional :port: ns.example.org'],
    ['[verification "v"]\ntype=dns-persist01\ndns-server=127.0.0.1\ndns-server=::1\n', 'f.ini:6: dns-server: given twice in [verification "v"] (first on line 5)'],
    ['[auth "a"]\ndomain=*\nhmac-key=k\n', 'f.ini:5: hmac-key: unknown key in [auth "a"]'],
    ['[storage "s"]\ntype=file\n', 'f.ini:3: directory: required in [storage "s"]'],
    ['[auth "a"]\ndomain=a.example\nhmac_type=md5\nhmac_key=k\n', 'f.ini:5: hmac_type: unknown HMAC type md5 (sha256, sha384, sha512)'],
    ['[auth "a"]\nhmac_key=k\n', 'f.ini:4: hmac_key: hmac_type and hmac_key go together'],
    ['[auth "a"]\nip=10.0.0.0/33\n', 'f.ini:4: ip: prefix length out of range: 10.0.0.0/33'],
    ['[auth "a"]\nip=example.org\n', 'f.ini:4: ip: not an IP address or network: example.org'],
    ['[auth "a"]\nstorage=file\n', 'f.ini:4: storage: no such storage block: file'],
    ['[mgmt]\nlistener=localhost:1313\n', 'f.ini:4: listener: not an IP address: localhost'],
    ['[mgmt]\nlistener=127.0.0.1\n', 'f.ini:4: listener: not ADDRESS:PORT or [ADDRESS]:PORT: 127.0.0.1'],
    ['[mgmt]\nmax-size=4g\n', 'f.ini:4: max-size: not a size of at most 1m (such as 4096, 4k): 4g'],
    ['[mgmt]\ndefault-storage=file\n', 'f.ini:4: default-storage: no such block: file'],
    ['[account]\n', 'f.ini:3: [account]: section given twice (first at f.ini:1)'],
    ['acme-server=https://a.example/dir\n', 'f.ini:3: acme-server: given twice in [account] (first on line 2)'],
    ['[mgmt]\nthis line has no equals sign\n', 'f.ini:4: this line has no equals sign: not a key = value line'],
  ];
  for (const [extra, line] of cases) {
    const text = extra.startsWith('acme-server') ? `[account]\nacme-server=https://b.example/dir\n${extra}dir=/x\n` : base + extra;
    assert.throws(() => parseServerConfig('f.ini', text), (err: unknown) => {
      assert.ok(err instanceof Failure, String(err));
      assert.equal(`${err.subject}: ${err.problem}`, line);
      return true;
    }, extra);
  }
  assert.throws(() => parseServerConfig('f.ini', '[mgmt]\n'), /f\.ini:1: dir: required in \[account\]/);
});

test('globs as fnmatch: * and ? cross dots, classes and negated classes', () => {
  assert.ok(globMatches('*.test.example.org', 'a.b.test.example.org'));
  assert.ok(!globMatches('*.test.example.org', 'test.example.org'));
  assert.ok(globMatches('mail?.example.org', 'mail1.example.org'));
  assert.ok(!globMatches('mail?.example.org', 'mail.example.org'));
  assert.ok(globMatches('integration*.org', 'integration-1.example.org'));
  assert.ok(globMatches('www[0-9].example.org', 'www7.example.org'));
  assert.ok(!globMatches('www[!0-9].example.org', 'www7.example.org'));
  assert.ok(!globMatches('a.example.org', 'aXexample.org'), 'a dot is a dot');
});

test('a request passes every method of one block and names only its domains', () => {
  const config = parseServerConfig('f.ini', FULL);
  const body = Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\n...\n');
  const hmac = (key: string): string => createHmac('sha256', key).update(body).digest('hex');
  const attempt = (peer: string, names: string[], authentication: string | null = null): string | null =>
    admittingBlock(config.auth, { peer, names, body, authentication })?.name ?? null;
  assert.equal(attempt('192.0.2.7', ['mail.example.org']), 'mail');
  assert.equal(attempt('::ffff:192.0.2.7', ['mail.example.org', 'mail.example.com']), 'mail', 'IPv4 through an IPv6 socket');
  assert.equal(attempt('192.0.3.7', ['mail.example.org']), null, 'outside every network');
  assert.equal(attempt('192.0.2.7', ['mail.example.org', 'www.example.org']), null, 'one name no block covers');
  assert.equal(attempt('198.51.100.130', ['x.test.example.org']), 'ext');
  assert.equal(attempt('198.51.100.130', ['x.test.example.org', 'mail.example.com']), null, 'names split over two blocks');
  // mail-secure: 198.51.100.21 is also in "mail", but mail2.example.org only in mail-secure.
  const key = 'A1YP67armNf3c;Brec#yJHdb035';
  assert.equal(attempt('198.51.100.21', ['mail2.example.org']), null, 'no Authentication header');
  assert.equal(attempt('198.51.100.21', ['mail2.example.org'], `hmac name=sha256, hash=${hmac(key)}`), 'mail-secure');
  assert.equal(attempt('198.51.100.21', ['mail2.example.org'], `hmac name=sha2-256, hash=${hmac(key)}`), 'mail-secure', 'as OpenSSL 3 names it');
  assert.equal(attempt('198.51.100.21', ['mail2.example.org'], `hmac name=sha256 hash=${hmac(key)}`), 'mail-secure', 'without the comma');
  assert.equal(attempt('198.51.100.21', ['mail2.example.org'], `hmac name=sha256, hash=${hmac('wrong')}`), null, 'wrong secret');
  assert.equal(attempt('198.51.100.21', ['mail2.example.org'], `hmac name=sha256, hash=${hmac(key).slice(0, 62)}`), null, 'short hash');
  assert.equal(attempt('198.51.100.22', ['mail2.example.org'], `hmac name=sha256, hash=${hmac(key)}`), null, 'right secret, wrong address');
});

test('contrib/systemd/acme-client-server.service passes systemd-analyze verify; SIGTERM reaches the server alone', { skip: prerequisite(existsSync(SYSTEMD_ANALYZE) ? false : `${SYSTEMD_ANALYZE} is not installed`) }, () => {
  const unit = readFileSync(join(ROOT, 'contrib', 'systemd', 'acme-client-server.service'), 'utf8');
  assert.match(unit, /^KillMode=mixed$/m);
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  const { dir } = workDir();
  writeFileSync(join(dir, 'acme-client-server.service'), unit);
  // man(1) must find the pages the unit names.
  for (const [page, section] of [['acme-client-server.8', 'man8'], ['acme-client-server.conf.5', 'man5']] as const) {
    mkdirSync(join(dir, 'man', section), { recursive: true });
    copyFileSync(join(ROOT, 'man', page), join(dir, 'man', section, page));
  }
  const verify = (file: string): { status: number | null; output: string } => {
    const run = spawnSync(SYSTEMD_ANALYZE, ['verify', file], { cwd: dir, encoding: 'utf8', env: { ...process.env, MANPATH: join(dir, 'man'), SYSTEMD_LOG_LEVEL: 'notice' } });
    return { status: run.status, output: run.stdout + run.stderr };
  };
  assert.deepEqual(verify('acme-client-server.service'), { status: 0, output: '' });
  writeFileSync(join(dir, 'typo.service'), unit.replace('KillMode=', 'KilMode='));
  assert.match(verify('typo.service').output, /Unknown key 'KilMode'/, 'the check can fail');
});
