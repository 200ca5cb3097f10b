// Command-line parsing for acme-client(1): getopt(3) semantics with optstring
// "beFmnNOrsva:C:c:f:k:t:", plus the long options of our extensions. yargs' parser parses every
// command line; a getopt-style pass in front of it (normalise) gives grouped flags, attached values
// and the first operand their 2017 meaning, which yargs alone reads differently, and refuses what
// yargs' strict mode would: an unknown option, or one without its value. So the parser alone is
// used (yargs/helpers' Parser), not a yargs() instance: its help, usage and validation, none of
// which this command uses, cost every run some 5 ms and the parent's bundle 126 kB.

import { Parser } from 'yargs/helpers';
import { canonicalIp } from './x509/ip.js';
import { formatServer, parseServerAddress } from './dns01/propagation.js';
import { PERSIST_CHALLENGE } from './acme/persist.js';
import { KEY_TYPES, type KeyType } from './x509/keytypes.js';

export const USAGE =
  'usage: acme-client [-beFmnNOrsv] [-a agreement] [-C challengedir] [-c certdir] [-f accountkey] ' +
  '[-k domainkey] [-t challenge] [--server url] [--user name] [--isolation-report] [--timeout seconds] ' +
  '[--poll-timeout seconds] [--profile name] [--no-ari] [--ca-file file] [--eab-kid kid --eab-hmac-key-file file] ' +
  '[--contact uri] [--preferred-chain issuer] [--account-key-type type] [--key-type type] [--csr file] [--dated [--keep n]] [--dns-server address[:port]] ' +
  '[--version] domain [altnames...]\n' +
  '       acme-client --rollover-account-key newkey [-nsv] [-f accountkey] [--server url] [--ca-file file] ' +
  '[--account-key-type type] [--user name] [--timeout seconds]\n' +
  '       acme-client --register [-nsv] [-f accountkey] [--server url] [--ca-file file] [--eab-kid kid --eab-hmac-key-file file] ' +
  '[--contact uri] [--accept-terms url] [--account-key-type type] [--user name] [--timeout seconds]\n' +
  '       acme-client --persist-records [-nsv] [-f accountkey] [--server url] [--ca-file file] [--eab-kid kid --eab-hmac-key-file file] ' +
  '[--contact uri] [--account-key-type type] [--user name] [--timeout seconds] domain [altnames...]\n' +
  '       acme-client --config file [-Fnrv] [-e keyid:key] [handle ...]\n' +
  '       acme-client --version | --help';

export class UsageError extends Error {
  constructor(readonly problem: string) {
    super(problem);
  }
}

export class NameError extends Error {
  // `name` shadows Error#name: callers identify this error with instanceof, not by name.
  constructor(override readonly name: string, readonly problem: string) {
    super(`${name}: ${problem}`);
  }
}

export interface Options {
  backup: boolean;
  expand: boolean;
  force: boolean;
  multiDir: boolean;
  newAccountKey: boolean;
  newDomainKey: boolean;
  mustStaple: boolean;
  revoke: boolean;
  staging: boolean;
  verbose: number;
  agreement?: string;
  challengeDir?: string;
  certDir?: string;
  accountKey?: string;
  domainKey?: string;
  challengeType?: string;
  server?: string;
  /** --csr: a PEM certificate signing request made elsewhere, instead of a domain key (-k). */
  csrFile?: string;
  /** --user: whom the unprivileged children run as. */
  user?: string;
  /** --register: make the account (with -n its key too) and nothing else; no domain. */
  register: boolean;
  /** --persist-records: print the dns-persist-01 records that authorize the account for the names, and nothing else. */
  persistRecords: boolean;
  /** --dns-server, with -t dns-persist-01: the resolver (ADDRESS:PORT, as Node's setServers takes it) asked for the records. */
  dnsServer?: string;
  /** --isolation-report: describe each child's confinement and its cost, then exit. */
  isolationReport: boolean;
  /** --version: print the version and exit. */
  version: boolean;
  /** --help: print the usage on standard output and exit 0. */
  help: boolean;
  /** --no-ari: the lifetime rule alone decides when to renew; the CA's renewal window is not asked. */
  noAri: boolean;
  /** --profile: the CA's certificate profile to order under. */
  profile?: string;
  /** --timeout: seconds one HTTP request to the CA may take, connection included (default 60). */
  timeout?: number;
  /** --poll-timeout: seconds to wait for the CA to validate and issue (default 300). */
  pollTimeout?: number;
  /** --ca-file: certificates trusted for the CA's API, besides the system store. */
  caFile?: string;
  /** --eab-kid: the key identifier of the External Account Binding, with eabHmacKeyFile. */
  eabKid?: string;
  /** --eab-hmac-key-file: the file holding its MAC key (base64url); the key itself is never an argument. */
  eabHmacKeyFile?: string;
  /** --preferred-chain: the issuer CN of the topmost certificate of the chain to keep. */
  preferredChain?: string;
  /** --rollover-account-key: the new account key's file; the run changes the account's key, nothing else. */
  rolloverAccountKey?: string;
  /** --contact, repeatable: the account's contact URIs. */
  contact?: string[];
  /** --accept-terms, repeatable, with --register: the terms of service agreed to; the CA's must be one of them. */
  acceptTerms?: string[];
  /** --dated: each new certificate also kept as cert-<UTC time>.pem, with its chain and full chain. */
  dated: boolean;
  /** --keep: with --dated, how many dated sets to keep (the newest); all when absent. */
  keep?: number;
  /** --account-key-type: what -n makes. */
  accountKeyType?: KeyType;
  /** --key-type: what -N makes. */
  domainKeyType?: KeyType;
  names: string[];
}

