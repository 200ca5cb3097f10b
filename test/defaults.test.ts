import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Options } from '../src/args.js';
import { DEFAULT_CERT_FILES, LETSENCRYPT, LETSENCRYPT_STAGING, directoryUrl, resolvePaths, trustStore } from '../src/defaults.js';
import { Failure } from '../src/log.js';

function options(fields: Partial<Options> = {}): Options {
  return {
    backup: false, expand: false, force: false, multiDir: false, newAccountKey: false,
    newDomainKey: false, mustStaple: false, revoke: false, staging: false, verbose: 0, register: false, persistRecords: false, isolationReport: false, version: false, help: false, noAri: false, dated: false,
    names: ['example.org'], ...fields,
  };
}

test('resolvePaths: the man page defaults', () => {
  assert.deepEqual(resolvePaths(options(), 'example.org'), {
    certDir: '/etc/ssl/acme',
    certFiles: { cert: 'cert.pem', chain: 'chain.pem', fullchain: 'fullchain.pem', state: 'acme-client-state.json' },
    challengeDir: '/var/www/acme',
    domainKey: '/etc/ssl/acme/private/privkey.pem',
    accountKey: '/etc/acme/privkey.pem',
  });
});

test('resolvePaths: -m puts each default under the first name, but not the challenge dir', () => {
  assert.deepEqual(resolvePaths(options({ multiDir: true, names: ['example.org', 'www.example.org'] }), 'example.org'), {
    certDir: '/etc/ssl/acme/example.org',
    certFiles: DEFAULT_CERT_FILES,
    challengeDir: '/var/www/acme',
    domainKey: '/etc/ssl/acme/private/example.org/privkey.pem',
    accountKey: '/etc/acme/example.org/privkey.pem',
  });
});

test('resolvePaths: -m uses the name it is given', () => {
  const paths = resolvePaths(options({ multiDir: true, names: ['a.example', 'b.example'] }), 'b.example');
  assert.equal(paths.certDir, '/etc/ssl/acme/b.example');
  assert.equal(paths.accountKey, '/etc/acme/b.example/privkey.pem');
});

test('resolvePaths: given paths are used as given, with or without -m', () => {
  const given = { certDir: '/srv/certs', challengeDir: '/srv/www', domainKey: '/srv/keys/domain.pem', accountKey: '/srv/keys/account.pem' };
  for (const multiDir of [false, true]) {
    assert.deepEqual(resolvePaths(options({ multiDir, ...given }), 'example.org'), { ...given, certFiles: DEFAULT_CERT_FILES }, `multiDir=${multiDir}`);
  }
});

test('resolvePaths: each given path is independent of the others under -m', () => {
  assert.deepEqual(resolvePaths(options({ multiDir: true, certDir: '/srv/certs' }), 'example.org'), {
    certDir: '/srv/certs',
    certFiles: DEFAULT_CERT_FILES,
    challengeDir: '/var/www/acme',
    domainKey: '/etc/ssl/acme/private/example.org/privkey.pem',
    accountKey: '/etc/acme/example.org/privkey.pem',
  });
  assert.deepEqual(resolvePaths(options({ multiDir: true, accountKey: '/srv/account.pem' }), 'example.org'), {
    certDir: '/etc/ssl/acme/example.org',
    certFiles: DEFAULT_CERT_FILES,
    challengeDir: '/var/www/acme',
    domainKey: '/etc/ssl/acme/private/example.org/privkey.pem',
    accountKey: '/srv/account.pem',
  });
});

test('directoryUrl: Let\'s Encrypt v2 production by default', () => {
  assert.equal(LETSENCRYPT, 'https://acme-v02.api.letsencrypt.org/directory');
  assert.equal(directoryUrl(options()), 'https://acme-v02.api.letsencrypt.org/directory');
});

test('directoryUrl: staging with -s', () => {
  assert.equal(LETSENCRYPT_STAGING, 'https://acme-staging-v02.api.letsencrypt.org/directory');
  assert.equal(directoryUrl(options({ staging: true })), 'https://acme-staging-v02.api.letsencrypt.org/directory');
});

test('directoryUrl: --server wins over the default and over -s', () => {
  const server = 'https://ca.example.net:14000/dir';
  assert.equal(directoryUrl(options({ server })), server);
  assert.equal(directoryUrl(options({ server, staging: true })), server);
});

const NOT_A_CA = 'not an https URL nor the name of a CA (letsencrypt, letsencrypt-staging, zerossl, google, google-staging)';
const PLAIN_HTTP = 'plain http is for a CA on this host\'s loopback only (127.0.0.0/8, ::1, localhost); use https';

function refuses(server: string, problem = NOT_A_CA): void {
  for (const staging of [false, true]) {
    assert.throws(() => directoryUrl(options({ server, staging })), (error: unknown) => {
      assert.ok(error instanceof Failure, `${server}: ${String(error)}`);
      assert.equal(error.subject, server);
      assert.equal(error.problem, problem);
      return true;
    }, server);
  }
}

// Fails if plain http were taken for a CA across a network, or refused for a test CA on this host.
test('directoryUrl: http:// is refused, but for a CA on the loopback', () => {
  refuses('http://acme-v02.api.letsencrypt.org/directory', PLAIN_HTTP);
  refuses('http://192.0.2.1:4001/directory', PLAIN_HTTP);
  refuses('http://128.0.0.1:4001/directory', PLAIN_HTTP);
  for (const server of ['http://localhost:14000/dir', 'http://127.0.0.1:4001/directory', 'http://127.3.2.1/dir', 'http://[::1]:4001/directory']) {
    assert.equal(directoryUrl(options({ server })), server);
  }
});

test('directoryUrl: garbage is refused', () => {
  refuses('garbage');
  refuses('');
  refuses('acme-v02.api.letsencrypt.org/directory');
  refuses('ftp://ca.example.net/dir');
  refuses('https//missing-colon.example/dir');
});

test('directoryUrl: --server takes the name of a CA for its directory; -s is the name letsencrypt-staging', () => {
  const expected = {
    letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
    'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
    zerossl: 'https://acme.zerossl.com/v2/DV90',
    google: 'https://dv.acme-v02.api.pki.goog/directory',
    'google-staging': 'https://dv.acme-v02.test-api.pki.goog/directory',
  };
  for (const [name, url] of Object.entries(expected)) {
    assert.equal(directoryUrl(options({ server: name })), url, name);
    assert.equal(directoryUrl(options({ server: name, staging: true })), url, `${name} with -s`);
  }
  assert.equal(directoryUrl(options({ staging: true })), expected['letsencrypt-staging']);
  // Names are exact: anything else must be a URL.
  refuses('LetsEncrypt');
  refuses('toString');
  refuses('__proto__');
});

test('trustStore: SSL_CERT_FILE, and SSL_CERT_DIR as a colon-separated list', () => {
  assert.deepEqual(trustStore({}), { file: null, dirs: [] });
  assert.deepEqual(trustStore({ SSL_CERT_FILE: '', SSL_CERT_DIR: '' }), { file: null, dirs: [] });
  assert.deepEqual(trustStore({ SSL_CERT_FILE: '/etc/ca.pem', SSL_CERT_DIR: '/a::/b' }), { file: '/etc/ca.pem', dirs: ['/a', '/b'] });
});
