// Loading and generating private keys for accounts and domains. Only RSA of at least 2048 bits and
// EC on P-256 or P-384 are accepted: what ACME servers take for both purposes, and what jws.ts and
// csr.ts can sign with.

import { createPrivateKey, generateKeyPair, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { KeyType } from './keytypes.js';

export type DomainKeyKind = 'rsa' | 'ec-p256' | 'ec-p384';

/** A key that cannot be used: `subject` names it (usually its file), `problem` says why. */
export class KeyError extends Error {
  constructor(readonly subject: string, readonly problem: string) {
    super(`${subject}: ${problem}`);
    this.name = 'KeyError';
  }
}

const MIN_RSA_BITS = 2048;

const CURVE_NAMES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/** A short human description such as 'RSA 4096' or 'EC P-256'. */
export function keyDescription(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return `RSA ${details?.modulusLength ?? '?'}`;
    case 'ec': {
      const curve = details?.namedCurve;
      return `EC ${curve === undefined ? 'with unnamed curve' : (CURVE_NAMES[curve] ?? curve)}`;
    }
    case undefined:
      return key.type;
    default:
      return key.asymmetricKeyType.toUpperCase();
  }
}

/** The kind of an acceptable key, or undefined for any key parsePrivateKey would refuse. */
export function domainKeyKind(key: KeyObject): DomainKeyKind | undefined {
  if (key.type !== 'private' && key.type !== 'public') return undefined;
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return (details?.modulusLength ?? 0) >= MIN_RSA_BITS ? 'rsa' : undefined;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ec-p256';
    if (details?.namedCurve === 'secp384r1') return 'ec-p384';
  }
  return undefined;
}

// One PEM block: its label and its full text. Labels per RFC 7468 §3.
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?\r?\n-----END \1-----/g;
const PRIVATE_KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

/**
 * Parses a PEM private key: PKCS#8 ('PRIVATE KEY'), PKCS#1 ('RSA PRIVATE KEY') or SEC1
 * ('EC PRIVATE KEY', which `openssl ecparam -genkey` precedes with an 'EC PARAMETERS' block).
 * Anything unusable throws a KeyError naming `subject` and saying what is wrong.
 */
export function parsePrivateKey(pem: string, subject: string): KeyObject {
  if (pem.trim() === '') throw new KeyError(subject, 'key file is empty');

  const labels: string[] = [];
  let keyBlock: string | undefined;
  for (const match of pem.matchAll(PEM_BLOCK)) {
    const label = match[1] ?? '';
    labels.push(label);
    if (keyBlock === undefined && PRIVATE_KEY_LABELS.has(label)) keyBlock = match[0];
  }

  // Refuse encrypted keys before OpenSSL sees them: there is nobody to ask for a passphrase, and
  // OpenSSL's own error for this case ("interrupted or cancelled") does not say what is wrong.
  if (labels.includes('ENCRYPTED PRIVATE KEY') || (keyBlock !== undefined && /^Proc-Type:\s*4,\s*ENCRYPTED/m.test(keyBlock)))
    throw new KeyError(subject, 'key is encrypted; a passphrase-protected key cannot be used');
  if (keyBlock === undefined) {
    if (labels.some((label) => label.endsWith('PUBLIC KEY')))
      throw new KeyError(subject, 'file holds a public key, not a private key');
    if (labels.length > 0)
      throw new KeyError(subject, `no private key found (PEM blocks: ${labels.join(', ')})`);
    throw new KeyError(subject, 'no PEM private key found');
  }

  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyBlock, format: 'pem' });
  } catch (err) {
    throw new KeyError(subject, `cannot parse private key: ${err instanceof Error ? err.message : String(err)}`);
  }
  return usableKey(key, subject);
}

/** `key` if it is RSA of MIN_RSA_BITS or more, or EC P-256 or P-384; else a KeyError saying what is needed. */
function usableKey(key: KeyObject, subject: string): KeyObject {
  if (domainKeyKind(key) === undefined) {
    const need = key.asymmetricKeyType === 'rsa' ? `RSA keys need at least ${MIN_RSA_BITS} bits` : 'use RSA or EC P-256/P-384';
    throw new KeyError(subject, `unsupported key type ${keyDescription(key)} (${need})`);
  }
  return key;
}

/** A JSON Web Key file is a JSON object; a PEM file starts with its -----BEGIN line. */
export function isJsonWebKey(text: string): boolean {
  return text.trimStart().startsWith('{');
}

/**
 * An account key: PEM as parsePrivateKey reads it, or a JSON Web Key (RFC 7517) holding its private
 * part, as certbot keeps its account key (accounts/<server>/directory/<id>/private_key.json), so
 * that certbot's account, and the "replaces" of its certificates, carry over. Node's own JWK import
 * reads it; errors never quote the file, which holds the private key.
 */
export function parseAccountKey(text: string, subject: string): KeyObject {
  if (!isJsonWebKey(text)) return parsePrivateKey(text, subject);
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new KeyError(subject, 'not a JSON Web Key: malformed JSON');
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new KeyError(subject, 'not a JSON Web Key: not a JSON object');
  const { kty, d } = jwk as Record<string, unknown>;
  if (kty !== 'RSA' && kty !== 'EC') throw new KeyError(subject, `unsupported JSON Web Key type ${typeof kty === 'string' ? kty.slice(0, 16) : '(none)'} (use RSA or EC)`);
  if (typeof d !== 'string') throw new KeyError(subject, 'file holds a public JSON Web Key, not a private key');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new KeyError(subject, `cannot parse JSON Web Key: ${err instanceof Error ? err.message : String(err)}`);
  }
  return usableKey(key, subject);
}

const KEY_TYPE_PARAMETERS: Record<KeyType, { description: string; type: 'rsa'; modulusLength: number } | { description: string; type: 'ec'; namedCurve: string }> = {
  rsa2048: { description: 'RSA 2048', type: 'rsa', modulusLength: 2048 },
  rsa3072: { description: 'RSA 3072', type: 'rsa', modulusLength: 3072 },
  rsa4096: { description: 'RSA 4096', type: 'rsa', modulusLength: 4096 },
  ec256: { description: 'EC P-256', type: 'ec', namedCurve: 'P-256' },
  ec384: { description: 'EC P-384', type: 'ec', namedCurve: 'P-384' },
};

/** 'RSA 4096', 'EC P-256': as keyDescription says it of a loaded key. */
export function keyTypeDescription(type: KeyType): string {
  return KEY_TYPE_PARAMETERS[type].description;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A new private key of `type` as PKCS#8 PEM. Uses the asynchronous generator: it keeps the event
 * loop free during the seconds a 4096-bit RSA key can take, and stays off generateKeyPairSync,
 * whose EC variant was seen to deadlock on Node 20.
 */
export async function generateKeyPem(type: KeyType): Promise<string> {
  const parameters = KEY_TYPE_PARAMETERS[type];
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const;
  const { privateKey } = parameters.type === 'rsa'
    ? await generateKeyPairAsync('rsa', { modulusLength: parameters.modulusLength, publicExponent: 0x10001, publicKeyEncoding, privateKeyEncoding })
    : await generateKeyPairAsync('ec', { namedCurve: parameters.namedCurve, publicKeyEncoding, privateKeyEncoding });
  return privateKey;
}