const FLAG_LETTERS = {
  b: 'backup', e: 'expand', F: 'force', m: 'multiDir', n: 'newAccountKey',
  N: 'newDomainKey', O: 'mustStaple', r: 'revoke', s: 'staging',
} as const;
const VERBOSE_LETTER = 'v';
const VALUE_LETTERS = {
  a: 'agreement', C: 'challengeDir', c: 'certDir', f: 'accountKey', k: 'domainKey', t: 'challengeType',
} as const;

// Extensions are long options only; the classic letters keep their 2017 meaning.
const LONG_FLAGS = { 'isolation-report': 'isolationReport', version: 'version', help: 'help', 'no-ari': 'noAri', register: 'register', dated: 'dated',
  'persist-records': 'persistRecords' } as const;
const LONG_VALUES = {
  server: 'server', user: 'user', profile: 'profile', 'ca-file': 'caFile', 'eab-kid': 'eabKid', 'eab-hmac-key-file': 'eabHmacKeyFile',
  'preferred-chain': 'preferredChain', 'rollover-account-key': 'rolloverAccountKey', csr: 'csrFile', 'dns-server': 'dnsServer',
} as const;
const LONG_SECONDS = { timeout: 'timeout', 'poll-timeout': 'pollTimeout' } as const;
const LONG_KEY_TYPES = { 'account-key-type': 'accountKeyType', 'key-type': 'domainKeyType' } as const;
const LONG_COUNTS = { keep: 'keep' } as const;
/** More dated sets than anyone rolls back through; a typo such as 10000 is caught. */
const MAX_KEEP = 1000;
/** Options that may be given more than once, each time adding a value, and how each value is checked. */
const LONG_LISTS = { contact: { field: 'contact', check: contactUri }, 'accept-terms': { field: 'acceptTerms', check: termsUrl } } as const;
/** A day: more than any CA needs, and a typo such as 3000000 is caught. */
const MAX_SECONDS = 86_400;

const takesValue = (name: string): boolean => [LONG_VALUES, LONG_SECONDS, LONG_KEY_TYPES, LONG_COUNTS].some((table) => Object.hasOwn(table, name));

/** What one getopt(3) scan hands its caller, option by option. */
interface OptionVisitor {
  /** --name or --name=value (`attached`); nextWord() takes the word after as the value. */
  long(name: string, attached: string | null, nextWord: () => string): void;
  /** One letter of a group; true when it took a value (the rest of the word, else the next word). */
  letter(letter: string, rest: string, nextWord: () => string): boolean;
}

/**
 * getopt(3)'s scan: grouped flags, a value attached or in the next word whatever it looks like,
 * long options, and a stop at "--" or the first operand, whose index it returns.
 */
