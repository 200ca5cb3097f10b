// acme-client-dns01: dns-01 for acme-client without a hand-written hook. It runs
// `acme-client -t dns-01 ...` as a coprocess: for each `dns-01 <identifier> <key authorization>`
// line acme-client prints, it publishes _acme-challenge.<name> TXT base64url(SHA-256(key
// authorization)) through a provider (nsupdate, acme-dns or exec), waits until every
// authoritative server of the zone answers it, and echoes the line back. When acme-client has
// exited, whatever its status, it removes exactly the records it added, and exits with
// acme-client's status (0 changed, 2 nothing to do, 1 failure); its own failures are 1, with one
// line `acme-client-dns01: <subject>: <problem>`.
//
// The split of secrets: this process holds the DNS credentials and never reads an ACME key;
// acme-client gets an environment without them and never sees a DNS credential.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { UsageError, parseCommandLine, wholeSeconds } from '../args.js';
import { Failure, reportError, setProgram, warn } from '../log.js';
import { VERSION } from '../version.js';
import { onLoopback } from '../acme/caurl.js';
import { AcmeDnsProvider, readAccounts, registerAccount, writeAccounts } from './acmedns.js';
import { ExecProvider } from './exec.js';
import { NsupdateProvider } from './nsupdate.js';
import { DnsView, NameServer, ServerAddress, parseServerAddress, waitForTxt } from './propagation.js';
import type { Provider, TxtRecord } from './provider.js';

const COMMAND = 'acme-client-dns01';
const USAGE =
  `usage: ${COMMAND} --provider nsupdate|acme-dns|exec [--tsig-key-file file] [--nsupdate-server server[:port]] ` +
  '[--zone zone] [--acme-dns-url url] [--acme-dns-accounts file] [--acme-dns-register] [--hook command] ' +
  '[--propagation-timeout seconds] [--dns-server address[:port]] -- [acme-client options] domain [altnames...]\n' +
  `       ${COMMAND} --version | --help`;

/** acme-client beside this file, as the package installs them. */
const ACME_CLIENT = fileURLToPath(new URL('./acme-client.js', import.meta.url));

type ProviderName = 'nsupdate' | 'acme-dns' | 'exec';

interface Dns01Options {
  version: boolean;
  help: boolean;
  provider: ProviderName;
  propagationTimeoutMs: number;
  dnsServer: ServerAddress | null;
  tsigKeyFile: string | null;
  nsupdateServer: ServerAddress | null;
  zone: string | null;
  acmeDnsUrl: URL | null;
  acmeDnsAccounts: string;
  acmeDnsRegister: boolean;
  hook: string;
}

const VALUE_OPTIONS = ['provider', 'propagation-timeout', 'dns-server', 'tsig-key-file', 'nsupdate-server', 'zone', 'acme-dns-url', 'acme-dns-accounts', 'hook'];
const FLAG_OPTIONS = ['acme-dns-register', 'version', 'help'];
/** Each provider's own options: the required ones first, then those it may take. */
const PROVIDER_OPTIONS: Record<ProviderName, { required: string[]; optional: string[] }> = {
  // Without a key the updates go unsigned, for a server that allows updates by address.
  nsupdate: { required: [], optional: ['tsig-key-file', 'nsupdate-server', 'zone'] },
  'acme-dns': { required: ['acme-dns-url', 'acme-dns-accounts'], optional: ['acme-dns-register'] },
  exec: { required: ['hook'], optional: [] },
};
const DEFAULT_PROPAGATION_TIMEOUT_S = 120;

