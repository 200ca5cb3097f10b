// Reading a PKCS#10 certificate signing request made elsewhere (RFC 2986): `acme-client --csr`
// and the signing service take one from a user or over the network. Before anything is asked of a
// CA the request must be one PEM block of exactly one DER CertificationRequest, its self-signature
// must verify (node:crypto), and its key must be one acme-client itself would load (keys.ts). forge's
// ASN.1 reader finds the names: the subject's CN and the subjectAltName of the extensionRequest.

import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import asn1 from 'node-forge/lib/asn1.js';
import { domainKeyKind, keyDescription } from './keys.js';
import { canonicalIp, ipFromBytes } from './ip.js';

type Asn1 = forge.asn1.Asn1;

/** A request that cannot be used; `problem` says why, `subject` names it (usually its file). */
export class RequestError extends Error {
  constructor(readonly subject: string, readonly problem: string) {
    super(`${subject}: ${problem}`);
    this.name = 'RequestError';
  }
}

export interface SigningRequest {
  /** The DER, as given. */
  der: Buffer;
  /** SubjectPublicKeyInfo DER: the issued certificate must carry exactly this key. */
  publicKey: Buffer;
  /** 'RSA 2048', 'EC P-256'. */
  keyDescription: string;
  /** The CN first (when there is one), then every subjectAltName not already named; lower-cased. */
  names: string[];
  /** Hex SHA-256 of the DER: what "identical request" means to the signing service's cache. */
  sha256: string;
}

const OID_COMMON_NAME = '2.5.4.3';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** The signature algorithms openssl and our own keyproc write; SHA-1 and RSA-PSS are refused. */
const SIGNATURE_HASHES: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};
const DNS_NAME = 2;
const IP_ADDRESS = 7;
const MAX_NAME_LENGTH = 253;
const NAME_TEXT = /^(\*\.)?[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$/;
const PEM = /^-----BEGIN (NEW )?CERTIFICATE REQUEST-----\n([A-Za-z0-9+/=\n]+)\n-----END (NEW )?CERTIFICATE REQUEST-----\n?$/;

/**
 * The extent of the first DER element at `start`: where its content begins and where it ends.
 * forge keeps no offsets, and the signature covers the requestInfo bytes exactly as they were sent.
 */
function element(der: Buffer, start: number): { content: number; end: number } {
  let at = start + 1;
  const first = der[at++];
  if (first === undefined) throw new Error('truncated');
  let length = first;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets === 0 || octets > 3) throw new Error('bad length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[at++] ?? NaN);
  }
  if (!Number.isSafeInteger(length) || at + length > der.length) throw new Error('truncated');
  return { content: at, end: at + length };
}

function checkName(name: string, subject: string): string {
  // A CN may hold an address (openssl's -subj /CN=127.0.0.1): the one text form, as the SAN's.
  const address = canonicalIp(name);
  if (address !== null) return address;
  const lowered = name.toLowerCase();
  if (lowered.length > MAX_NAME_LENGTH || !NAME_TEXT.test(lowered)) {
    throw new RequestError(subject, `bad domain syntax in the request: ${JSON.stringify(name.slice(0, 80))}`);
  }
  return lowered;
}

function commonName(subjectName: Asn1): string | null {
  for (const rdn of subjectName.value as Asn1[]) {
    for (const attribute of rdn.value as Asn1[]) {
      const [type, value] = attribute.value as Asn1[];
      if (type?.type === asn1.Type.OID && asn1.derToOid(type.value as string) === OID_COMMON_NAME && typeof value?.value === 'string') {
        // forge gives a UTF8String's bytes as a binary string; a DNS name is ASCII either way.
        return value.value;
      }
    }
  }
  return null;
}