function scanOptions(argv: readonly string[], visit: OptionVisitor): number {
  let next = 0;
  const nextWord = (option: string) => (): string => {
    if (next >= argv.length) throw new UsageError(`option requires an argument -- ${option}`);
    return argv[next++] as string;
  };
  while (next < argv.length) {
    const word = argv[next] as string;
    if (word === '--') return next + 1;
    if (!word.startsWith('-') || word === '-') return next;
    next++;
    if (word.startsWith('--')) {
      const equals = word.indexOf('=');
      const name = equals === -1 ? word.slice(2) : word.slice(2, equals);
      visit.long(name, equals === -1 ? null : word.slice(equals + 1), nextWord(name));
      continue;
    }
    // By code point, so that a stray non-ASCII letter is reported whole.
    const letters = [...word.slice(1)];
    for (const [index, letter] of letters.entries()) {
      if (visit.letter(letter, letters.slice(index + 1).join(''), nextWord(letter))) break;
    }
  }
  return next;
}

/**
 * The getopt(3) scan that yargs cannot do alone, with no long options but our extensions.
 * Returns one option per word, each value in the word after its option, then "--" and the operands.
 * A repeatable option comes once, followed by all its values in order (yargs keeps only the last
 * of a repeated option, as getopt does), with how many there are in `repeated`.
 */
function normalise(argv: readonly string[]): { words: string[]; repeated: Record<string, number> } {
  const vector: string[] = [];
  const lists = new Map<string, string[]>();
  const operands = scanOptions(argv, {
    long(name, attached, nextWord) {
      if (takesValue(name)) {
        vector.push(`--${name}`, attached ?? nextWord());
      } else if (Object.hasOwn(LONG_LISTS, name)) {
        // Checked here: yargs would take a value that starts with a dash for another option.
        const value = LONG_LISTS[name as keyof typeof LONG_LISTS].check(attached ?? nextWord());
        lists.set(name, [...(lists.get(name) ?? []), value]);
      } else if (Object.hasOwn(LONG_FLAGS, name)) {
        if (attached !== null) throw new UsageError(`option does not take an argument -- ${name}`);
        vector.push(`--${name}`);
      } else {
        throw new UsageError(`unknown option -- ${name}`);
      }
    },
    letter(letter, rest, nextWord) {
      if (Object.hasOwn(FLAG_LETTERS, letter) || letter === VERBOSE_LETTER) {
        vector.push(`-${letter}`);
        return false;
      }
      if (!Object.hasOwn(VALUE_LETTERS, letter)) throw new UsageError(`unknown option -- ${letter}`);
      vector.push(`-${letter}`, rest === '' ? nextWord() : rest);
      return true;
    },
  });
  for (const [name, values] of lists) vector.push(`--${name}`, ...values);
  return { words: [...vector, '--', ...argv.slice(operands)], repeated: Object.fromEntries([...lists].map(([name, values]) => [name, values.length])) };
}

