// acme-client-server's configuration: the ACME Management Server's INI files, read as they are,
// so that its users move over unchanged. Sections [account], [mgmt], [verification "NAME"],
// [storage "NAME"] and [auth "NAME"]; a key may be repeated where it is a list (listener, ip,
// domain, dns-server). What the Management Server only warns about (an unknown section, an unknown
// key outside [auth], a key before the first section) is a warning naming file and line here too;
// anything else not understood is one line naming file, line and key, and the service does not
// start: a typo in an auth block must not quietly open or close it.
//
// The reader is ours, not the npm `ini` package's: that one has no line numbers to report, nests
// a section name with a dot in it, cuts values at ';' and '#' (an hmac_key may hold either), and
// turns "true" into a boolean. This format is simpler than what it handles: whole-line comments
// (# or ;), [section] lines, and key = value split at the first '='.

import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { caUrlProblem } from '../acme/caurl.js';
import { LETSENCRYPT_STAGING } from '../defaults.js';
import { formatServer, parseServerAddress } from '../dns01/propagation.js';
import { Failure } from '../log.js';
import type { LogDestination, LogLevel, LogSettings } from './logging.js';

export interface Listener {
  host: string;
  port: number;
}

export type Verification =
  | { name: string; type: 'http01'; listeners: Listener[] }
  /** tsigKeyFile: our one addition to the format, to sign the updates; without it they go unsigned, as the Management Server sends them. */
  | { name: string; type: 'dns01-dnsUpdate'; dnsServers: string[]; ttl: number; timeoutSeconds: number; tsigKeyFile: string | null }
  /**
   * Ours: dns-persist-01, through the standing records published for the service's account; dnsServer
   * (ADDRESS:PORT) is the resolver acme-client asks for them, null for the system's.
   */
  | { name: string; type: 'dns-persist01'; dnsServer: string | null };

export type Storage =
  | { name: string; type: 'none' }
  /** renewWithinDays null: renewed once a third of the lifetime is left. */
  | { name: string; type: 'file'; directory: string; renewWithinDays: number | null };

export interface Network {
  /** 4 or 6, with the address as 4 or 16 bytes. */
  family: 4 | 6;
  bytes: Buffer;
  prefix: number;
}

export type HmacAlgorithm = 'sha256' | 'sha384' | 'sha512';

export interface AuthBlock {
  name: string;
  /** Empty: no address check. */
  networks: Network[];
  hmac: { algorithm: HmacAlgorithm; key: Buffer } | null;
  /** Globs: * any run of characters, ? one, [...] a class. */
  domains: string[];
  verification: Verification;
  storage: Storage;
}

/** Something read past, as the Management Server reads past it: said, then carried on. */
export interface ConfigWarning {
  subject: string;
  problem: string;
}

/** Every problem found in a configuration, each its own Failure (FILE:LINE); the first is this one's. */
export class ConfigProblems extends Failure {
  constructor(readonly problems: Failure[]) {
    super((problems[0] as Failure).subject, (problems[0] as Failure).problem);
  }
}

/**
 * [account] accept-terms-of-service: with it, a missing account is made at start-up. `any`: yes or
 * true, whatever the CA's terms; else the CA's terms (its directory's meta.termsOfService) must be one of `urls`.
 */
export type AcceptedTerms = { any: true } | { any: false; urls: string[] };

export interface ServerConfig {
  file: string;
  warnings: ConfigWarning[];
  logging: LogSettings;
  accountDir: string;
  acmeServer: string;
  /** null: the account must be there (made by --register). */
  acceptTerms: AcceptedTerms | null;
  /** Our addition to [account]: the external account binding the account is made with at start-up. */
  eab: { kid: string; keyFile: string } | null;
  mgmtListeners: Listener[];
  maxSize: number;
  /** Our additions to [mgmt]: how much load the service takes on (see acme-client-server.conf(5)). */
  limits: ServiceLimits;
  verifications: Verification[];
  auth: AuthBlock[];
}

