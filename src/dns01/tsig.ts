// TSIG (RFC 8945): the key as BIND's tsig-keygen writes it, and the HMAC over a DNS message that
// signs a request and proves the server's answer. Only the parts a dynamic update needs: one
// signed request, one signed answer (no multi-message TCP streams, no TKEY).

import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Failure } from '../log.js';
import { encodeName } from './wire.js';

export interface TsigKey {
  /** The key's name, lower case, no trailing dot: it names the key on the wire. */
  name: string;
  /** The algorithm's name on the wire, e.g. hmac-sha256. */
  algorithm: string;
  /** Node's name for the hash. */
  hash: string;
  secret: Buffer;
}

/** BIND's spelling -> the name on the wire (RFC 8945 §6) and Node's hash. */
const ALGORITHMS: Record<string, { wire: string; hash: string }> = {
  'hmac-md5': { wire: 'hmac-md5.sig-alg.reg.int', hash: 'md5' },
  'hmac-md5.sig-alg.reg.int': { wire: 'hmac-md5.sig-alg.reg.int', hash: 'md5' },
  'hmac-sha1': { wire: 'hmac-sha1', hash: 'sha1' },
  'hmac-sha224': { wire: 'hmac-sha224', hash: 'sha224' },
  'hmac-sha256': { wire: 'hmac-sha256', hash: 'sha256' },
  'hmac-sha384': { wire: 'hmac-sha384', hash: 'sha384' },
  'hmac-sha512': { wire: 'hmac-sha512', hash: 'sha512' },
};

/** named.conf's lexical rules, enough for a key statement: quoted strings, words, { } ; and comments. */
function tokens(text: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < text.length) {
    const c = text[at] as string;
    if (/\s/.test(c)) at++;
    else if (c === '#' || text.startsWith('//', at)) at = text.indexOf('\n', at) === -1 ? text.length : text.indexOf('\n', at);
    else if (text.startsWith('/*', at)) at = text.indexOf('*/', at) === -1 ? text.length : text.indexOf('*/', at) + 2;
    else if ('{};'.includes(c)) out.push(text[at++] as string);
    else if (c === '"') {
      const end = text.indexOf('"', at + 1);
      if (end === -1) throw new Error('unterminated string');
      out.push(text.slice(at + 1, end));
      at = end + 1;
    } else {
      const word = /^[^\s{};"]+/.exec(text.slice(at))?.[0] as string;
      out.push(word);
      at += word.length;
    }
  }
  return out;
}

/** `key "name" { algorithm hmac-sha256; secret "base64"; };`, as tsig-keygen and ddns-confgen write it. */
export function parseKeyFile(text: string): TsigKey {
  const words = tokens(text);
  const keys: TsigKey[] = [];
  for (let at = 0; at < words.length; at++) {
    if (words[at] !== 'key') continue;
    const name = words[at + 1];
    if (name === undefined || words[at + 2] !== '{') throw new Error('a key statement needs a name and a { } block');
    let algorithm: string | undefined;
    let secret: string | undefined;
    for (at += 3; at < words.length && words[at] !== '}'; at++) {
      const [clause, value, end] = [words[at], words[at + 1], words[at + 2]];
      // Words read from the file are never echoed: a malformed line may be the secret itself.
      if (end !== ';' || value === undefined) throw new Error(`key ${name}: a clause that is not "<name> <value>;"`);
      if (clause === 'algorithm') algorithm = value.toLowerCase();
      else if (clause === 'secret') secret = value;
      else throw new Error(`key ${name}: a clause other than algorithm and secret`);
      at += 2;
    }
    if (algorithm === undefined || secret === undefined) throw new Error(`key ${name}: needs both algorithm and secret`);
    const known = ALGORITHMS[algorithm];
    if (known === undefined) throw new Error(`key ${name}: unsupported algorithm ${algorithm}`);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw new Error(`key ${name}: the secret is not base64`);
    keys.push({ name: name.toLowerCase().replace(/\.$/, ''), algorithm: known.wire, hash: known.hash, secret: Buffer.from(secret, 'base64') });
  }
  if (keys.length !== 1) throw new Error(keys.length === 0 ? 'no key statement' : `${keys.length} key statements; give a file with one`);
  return keys[0] as TsigKey;
}