export function parseCommandLine(argv: readonly string[]): Options {
  const valueKeys = [VALUE_LETTERS, LONG_VALUES, LONG_SECONDS, LONG_KEY_TYPES, LONG_COUNTS].flatMap((table) => Object.keys(table));
  const listKeys = Object.keys(LONG_LISTS);
  const { words, repeated } = normalise(argv);
  const { argv: parsed, error } = Parser.detailed(words, {
    configuration: {
      'camel-case-expansion': false,
      'dot-notation': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'boolean-negation': false,
      'duplicate-arguments-array': false,
      'halt-at-non-option': true,
      'nargs-eats-options': true,
      'strip-dashed': true,
    },
    boolean: [...Object.keys(FLAG_LETTERS), ...Object.keys(LONG_FLAGS)],
    count: [VERBOSE_LETTER],
    string: [...valueKeys, ...listKeys],
    array: listKeys,
    narg: Object.fromEntries([...valueKeys.map((key) => [key, 1]), ...listKeys.map((key) => [key, repeated[key] ?? 1])]),
  });
  // normalise() has already refused what the parser could object to; this is a last guard.
  if (error !== null) throw new UsageError(error.message);

  const verbose = parsed[VERBOSE_LETTER];
  const options: Options = {
    backup: false, expand: false, force: false, multiDir: false, newAccountKey: false,
    newDomainKey: false, mustStaple: false, revoke: false, staging: false, register: false, persistRecords: false, isolationReport: false, version: false, help: false, noAri: false, dated: false,
    verbose: typeof verbose === 'number' ? verbose : 0,
    // parse-positional-numbers is off, so every operand is still the string it was given as.
    names: parsed._.map((operand) => String(operand)),
  };
  for (const [key, field] of Object.entries({ ...FLAG_LETTERS, ...LONG_FLAGS })) options[field] = parsed[key] === true;
  for (const [key, field] of Object.entries({ ...VALUE_LETTERS, ...LONG_VALUES })) {
    const value = parsed[key];
    if (typeof value === 'string') options[field] = value;
  }
  for (const [key, field] of Object.entries(LONG_SECONDS)) {
    const value = parsed[key];
    if (typeof value === 'string') options[field] = wholeSeconds(key, value);
  }
  for (const [key, { field }] of Object.entries(LONG_LISTS)) {
    const values = parsed[key];
    if (Array.isArray(values)) options[field] = values.map((value) => String(value));
  }
  for (const [key, field] of Object.entries(LONG_KEY_TYPES)) {
    const value = parsed[key];
    if (typeof value === 'string') options[field] = keyType(key, value);
  }
  for (const [key, field] of Object.entries(LONG_COUNTS)) {
    const value = parsed[key];
    if (typeof value === 'string') options[field] = count(key, value, MAX_KEEP);
  }
  if (options.keep !== undefined && !options.dated) throw new UsageError('--keep goes with --dated');
  if ((options.eabKid === undefined) !== (options.eabHmacKeyFile === undefined)) throw new UsageError('--eab-kid and --eab-hmac-key-file go together');
  if (options.eabKid === '') throw new UsageError('--eab-kid: empty key identifier');
  if (options.acceptTerms !== undefined && !options.register) throw new UsageError('--accept-terms goes with --register');
  // Its TXT record's name is derived from the account URL, which the -t line does not carry: a
  // caller could not tell where to publish it, and would only learn so from the CA's refusal.
  if (options.challengeType === 'dns-account-01') throw new UsageError('-t dns-account-01: not supported yet (see acme-client(1), External challenges)');
  if (options.dnsServer !== undefined) {
    // Only dns-persist-01 has acme-client ask the DNS itself.
    if (options.challengeType !== PERSIST_CHALLENGE) throw new UsageError(`--dns-server goes with -t ${PERSIST_CHALLENGE}`);
    try {
      options.dnsServer = formatServer(parseServerAddress(options.dnsServer, '--dns-server', false));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (options.persistRecords) {
    if (options.names.length === 0) throw new UsageError('--persist-records needs the domain names');
    const stray = givenOptions(options).find((option) => !PERSIST_RECORDS_OPTIONS.has(option));
    if (stray !== undefined) throw new UsageError(`--persist-records does not take ${stray}`);
    return options;
  }
  if (options.register) {
    if (options.names.length > 0) throw new UsageError('--register takes no domain');
    // As with --rollover-account-key: an option of a certificate run would be quietly ignored.
    const stray = givenOptions(options).find((option) => !REGISTER_OPTIONS.has(option));
    if (stray !== undefined) throw new UsageError(`--register does not take ${stray}`);
    return options;
  }
  if (options.csrFile !== undefined) {
    // The request carries its key: there is no domain key to read or make. Its names are the
    // request's; names given must equal them (certproc checks).
    if (options.domainKey !== undefined) throw new UsageError('-k cannot be used with --csr');
    if (options.newDomainKey) throw new UsageError('-N cannot be used with --csr');
    if (options.domainKeyType !== undefined) throw new UsageError('--key-type cannot be used with --csr');
    if (options.multiDir && options.names.length === 0) throw new UsageError('-m with --csr needs the domain names on the command line');
  }
  if (options.rolloverAccountKey !== undefined) {
    if (options.names.length > 0 || options.csrFile !== undefined) throw new UsageError('--rollover-account-key takes no domain');
    if (options.multiDir) throw new UsageError('--rollover-account-key takes no domain, which -m needs');
    // Options of a certificate run would be quietly ignored, or worse, change the rollover.
    const stray = givenOptions(options).find((option) => !ROLLOVER_OPTIONS.has(option));
    if (stray !== undefined) throw new UsageError(`--rollover-account-key does not take ${stray}`);
  } else if (options.names.length === 0 && options.csrFile === undefined && !options.isolationReport && !options.version && !options.help) {
    throw new UsageError('no domain given');
  }
  return options;
}

/** What --rollover-account-key takes besides itself, as the usage line gives them. */
const ROLLOVER_OPTIONS = new Set(['--rollover-account-key', '-n', '-v', '-s', '-f', '--server', '--ca-file', '--account-key-type', '--user', '--timeout']);

/** What --register takes besides itself, as the usage line gives them. */
const REGISTER_OPTIONS = new Set(['--register', '-n', '-v', '-s', '-f', '--server', '--ca-file', '--eab-kid', '--eab-hmac-key-file', '--contact',
  '--accept-terms', '--account-key-type', '--user', '--timeout']);

/** What --persist-records takes besides itself and the names: those of --register. */
const PERSIST_RECORDS_OPTIONS = new Set([...REGISTER_OPTIONS, '--persist-records'].filter((option) => option !== '--register'));

/** The options a parse set, spelled as on the command line. */
function givenOptions(options: Options): string[] {
  const spelled: [string, keyof Options][] = [
    ...Object.entries(FLAG_LETTERS).map(([letter, field]): [string, keyof Options] => [`-${letter}`, field]),
    ...Object.entries(VALUE_LETTERS).map(([letter, field]): [string, keyof Options] => [`-${letter}`, field]),
    ...[LONG_FLAGS, LONG_VALUES, LONG_SECONDS, LONG_KEY_TYPES, LONG_COUNTS].flatMap((table) =>
      Object.entries(table).map(([name, field]): [string, keyof Options] => [`--${name}`, field])),
    ...Object.entries(LONG_LISTS).map(([name, { field }]): [string, keyof Options] => [`--${name}`, field]),
  ];
  const given = spelled.filter(([, field]) => options[field] !== undefined && options[field] !== false).map(([option]) => option);
  return options.verbose > 0 ? ['-v', ...given] : given;
}

/** A --<option> value in whole seconds, from 1 to a day; else a usage error that says so. */
export function wholeSeconds(option: string, value: string): number {
  const seconds = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_SECONDS)) throw new UsageError(`--${option} needs whole seconds from 1 to ${MAX_SECONDS}: ${value}`);
  return seconds;
}

