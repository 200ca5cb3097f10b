import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { KeyError, domainKeyKind, generateKeyPem, keyDescription, keyTypeDescription, parseAccountKey, parsePrivateKey } from '../src/x509/keys.js';
import { generateKeyPairSync } from 'node:crypto';
import { KEY_TYPES } from '../src/x509/keytypes.js';

let workDir = '';

before(() => {
  workDir = mkdtempSync(join(tmpdir(), 'acme-keys-test-'));
});
after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** Runs `openssl command ...args`, writing to `file` in the work directory; returns the file's text. */
function openssl(file: string, [command, ...args]: string[]): string {
  const path = join(workDir, file);
  // -out goes right after the command: genrsa wants the bit count last.
  execFileSync('openssl', [command ?? 'version', '-out', path, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return readFileSync(path, 'utf8');
}

function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

/** Asserts that parsing throws a KeyError for `subject` whose problem matches `problem`. */
function assertRejected(pem: string, problem: RegExp): void {
  assert.throws(
    () => parsePrivateKey(pem, '/etc/acme/bad.key'),
    (err: unknown) => {
      assert.ok(err instanceof KeyError, `expected KeyError, got ${String(err)}`);
      assert.ok(err instanceof Error);
      assert.equal(err.subject, '/etc/acme/bad.key');
      assert.match(err.problem, problem);
      assert.equal(err.message, `/etc/acme/bad.key: ${err.problem}`);
      return true;
    },
  );
}

test('PKCS#1 RSA key', () => {
  const pem = openssl('pkcs1.pem', ['genrsa', '-traditional', '2048']);
  assert.match(pem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
  const key = parsePrivateKey(pem, 'pkcs1.pem');
  assert.equal(key.type, 'private');
  assert.equal(keyDescription(key), 'RSA 2048');
  assert.equal(domainKeyKind(key), 'rsa');
});

test('PKCS#8 RSA and EC keys', () => {
  const rsaPem = openssl('pkcs8-rsa.pem', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072']);
  assert.match(rsaPem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.equal(keyDescription(parsePrivateKey(rsaPem, 'pkcs8-rsa.pem')), 'RSA 3072');

  const ecPem = openssl('pkcs8-ec.pem', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']);
  assert.match(ecPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const ec = parsePrivateKey(ecPem, 'pkcs8-ec.pem');
  assert.equal(keyDescription(ec), 'EC P-384');
  assert.equal(domainKeyKind(ec), 'ec-p384');
});

test('SEC1 EC keys, with and without an EC PARAMETERS block', () => {
  for (const [curve, description, kind] of [
    ['prime256v1', 'EC P-256', 'ec-p256'],
    ['secp384r1', 'EC P-384', 'ec-p384'],
  ] as const) {
    const withParameters = openssl(`sec1-params-${curve}.pem`, ['ecparam', '-name', curve, '-genkey']);
    assert.match(withParameters, /^-----BEGIN EC PARAMETERS-----\n[\s\S]*-----BEGIN EC PRIVATE KEY-----\n/);
    const keyWithParameters = parsePrivateKey(withParameters, 'with-params.pem');
    assert.equal(keyDescription(keyWithParameters), description);
    assert.equal(domainKeyKind(keyWithParameters), kind);
    // The same key as the EC PRIVATE KEY block alone.
    const keyBlock = withParameters.slice(withParameters.indexOf('-----BEGIN EC PRIVATE KEY-----'));
    assert.deepEqual(spkiOf(parsePrivateKey(keyBlock, 'block.pem')), spkiOf(keyWithParameters));

    const keyOnly = openssl(`sec1-${curve}.pem`, ['ecparam', '-name', curve, '-genkey', '-noout']);
    assert.match(keyOnly, /^-----BEGIN EC PRIVATE KEY-----\n/);
    assert.equal(keyDescription(parsePrivateKey(keyOnly, 'sec1.pem')), description);
  }
});

test('CRLF line endings are accepted', () => {
  const pem = openssl('crlf.pem', ['ecparam', '-name', 'prime256v1', '-genkey']);
  assert.equal(keyDescription(parsePrivateKey(pem.replace(/\n/g, '\r\n'), 'crlf.pem')), 'EC P-256');
});

test('encrypted keys are rejected with a clear problem', () => {
  const pkcs8 = openssl('encrypted.pem', ['genrsa', '-aes256', '-passout', 'pass:x', '2048']);
  assert.match(pkcs8, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
  assertRejected(pkcs8, /^key is encrypted; a passphrase-protected key cannot be used$/);

  const traditional = openssl('encrypted-trad.pem', ['genrsa', '-traditional', '-aes256', '-passout', 'pass:x', '2048']);
  assert.match(traditional, /Proc-Type: 4,ENCRYPTED/);
  assertRejected(traditional, /^key is encrypted/);
});

test('unsupported key types are rejected', () => {
  assertRejected(openssl('ed25519.pem', ['genpkey', '-algorithm', 'ed25519']), /^unsupported key type ED25519 \(use RSA or EC P-256\/P-384\)$/);
  assertRejected(openssl('rsa1024.pem', ['genrsa', '1024']), /^unsupported key type RSA 1024 \(RSA keys need at least 2048 bits\)$/);
  assertRejected(openssl('p521.pem', ['ecparam', '-name', 'secp521r1', '-genkey', '-noout']), /^unsupported key type EC P-521 /);
  assertRejected(openssl('secp256k1.pem', ['ecparam', '-name', 'secp256k1', '-genkey', '-noout']), /^unsupported key type EC secp256k1 /);
});

test('public keys, empty input, garbage and damaged keys are rejected', () => {
  const privatePem = openssl('for-public.pem', ['genrsa', '2048']);
  const publicPem = execFileSync('openssl', ['pkey', '-pubout'], { input: privatePem }).toString('utf8');
  assert.match(publicPem, /^-----BEGIN PUBLIC KEY-----\n/);
  assertRejected(publicPem, /^file holds a public key, not a private key$/);

  assertRejected('', /^key file is empty$/);
  assertRejected(' \n\t\n', /^key file is empty$/);
  assertRejected('this is not a key\n', /^no PEM private key found$/);
  assertRejected(Buffer.from([0x30, 0x82, 0x01, 0x00, 0xff, 0x00]).toString('latin1'), /^no PEM private key found$/);

  const certificate = openssl('cert.pem', ['req', '-x509', '-key', join(workDir, 'for-public.pem'), '-subj', '/CN=x', '-days', '1']);
  assertRejected(certificate, /^no private key found \(PEM blocks: CERTIFICATE\)$/);

  // A private key block whose body has been damaged.
  const lines = privatePem.split('\n');
  lines[3] = 'A'.repeat(64);
  lines[4] = '!!!!';
  assertRejected(lines.join('\n'), /^cannot parse private key: /);
  assertRejected('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', /^cannot parse private key: /);
});

test('keyDescription', async () => {
  const generate = promisify(generateKeyPair);
  assert.equal(keyDescription((await generate('rsa', { modulusLength: 2048 })).privateKey), 'RSA 2048');
  assert.equal(keyDescription((await generate('ec', { namedCurve: 'P-256' })).privateKey), 'EC P-256');
  assert.equal(keyDescription((await generate('ec', { namedCurve: 'P-384' })).publicKey), 'EC P-384');
  assert.equal(keyDescription((await generate('ed25519')).privateKey), 'ED25519');
});

test('generateKeyPem makes a PKCS#8 key of each type that parses back as that type', async () => {
  const described = { rsa2048: 'RSA 2048', rsa3072: 'RSA 3072', rsa4096: 'RSA 4096', ec256: 'EC P-256', ec384: 'EC P-384' };
  for (const type of KEY_TYPES) {
    const pem = await generateKeyPem(type);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/, type);
    const key = parsePrivateKey(pem, 'generated');
    assert.equal(keyDescription(key), described[type], type);
    assert.equal(keyTypeDescription(type), described[type], type);
    if (key.asymmetricKeyType === 'rsa') {
      assert.equal(key.asymmetricKeyDetails?.publicExponent, 65537n);
      // openssl agrees it is a consistent RSA key.
      assert.match(execFileSync('openssl', ['rsa', '-check', '-noout'], { input: pem }).toString('utf8'), /RSA key ok/);
    } else {
      // openssl ec -check says so on stderr.
      const check = spawnSync('openssl', ['ec', '-check', '-noout'], { input: pem, encoding: 'utf8' });
      assert.equal(check.status, 0, check.stderr);
      assert.match(check.stderr, /EC Key valid/);
    }
  }
});

// certbot keeps its account key as a JSON Web Key (private_key.json). Would fail if -f read PEM only,
// if a public JWK or a symmetric one were taken for an account key, or if an error quoted the file.
test('parseAccountKey: a JSON Web Key, RSA or EC, as certbot keeps it; the same key as its PEM', () => {
  for (const [type, options] of [['rsa', { modulusLength: 2048 }], ['ec', { namedCurve: 'P-256' }], ['ec', { namedCurve: 'P-384' }]] as const) {
    const { privateKey } = generateKeyPairSync(type as 'rsa', options as { modulusLength: number });
    const jwk = privateKey.export({ format: 'jwk' });
    const key = parseAccountKey(JSON.stringify(jwk), 'private_key.json');
    assert.deepEqual(key.export({ format: 'jwk' }), jwk);
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    assert.deepEqual(parseAccountKey(pem, 'account.pem').export({ format: 'jwk' }), jwk, 'PEM as before');
  }
});

test('parseAccountKey: what is not a private RSA or EC JSON Web Key is refused in one line, the key never quoted', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const secret = jwk.d as string;
  const { d: _dropped, ...publicOnly } = jwk;
  const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey.export({ format: 'jwk' });
  const refused: [string, RegExp][] = [
    [JSON.stringify(publicOnly), /^file holds a public JSON Web Key, not a private key$/],
    [JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' }), /^unsupported JSON Web Key type oct \(use RSA or EC\)$/],
    [`{"kty": "EC", "d": "${secret}"`, /^not a JSON Web Key: malformed JSON$/],
    ['{}', /^unsupported JSON Web Key type \(none\)/],
    [JSON.stringify({ ...jwk, x: 'AAAA' }), /^cannot parse JSON Web Key: /],
    [JSON.stringify(p521), /^unsupported key type EC P-521 /],
  ];
  for (const [text, problem] of refused) {
    assert.throws(() => parseAccountKey(text, 'private_key.json'), (err: unknown) => {
      assert.ok(err instanceof KeyError);
      assert.equal(err.subject, 'private_key.json');
      assert.match(err.problem, problem);
      assert.ok(!err.problem.includes(secret), 'the private key is never quoted');
      return true;
    });
  }
});
