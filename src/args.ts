// Command-line parsing for acme-client(1): getopt(3) semantics with optstring
// "beFmnNOrsva:C:c:f:k:t:", plus the long options of our extensions (--server, --user,
// --isolation-report, --timeout, --poll-timeout).

export const USAGE =
  'usage: acme-client [-beFmnNOrsv] [-a agreement] [-C challengedir] [-c certdir] [-f accountkey] ' +
  '[-k domainkey] [-t challenge] [--server url] [--user name] [--isolation-report] [--timeout seconds] ' +
  '[--poll-timeout seconds] domain [altnames...]';

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
  /** --timeout: seconds one HTTP request to the CA may take, connection included (default 60). */
  timeout?: number;
  /** --poll-timeout: seconds to wait for the CA to validate and issue (default 300). */
  pollTimeout?: number;
  names: string[];
}

const FLAG_OPTIONS = {
  b: 'backup', e: 'expand', F: 'force', m: 'multiDir', n: 'newAccountKey',
  N: 'newDomainKey', O: 'mustStaple', r: 'revoke', s: 'staging',
} as const;
const VERBOSE_OPTION = 'v';
const LETTER_VALUE_OPTIONS = {
  a: 'agreement', C: 'challengeDir', c: 'certDir', f: 'accountKey', k: 'domainKey', t: 'challengeType',
} as const;
// Extensions are long options only; the classic letters keep their 2017 meaning.
const LONG_VALUE_OPTIONS = { server: 'server', user: 'user' } as const;
const LONG_SECONDS_OPTIONS = { timeout: 'timeout', 'poll-timeout': 'pollTimeout' } as const;
/** A day: more than any CA needs, and a typo such as 3000000 is caught. */
const MAX_SECONDS = 86_400;
const LONG_FLAG_OPTIONS = { 'isolation-report': 'isolationReport' } as const;
const VALUE_OPTIONS = { ...LETTER_VALUE_OPTIONS, ...LONG_VALUE_OPTIONS } as const;

const FLAG_LETTERS = new Set<string>([...Object.keys(FLAG_OPTIONS), VERBOSE_OPTION]);
const VALUE_LETTERS = new Set<string>(Object.keys(LETTER_VALUE_OPTIONS));

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
    return argv[next++];
  };
  while (next < argv.length) {
    const word = argv[next];
    if (word === '--') {
      next++;
      break;
    }
    if (!word.startsWith('-') || word === '-') break;
    next++;
    if (word.startsWith('--')) {
      const equals = word.indexOf('=');
      const name = equals === -1 ? word.slice(2) : word.slice(2, equals);
      if (Object.hasOwn(LONG_VALUE_OPTIONS, name) || Object.hasOwn(LONG_SECONDS_OPTIONS, name)) {
        vector.push(`--${name}`, equals === -1 ? takeValue(name) : word.slice(equals + 1));
      } else if (Object.hasOwn(LONG_FLAG_OPTIONS, name)) {
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
      if (FLAG_LETTERS.has(letter)) {
        vector.push(`-${letter}`);
      } else if (VALUE_LETTERS.has(letter)) {
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

export async function parseCommandLine(argv: string[]): Promise<Options> {
  // Loaded here so that processes which never parse a command line do not pay for yargs.
  const { default: yargs } = await import('yargs');
  const valueKeys = [...Object.keys(VALUE_OPTIONS), ...Object.keys(LONG_SECONDS_OPTIONS)];
  const parsed = yargs()
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
    .boolean([...Object.keys(FLAG_OPTIONS), ...Object.keys(LONG_FLAG_OPTIONS)])
    .count(VERBOSE_OPTION)
    .string(valueKeys)
    .requiresArg(valueKeys)
    .nargs(Object.fromEntries(valueKeys.map((key) => [key, 1])))
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((message, error) => {
      throw new UsageError(message ?? error?.message ?? 'bad command line');
    })
    .parseSync(normalise(argv));

  // parse-positional-numbers is off, so every operand is still the string it was given as.
  return toOptions(parsed, parsed._.map((operand) => String(operand)));
}

/**
 * The same result without yargs, from the getopt pre-pass alone. The parent starts certproc on it
 * and, once there is work, checks it against parseCommandLine: the nightly "nothing to do" never
 * loads yargs.
 */
export function parseQuickly(argv: string[]): Options {
  const vector = normalise(argv);
  const parsed: Record<string, unknown> = {};
  let index = 0;
  for (; index < vector.length && vector[index] !== '--'; index++) {
    const key = (vector[index] as string).replace(/^--?/, '');
    if (key === VERBOSE_OPTION) parsed[key] = Number(parsed[key] ?? 0) + 1;
    else if (Object.hasOwn(FLAG_OPTIONS, key) || Object.hasOwn(LONG_FLAG_OPTIONS, key)) parsed[key] = true;
    else parsed[key] = vector[++index];
  }
  return toOptions(parsed, vector.slice(index + 1));
}

function toOptions(parsed: Record<string, unknown>, names: string[]): Options {
  const verbose = parsed[VERBOSE_OPTION];
  const options: Options = {
    backup: false, expand: false, force: false, multiDir: false, newAccountKey: false,
    newDomainKey: false, mustStaple: false, revoke: false, staging: false,
    isolationReport: parsed['isolation-report'] === true,
    verbose: typeof verbose === 'number' ? verbose : 0,
    names,
  };
  for (const [letter, field] of Object.entries(FLAG_OPTIONS)) options[field] = parsed[letter] === true;
  for (const [key, field] of Object.entries(VALUE_OPTIONS)) {
    const value = parsed[key];
    if (typeof value === 'string') options[field] = value;
  }
  for (const [key, field] of Object.entries(LONG_SECONDS_OPTIONS)) {
    const value = parsed[key];
    if (typeof value !== 'string') continue;
    const seconds = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
    if (!(seconds >= 1 && seconds <= MAX_SECONDS)) throw new UsageError(`--${key} needs whole seconds from 1 to ${MAX_SECONDS}: ${value}`);
    options[field] = seconds;
  }
  if (options.names.length === 0 && !options.isolationReport) throw new UsageError('no domain given');
  return options;
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