export interface ServiceLimits {
  /** acme-client runs at once. */
  concurrentOrders: number;
  /** Orders that may wait for a run; one more is answered 503. */
  queueLength: number;
  /** Seconds a client has to send its request's headers. */
  headerTimeout: number;
  /** Open connections per listener; past it, 503. */
  maxConnections: number;
}

const DEFAULT_MAX_SIZE = 4096;
/** Each run is six processes, and two cores serve them all. */
const DEFAULT_LIMITS: ServiceLimits = { concurrentOrders: 4, queueLength: 100, headerTimeout: 10, maxConnections: 512 };
const DEFAULT_MGMT_LISTENERS: Listener[] = [{ host: '127.0.0.1', port: 1313 }, { host: '::1', port: 1313 }];
const DEFAULT_HTTP01_LISTENERS: Listener[] = [{ host: '0.0.0.0', port: 1380 }, { host: '::', port: 1380 }];
const DEFAULT_DNS_SERVER = '127.0.0.1';
const DEFAULT_TTL = 60;
const DEFAULT_DNS_TIMEOUT = 5;
const HMAC_ALGORITHMS: readonly HmacAlgorithm[] = ['sha256', 'sha384', 'sha512'];

interface Entry {
  key: string;
  value: string;
  line: number;
}

interface Section {
  /** The file it is in, of those read as one. */
  file: string;
  kind: 'account' | 'mgmt' | 'logging' | 'verification' | 'storage' | 'auth' | 'unknown';
  name: string;
  line: number;
  entries: Entry[];
}

const SECTION = /^(account|mgmt|logging)$|^(verification|storage|auth)\s+("?)([^"]+)\3$/;

/**
 * A file's sections in order, every line accounted for; an unknown section is kept, to be read
 * past. `seen` spans the files read as one: a section is given once in all of them.
 */
function readSections(file: string, text: string, warnings: ConfigWarning[], seen: Map<string, string>): Section[] {
  const sections: Section[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;
    if (trimmed.startsWith('[') && trimmed.endsWith(']')) {
      const header = trimmed.slice(1, -1).trim();
      const match = SECTION.exec(header);
      if (match === null) {
        warnings.push({ subject: `${file}:${line}`, problem: `[${header}]: unknown section, ignored` });
        sections.push({ file, kind: 'unknown', name: header, line, entries: [] });
        return;
      }
      const kind = (match[1] ?? match[2]) as Section['kind'];
      const name = match[4] ?? kind;
      const id = `${kind} ${name}`;
      const first = seen.get(id);
      if (first !== undefined) throw new Failure(`${file}:${line}`, `[${header}]: section given twice (first at ${first})`);
      seen.set(id, `${file}:${line}`);
      sections.push({ file, kind, name, line, entries: [] });
      return;
    }
    const equals = trimmed.indexOf('=');
    if (equals <= 0) throw new Failure(`${file}:${line}`, `${trimmed.slice(0, 40)}: not a key = value line`);
    const current = sections[sections.length - 1];
    const key = trimmed.slice(0, equals).trim();
    if (current === undefined) warnings.push({ subject: `${file}:${line}`, problem: `${key}: before the first section, ignored` });
    else current.entries.push({ key, value: trimmed.slice(equals + 1).trim(), line });
  });
  return sections;
}

/**
 * Reads one section's entries against the keys it may have; each key is read once. An unknown
 * key is a warning (once, however often the section is read), except in [auth], where it fails.
 */
class Keys {
  private readonly used = new Set<string>();

  private readonly file: string;

  constructor(private readonly section: Section, allowed: readonly string[], warnings: ConfigWarning[] | null) {
    this.file = section.file;
    for (const entry of section.entries) {
      if (allowed.includes(entry.key)) continue;
      if (warnings === null) this.fail(entry, `unknown key in ${this.where}`);
      const warning = { subject: `${this.file}:${entry.line}`, problem: `${entry.key}: unknown key in ${this.where}, ignored` };
      if (!warnings.some((w) => w.subject === warning.subject && w.problem === warning.problem)) warnings.push(warning);
    }
  }

