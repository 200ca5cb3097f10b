// PKCS#10 certificate signing requests (RFC 2986) for the order's finalize call. forge.asn1 builds
// the DER, node:crypto signs it: forge's own CSR code cannot handle EC keys.

import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import asn1 from 'node-forge/lib/asn1.js';
import { ipAddressBytes } from './ip.js';

type Asn1 = forge.asn1.Asn1;

const OID_COMMON_NAME = '2.5.4.3';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_TLS_FEATURE = '1.3.6.1.5.5.7.1.24';
const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';

/** TLS Feature status_request (RFC 7633): the OCSP must-staple marker. */
const TLS_FEATURE_STATUS_REQUEST = 5;
/** GeneralName choices (RFC 5280 §4.2.1.6). */
const DNS_NAME = 2;
const IP_ADDRESS = 7;
/** ub-common-name (RFC 5280 Appendix A): a longer first name cannot be the common name. */
const MAX_COMMON_NAME = 64;

const universal = (type: forge.asn1.Type, value: string | Asn1[]): Asn1 =>
  asn1.create(asn1.Class.UNIVERSAL, type, Array.isArray(value), value);
const sequence = (items: Asn1[]): Asn1 => universal(asn1.Type.SEQUENCE, items);
const set = (items: Asn1[]): Asn1 => universal(asn1.Type.SET, items);
const oid = (dotted: string): Asn1 => universal(asn1.Type.OID, asn1.oidToDer(dotted).getBytes());
/** A small non-negative INTEGER; forge takes the content octets as a binary string. */
const smallInteger = (value: number): Asn1 => universal(asn1.Type.INTEGER, String.fromCharCode(value));
const octetString = (bytes: string): Asn1 => universal(asn1.Type.OCTETSTRING, bytes);
const der = (node: Asn1): string => asn1.toDer(node).getBytes();
const extension = (id: string, value: Asn1): Asn1 => sequence([oid(id), octetString(der(value))]);

interface SignatureChoice {
  hash: 'sha256' | 'sha384';
  algorithm: Asn1;
}

function signatureChoice(key: KeyObject): SignatureChoice {
  if (key.asymmetricKeyType === 'rsa')
    // RFC 4055 §5: the parameters of sha256WithRSAEncryption are an explicit NULL.
    return { hash: 'sha256', algorithm: sequence([oid(OID_SHA256_WITH_RSA), universal(asn1.Type.NULL, '')]) };
  if (key.asymmetricKeyType === 'ec') {
    // RFC 5758 §3.2: ECDSA signature algorithms have no parameters at all.
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { hash: 'sha256', algorithm: sequence([oid(OID_ECDSA_WITH_SHA256)]) };
    if (curve === 'secp384r1') return { hash: 'sha384', algorithm: sequence([oid(OID_ECDSA_WITH_SHA384)]) };
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  throw new Error(`cannot sign a CSR with key type ${key.asymmetricKeyType ?? key.type}${curve ? ` ${curve}` : ''}`);
}

/**
 * DER CSR for `names` signed with the private `key`: a subjectAltName with every name in the order
 * given, an IP address (RFC 8738) as an iPAddress and any other name as a dNSName, and with
 * `mustStaple` the TLS Feature extension. The subject is CN = names[0] when that is a DNS name of
 * at most 64 characters, else empty: an address belongs in the subjectAltName alone, and a longer
 * name does not fit a CN.
 */
export function buildCsr(key: KeyObject, names: string[], mustStaple: boolean): Buffer {
  const first = names[0];
  if (first === undefined) throw new Error('a CSR needs at least one name');
  for (const name of names) {
    // dNSName is an IA5String and forge writes a binary string: only printable ASCII gets through
    // unchanged. Internationalised names must arrive as A-labels.
    if (!/^[\x21-\x7e]+$/.test(name)) throw new Error(`cannot put ${JSON.stringify(name)} in a CSR: not a printable ASCII name`);
  }
  if (key.type !== 'private') throw new Error('a CSR must be signed with a private key');
  const { hash, algorithm } = signatureChoice(key);

  const commonName = ipAddressBytes(first) === null && first.length <= MAX_COMMON_NAME ? first : null;
  const subject = sequence(commonName === null ? [] : [set([sequence([oid(OID_COMMON_NAME), universal(asn1.Type.UTF8, commonName)])])]);

  const spkiDer = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const spki = asn1.fromDer(spkiDer.toString('binary'));
  // forge re-encodes what it parsed; make sure the key we sign for is byte for byte Node's.
  if (der(spki) !== spkiDer.toString('binary')) throw new Error('SubjectPublicKeyInfo did not survive re-encoding');

  const generalNames = names.map((name) => {
    const address = ipAddressBytes(name);
    return address === null
      ? asn1.create(asn1.Class.CONTEXT_SPECIFIC, DNS_NAME, false, name)
      : asn1.create(asn1.Class.CONTEXT_SPECIFIC, IP_ADDRESS, false, address.toString('binary'));
  });
  const extensions = [extension(OID_SUBJECT_ALT_NAME, sequence(generalNames))];
  if (mustStaple) extensions.push(extension(OID_TLS_FEATURE, sequence([smallInteger(TLS_FEATURE_STATUS_REQUEST)])));
  const attributes = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
    sequence([oid(OID_EXTENSION_REQUEST), set([sequence(extensions)])]),
  ]);

  const requestInfo = sequence([smallInteger(0), subject, spki, attributes]);
  const requestInfoDer = Buffer.from(der(requestInfo), 'binary');
  // X.509 wants ECDSA signatures as DER ECDSA-Sig-Value, crypto.sign's default encoding.
  const signature = sign(hash, requestInfoDer, key);

  const request = sequence([requestInfo, algorithm, universal(asn1.Type.BITSTRING, '\x00' + signature.toString('binary'))]);
  return Buffer.from(der(request), 'binary');
}