function subjectAltNames(attributes: Asn1 | undefined, subject: string): string[] {
  const names: string[] = [];
  for (const attribute of (attributes?.value as Asn1[] | undefined) ?? []) {
    const [type, values] = attribute.value as Asn1[];
    if (type?.type !== asn1.Type.OID || asn1.derToOid(type.value as string) !== OID_EXTENSION_REQUEST) continue;
    for (const extensions of (values?.value as Asn1[]) ?? []) {
      for (const extension of extensions.value as Asn1[]) {
        const parts = extension.value as Asn1[];
        if (parts[0]?.type !== asn1.Type.OID || asn1.derToOid(parts[0].value as string) !== OID_SUBJECT_ALT_NAME) continue;
        const octets = parts[parts.length - 1]?.value;
        if (typeof octets !== 'string') throw new RequestError(subject, 'malformed subjectAltName');
        const generalNames = asn1.fromDer(octets, { strict: true, parseAllBytes: true, decodeBitStrings: false });
        for (const entry of generalNames.value as Asn1[]) {
          if (entry.tagClass !== asn1.Class.CONTEXT_SPECIFIC) continue;
          if (entry.type === DNS_NAME && typeof entry.value === 'string') names.push(checkName(entry.value, subject));
          else if (entry.type === IP_ADDRESS && typeof entry.value === 'string') {
            // RFC 8738 identifiers, as acme-client orders them for addresses on its command line.
            const address = ipFromBytes(Buffer.from(entry.value, 'binary'));
            if (address === null) throw new RequestError(subject, `subjectAltName holds an iPAddress of ${entry.value.length} bytes`);
            names.push(address);
          }
          else throw new RequestError(subject, 'subjectAltName holds an entry that is neither a DNS name nor an IP address');
        }
      }
    }
  }
  return names;
}

/** Parses and checks a PEM CSR; anything unusable throws a RequestError naming `subject`. */
export function readSigningRequest(pem: string, subject: string): SigningRequest {
  const match = PEM.exec(pem.replace(/\r\n/g, '\n').trim() + '\n');
  if (match === null) throw new RequestError(subject, 'not a PEM certificate request');
  const der = Buffer.from((match[2] as string).replace(/\n/g, ''), 'base64');
  let request: Asn1;
  let infoBytes: Buffer;
  try {
    request = asn1.fromDer(der.toString('binary'), { strict: true, parseAllBytes: true, decodeBitStrings: false });
    const outer = element(der, 0);
    if (outer.end !== der.length) throw new Error('data follows the request');
    infoBytes = der.subarray(outer.content, element(der, outer.content).end);
  } catch (err) {
    throw new RequestError(subject, `certificate request does not parse: ${err instanceof Error ? err.message : String(err)}`);
  }
  const [info, algorithm, signature] = request.value as Asn1[];
  const [, subjectName, spki, attributes] = (info?.value as Asn1[] | undefined) ?? [];
  const algorithmOid = (algorithm?.value as Asn1[] | undefined)?.[0];
  if (subjectName === undefined || spki === undefined || algorithmOid?.type !== asn1.Type.OID || typeof signature?.value !== 'string') {
    throw new RequestError(subject, 'certificate request does not parse: not a CertificationRequest');
  }
  const publicKey = Buffer.from(asn1.toDer(spki).getBytes(), 'binary');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: publicKey, format: 'der', type: 'spki' });
  } catch (err) {
    throw new RequestError(subject, `unreadable public key: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (domainKeyKind(key) === undefined) throw new RequestError(subject, `unsupported key type ${keyDescription(key)} (use RSA of at least 2048 bits or EC P-256/P-384)`);
  const hash = SIGNATURE_HASHES[asn1.derToOid(algorithmOid.value as string)];
  if (hash === undefined) throw new RequestError(subject, `unsupported signature algorithm ${asn1.derToOid(algorithmOid.value as string)}`);
  // A BIT STRING's first octet counts the unused bits of the last: a signature has none.
  if (!signature.value.startsWith('\x00')) throw new RequestError(subject, 'malformed signature');
  let valid: boolean;
  try {
    valid = verify(hash, infoBytes, key, Buffer.from(signature.value.slice(1), 'binary'));
  } catch {
    valid = false;
  }
  if (!valid) throw new RequestError(subject, 'bad signature: the request was not signed by its own key');

  const names: string[] = [];
  const cn = commonName(subjectName);
  for (const name of [...(cn === null ? [] : [checkName(cn, subject)]), ...subjectAltNames(attributes, subject)]) {
    if (!names.includes(name)) names.push(name);
  }
  if (names.length === 0) throw new RequestError(subject, 'the request names no domain');
  return { der, publicKey, keyDescription: keyDescription(key), names, sha256: createHash('sha256').update(der).digest('hex') };
}
