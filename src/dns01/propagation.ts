// What DNS says, asked of the servers that matter: the zone of a name (SOA, walking up), its
// authoritative servers (NS and their addresses), CNAMEs to follow, and whether each
// authoritative server answers the TXT value yet. The CA asks one of them at random, so a value
// on the primary alone is not enough (the failure lego#1777 and cert-manager#5917 report).
// Node's resolver keeps no answers between questions (measured: a record added between two
// questions of one resolver is in the second answer), so every poll sees the server's present.

import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Failure } from '../log.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ServerAddress {
  host: string;
  port: number;
}

const DNS_PORT = 53;

/** ADDR, ADDR:PORT, [IPV6]:PORT or a bare IPv6 address; the host may be a name where `names` allows. */
export function parseServerAddress(text: string, option: string, names: boolean): ServerAddress {
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?$/.exec(text);
  const plain = /^([^:[\]]+)(?::([0-9]{1,5}))?$/.exec(text);
  const [host, port] = bracketed ? [bracketed[1], bracketed[2]] : plain ? [plain[1], plain[2]] : isIP(text) === 6 ? [text, undefined] : [undefined, undefined];
  const portNumber = port === undefined ? DNS_PORT : Number(port);
  const hostOk = host !== undefined && (isIP(host) !== 0 || (names && /^[A-Za-z0-9.-]{1,253}$/.test(host)));
  if (!hostOk || portNumber < 1 || portNumber > 65535) {
    throw new Failure(option, `not ${names ? 'a name or an address' : 'an IP address'} with an optional :port: ${text}`);
  }
  return { host: host as string, port: portNumber };
}

export function formatServer(server: ServerAddress): string {
  return isIP(server.host) === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** One authoritative server of a zone, by its NS name, with the addresses to ask it at. */
export interface NameServer {
  name: string;
  addresses: string[];
}

const RESOLVER_OPTIONS = { timeout: 3000, tries: 2 };
/** Answers that mean "no such record here", as opposed to "could not ask". */
const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND']);

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** The DNS as seen through one recursive resolver: --dns-server, or the system's. */
export class DnsView {
  private readonly resolver = new Resolver(RESOLVER_OPTIONS);

  constructor(private readonly server: ServerAddress | null) {
    if (server !== null) this.resolver.setServers([formatServer(server)]);
  }

  private get label(): string {
    return this.server === null ? 'system resolver' : formatServer(this.server);
  }

  /** The zone holding `name`: the nearest enclosing name with an SOA record. */
  async findZone(name: string): Promise<{ zone: string; primary: string }> {
    const labels = name.split('.');
    for (let at = 0; at < labels.length - 1; at++) {
      const candidate = labels.slice(at).join('.');
      try {
        const soa = await this.resolver.resolveSoa(candidate);
        return { zone: candidate, primary: soa.nsname.replace(/\.$/, '').toLowerCase() };
      } catch (err) {
        if (!NO_RECORD.has(errorCode(err))) throw new Failure(this.label, `SOA lookup of ${candidate}: ${errorCode(err)}`);
      }
    }
    throw new Failure(name, `no zone found by SOA lookups through the ${this.label}; give --zone`);
  }

  /** The addresses of a host name (A and AAAA); an address is returned as it is. */
  async addresses(host: string): Promise<string[]> {
    if (isIP(host) !== 0) return [host];
    const found: string[] = [];
    let failure: string | null = null;
    for (const lookup of [(r: Resolver) => r.resolve4(host), (r: Resolver) => r.resolve6(host)]) {
      try {
        found.push(...(await lookup(this.resolver)));
      } catch (err) {
        if (!NO_RECORD.has(errorCode(err))) failure = errorCode(err);
      }
    }
    if (found.length === 0) throw new Failure(host, failure === null ? 'has no address' : `address lookup through the ${this.label}: ${failure}`);
    return found;
  }

  /** Every authoritative server of `zone`, from its NS records. */
  async nameServers(zone: string): Promise<NameServer[]> {
    let names: string[];
    try {
      names = await this.resolver.resolveNs(zone);
    } catch (err) {
      throw new Failure(zone, `NS lookup through the ${this.label}: ${errorCode(err)}`);
    }
    return Promise.all(names.map(async (ns) => ({ name: ns.toLowerCase(), addresses: await this.addresses(ns) })));
  }

  /** Where `name` leads after its CNAMEs (a delegation of _acme-challenge, as acme-dns uses). */
  async followCnames(name: string): Promise<string> {
    const seen = new Set<string>([name]);
    let current = name;
    for (;;) {
      let target: string | undefined;
      try {
        target = (await this.resolver.resolveCname(current))[0];
      } catch (err) {
        if (NO_RECORD.has(errorCode(err))) return current;
        throw new Failure(this.label, `CNAME lookup of ${current}: ${errorCode(err)}`);
      }
      if (target === undefined) return current;
      current = target.replace(/\.$/, '').toLowerCase();
      if (seen.has(current) || seen.size > 8) throw new Failure(name, 'CNAME chain loops or is longer than 8');
      seen.add(current);
    }
  }
}

/** What one authoritative server answers for the TXT records of `name`: the values, or why none. */
async function txtAt(address: string, name: string): Promise<string[] | string> {
  const resolver = new Resolver(RESOLVER_OPTIONS);
  resolver.setServers([formatServer({ host: address, port: DNS_PORT })]);
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
  } catch (err) {
    return NO_RECORD.has(errorCode(err)) ? [] : errorCode(err);
  }
}

const FIRST_POLL_MS = 250;
const LONGEST_POLL_MS = 4000;

/**
 * Resolves once every authoritative server answers `value` among the TXT records of `name` (one
 * address of each name server is enough, as dehydrated checks); fails after `timeoutMs` naming a
 * server that does not, and what it answered; or as soon as `stop` is aborted.
 */
export async function waitForTxt(servers: readonly NameServer[], name: string, value: string, timeoutMs: number, stop: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...servers];
  let lastAnswers = new Map<string, string>();
  for (let delay = FIRST_POLL_MS; ; delay = Math.min(delay * 2, LONGEST_POLL_MS)) {
    const answers = new Map<string, string>();
    const seen = await Promise.all(pending.map(async (server) => {
      for (const address of server.addresses) {
        const answer = await txtAt(address, name);
        if (typeof answer !== 'string' && answer.includes(value)) return true;
        answers.set(server.name, `${address} answered ${typeof answer === 'string' ? answer : answer.length === 0 ? 'no TXT record' : `only ${answer.join(', ')}`}`);
      }
      return false;
    }));
    pending = pending.filter((_, index) => !seen[index]);
    lastAnswers = answers;
    if (pending.length === 0) return;
    if (Date.now() + delay > deadline) {
      const server = pending[0] as NameServer;
      throw new Failure(name, `TXT value not seen at ${server.name} within ${Math.round(timeoutMs / 1000)} s (${lastAnswers.get(server.name)})`);
    }
    await sleep(delay, undefined, { signal: stop });
  }
}
