// JSON Web Signature for ACME (RFC 8555 §6.2, RFC 7515, RFC 7518) and the RFC 7638 key thumbprint.
// Pure functions over node:crypto KeyObjects.

import { createHash, createHmac, createPublicKey, sign, type KeyObject } from 'node:crypto';

export const ACCOUNT_ALGS = ['RS256', 'ES256', 'ES384'] as const;
export type AccountAlg = (typeof ACCOUNT_ALGS)[number];

type JoseCurve = 'P-256' | 'P-384';

/** Bytes in one EC coordinate, and in each of r and s of an IEEE P1363 signature. */
const COORDINATE_BYTES: Record<JoseCurve, number> = { 'P-256': 32, 'P-384': 48 };

/** Node reports OpenSSL's curve names; JOSE uses the NIST ones. */
function joseCurve(key: KeyObject): JoseCurve | undefined {
  switch (key.asymmetricKeyDetails?.namedCurve) {
    case 'prime256v1':
      return 'P-256';
    case 'secp384r1':
      return 'P-384';
    default:
      return undefined;
  }
}

function describeKeyType(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? key.type;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === undefined ? type : `${type} ${curve}`;
}

/** base64url without padding (RFC 7515 §2); strings are taken as UTF-8. */
export function base64url(data: Buffer | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64url');
}

export function accountAlg(key: KeyObject): AccountAlg {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = joseCurve(key);
    if (curve === 'P-256') return 'ES256';
    if (curve === 'P-384') return 'ES384';
  }
  throw new Error(`unsupported account key type: ${describeKeyType(key)}`);
}

/**
 * The public JWK with exactly the members RFC 7638 §3.2 requires, so one object serves both the
 * JWS "jwk" header and the thumbprint. Accepts a private or a public key.
 */
export function publicJwk(key: KeyObject): Record<string, string> {
  const publicKey = key.type === 'public' ? key : createPublicKey(key);
  if (publicKey.asymmetricKeyType === 'rsa') {
    const jwk = publicKey.export({ format: 'jwk' });
    if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') throw new Error('RSA JWK export lacks n or e');
    return { e: jwk.e, kty: 'RSA', n: jwk.n };
  }
  const curve = publicKey.asymmetricKeyType === 'ec' ? joseCurve(publicKey) : undefined;
  if (curve === undefined) throw new Error(`unsupported account key type: ${describeKeyType(publicKey)}`);
  // x and y come from the SPKI's uncompressed point (04 || x || y, always the DER's last bytes)
  // rather than export({format: 'jwk'}): they then have their full fixed length by construction
  // (RFC 7518 §6.2.1.2), and this stays off the EC JWK export path that can deadlock on Node 20.
  const size = COORDINATE_BYTES[curve];
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const point = spki.subarray(spki.length - (1 + 2 * size));
  if (point[0] !== 0x04) throw new Error('EC public key is not an uncompressed point');
  return {
    crv: curve,
    kty: 'EC',
    x: base64url(point.subarray(1, 1 + size)),
    y: base64url(point.subarray(1 + size)),
  };
}

/** RFC 7638 §3.2: the required members of each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
};

/** RFC 7638 thumbprint: SHA-256 over the required members, sorted, without whitespace; base64url. */
export function thumbprint(jwk: Record<string, string>): string {
  const kty = jwk.kty;
  const members = kty === undefined ? undefined : THUMBPRINT_MEMBERS[kty];
  if (members === undefined) throw new Error(`unsupported JWK key type: ${String(kty)}`);
  const canonical: Record<string, string> = {};
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string') throw new Error(`JWK lacks required member "${member}"`);
    canonical[member] = value;
  }
  // JSON.stringify keeps insertion order and emits no whitespace.
  return base64url(createHash('sha256').update(JSON.stringify(canonical), 'utf8').digest());
}

/** The flattened JWS JSON serialisation (RFC 7515 §7.2.2) that ACME requests carry. */
export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/**
 * Signs an ACME request. With header.kid the account URL names the key; without it the public JWK
 * is embedded (newAccount, or revokeCert signed with the certificate key). payload '' is
 * POST-as-GET (RFC 8555 §6.3): base64url('') is ''. Without a nonce there is no "nonce" member:
 * the inner JWS of a key change has none (§7.3.5).
 */
export function signJws(key: KeyObject, header: { url: string; nonce?: string; kid?: string }, payload: string): FlattenedJws {
  if (key.type !== 'private') throw new Error('a JWS must be signed with a private key');
  const alg = accountAlg(key);
  const protectedHeader =
    header.kid !== undefined
      ? { alg, kid: header.kid, nonce: header.nonce, url: header.url }
      : { alg, jwk: publicJwk(key), nonce: header.nonce, url: header.url };
  const protectedB64 = base64url(JSON.stringify(protectedHeader));
  const payloadB64 = base64url(payload);
  const signingInput = Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii');

  // JWS wants ECDSA signatures as fixed-length r || s (RFC 7518 §3.4), not the DER ECDSA-Sig-Value
  // crypto.sign gives by default. RS256 is PKCS#1 v1.5, the default for RSA keys.
  let signature: Buffer;
  switch (alg) {
    case 'RS256':
      signature = sign('sha256', signingInput, key);
      break;
    case 'ES256':
      signature = sign('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' });
      break;
    case 'ES384':
      signature = sign('sha384', signingInput, { key, dsaEncoding: 'ieee-p1363' });
      break;
  }
  return { protected: protectedB64, payload: payloadB64, signature: base64url(signature) };
}

/**
 * RFC 8555 §7.3.4: the External Account Binding of a new account, a JWS MACed (HS256) with the
 * key the CA issued for `kid`, over the account's public JWK. It carries no nonce.
 */
export function externalAccountBinding(macKey: Buffer, kid: string, newAccountUrl: string, accountJwk: Record<string, string>): FlattenedJws {
  const protectedB64 = base64url(JSON.stringify({ alg: 'HS256', kid, url: newAccountUrl }));
  const payloadB64 = base64url(JSON.stringify(accountJwk));
  const signature = createHmac('sha256', macKey).update(`${protectedB64}.${payloadB64}`, 'ascii').digest();
  return { protected: protectedB64, payload: payloadB64, signature: base64url(signature) };
}