  get where(): string {
    return this.section.kind === this.section.name ? `[${this.section.kind}]` : `[${this.section.kind} "${this.section.name}"]`;
  }

  /** FILE:LINE of an entry. */
  at(entry: Entry): string {
    return `${this.file}:${entry.line}`;
  }

  fail(entry: Entry, problem: string): never {
    throw new Failure(`${this.file}:${entry.line}`, `${entry.key}: ${problem}`);
  }

  list(key: string): Entry[] {
    this.used.add(key);
    return this.section.entries.filter((e) => e.key === key);
  }

  /** A key that may appear once. */
  one(key: string): Entry | null {
    const found = this.list(key);
    if (found.length > 1) this.fail(found[1] as Entry, `given twice in ${this.where} (first on line ${found[0]?.line})`);
    return found[0] ?? null;
  }

  /** A whole number in [min, max]; null when absent. */
  number(key: string, min: number, max: number): number | null {
    const entry = this.one(key);
    if (entry === null) return null;
    if (!/^\d{1,9}$/.test(entry.value) || Number(entry.value) < min || Number(entry.value) > max) {
      this.fail(entry, `not a whole number from ${min} to ${max}: ${entry.value}`);
    }
    return Number(entry.value);
  }

  /** The section's header line stands for a required key that is missing. */
  missing(key: string): never {
    throw new Failure(`${this.file}:${this.section.line}`, `${key}: required in ${this.where}`);
  }
}

/**
 * A directory as the Management Server takes it: a relative path against the working directory,
 * which is said, with the path it comes to (a service's working directory is often /).
 */
function directoryPath(keys: Keys, entry: Entry, warnings: ConfigWarning[]): string {
  if (entry.value.startsWith('/')) return entry.value;
  const absolute = resolve(entry.value);
  warnings.push({ subject: keys.at(entry), problem: `${entry.key}: relative path ${entry.value}, taken as ${absolute} (against the working directory)` });
  return absolute;
}

/** ADDR:PORT, [IPv6]:PORT; an empty value (a listener switched off) gives null. */
function parseListener(keys: Keys, entry: Entry): Listener | null {
  if (entry.value === '') return null;
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(entry.value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (match === null || host === undefined || !(port >= 1 && port <= 65535)) keys.fail(entry, `not ADDRESS:PORT or [ADDRESS]:PORT: ${entry.value}`);
  if (isIP(host.replace(/%.*$/, '')) === 0) keys.fail(entry, `not an IP address: ${host}`);
  return { host, port };
}

/** The listeners given (none, when each is switched off), or the defaults when the key is absent. */
function listeners(keys: Keys, key: string, defaults: Listener[]): Listener[] {
  const given = keys.list(key);
  if (given.length === 0) return defaults;
  return given.map((entry) => parseListener(keys, entry)).filter((l): l is Listener => l !== null);
}

/** An address, or a network as ADDRESS/PREFIX. */
function parseNetwork(keys: Keys, entry: Entry): Network {
  const [address = '', prefixText, ...rest] = entry.value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) keys.fail(entry, `not an IP address or network: ${entry.value}`);
  const bits = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= bits)) keys.fail(entry, `prefix length out of range: ${entry.value}`);
  return { family: family as 4 | 6, bytes: addressBytes(address), prefix };
}

