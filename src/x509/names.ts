// The names a certificate is for, read from its subjectAltName extension in the DER itself (with
// forge's ASN.1 reader): dNSName entries lower-cased, iPAddress entries (RFC 8738 identifiers) in
// canonical text form, so that both compare with the names asked for as plain strings.

import type forge from 'node-forge';
import asn1 from 'node-forge/lib/asn1.js';
import { ChainError } from './chain.js';
import { ipFromBytes } from './ip.js';

type Asn1 = forge.asn1.Asn1;

const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** GeneralName choices (RFC 5280 §4.2.1.6). */
const DNS_NAME = 2;
const IP_ADDRESS = 7;
/** What a dNSName may hold: LDH labels, a leading wildcard label, underscores as some CAs allow. */
const DNS_NAME_TEXT = /^(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** A certificate's TBSCertificate fields, its DER read once with forge for the readers below. */
export interface CertificateFields {
  tbs: Asn1[];
}

export function certificateFields(der: Buffer): CertificateFields {
  let certificate: Asn1;
  try {
    certificate = asn1.fromDer(der.toString('binary'), { strict: true, parseAllBytes: true, decodeBitStrings: false });
  } catch (err) {
    throw new ChainError(`certificate does not parse: ${err instanceof Error ? err.message : String(err)}`);
  }
  const tbs = (certificate.value as Asn1[])[0]?.value;
  if (!Array.isArray(tbs)) throw new ChainError('certificate has no TBSCertificate');
  return { tbs };
}

/** The extnValue of the extension `oid`, or null when the certificate has none. */
export function extensionValue({ tbs }: CertificateFields, oid: string): string | null {
  const tagged = tbs.find((node) => node.tagClass === asn1.Class.CONTEXT_SPECIFIC && node.type === 3);
  const extensions = (tagged?.value as Asn1[] | undefined)?.[0]?.value as Asn1[] | undefined;
  for (const extension of extensions ?? []) {
    const parts = extension.value as Asn1[];
    const id = parts[0];
    if (id?.type !== asn1.Type.OID || asn1.derToOid(id.value as string) !== oid) continue;
    const value = parts[parts.length - 1];
    if (value?.type !== asn1.Type.OCTETSTRING || typeof value.value !== 'string') throw new ChainError(`certificate extension ${oid} is malformed`);
    return value.value;
  }
  return null;
}

/** The certificate's DNS names (lower-cased) and IP addresses (canonical), in order. */
export function certificateNames(certificate: CertificateFields): string[] {
  const value = extensionValue(certificate, OID_SUBJECT_ALT_NAME);
  if (value === null) return [];
  let generalNames: Asn1;
  try {
    generalNames = asn1.fromDer(value, { strict: true, parseAllBytes: true, decodeBitStrings: false });
  } catch {
    throw new ChainError('certificate has a malformed subjectAltName');
  }
  const names: string[] = [];
  for (const entry of generalNames.value as Asn1[]) {
    if (entry.tagClass !== asn1.Class.CONTEXT_SPECIFIC || typeof entry.value !== 'string') continue;
    if (entry.type === DNS_NAME) {
      if (!DNS_NAME_TEXT.test(entry.value)) throw new ChainError(`certificate has an invalid DNS name in subjectAltName: ${JSON.stringify(entry.value.slice(0, 80))}`);
      names.push(entry.value.toLowerCase());
    } else if (entry.type === IP_ADDRESS) {
      const address = ipFromBytes(Buffer.from(entry.value, 'binary'));
      if (address === null) throw new ChainError(`certificate has an iPAddress of ${entry.value.length} bytes in subjectAltName`);
      names.push(address);
    }
  }
  return names;
}
