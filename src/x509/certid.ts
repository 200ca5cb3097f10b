// The ARI certificate identifier (RFC 9773 §4.1): base64url of the Authority Key Identifier's
// keyIdentifier, a dot, base64url of the serial number's DER content bytes (its leading zero
// included when the high bit is set). It names the certificate in renewalInfo requests and in a
// renewal order's "replaces".

import type forge from 'node-forge';
import asn1 from 'node-forge/lib/asn1.js';
import { ChainError } from './chain.js';
import { CertificateFields, extensionValue } from './names.js';

type Asn1 = forge.asn1.Asn1;

const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
const KEY_IDENTIFIER_TAG = 0;

export function certId(keyIdentifier: Buffer, serialContent: Buffer): string {
  return `${keyIdentifier.toString('base64url')}.${serialContent.toString('base64url')}`;
}

/** The CertID of a certificate, or null when it has no keyIdentifier to build one from. */
export function certificateCertId(certificate: CertificateFields): string | null {
  const aki = extensionValue(certificate, OID_AUTHORITY_KEY_IDENTIFIER);
  if (aki === null) return null;
  let keyIdentifier: string | undefined;
  try {
    const fields = asn1.fromDer(aki, { strict: true, parseAllBytes: true, decodeBitStrings: false }).value as Asn1[];
    const tagged = fields.find((f) => f.tagClass === asn1.Class.CONTEXT_SPECIFIC && f.type === KEY_IDENTIFIER_TAG);
    if (typeof tagged?.value === 'string') keyIdentifier = tagged.value;
  } catch {
    throw new ChainError('certificate has a malformed authorityKeyIdentifier');
  }
  if (keyIdentifier === undefined || keyIdentifier === '') return null;
  return certId(Buffer.from(keyIdentifier, 'binary'), serialContent(certificate));
}

/** The serial number's INTEGER content bytes, as encoded. */
function serialContent({ tbs }: CertificateFields): Buffer {
  // The version is an explicit [0] before the serial in v2 and v3 certificates.
  const serial = tbs[0]?.tagClass === asn1.Class.CONTEXT_SPECIFIC ? tbs[1] : tbs[0];
  if (serial?.type !== asn1.Type.INTEGER || typeof serial.value !== 'string') throw new ChainError('certificate has no serial number');
  return Buffer.from(serial.value, 'binary');
}