/** An IPv4 or IPv6 address (as isIP accepts it) as 4 or 16 bytes. */
export function addressBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const b = addressBytes(v4[1] as string);
    text = `${text.slice(0, -v4[0].length)}${((b[0] as number) * 256 + (b[1] as number)).toString(16)}:${((b[2] as number) * 256 + (b[3] as number)).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

function parseSize(keys: Keys): number {
  const entry = keys.one('max-size');
  if (entry === null) return DEFAULT_MAX_SIZE;
  const match = /^(\d{1,7})([kKmM]?)$/.exec(entry.value);
  const size = match === null ? NaN : Number(match[1]) * (match[2] === '' ? 1 : /k/i.test(match[2] as string) ? 1024 : 1024 * 1024);
  if (!(size >= 1 && size <= 1 << 20)) keys.fail(entry, `not a size of at most 1m (such as 4096, 4k): ${entry.value}`);
  return size;
}

/** The Management Server's verification types for the test CAs it is tested against. */
const TEST_ONLY_VERIFICATIONS = ['dns01-boulder', 'dns01-server'];

function parseVerification(section: Section, warnings: ConfigWarning[]): Verification {
  // The type first, quietly: which other keys are unknown depends on it.
  const type = new Keys(section, ['type', 'listener', 'dns-server', 'ttl', 'timeout', 'tsig-key-file'], []).one('type');
  if (type === null) return new Keys(section, [], []).missing('type');
  switch (type.value) {
    case 'http01': {
      const keys = new Keys(section, ['type', 'listener'], warnings);
      return { name: section.name, type: 'http01', listeners: listeners(keys, 'listener', DEFAULT_HTTP01_LISTENERS) };
    }
    case 'dns01-dnsUpdate': {
      const keys = new Keys(section, ['type', 'dns-server', 'ttl', 'timeout', 'tsig-key-file'], warnings);
      const servers = keys.list('dns-server');
      for (const entry of servers) if (isIP(entry.value) === 0) keys.fail(entry, `not an IP address: ${entry.value}`);
      const keyFile = keys.one('tsig-key-file');
      if (keyFile !== null && !keyFile.value.startsWith('/')) keys.fail(keyFile, `not an absolute path: ${keyFile.value}`);
      return {
        name: section.name, type: 'dns01-dnsUpdate', dnsServers: servers.length > 0 ? servers.map((e) => e.value) : [DEFAULT_DNS_SERVER],
        ttl: keys.number('ttl', 1, 86_400) ?? DEFAULT_TTL, timeoutSeconds: keys.number('timeout', 1, 3600) ?? DEFAULT_DNS_TIMEOUT,
        tsigKeyFile: keyFile?.value ?? null,
      };
    }
    case 'dns-persist01': {
      const keys = new Keys(section, ['type', 'dns-server'], warnings);
      const server = keys.one('dns-server');
      let dnsServer: string | null = null;
      if (server !== null) {
        try {
          dnsServer = formatServer(parseServerAddress(server.value, server.key, false));
        } catch {
          keys.fail(server, `not an IP address with an optional :port: ${server.value}`);
        }
      }
      return { name: section.name, type: 'dns-persist01', dnsServer };
    }
    default: {
      const keys = new Keys(section, ['type'], []);
      if (TEST_ONLY_VERIFICATIONS.includes(type.value)) {
        keys.fail(type, `${type.value} is documented by the ACME Management Server as for its tests only: use dns01-dnsUpdate (a DNS server taking RFC 2136 updates) or http01`);
      }
      return keys.fail(type, `unknown verification type ${type.value} (http01, dns01-dnsUpdate or dns-persist01)`);
    }
  }
}

function parseStorage(section: Section, warnings: ConfigWarning[]): Storage {
  const type = new Keys(section, ['type', 'directory', 'renew-within'], []).one('type');
  if (type === null) return new Keys(section, [], []).missing('type');
  switch (type.value) {
    case 'none':
      new Keys(section, ['type'], warnings);
      return { name: section.name, type: 'none' };
    case 'file': {
      const keys = new Keys(section, ['type', 'directory', 'renew-within'], warnings);
      const directory = keys.one('directory');
      if (directory === null || directory.value === '') return keys.missing('directory');
      return { name: section.name, type: 'file', directory: directoryPath(keys, directory, warnings), renewWithinDays: keys.number('renew-within', 1, 3650) };
    }
    default:
      return new Keys(section, ['type'], []).fail(type, `unknown storage type ${type.value} (none or file)`);
  }
}

const LOG_DESTINATIONS: readonly LogDestination[] = ['stderr', 'stdout', 'syslog'];
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warning', 'error'];

/** [logging]: destination and level as the Management Server has them; its Python logging file is not ours to read. */
function parseLogging(keys: Keys): LogSettings {
  const config = keys.one('config');
  if (config !== null) keys.fail(config, 'a Python logging configuration file cannot be read here: use destination = stderr|stdout|syslog and level = debug|info|warning|error');
  const destination = keys.one('destination');
  if (destination !== null && !(LOG_DESTINATIONS as readonly string[]).includes(destination.value)) keys.fail(destination, `not ${LOG_DESTINATIONS.join(', ')}: ${destination.value}`);
  const level = keys.one('level');
  if (level !== null && !(LOG_LEVELS as readonly string[]).includes(level.value.toLowerCase())) keys.fail(level, `not ${LOG_LEVELS.join(', ')}: ${level.value}`);
  return { destination: (destination?.value ?? 'stderr') as LogDestination, level: (level?.value.toLowerCase() ?? 'warning') as LogLevel };
}

const YES = ['yes', 'true'];
const NO = ['no', 'false'];

/**
 * accept-terms-of-service = yes|true, or the terms URLs accepted (several on one line, or the key
 * repeated); no|false is as if absent.
 */
function parseAcceptTerms(keys: Keys): AcceptedTerms | null {
  const entries = keys.list('accept-terms-of-service');
  const words = entries.flatMap((entry) => entry.value.split(/\s+/).filter((word) => word !== '').map((word) => ({ entry, word })));
  if (entries.length > 0 && words.length === 0) keys.fail(entries[0] as Entry, 'empty: yes, true, or the terms URLs accepted');
  const flags = words.filter(({ word }) => YES.includes(word.toLowerCase()) || NO.includes(word.toLowerCase()));
  if (flags.length > 0 && words.length > 1) keys.fail((flags[0] as { entry: Entry }).entry, 'yes, true, no or false stands alone: not with terms URLs, nor given twice');
  if (flags.length === 1) return YES.includes((flags[0] as { word: string }).word.toLowerCase()) ? { any: true } : null;
  for (const { entry, word } of words) {
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(word)) keys.fail(entry, `not yes, true, no, false or a URL: ${word}`);
  }
  return words.length === 0 ? null : { any: false, urls: words.map(({ word }) => word) };
}

/** eab-kid and eab-hmac-key-file (ours): the binding of an account made at start-up. */
function parseEab(keys: Keys): { kid: string; keyFile: string } | null {
  const kid = keys.one('eab-kid');
  const keyFile = keys.one('eab-hmac-key-file');
  if ((kid === null) !== (keyFile === null)) keys.fail((kid ?? keyFile) as Entry, 'eab-kid and eab-hmac-key-file go together');
  if (kid === null || keyFile === null) return null;
  if (kid.value === '') keys.fail(kid, 'empty key identifier');
  if (!keyFile.value.startsWith('/')) keys.fail(keyFile, `not an absolute path: ${keyFile.value}`);
  return { kid: kid.value, keyFile: keyFile.value };
}

/** A block names another that failed: that failure is said already. */
class FollowsFromEarlier extends Error {}

/** One file's configuration: see parseServerConfigs. */
export function parseServerConfig(file: string, text: string): ServerConfig {
  return parseServerConfigs([{ file, text }]);
}

/**
 * Reads and checks a whole configuration, of files read in order as one, as the Management
 * Server's `acmems CONFIG...` reads them. Throws ConfigProblems with every problem found (each
 * section read to its first); what the Management Server reads past is in `warnings`.
 */
export function parseServerConfigs(sources: { file: string; text: string }[]): ServerConfig {
  const file = sources.map((s) => s.file).join(' ');
  const firstFile = sources[0]?.file ?? '';
  const warnings: ConfigWarning[] = [];
  const problems: Failure[] = [];
  const attempt = <T>(read: () => T): T | null => {
    try {
      return read();
    } catch (err) {
      if (err instanceof FollowsFromEarlier) return null;
      if (!(err instanceof Failure)) throw err;
      problems.push(err);
      return null;
    }
  };
  const seen = new Map<string, string>();
  const sections: Section[] = [];
  for (const source of sources) {
    const read = attempt(() => readSections(source.file, source.text, warnings, seen));
    if (read !== null) sections.push(...read);
  }
  if (problems.length > 0) throw new ConfigProblems(problems);
  const single = (kind: 'account' | 'mgmt' | 'logging'): Section => sections.find((s) => s.kind === kind) ?? { file: firstFile, kind, name: kind, line: 1, entries: [] };

  const account = attempt(() => {
    const keys = new Keys(single('account'), ['dir', 'acme-server', 'accept-terms-of-service', 'eab-kid', 'eab-hmac-key-file'], warnings);
    const dir = keys.one('dir');
    if (dir === null || dir.value === '') return keys.missing('dir');
    const accountDir = directoryPath(keys, dir, warnings);
    const acmeServerEntry = keys.one('acme-server');
    // As the Management Server: without a CA named, Let's Encrypt's staging service.
    const acmeServer = acmeServerEntry?.value ?? LETSENCRYPT_STAGING;
    if (acmeServerEntry !== null) {
      let url: URL | null = null;
      try {
        url = /^\S+$/.test(acmeServer) ? new URL(acmeServer) : null;
      } catch {
        // said below
      }
      const problem = url === null ? 'not an https URL' : caUrlProblem(url);
      if (problem !== null) keys.fail(acmeServerEntry, `${problem}: ${acmeServer}`);
    }
    return { dir: accountDir, acmeServer, acceptTerms: parseAcceptTerms(keys), eab: parseEab(keys) };
  });

  const logging = attempt(() => parseLogging(new Keys(single('logging'), ['destination', 'level', 'config'], warnings)));

  const mgmt = new Keys(single('mgmt'), ['listener', 'max-size', 'default-verification', 'default-storage',
    'concurrent-orders', 'queue-length', 'header-timeout', 'max-connections'], warnings);
  const mgmtListeners = attempt(() => listeners(mgmt, 'listener', DEFAULT_MGMT_LISTENERS));
  const maxSize = attempt(() => parseSize(mgmt));
  const limits = attempt((): ServiceLimits => ({
    concurrentOrders: mgmt.number('concurrent-orders', 1, 64) ?? DEFAULT_LIMITS.concurrentOrders,
    queueLength: mgmt.number('queue-length', 0, 10_000) ?? DEFAULT_LIMITS.queueLength,
    headerTimeout: mgmt.number('header-timeout', 1, 300) ?? DEFAULT_LIMITS.headerTimeout,
    maxConnections: mgmt.number('max-connections', 1, 100_000) ?? DEFAULT_LIMITS.maxConnections,
  }));

  /** The blocks read, and the names of those that failed. */
  const blocksOf = <T>(kind: 'verification' | 'storage', parse: (section: Section) => T): { blocks: T[]; broken: Set<string> } => {
    const broken = new Set<string>();
    const blocks: T[] = [];
    for (const section of sections.filter((s) => s.kind === kind)) {
      const block = attempt(() => parse(section));
      if (block === null) broken.add(section.name);
      else blocks.push(block);
    }
    return { blocks, broken };
  };
  const verifications = blocksOf('verification', (s) => parseVerification(s, warnings));
  const storages = blocksOf('storage', (s) => parseStorage(s, warnings));
  // As the Management Server does: a default named, else the only block of its kind, else a
  // built-in one (http01 on port 1380; no storage). An empty value means no default; undefined,
  // a default that could not be read.
  const defaultOf = <T extends { name: string }>(key: string, of: { blocks: T[]; broken: Set<string> }, builtIn: () => T): T | null | undefined => {
    const found = attempt(() => {
      const entry = mgmt.one(key);
      if (entry !== null && entry.value === '') return { block: null };
      if (entry !== null) {
        if (of.broken.has(entry.value)) throw new FollowsFromEarlier();
        return { block: of.blocks.find((b) => b.name === entry.value) ?? mgmt.fail(entry, `no such block: ${entry.value}`) };
      }
      if (of.blocks.length + of.broken.size === 1) {
        if (of.broken.size === 1) throw new FollowsFromEarlier();
        return { block: of.blocks[0] as T };
      }
      const made = builtIn();
      of.blocks.push(made);
      return { block: made };
    });
    return found === null ? undefined : found.block;
  };
  const defaultVerification = defaultOf<Verification>('default-verification', verifications,
    () => ({ name: 'http', type: 'http01', listeners: DEFAULT_HTTP01_LISTENERS }));
  const defaultStorage = defaultOf<Storage>('default-storage', storages, () => ({ name: 'none', type: 'none' }));

  const auth = sections.filter((s) => s.kind === 'auth').map((section) => attempt((): AuthBlock => {
    // Strict: a misspelt key here would leave the block more open than written.
    const keys = new Keys(section, ['ip', 'domain', 'hmac_type', 'hmac_key', 'all', 'verification', 'storage'], null);
    const named = <T extends { name: string }>(key: string, of: { blocks: T[]; broken: Set<string> }, fallback: T | null | undefined): T => {
      const entry = keys.one(key);
      if (entry === null && fallback === undefined) throw new FollowsFromEarlier();
      if (entry === null) return fallback ?? keys.missing(key);
      if (of.broken.has(entry.value)) throw new FollowsFromEarlier();
      return of.blocks.find((b) => b.name === entry.value) ?? keys.fail(entry, `no such ${key} block: ${entry.value}`);
    };
    const type = keys.one('hmac_type');
    const key = keys.one('hmac_key');
    if ((type === null) !== (key === null)) keys.fail((type ?? key) as Entry, 'hmac_type and hmac_key go together');
    if (type !== null && !(HMAC_ALGORITHMS as readonly string[]).includes(type.value)) keys.fail(type, `unknown HMAC type ${type.value} (${HMAC_ALGORITHMS.join(', ')})`);
    if (key !== null && key.value === '') keys.fail(key, 'empty key');
    // `all = yes` admits any client, as a block without ip and hmac keys does; beside them, they still apply.
    const all = keys.one('all');
    if (all !== null && all.value !== 'yes') keys.fail(all, `not "yes": ${all.value} (all = yes admits every client)`);
    const domains = keys.list('domain');
    for (const entry of domains) if (!/^[a-zA-Z0-9*?[\]!._-]+$/.test(entry.value)) keys.fail(entry, `not a domain name pattern: ${entry.value}`);
    return {
      name: section.name,
      networks: keys.list('ip').map((entry) => parseNetwork(keys, entry)),
      hmac: type === null || key === null ? null : { algorithm: type.value as HmacAlgorithm, key: Buffer.from(key.value, 'utf8') },
      domains: domains.map((e) => e.value.toLowerCase()),
      verification: named('verification', verifications, defaultVerification),
      storage: named('storage', storages, defaultStorage),
    };
  }));
  if (problems.length > 0 || account === null || logging === null || mgmtListeners === null || maxSize === null || limits === null) throw new ConfigProblems(problems);
  return { file, warnings, logging, accountDir: account.dir, acmeServer: account.acmeServer, acceptTerms: account.acceptTerms, eab: account.eab,
    mgmtListeners, maxSize, limits,
    verifications: verifications.blocks, auth: auth.filter((block): block is AuthBlock => block !== null) };
}
