import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, createPublicKey, generateKeyPair, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

import { accountAlg, base64url, externalAccountBinding, publicJwk, signJws, thumbprint } from '../src/acme/jws.js';

const generateKeyPairAsync = promisify(generateKeyPair);

// Async generation throughout: sync EC generation followed by a JWK export can deadlock on Node 20.
async function rsaKey(bits = 2048): Promise<KeyObject> {
  return (await generateKeyPairAsync('rsa', { modulusLength: bits })).privateKey;
}
async function ecKey(namedCurve: 'P-256' | 'P-384' | 'P-521'): Promise<KeyObject> {
  return (await generateKeyPairAsync('ec', { namedCurve })).privateKey;
}
async function ed25519Key(): Promise<KeyObject> {
  return (await generateKeyPairAsync('ed25519')).privateKey;
}

function decodeJson(b64: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(b64, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The uncompressed point 04 || x || y that ends an EC SPKI. */
function uncompressedPoint(key: KeyObject, coordinateBytes: number): Buffer {
  const spki = spkiOf(key);
  return spki.subarray(spki.length - (1 + 2 * coordinateBytes));
}

function spkiOf(key: KeyObject): Buffer {
  // createPublicKey refuses a public KeyObject on Node 20.
  return (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
}

// RFC 7638 §3.1, with the alg and kid members the thumbprint must ignore.
const RFC7638_JWK = {
  kty: 'RSA',
  n:
    '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
  alg: 'RS256',
  kid: '2011-04-29',
};
const RFC7638_THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

test('thumbprint of the RFC 7638 §3.1 example', () => {
  assert.equal(thumbprint(RFC7638_JWK), RFC7638_THUMBPRINT);
});

test('thumbprint ignores member order and refuses incomplete or unknown JWKs', () => {
  const { kty, n, e } = RFC7638_JWK;
  assert.equal(thumbprint({ n, kty, e }), RFC7638_THUMBPRINT);
  assert.throws(() => thumbprint({ kty, n }), /lacks required member "e"/);
  assert.throws(() => thumbprint({ kty: 'oct', k: 'AAAA' }), /unsupported JWK key type/);
  assert.throws(() => thumbprint({ n, e }), /unsupported JWK key type/);
});

test('thumbprint of an EC key hashes {crv,kty,x,y} in that order', async () => {
  const jwk = publicJwk(await ecKey('P-256'));
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  assert.equal(thumbprint(jwk), createHash('sha256').update(canonical).digest('base64url'));
});

test('base64url has no padding and uses the URL-safe alphabet', () => {
  assert.equal(base64url(''), '');
  assert.equal(base64url(Buffer.from([0xfb, 0xff])), '-_8');
  assert.equal(base64url('{"a":1}'), Buffer.from('{"a":1}').toString('base64').replace(/=+$/, ''));
  assert.equal(base64url('é'), 'w6k');
});

test('accountAlg by key type', async () => {
  const rsa = await rsaKey();
  assert.equal(accountAlg(rsa), 'RS256');
  assert.equal(accountAlg(createPublicKey(rsa)), 'RS256');
  assert.equal(accountAlg(await ecKey('P-256')), 'ES256');
  assert.equal(accountAlg(await ecKey('P-384')), 'ES384');
  await assert.rejects(async () => accountAlg(await ecKey('P-521')), /^Error: unsupported account key type: ec secp521r1$/);
  await assert.rejects(async () => accountAlg(await ed25519Key()), /^Error: unsupported account key type: ed25519$/);
});

test('publicJwk has exactly the RFC 7638 members and round-trips to the same public key', async () => {
  const rsa = await rsaKey();
  const rsaJwk = publicJwk(rsa);
  assert.deepEqual(Object.keys(rsaJwk), ['e', 'kty', 'n']);
  assert.equal(rsaJwk.kty, 'RSA');
  assert.equal(rsaJwk.e, 'AQAB');
  assert.equal(Buffer.from(rsaJwk.n ?? '', 'base64url').length, 256);
  assert.deepEqual(publicJwk(createPublicKey(rsa)), rsaJwk);
  assert.deepEqual(spkiOf(createPublicKey({ key: rsaJwk, format: 'jwk' })), spkiOf(rsa));

  for (const [curve, size] of [['P-256', 32], ['P-384', 48]] as const) {
    const ec = await ecKey(curve);
    const jwk = publicJwk(ec);
    assert.deepEqual(Object.keys(jwk), ['crv', 'kty', 'x', 'y']);
    assert.equal(jwk.crv, curve);
    assert.equal(jwk.kty, 'EC');
    assert.equal(Buffer.from(jwk.x ?? '', 'base64url').length, size);
    assert.equal(Buffer.from(jwk.y ?? '', 'base64url').length, size);
    assert.deepEqual(publicJwk(createPublicKey(ec)), jwk);
    assert.deepEqual(spkiOf(createPublicKey({ key: jwk, format: 'jwk' })), spkiOf(ec));
  }
  await assert.rejects(async () => publicJwk(await ed25519Key()), /unsupported account key type: ed25519/);
});

test('publicJwk keeps EC coordinates full length when one starts with a zero byte', async () => {
  // About 1 P-256 key in 128 has a coordinate whose first byte is 0x00.
  let key: KeyObject | undefined;
  for (let attempt = 0; attempt < 20000 && key === undefined; attempt++) {
    const candidate = await ecKey('P-256');
    const point = uncompressedPoint(candidate, 32);
    if (point[1] === 0 || point[33] === 0) key = candidate;
  }
  assert.ok(key, 'no P-256 key with a leading zero coordinate found');
  const point = uncompressedPoint(key, 32);
  const jwk = publicJwk(key);
  const x = Buffer.from(jwk.x ?? '', 'base64url');
  const y = Buffer.from(jwk.y ?? '', 'base64url');
  assert.equal(jwk.x?.length, 43);
  assert.equal(jwk.y?.length, 43);
  assert.deepEqual(x, point.subarray(1, 33));
  assert.deepEqual(y, point.subarray(33));
  assert.ok(x[0] === 0 || y[0] === 0);
  assert.deepEqual(spkiOf(createPublicKey({ key: jwk, format: 'jwk' })), spkiOf(key));
});

const SIGNING_CASES = [
  { alg: 'RS256', hash: 'sha256', signatureBytes: 256, makeKey: () => rsaKey(2048) },
  { alg: 'ES256', hash: 'sha256', signatureBytes: 64, makeKey: () => ecKey('P-256') },
  { alg: 'ES384', hash: 'sha384', signatureBytes: 96, makeKey: () => ecKey('P-384') },
] as const;

for (const { alg, hash, signatureBytes, makeKey } of SIGNING_CASES) {
  test(`signJws ${alg}: embedded jwk, verifiable ${signatureBytes}-byte signature`, async () => {
    const key = await makeKey();
    const payload = JSON.stringify({ termsOfServiceAgreed: true, contact: ['mailto:admin@example.com'] });
    const jws = signJws(key, { url: 'https://acme.example/new-account', nonce: 'nonce-1' }, payload);

    assert.deepEqual(Object.keys(jws), ['protected', 'payload', 'signature']);
    const header = decodeJson(jws.protected);
    assert.deepEqual(Object.keys(header), ['alg', 'jwk', 'nonce', 'url']);
    assert.equal(header.alg, alg);
    assert.deepEqual(header.jwk, publicJwk(key));
    assert.equal(header.nonce, 'nonce-1');
    assert.equal(header.url, 'https://acme.example/new-account');
    assert.equal(Buffer.from(jws.payload, 'base64url').toString('utf8'), payload);
    assert.doesNotMatch(`${jws.protected}${jws.payload}${jws.signature}`, /[=+/]/);

    const signature = Buffer.from(jws.signature, 'base64url');
    assert.equal(signature.length, signatureBytes);
    const signingInput = Buffer.from(`${jws.protected}.${jws.payload}`);
    const publicKey = createPublicKey(key);
    const verifyKey = alg === 'RS256' ? publicKey : { key: publicKey, dsaEncoding: 'ieee-p1363' as const };
    assert.ok(verify(hash, signingInput, verifyKey, signature));
    // The signature also verifies against the JWK the server would take from the header.
    const jwkKey = createPublicKey({ key: publicJwk(key), format: 'jwk' });
    assert.ok(verify(hash, signingInput, alg === 'RS256' ? jwkKey : { key: jwkKey, dsaEncoding: 'ieee-p1363' }, signature));
    // And not for a tampered payload.
    assert.ok(!verify(hash, Buffer.from(`${jws.protected}.${base64url('{}')}`), verifyKey, signature));
  });

  test(`signJws ${alg}: kid instead of jwk, POST-as-GET with an empty payload`, async () => {
    const key = await makeKey();
    const kid = 'https://acme.example/acct/17';
    const jws = signJws(key, { url: 'https://acme.example/order/1', nonce: 'nonce-2', kid }, '');

    const header = decodeJson(jws.protected);
    assert.deepEqual(header, { alg, kid, nonce: 'nonce-2', url: 'https://acme.example/order/1' });
    assert.deepEqual(Object.keys(header), ['alg', 'kid', 'nonce', 'url']);
    assert.equal(jws.payload, '');

    const signature = Buffer.from(jws.signature, 'base64url');
    assert.equal(signature.length, signatureBytes);
    const publicKey = createPublicKey(key);
    const verifyKey = alg === 'RS256' ? publicKey : { key: publicKey, dsaEncoding: 'ieee-p1363' as const };
    assert.ok(verify(hash, Buffer.from(`${jws.protected}.`), verifyKey, signature));
  });
}

test('signJws refuses a public key and an unsupported key', async () => {
  const rsa = await rsaKey();
  assert.throws(() => signJws(createPublicKey(rsa), { url: 'u', nonce: 'n' }, ''), /must be signed with a private key/);
  await assert.rejects(async () => signJws(await ecKey('P-521'), { url: 'u', nonce: 'n' }, ''), /unsupported account key type/);
});

test('externalAccountBinding: HS256 over the account\'s public JWK, with exactly alg, kid and url protected', async () => {
  const jwk = publicJwk(await ecKey('P-256'));
  const macKey = Buffer.from('a-mac-key-the-CA-issued-32-bytes', 'ascii');
  const url = 'https://ca.example/acme/new-account';
  const jws = externalAccountBinding(macKey, 'kid-1', url, jwk);
  assert.deepEqual(decodeJson(jws.protected), { alg: 'HS256', kid: 'kid-1', url });
  assert.deepEqual(decodeJson(jws.payload), jwk);
  const expected = createHmac('sha256', macKey).update(`${jws.protected}.${jws.payload}`).digest('base64url');
  assert.equal(jws.signature, expected);
  assert.equal(Buffer.from(jws.signature, 'base64url').length, 32);
  assert.notEqual(externalAccountBinding(Buffer.from('another key'), 'kid-1', url, jwk).signature, jws.signature);
});