/** Our own options, those before `--`. */
function parseOptions(argv: string[]): Dns01Options {
  const parsed = yargs()
    .parserConfiguration({
      'camel-case-expansion': false, 'dot-notation': false, 'parse-numbers': false, 'parse-positional-numbers': false,
      'boolean-negation': false, 'duplicate-arguments-array': false, 'strip-dashed': true,
    })
    // yargs' own --version is switched off first, or it would take ours away.
    .help(false)
    .version(false)
    .boolean(FLAG_OPTIONS)
    .string(VALUE_OPTIONS)
    .requiresArg(VALUE_OPTIONS)
    .nargs(Object.fromEntries(VALUE_OPTIONS.map((key) => [key, 1])))
    // Operands are refused below, with a word on where they belong.
    .strictOptions()
    .exitProcess(false)
    .fail((message, error) => {
      throw new UsageError(message ?? error?.message ?? 'bad command line');
    })
    .parseSync(argv);
  if (parsed._.length > 0) throw new UsageError(`unexpected argument ${String(parsed._[0])}: acme-client's options and the domains follow --`);
  const text = (key: string): string | undefined => parsed[key] as string | undefined;
  const given = (key: string): boolean => parsed[key] !== undefined && parsed[key] !== false;
  const version = parsed.version === true;
  const help = parsed.help === true;
  const provider = text('provider');
  if (provider === undefined) {
    if (version || help) return { version, help } as Dns01Options;
    throw new UsageError('--provider is required');
  }
  if (!Object.hasOwn(PROVIDER_OPTIONS, provider)) throw new UsageError(`unknown provider ${provider}: nsupdate, acme-dns or exec`);
  const own = PROVIDER_OPTIONS[provider as ProviderName];
  for (const [other, { required, optional }] of Object.entries(PROVIDER_OPTIONS)) {
    if (other === provider) continue;
    const stray = [...required, ...optional].find((key) => given(key) && ![...own.required, ...own.optional].includes(key));
    if (stray !== undefined) throw new UsageError(`--${stray} is for --provider ${other}`);
  }
  const missing = own.required.find((key) => !given(key));
  if (missing !== undefined) throw new UsageError(`--provider ${provider} needs --${missing}`);
  const timeout = wholeSeconds('propagation-timeout', text('propagation-timeout') ?? String(DEFAULT_PROPAGATION_TIMEOUT_S));
  const server = (key: string, names: boolean): ServerAddress | null => {
    const value = text(key);
    try {
      return value === undefined ? null : parseServerAddress(value, `--${key}`, names);
    } catch (err) {
      throw new UsageError((err as Failure).message);
    }
  };
  const zone = text('zone')?.replace(/\.$/, '').toLowerCase() ?? null;
  if (zone !== null && !/^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$/.test(zone)) throw new UsageError(`--zone is not a domain name: ${zone}`);
  let acmeDnsUrl: URL | null = null;
  if (given('acme-dns-url')) {
    try {
      acmeDnsUrl = new URL(text('acme-dns-url') as string);
    } catch {
      throw new UsageError(`--acme-dns-url is not a URL: ${text('acme-dns-url')}`);
    }
    // Its API key travels in a header: plain http only to this machine (an acme-dns beside it).
    if (acmeDnsUrl.protocol !== 'https:' && !(acmeDnsUrl.protocol === 'http:' && onLoopback(acmeDnsUrl))) {
      throw new UsageError(`--acme-dns-url must be https (http only to this machine's loopback): ${acmeDnsUrl.href}`);
    }
    // The API's calls are relative to it: https://auth.example.org/acme-dns -> .../acme-dns/update.
    if (!acmeDnsUrl.pathname.endsWith('/')) acmeDnsUrl.pathname += '/';
  }
  return {
    version,
    help,
    provider: provider as ProviderName,
    propagationTimeoutMs: timeout * 1000,
    dnsServer: server('dns-server', false),
    tsigKeyFile: text('tsig-key-file') ?? null,
    nsupdateServer: server('nsupdate-server', true),
    zone,
    acmeDnsUrl,
    acmeDnsAccounts: text('acme-dns-accounts') ?? '',
    acmeDnsRegister: parsed['acme-dns-register'] === true,
    hook: text('hook') ?? '',
  };
}

function makeProvider(opts: Dns01Options, dns: DnsView): Provider {
  switch (opts.provider) {
    case 'nsupdate':
      return new NsupdateProvider({ keyFile: opts.tsigKeyFile, server: opts.nsupdateServer, zone: opts.zone }, dns);
    case 'acme-dns':
      return new AcmeDnsProvider(opts.acmeDnsUrl as URL, readAccounts(opts.acmeDnsAccounts, false), opts.acmeDnsAccounts);
    case 'exec':
      return new ExecProvider(opts.hook);
  }
}

/**
 * --acme-dns-register: an acme-dns account for each domain of the command line that has none,
 * stored as soon as it is made; then the CNAME each domain needs. acme-client is not run: the
 * CNAMEs must exist first.
 */
async function registerDomains(opts: Dns01Options, acmeClientArgs: string[]): Promise<number> {
  const domains = [...new Set(parseCommandLine(acmeClientArgs).names.map((name) => name.toLowerCase().replace(/^\*\./, '')))];
  const accounts = readAccounts(opts.acmeDnsAccounts, true);
  for (const domain of domains) {
    if (accounts[domain] !== undefined) continue;
    accounts[domain] = await registerAccount(opts.acmeDnsUrl as URL);
    await writeAccounts(opts.acmeDnsAccounts, accounts);
  }
  for (const domain of domains) process.stdout.write(`_acme-challenge.${domain} CNAME ${accounts[domain]?.fulldomain}\n`);
  return 0;
}

/** acme-client gets what it needs and nothing else: an exec hook's API token, say, stays here. */
function acmeClientEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'TMPDIR', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR']) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return env;
}

