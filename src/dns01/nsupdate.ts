// The nsupdate provider: RFC 2136 dynamic updates signed with TSIG, to the server given or the
// zone's primary from its SOA. Each challenge adds one TXT record; clean-up deletes exactly that
// record (class NONE), leaving any other value at the same name alone. Without a key the updates
// go unsigned, for a server that allows them by address (the ACME Management Server's
// dns01-dnsUpdate setups are such).
//
// Over TCP: an update and its answer are one exchange each, with no retransmission or
// truncation to handle, and no answer can come from an off-path sender.

import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { Failure } from '../log.js';
import type { DnsView, ServerAddress } from './propagation.js';
import { formatServer } from './propagation.js';
import type { Provider, TxtRecord } from './provider.js';
import { ReceivedTsig, TsigKey, TYPE_TSIG, answerVerifies, readKeyFile, signMessage } from './tsig.js';
import { CLASS_IN, CLASS_NONE, MalformedMessage, TxtChange, parseAnswer, rcodeName, readName, updateMessage } from './wire.js';

/** Short: resolvers must not keep a challenge value after it is removed. */
const RECORD_TTL = 60;
const EXCHANGE_TIMEOUT_MS = 15_000;
const RCODE_NOTAUTH = 9;

export interface NsupdateOptions {
  /** --tsig-key-file, or null to send updates unsigned. */
  keyFile: string | null;
  /** --nsupdate-server, else the zone's primary (SOA MNAME) on port 53. */
  server: ServerAddress | null;
  /** --zone, else found by SOA lookups. */
  zone: string | null;
}

/** One DNS message over TCP (two-byte length prefix both ways), and its answer. */
function exchange(server: ServerAddress, message: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    const fail = (problem: string): void => {
      socket.destroy();
      reject(new Failure(formatServer(server), problem));
    };
    socket.setTimeout(EXCHANGE_TIMEOUT_MS, () => fail(`no answer to the update within ${EXCHANGE_TIMEOUT_MS / 1000} s`));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(`cannot send the update: ${err.code ?? err.message}`));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        socket.destroy();
        resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.once('end', () => fail('connection closed before a whole answer'));
    const length = Buffer.alloc(2);
    length.writeUInt16BE(message.length);
    socket.write(Buffer.concat([length, message]));
  });
}

function parseTsigRdata(owner: string, rdata: Buffer): ReceivedTsig {
  const algorithm = readName(rdata, 0);
  let at = algorithm.next;
  if (at + 10 > rdata.length) throw new MalformedMessage('short TSIG record');
  const timeSigned = rdata.readUIntBE(at, 6);
  const fudge = rdata.readUInt16BE(at + 6);
  const macLength = rdata.readUInt16BE(at + 8);
  at += 10;
  const mac = rdata.subarray(at, at + macLength);
  at += macLength;
  if (at + 6 > rdata.length) throw new MalformedMessage('short TSIG record');
  const error = rdata.readUInt16BE(at + 2);
  const otherLength = rdata.readUInt16BE(at + 4);
  const other = rdata.subarray(at + 6, at + 6 + otherLength);
  if (other.length !== otherLength) throw new MalformedMessage('short TSIG record');
  return { keyName: owner, algorithm: algorithm.name, timeSigned, fudge, mac, error, other };
}

/**
 * Sends one update, signed when there is a key, and judges the answer: NOERROR (with a TSIG
 * signature that verifies, when signed), or a Failure naming the server and what it answered
 * (REFUSED, NOTAUTH (BADSIG), ...).
 */