export function readKeyFile(path: string): TsigKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Failure(path, `cannot read TSIG key: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseKeyFile(text);
  } catch (err) {
    throw new Failure(path, `not a BIND key file: ${(err as Error).message}`);
  }
}

/** RFC 8945 §5.2.3: a server accepts a signature made within this many seconds of its clock. */
export const FUDGE_SECONDS = 300;

const CLASS_ANY = 255;
export const TYPE_TSIG = 250;

/** The TSIG values that go into the MAC besides the message (RFC 8945 §4.3.3). */
export interface TsigFields {
  timeSigned: number;
  fudge: number;
  error: number;
  other: Buffer;
}

function variables(key: TsigKey, fields: TsigFields): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt16BE(CLASS_ANY, 0);
  fixed.writeUInt32BE(0, 2); // TTL
  fixed.writeUIntBE(fields.timeSigned, 6, 6);
  fixed.writeUInt16BE(fields.fudge, 12);
  fixed.writeUInt16BE(fields.error, 14);
  const otherLength = Buffer.alloc(2);
  otherLength.writeUInt16BE(fields.other.length);
  // Names in canonical form: lower case, uncompressed.
  return Buffer.concat([encodeName(key.name), fixed.subarray(0, 6), encodeName(key.algorithm), fixed.subarray(6), otherLength, fields.other]);
}

function mac(key: TsigKey, parts: Buffer[]): Buffer {
  const hmac = createHmac(key.hash, key.secret);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/**
 * Signs a message: returns it with the TSIG record appended (ARCOUNT raised by one) and the MAC,
 * which the answer's MAC covers.
 */
export function signMessage(message: Buffer, key: TsigKey, now: number): { signed: Buffer; requestMac: Buffer } {
  const fields: TsigFields = { timeSigned: now, fudge: FUDGE_SECONDS, error: 0, other: Buffer.alloc(0) };
  const requestMac = mac(key, [message, variables(key, fields)]);
  const rdataHead = Buffer.alloc(8);
  rdataHead.writeUIntBE(fields.timeSigned, 0, 6);
  rdataHead.writeUInt16BE(fields.fudge, 6);
  const macLength = Buffer.alloc(2);
  macLength.writeUInt16BE(requestMac.length);
  const rdataTail = Buffer.alloc(6);
  rdataTail.writeUInt16BE(message.readUInt16BE(0), 0); // original ID
  rdataTail.writeUInt16BE(0, 2); // error
  rdataTail.writeUInt16BE(0, 4); // other length
  const rdata = Buffer.concat([encodeName(key.algorithm), rdataHead, macLength, requestMac, rdataTail]);
  const rrHead = Buffer.alloc(10);
  rrHead.writeUInt16BE(TYPE_TSIG, 0);
  rrHead.writeUInt16BE(CLASS_ANY, 2);
  rrHead.writeUInt32BE(0, 4);
  rrHead.writeUInt16BE(rdata.length, 8);
  const signed = Buffer.concat([message, encodeName(key.name), rrHead, rdata]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, requestMac };
}

/** A TSIG record as found in an answer. */
export interface ReceivedTsig extends TsigFields {
  keyName: string;
  algorithm: string;
  mac: Buffer;
}

/**
 * Whether the answer's MAC is the one the key makes (RFC 8945 §5.3): over the request's MAC, the
 * answer without its TSIG record (ARCOUNT one less), and the answer's TSIG variables.
 */
export function answerVerifies(key: TsigKey, requestMac: Buffer, unsigned: Buffer, tsig: ReceivedTsig): boolean {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(requestMac.length);
  const expected = mac(key, [length, requestMac, unsigned, variables(key, tsig)]);
  return expected.length === tsig.mac.length && timingSafeEqual(expected, tsig.mac);
}
