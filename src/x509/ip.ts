// IP address identifiers (RFC 8738): the one text form this client writes and compares an address
// in, and the bytes an iPAddress subjectAltName holds. Apart from names.ts (and node-forge) so that
// the parent and netproc, which start on every run, can check addresses without loading forge.

import { isIPv4, isIPv6 } from 'node:net';

/**
 * What can be an address at all: digits and dots, or a colon. Anything else is turned away before
 * node:net's address patterns, whose first use compiles a regular expression large enough to cost
 * the start of every run (bench/RESULTS.md).
 */
const MAYBE_ADDRESS = /^[0-9.]+$|:/;

/** An IPv4 or IPv6 address in the one form this client writes and compares it in, or null (a zone index too). */
export function canonicalIp(text: string): string | null {
  if (!MAYBE_ADDRESS.test(text)) return null;
  if (isIPv4(text)) return text.split('.').map((part) => String(Number(part))).join('.');
  // The WHATWG URL parser writes IPv6 as RFC 5952 recommends: lower case, longest zero run as ::,
  // and an embedded IPv4 tail as two hex groups.
  if (isIPv6(text) && !text.includes('%')) return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  return null;
}

const IPV6_GROUPS = 8;

/** The 4 or 16 network-order bytes of an address (RFC 5280 §4.2.1.6); null when `text` is not one. */
export function ipAddressBytes(text: string): Buffer | null {
  const canonical = canonicalIp(text);
  if (canonical === null) return null;
  if (!canonical.includes(':')) return Buffer.from(canonical.split('.').map(Number));
  // Canonical IPv6 is hex groups only, with at most one "::" standing for the missing zero groups.
  const [head = '', tail] = canonical.split('::');
  const groupsOf = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  const groups = [...left, ...Array<string>(IPV6_GROUPS - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(2 * IPV6_GROUPS);
  groups.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), 2 * index));
  return bytes;
}

/** The text of an iPAddress's 4 or 16 network-order bytes, canonical; null for any other length. */
export function ipFromBytes(octets: Buffer): string | null {
  if (octets.length === 4) return [...octets].join('.');
  if (octets.length !== 2 * IPV6_GROUPS) return null;
  const groups = Array.from({ length: IPV6_GROUPS }, (_, i) => octets.readUInt16BE(2 * i).toString(16));
  return canonicalIp(groups.join(':'));
}
