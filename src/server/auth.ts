// Who may have a certificate signed: the [auth] blocks. A request is admitted by the first block
// whose every method it passes (the connection's address in one of the block's networks; the
// body's HMAC under the block's secret) and whose domain globs cover every name of its CSR.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { AuthBlock, Network, addressBytes } from './config.js';

export interface SigningAttempt {
  /** The connection's remote address, as the front child saw it. */
  peer: string;
  /** The Authentication header, if any. */
  authentication: string | null;
  /** The body exactly as received: what the HMAC covers. */
  body: Buffer;
  /** The CSR's names. */
  names: string[];
}

/** An IPv4 client reaching an IPv6 socket shows as ::ffff:a.b.c.d: it is matched as IPv4. */
function peerAddress(peer: string): { family: 4 | 6; bytes: Buffer } | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer);
  const address = mapped?.[1] ?? peer;
  const family = isIP(address);
  return family === 0 ? null : { family: family as 4 | 6, bytes: addressBytes(address) };
}

function inNetwork(address: { family: 4 | 6; bytes: Buffer }, network: Network): boolean {
  if (address.family !== network.family) return false;
  const whole = Math.floor(network.prefix / 8);
  if (!address.bytes.subarray(0, whole).equals(network.bytes.subarray(0, whole))) return false;
  const rest = network.prefix % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((address.bytes[whole] as number) & mask) === ((network.bytes[whole] as number) & mask);
}

/**
 * `hmac name=sha256, hash=<hex>`: the seed's clients write it with openssl dgst and sed, and
 * OpenSSL 3 calls SHA-256 "SHA2-256" there; both spellings mean the same digest.
 */
function parseAuthentication(header: string): { algorithm: string; hash: Buffer } | null {
  const match = /^hmac\s+(.*)$/i.exec(header.trim());
  if (match === null) return null;
  const fields = new Map<string, string>();
  for (const part of (match[1] as string).split(/[\s,]+/)) {
    const equals = part.indexOf('=');
    if (equals > 0) fields.set(part.slice(0, equals).toLowerCase(), part.slice(equals + 1));
  }
  const name = fields.get('name')?.toLowerCase().replace(/^sha2-/, 'sha');
  const hash = fields.get('hash');
  if (name === undefined || hash === undefined || !/^([0-9a-f]{2})+$/i.test(hash)) return null;
  return { algorithm: name, hash: Buffer.from(hash, 'hex') };
}

function hmacPasses(block: AuthBlock, attempt: SigningAttempt): boolean {
  if (block.hmac === null) return true;
  const given = attempt.authentication === null ? null : parseAuthentication(attempt.authentication);
  if (given === null || given.algorithm !== block.hmac.algorithm) return false;
  const expected = createHmac(block.hmac.algorithm, block.hmac.key).update(attempt.body).digest();
  // The length of a digest is no secret; its bytes are compared in constant time.
  return given.hash.length === expected.length && timingSafeEqual(given.hash, expected);
}

const globs = new Map<string, RegExp>();

/** fnmatch(3) without flags, as the Management Server matches: * and ? cross dots too. */
export function globMatches(glob: string, name: string): boolean {
  let pattern = globs.get(glob);
  if (pattern === undefined) {
    let source = '';
    for (let i = 0; i < glob.length; i++) {
      const ch = glob[i] as string;
      if (ch === '*') source += '.*';
      else if (ch === '?') source += '.';
      else if (ch === '[' && glob.indexOf(']', i + 2) > 0) {
        const end = glob.indexOf(']', i + 2);
        const body = glob.slice(i + 1, end);
        source += `[${body.startsWith('!') ? `^${escapeClass(body.slice(1))}` : escapeClass(body)}]`;
        i = end;
      } else source += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    }
    pattern = new RegExp(`^${source}$`);
    globs.set(glob, pattern);
  }
  return pattern.test(name);
}

function escapeClass(body: string): string {
  return body.replace(/[\\\]^]/g, '\\$&');
}

/** The first block that admits the attempt, or null (403). */
export function admittingBlock(blocks: readonly AuthBlock[], attempt: SigningAttempt): AuthBlock | null {
  const address = peerAddress(attempt.peer);
  return blocks.find((block) =>
    block.domains.length > 0
    && (block.networks.length === 0 || (address !== null && block.networks.some((network) => inNetwork(address, network))))
    && hmacPasses(block, attempt)
    && attempt.names.every((name) => block.domains.some((glob) => globMatches(glob, name))),
  ) ?? null;
}