async function sendUpdate(server: ServerAddress, key: TsigKey | null, zone: string, changes: TxtChange[]): Promise<void> {
  const id = randomInt(0x10000);
  const message = updateMessage(id, zone, changes);
  const { signed, requestMac } = key === null ? { signed: message, requestMac: null } : signMessage(message, key, Math.floor(Date.now() / 1000));
  const answer = await exchange(server, signed);
  const subject = formatServer(server);
  let parsed;
  let tsig: ReceivedTsig | null = null;
  try {
    parsed = parseAnswer(answer, TYPE_TSIG);
    if (parsed.tsig !== null) tsig = parseTsigRdata(parsed.tsig.owner, parsed.tsig.rdata);
  } catch (err) {
    throw new Failure(subject, `malformed answer to the update: ${(err as Error).message}`);
  }
  if (parsed.id !== id || !parsed.isResponse || parsed.opcode !== 5) throw new Failure(subject, 'the answer does not belong to the update');
  const what = `update of zone ${zone}`;
  const by = key === null ? 'to an unsigned update' : `to key ${key.name}`;
  // A TSIG error (RFC 8945 §5.2) comes as NOTAUTH, with the reason in the TSIG record's error field.
  if (tsig !== null && tsig.error !== 0) {
    throw new Failure(subject, `${what}: server answered ${rcodeName(parsed.rcode)} (${rcodeName(tsig.error)}) ${by}`);
  }
  if (parsed.rcode !== 0) {
    const hint = parsed.rcode === RCODE_NOTAUTH ? ` (the server is not authoritative for ${zone}, or refuses ${key === null ? 'unsigned updates' : `key ${key.name}`})` : '';
    throw new Failure(subject, `${what}: server answered ${rcodeName(parsed.rcode)}${hint}`);
  }
  if (key === null || requestMac === null) return;
  if (tsig === null) throw new Failure(subject, `${what}: the answer is not signed with key ${key.name}`);
  if (tsig.keyName !== key.name || tsig.algorithm !== key.algorithm || !answerVerifies(key, requestMac, unsignedPart(answer, parsed.tsig?.start as number), tsig)) {
    throw new Failure(subject, `${what}: the answer's TSIG signature does not verify`);
  }
  if (Math.abs(Math.floor(Date.now() / 1000) - tsig.timeSigned) > tsig.fudge) {
    throw new Failure(subject, `${what}: the answer's signing time is more than ${tsig.fudge} s off this clock`);
  }
}

/** The answer as the server signed it: without its TSIG record, ARCOUNT one less. */
function unsignedPart(answer: Buffer, tsigStart: number): Buffer {
  const unsigned = Buffer.from(answer.subarray(0, tsigStart));
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  return unsigned;
}

export class NsupdateProvider implements Provider {
  private readonly key: TsigKey | null;
  /** Zone and server per record name, found once: the add and the delete go to the same place. */
  private readonly targets = new Map<string, Promise<{ zone: string; server: ServerAddress }>>();

  constructor(private readonly options: NsupdateOptions, private readonly dns: DnsView) {
    this.key = options.keyFile === null ? null : readKeyFile(options.keyFile);
  }

  private target(name: string): Promise<{ zone: string; server: ServerAddress }> {
    let found = this.targets.get(name);
    if (found === undefined) {
      found = (async () => {
        const { zone, primary } = this.options.zone !== null ? { zone: this.options.zone, primary: null } : await this.dns.findZone(name);
        if (this.options.server !== null) return { zone, server: this.options.server };
        const primaryName = primary ?? (await this.dns.findZone(zone)).primary;
        const [address] = await this.dns.addresses(primaryName);
        return { zone, server: { host: address as string, port: 53 } };
      })();
      this.targets.set(name, found);
    }
    return found;
  }

  async present(record: TxtRecord): Promise<void> {
    const { zone, server } = await this.target(record.name);
    await sendUpdate(server, this.key, zone, [{ class: CLASS_IN, name: record.name, value: record.value, ttl: RECORD_TTL }]);
  }

  async cleanUp(record: TxtRecord): Promise<void> {
    const { zone, server } = await this.target(record.name);
    await sendUpdate(server, this.key, zone, [{ class: CLASS_NONE, name: record.name, value: record.value, ttl: 0 }]);
  }
}
