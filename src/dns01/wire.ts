// DNS messages for RFC 2136 dynamic update, written here rather than with npm's dns-packet, which
// was measured (5.6.1) against what an update needs: it encodes class NONE silently as 0 (so it
// cannot delete one record), leaves the UPDATE opcode out unless the raw flags are set, has no
// TSIG record encoder, and its decoder does not say where the TSIG record of an answer starts,
// which verifying the answer's MAC needs. What remains for it to do is a header, a name and a TXT
// string: fewer lines than the glue would be.

export const TYPE_SOA = 6;
export const TYPE_TXT = 16;
export const CLASS_IN = 1;
/** RFC 2136 §2.5.4: in an update, "delete this one record". */
export const CLASS_NONE = 254;
const OPCODE_UPDATE = 5;

/** A name in wire form, lower case (the canonical form TSIG needs), never compressed. */
export function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((label) => label !== '');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label.toLowerCase(), 'ascii');
    if (bytes.length > 63) throw new Error(`label longer than 63 bytes: ${label}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export interface TxtChange {
  /** CLASS_IN adds the record, CLASS_NONE deletes exactly it. */
  class: typeof CLASS_IN | typeof CLASS_NONE;
  name: string;
  value: string;
  ttl: number;
}

/** An UPDATE for `zone` with the given TXT changes, unsigned (RFC 2136 §2). */
export function updateMessage(id: number, zone: string, changes: readonly TxtChange[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(OPCODE_UPDATE << 11, 2);
  header.writeUInt16BE(1, 4); // ZOCOUNT
  header.writeUInt16BE(changes.length, 8); // UPCOUNT
  const zoneSection = Buffer.concat([encodeName(zone), u16(TYPE_SOA), u16(CLASS_IN)]);
  const records = changes.map((change) => {
    const text = Buffer.from(change.value, 'ascii');
    if (text.length > 255) throw new Error('TXT string longer than 255 bytes');
    const rdata = Buffer.concat([Buffer.from([text.length]), text]);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(TYPE_TXT, 0);
    fixed.writeUInt16BE(change.class, 2);
    // RFC 2136 §2.5.4: a deletion's TTL is zero.
    fixed.writeUInt32BE(change.class === CLASS_NONE ? 0 : change.ttl, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    return Buffer.concat([encodeName(change.name), fixed, rdata]);
  });
  return Buffer.concat([header, zoneSection, ...records]);
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

export class MalformedMessage extends Error {}

/** Reads a possibly compressed name at `offset`: the name, and where the bytes after it start. */
export function readName(message: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let at = offset;
  let next = -1;
  for (let jumps = 0; ; ) {
    if (at >= message.length) throw new MalformedMessage('name runs past the end');
    const length = message[at] as number;
    if (length === 0) {
      if (next === -1) next = at + 1;
      break;
    }
    if ((length & 0xc0) === 0xc0) {
      if (at + 1 >= message.length || ++jumps > 64) throw new MalformedMessage('bad compression pointer');
      if (next === -1) next = at + 2;
      at = ((length & 0x3f) << 8) | (message[at + 1] as number);
      continue;
    }
    if ((length & 0xc0) !== 0 || at + 1 + length > message.length) throw new MalformedMessage('bad label');
    labels.push(message.toString('latin1', at + 1, at + 1 + length));
    at += 1 + length;
  }
  return { name: labels.join('.').toLowerCase(), next };
}

export interface ParsedAnswer {
  id: number;
  isResponse: boolean;
  opcode: number;
  rcode: number;
  /** The last additional record when it is a TSIG record: its start, its owner and its RDATA. */
  tsig: { start: number; owner: string; rdata: Buffer } | null;
}

/** The header of an answer and, if there is one, where its TSIG record is. */
export function parseAnswer(message: Buffer, typeTsig: number): ParsedAnswer {
  if (message.length < 12) throw new MalformedMessage('shorter than a DNS header');
  const flags = message.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((at) => message.readUInt16BE(at)) as [number, number, number, number];
  let at = 12;
  for (let i = 0; i < counts[0]; i++) at = readName(message, at).next + 4;
  const records = counts[1] + counts[2] + counts[3];
  let last: ParsedAnswer['tsig'] = null;
  for (let i = 0; i < records; i++) {
    const start = at;
    const owner = readName(message, at);
    if (owner.next + 10 > message.length) throw new MalformedMessage('record runs past the end');
    const type = message.readUInt16BE(owner.next);
    const rdlength = message.readUInt16BE(owner.next + 8);
    const rdataStart = owner.next + 10;
    if (rdataStart + rdlength > message.length) throw new MalformedMessage('record data runs past the end');
    at = rdataStart + rdlength;
    last = i === records - 1 && counts[3] > 0 && type === typeTsig ? { start, owner: owner.name, rdata: message.subarray(rdataStart, at) } : null;
  }
  if (at !== message.length) throw new MalformedMessage('bytes after the last record');
  // The extended RCODE of EDNS is not needed: an update answer's errors fit the header's four bits.
  return { id: message.readUInt16BE(0), isResponse: (flags & 0x8000) !== 0, opcode: (flags >> 11) & 0xf, rcode: flags & 0xf, tsig: last };
}

/** RCODE names (RFC 1035, RFC 2136) and TSIG error names (RFC 8945 §3). */
export const RCODES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
  6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE',
  16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC',
};

export function rcodeName(code: number): string {
  return RCODES[code] ?? `RCODE ${code}`;
}