/** A --<option> count, from 1 to `max`; else a usage error that says so. */
function count(option: string, value: string, max: number): number {
  const n = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= max)) throw new UsageError(`--${option} needs a whole number from 1 to ${max}: ${value}`);
  return n;
}

function keyType(option: string, value: string): KeyType {
  const known = KEY_TYPES.find((type) => type === value);
  if (known === undefined) throw new UsageError(`--${option}: unknown key type ${JSON.stringify(value)} (one of ${KEY_TYPES.join(', ')})`);
  return known;
}

const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;
/** RFC 6068, as CAs take it: one address, no query, a host name after the @. */
const MAILTO = /^mailto:[^\s@,?<>"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;

/** A --contact URI (RFC 8555 §7.3): mailto: checked for shape, any other scheme left to the CA. */
function contactUri(value: string): string {
  if (!URI_SCHEME.test(value) || /[\u0000-\u001f\u007f]/.test(value)) throw new UsageError(`--contact: not a URI: ${JSON.stringify(value)} (as in mailto:admin@example.org)`);
  if (value.slice(0, 'mailto:'.length).toLowerCase() === 'mailto:' && !MAILTO.test(`mailto:${value.slice('mailto:'.length)}`)) {
    throw new UsageError(`--contact: not one e-mail address: ${JSON.stringify(value)} (as in mailto:admin@example.org)`);
  }
  return value;
}

/**
 * acme-client --config FILE [-Fnrv] [-e keyid:key] [handle ...]: acme-client.conf(5)'s mode, whose
 * letters mean what OpenBSD's acme-client(1) makes them mean, not what they mean beside domain
 * names: -n checks and prints the configuration, -e is the External Account Binding.
 */
export interface ConfigOptions {
  configFile: string;
  /** -F: renew whatever the certificate's dates. */
  force: boolean;
  /** -n: check the configuration, print it, and exit. */
  check: boolean;
  /** -r: revoke the certificate. */
  revoke: boolean;
  verbose: number;
  /** -e keyid:key: the External Account Binding's key identifier and MAC key (base64url). */
  eab: { kid: string; macKey: string } | null;
  /** The domain blocks to run, by name; none: every one. */
  handles: string[];
}

const CONFIG_FLAGS = { F: 'force', n: 'check', r: 'revoke' } as const;
const MAC_KEY = /^[A-Za-z0-9_-]+$/;

/** Whether the command line is acme-client.conf's mode: --config among its options. */
export function usesConfigFile(argv: readonly string[]): boolean {
  for (const word of argv) {
    if (word === '--' || !word.startsWith('-')) return false;
    if (word === '--config' || word.startsWith('--config=')) return true;
  }
  return false;
}

/** getopt(3) with optstring "Fnrve:", plus --config; the operands are the handles. */
export function parseConfigCommandLine(argv: readonly string[]): ConfigOptions {
  const options: ConfigOptions = { configFile: '', force: false, check: false, revoke: false, verbose: 0, eab: null, handles: [] };
  let configFile: string | null = null;
  const operands = scanOptions(argv, {
    long(name, attached, nextWord) {
      if (name !== 'config') throw new UsageError(`--config takes no --${name}: the configuration says it`);
      if (configFile !== null) throw new UsageError('--config given twice');
      configFile = attached ?? nextWord();
    },
    letter(letter, rest, nextWord) {
      if (Object.hasOwn(CONFIG_FLAGS, letter)) {
        options[CONFIG_FLAGS[letter as keyof typeof CONFIG_FLAGS]] = true;
        return false;
      }
      if (letter === VERBOSE_LETTER) {
        options.verbose++;
        return false;
      }
      if (letter !== 'e') throw new UsageError(`unknown option -- ${letter} (with --config: -F, -n, -r, -v, -e keyid:key)`);
      options.eab = accountBinding(rest === '' ? nextWord() : rest);
      return true;
    },
  });
  if (configFile === null || configFile === '') throw new UsageError('--config needs a file');
  // OpenBSD's -r reaches one domain; here no handle means every block, and one slip of a crontab
  // line must not revoke them all.
  if (options.revoke && operands >= argv.length) throw new UsageError('-r needs the handles of the domains to revoke');
  return { ...options, configFile, handles: argv.slice(operands) };
}

/** -e keyid:key, as the CA gives them: the MAC key base64url, as acctproc reads it. */
function accountBinding(value: string): { kid: string; macKey: string } {
  const colon = value.indexOf(':');
  const kid = colon === -1 ? '' : value.slice(0, colon);
  const macKey = colon === -1 ? '' : value.slice(colon + 1);
  if (kid === '' || kid.length > 1024 || !MAC_KEY.test(macKey) || macKey.length % 4 === 1) {
    throw new UsageError('-e needs keyid:key, the key identifier and the MAC key (base64url) the CA gave');
  }
  return { kid, macKey };
}

/** An --accept-terms URL, compared as it is with the directory's meta.termsOfService (Pebble's is a data: URL). */
function termsUrl(value: string): string {
  if (!URI_SCHEME.test(value) || /[\u0000-\u001f\u007f]/.test(value)) throw new UsageError(`--accept-terms: not a URL: ${JSON.stringify(value)}`);
  return value;
}

const MAX_NAME_LENGTH = 253;
const LABEL = /^[A-Za-z0-9_-]{1,63}$/;
const WILDCARD_PREFIX = '*.';

/**
 * Validates the names; returns them in order, refusing duplicates: domain names lower-cased, IPv4
 * and IPv6 addresses (RFC 8738 identifiers) in canonical form, so that one address written two
 * ways is one name.
 */
export function checkNames(names: string[], wildcards: boolean): string[] {
  const seen = new Set<string>();
  return names.map((name) => {
    let checked = canonicalIp(name);
    if (checked === null) {
      const host = wildcards && name.startsWith(WILDCARD_PREFIX) ? name.slice(WILDCARD_PREFIX.length) : name;
      // split('.') yields an empty label for an empty host or a leading, trailing or doubled dot.
      if (name.length > MAX_NAME_LENGTH || !host.split('.').every((label) => LABEL.test(label))) {
        throw new NameError(name, 'bad domain syntax');
      }
      checked = name.toLowerCase();
    }
    if (seen.has(checked)) throw new NameError(name, 'bad domain syntax: duplicate name');
    seen.add(checked);
    return checked;
  });
}
