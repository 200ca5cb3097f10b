// Command-line parsing for acme-client(1): getopt(3) semantics with optstring
// "beFmnNOrsva:C:c:f:k:t:", plus the long options of our extensions. yargs parses every command
// line; a getopt-style pass in front of it (normalise) gives grouped flags, attached values and
// the first operand their 2017 meaning, which yargs alone reads differently.

import yargs from 'yargs';

export const USAGE =
  'usage: acme-client [-beFmnNOrsv] [-a agreement] [-C challengedir] [-c certdir] [-f accountkey] ' +
  '[-k domainkey] [-t challenge] [--server url] [--user name] [--isolation-report] [--timeout seconds] ' +
  '[--poll-timeout seconds] [--profile name] [--no-ari] [--version] domain [altnames...]';

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
  /** --user: whom the unprivileged children run as. */
  user?: string;
  /** --isolation-report: describe each child's confinement and its cost, then exit. */
  isolationReport: boolean;
  /** --version: print the version and exit. */
  version: boolean;
  /** --no-ari: the lifetime rule alone decides when to renew; the CA's renewal window is not asked. */
  noAri: boolean;
  /** --profile: the CA's certificate profile to order under. */
  profile?: string;
  /** --timeout: seconds one HTTP request to the CA may take, connection included (default 60). */
  timeout?: number;
  /** --poll-timeout: seconds to wait for the CA to validate and issue (default 300). */
  pollTimeout?: number;
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
const LONG_FLAGS = { 'isolation-report': 'isolationReport', version: 'version', 'no-ari': 'noAri' } as const;
const LONG_VALUES = { server: 'server', user: 'user', profile: 'profile' } as const;
const LONG_SECONDS = { timeout: 'timeout', 'poll-timeout': 'pollTimeout' } as const;
/** A day: more than any CA needs, and a typo such as 3000000 is caught. */
const MAX_SECONDS = 86_400;

const takesValue = (name: string): boolean => Object.hasOwn(LONG_VALUES, name) || Object.hasOwn(LONG_SECONDS, name);

/**
 * The getopt(3) scan that yargs cannot do alone: grouped flags, a value attached or in the next
 * word whatever it looks like, no long options but our extensions, and a stop at the first operand.
 * Returns one option per word, each value in the word after its option, then "--" and the operands.
 */
function normalise(argv: readonly string[]): string[] {
  const vector: string[] = [];
  let next = 0;
  const takeValue = (option: string): string => {
    if (next >= argv.length) throw new UsageError(`option requires an argument -- ${option}`);
    return argv[next++] as string;
  };
  while (next < argv.length) {
    const word = argv[next] as string;
    if (word === '--') {
      next++;
      break;
    }
    if (!word.startsWith('-') || word === '-') break;
    next++;
    if (word.startsWith('--')) {
      const equals = word.indexOf('=');
      const name = equals === -1 ? word.slice(2) : word.slice(2, equals);
      if (takesValue(name)) {
        vector.push(`--${name}`, equals === -1 ? takeValue(name) : word.slice(equals + 1));
      } else if (Object.hasOwn(LONG_FLAGS, name)) {
        if (equals !== -1) throw new UsageError(`option does not take an argument -- ${name}`);
        vector.push(`--${name}`);
      } else {
        throw new UsageError(`unknown option -- ${name}`);
      }
      continue;
    }
    // By code point, so that a stray non-ASCII letter is reported whole.
    const letters = [...word.slice(1)];
    for (const [index, letter] of letters.entries()) {
      if (Object.hasOwn(FLAG_LETTERS, letter) || letter === VERBOSE_LETTER) {
        vector.push(`-${letter}`);
      } else if (Object.hasOwn(VALUE_LETTERS, letter)) {
        const attached = letters.slice(index + 1).join('');
        vector.push(`-${letter}`, attached === '' ? takeValue(letter) : attached);
        break;
      } else {
        throw new UsageError(`unknown option -- ${letter}`);
      }
    }
  }
  return [...vector, '--', ...argv.slice(next)];
}

export function parseCommandLine(argv: readonly string[]): Options {
  const valueKeys = [...Object.keys(VALUE_LETTERS), ...Object.keys(LONG_VALUES), ...Object.keys(LONG_SECONDS)];
  const parsed = yargs()
    // Before our options: turning yargs' own --version off would otherwise remove ours.
    .help(false)
    .version(false)
    .parserConfiguration({
      'camel-case-expansion': false,
      'dot-notation': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'boolean-negation': false,
      'duplicate-arguments-array': false,
      'halt-at-non-option': true,
      'nargs-eats-options': true,
      'strip-dashed': true,
    })
    .boolean([...Object.keys(FLAG_LETTERS), ...Object.keys(LONG_FLAGS)])
    .count(VERBOSE_LETTER)
    .string(valueKeys)
    .requiresArg(valueKeys)
    .nargs(Object.fromEntries(valueKeys.map((key) => [key, 1])))
    .strict()
    .exitProcess(false)
    .fail((message, error) => {
      throw new UsageError(message ?? error?.message ?? 'bad command line');
    })
    .parseSync(normalise(argv));

  const verbose = parsed[VERBOSE_LETTER];
  const options: Options = {
    backup: false, expand: false, force: false, multiDir: false, newAccountKey: false,
    newDomainKey: false, mustStaple: false, revoke: false, staging: false, isolationReport: false, version: false, noAri: false,
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
  if (options.names.length === 0 && !options.isolationReport && !options.version) throw new UsageError('no domain given');
  return options;
}

function wholeSeconds(option: string, value: string): number {
  const seconds = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_SECONDS)) throw new UsageError(`--${option} needs whole seconds from 1 to ${MAX_SECONDS}: ${value}`);
  return seconds;
}

const MAX_NAME_LENGTH = 253;
const LABEL = /^[A-Za-z0-9_-]{1,63}$/;
const WILDCARD_PREFIX = '*.';

/** Validates domain names; returns them lower-cased, in order, refusing duplicates. */
export function checkNames(names: string[], wildcards: boolean): string[] {
  const seen = new Set<string>();
  return names.map((name) => {
    const host = wildcards && name.startsWith(WILDCARD_PREFIX) ? name.slice(WILDCARD_PREFIX.length) : name;
    // split('.') yields an empty label for an empty host or a leading, trailing or doubled dot.
    if (name.length > MAX_NAME_LENGTH || !host.split('.').every((label) => LABEL.test(label))) {
      throw new NameError(name, 'bad domain syntax');
    }
    const lowered = name.toLowerCase();
    if (seen.has(lowered)) throw new NameError(name, 'bad domain syntax: duplicate name');
    seen.add(lowered);
    return lowered;
  });
}