/** What chngproc prints with -t dns-01 (src/procs/chngproc.ts checks the same shapes). */
const CHALLENGE_LINE = /^dns-01 ((?:\*\.)?[a-z0-9._-]{1,253}) ([A-Za-z0-9_-]{1,256}\.[A-Za-z0-9_-]{43})$/;

async function runAcmeClient(opts: Dns01Options, acmeClientArgs: string[], provider: Provider, dns: DnsView): Promise<number> {
  const child = spawn(process.execPath, [ACME_CLIENT, '-t', 'dns-01', ...acmeClientArgs], { stdio: ['pipe', 'pipe', 'inherit'], env: acmeClientEnv() });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => {
      warn(ACME_CLIENT, `cannot run acme-client: ${err.message}`);
      resolve({ code: 1, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // Ctrl-C reaches both of us; a kill of this process alone is passed on. Either way acme-client
  // ends first and the records are removed after.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.stdin.on('error', () => undefined); // acme-client gone: its exit says why
  // acme-client gone (a signal, say) while a value is awaited: nothing waits for it any more, and
  // the clean-up must not wait for the propagation timeout.
  const acmeClientGone = new AbortController();
  void exited.then(() => acmeClientGone.abort());

  // Each record handed to the provider, and whether the provider said it is published.
  const published: { record: TxtRecord; confirmed: boolean }[] = [];
  const serversOfZone = new Map<string, Promise<NameServer[]>>();
  const servers = async (name: string): Promise<NameServer[]> => {
    const zone = opts.zone ?? (await dns.findZone(name)).zone;
    if (!serversOfZone.has(zone)) serversOfZone.set(zone, dns.nameServers(zone));
    return serversOfZone.get(zone) as Promise<NameServer[]>;
  };
  let failed = false;
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    if (failed) continue;
    try {
      const challenge = CHALLENGE_LINE.exec(line);
      if (challenge === null) throw new Failure('acme-client', `unexpected output: ${line.slice(0, 120)}`);
      const domain = (challenge[1] as string).replace(/^\*\./, '');
      const value = createHash('sha256').update(challenge[2] as string).digest('base64url');
      const record = { domain, name: await dns.followCnames(`_acme-challenge.${domain}`), value };
      // Listed before it is sent: an update that times out may still have been applied.
      const entry = { record, confirmed: false };
      published.push(entry);
      await provider.present(record);
      entry.confirmed = true;
      await waitForTxt(await servers(record.name), record.name, value, opts.propagationTimeoutMs, acmeClientGone.signal);
      child.stdin.write(`${line}\n`);
    } catch (err) {
      failed = true;
      // A wait cut short by acme-client's end: that end is said below.
      if (!acmeClientGone.signal.aborted) reportError(COMMAND, err);
      // acme-client reads end of file, says "<stdin>: short read" and gives up the order, once the
      // CA has checked the names answered before: their records are removed only after it exits.
      child.stdin.end();
    }
  }
  const { code, signal } = await exited;
  for (const { record, confirmed } of published) {
    try {
      await provider.cleanUp(record);
    } catch (err) {
      // A record whose publication failed is removed only in case it was applied after all: that
      // failure was said already, and this one would say it again.
      if (confirmed) reportError(COMMAND, err);
    }
  }
  if (signal !== null) warn('acme-client', `killed by ${signal}`);
  // A failed clean-up leaves acme-client's status as it is: after a new certificate (0) the web
  // server must still be reloaded; the line above says what was left behind.
  return failed || signal !== null ? 1 : code ?? 1;
}

async function main(): Promise<number> {
  setProgram(COMMAND);
  const argv = process.argv.slice(2);
  const split = argv.indexOf('--');
  const usage = (problem: string): number => {
    process.stderr.write(`${COMMAND}: ${problem}\n${USAGE}\n`);
    return 1;
  };
  let opts: Dns01Options;
  try {
    opts = parseOptions(split === -1 ? argv : argv.slice(0, split));
  } catch (err) {
    if (err instanceof UsageError) return usage(err.problem);
    throw err;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\nSee acme-client-dns01(1).\n`);
    return 0;
  }
  if (opts.version) {
    process.stdout.write(`${COMMAND} ${VERSION}\n`);
    return 0;
  }
  if (split === -1) return usage("acme-client's options and the domains follow --");
  const acmeClientArgs = argv.slice(split + 1);
  const dns = new DnsView(opts.dnsServer);
  if (opts.acmeDnsRegister) {
    try {
      return await registerDomains(opts, acmeClientArgs);
    } catch (err) {
      if (err instanceof UsageError) return usage(`after --: ${err.problem}`);
      throw err;
    }
  }
  return runAcmeClient(opts, acmeClientArgs, makeProvider(opts, dns), dns);
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    reportError(COMMAND, err);
    process.exitCode = 1;
  },
);
