// acme-client: the parent. It parses and checks the command line, runs the pre-flight checks and
// spawns the children, each confined, with a socketpair between each pair that talks (the C
// original's star around netproc, plus certproc -> fileproc). certproc starts first: unless work is
// certain (-F, -r, no cert.pem), the parent waits for its word: "current" (nobody else starts),
// "work" (everybody does), or "ask" (netproc and fileproc start to fetch and keep the CA's renewal
// window; the children holding keys or publishing challenges follow on a later "work"). Then it
// closes its copies of the channels, waits, and stops every child if the run outlives its deadline. It never reads a key, a certificate or the network. Its exit
// status: 0 when fileproc changed the certificate files, 2 when there was nothing to do, 1 when any
// child failed.

import { spawn, ChildProcess, StdioOptions } from 'node:child_process';
import { accessSync, constants, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { NameError, Options, USAGE, UsageError, checkNames, parseCommandLine } from './args.js';
import { EXIT_CHANGED, FD, Role, RoleConfig } from './ipc/roles.js';
import { Failure, debug, setVerbosity, warn } from './log.js';
import { USER_AGENT, VERSION } from './version.js';
import { Paths, STATE_FILE, directoryUrl, keyTempPath, oldKeyPath, resolvePaths, trustStore } from './defaults.js';
import { Account, Capabilities, ChildPlan, RoleNeeds, childCommand, describePlan, planChild, probeCapabilities, resolveUser } from './isolation.js';
import { isolationReport } from './report.js';
import { DEFAULT_KEY_TYPE } from './x509/keytypes.js';

/** -m: create the per-name default directories that are missing; key directories are private. */
function makeMultiDirs(opts: Options, paths: Paths): void {
  const wanted: [boolean, string, number][] = [
    [opts.certDir === undefined, paths.certDir, 0o755],
    [opts.domainKey === undefined, join(paths.domainKey, '..'), 0o700],
    [opts.accountKey === undefined, join(paths.accountKey, '..'), 0o700],
  ];
  for (const [isDefault, dir, mode] of wanted) {
    if (!isDefault) continue;
    try {
      if (mkdirSync(dir, { mode, recursive: true }) !== undefined) debug(dir, 'created directory');
    } catch (err) {
      throw new Failure(dir, `cannot create directory: ${(err as Error).message}`);
    }
  }
}

function readable(path: string, directory: boolean): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isDirectory() === directory;
  } catch {
    return false;
  }
}

/** As root only a read-only file system (or an immutable directory) refuses: said before the CA is asked. */
function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The original's pre-flight checks: every problem is reported before giving up. */
function preflight(opts: Options, paths: Paths, csrFile: string | null): { createAccountKey: boolean; createDomainKey: boolean } | null {
  const problems: [string, string][] = [];
  if (!readable(paths.certDir, true)) problems.push([paths.certDir, '-c directory must exist']);
  else if (!writable(paths.certDir)) problems.push([paths.certDir, '-c directory is not writable']);
  // With --csr there is no domain key: the request is checked, by certproc, instead.
  const domainKeyExists = csrFile === null && readable(paths.domainKey, false);
  if (csrFile !== null && !readable(csrFile, false)) problems.push([csrFile, '--csr file must exist']);
  if (csrFile === null && !domainKeyExists && !opts.newDomainKey) problems.push([paths.domainKey, '-k file must exist']);
  if (opts.challengeType === undefined && !readable(paths.challengeDir, true)) problems.push([paths.challengeDir, '-C directory must exist']);
  if (opts.caFile !== undefined && !readable(opts.caFile, false)) problems.push([opts.caFile, '--ca-file file must exist']);
  if (opts.eabHmacKeyFile !== undefined && !readable(opts.eabHmacKeyFile, false)) problems.push([opts.eabHmacKeyFile, '--eab-hmac-key-file file must exist']);
  const accountKeyExists = readable(paths.accountKey, false);
  if (!accountKeyExists && !opts.newAccountKey) problems.push([paths.accountKey, '-f file must exist']);
  for (const [subject, problem] of problems) warn(subject, problem);
  if (problems.length > 0) return null;
  // Decided here, once, so that two children never race over whether a key exists.
  if (opts.newDomainKey && domainKeyExists) debug(paths.domainKey, 'domain key exists (not creating)');
  if (opts.newAccountKey && accountKeyExists) debug(paths.accountKey, 'account key exists (not creating)');
  return { createAccountKey: opts.newAccountKey && !accountKeyExists, createDomainKey: opts.newDomainKey && !domainKeyExists };
}

/** Children start with nothing of the parent's environment but what their role needs. */
function childEnv(role: Role): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
  if (role === 'netproc') {
    // How the CA's TLS certificate is trusted: the system store (which SSL_CERT_* may move) or
    // NODE_EXTRA_CA_CERTS.
    for (const name of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR']) {
      if (process.env[name] !== undefined) env[name] = process.env[name];
    }
  }
  // Test build only (see src/ipc/breakout.ts): what the children should try to reach.
  if (typeof __BREAKOUT_HOOK__ !== 'undefined' && __BREAKOUT_HOOK__ && process.env.ACME_CLIENT_BREAKOUT !== undefined) {
    env.ACME_CLIENT_BREAKOUT = process.env.ACME_CLIENT_BREAKOUT;
  }
  return env;
}

/** Set at build time: true only in the test build that carries the breakout hook. */
declare const __BREAKOUT_HOOK__: boolean;

interface SpawnOptions {
  stdio: StdioOptions;
  /** --isolation-report: the child confines itself, describes the result and waits. */
  report?: boolean;
  /** Without any confinement: only to measure what confinement costs. */
  unconfined?: boolean;
}

/** Starts children under their plans, and removes their jail directories afterwards. */
class Spawner {
  private readonly jails: string[] = [];

  constructor(private readonly configs: RoleConfig, private readonly plans: Record<Role, ChildPlan>, private readonly caps: Capabilities) {}

  start(role: Role, { stdio, report = false, unconfined = false }: SpawnOptions): ChildProcess {
    const plan = this.plans[role];
    if (!report) debug(role, describePlan(plan));
    const script = fileURLToPath(new URL(`./procs/${role}.js`, import.meta.url));
    const args = [JSON.stringify(this.configs[role]), JSON.stringify({ drop: unconfined ? null : plan.drop, report })];
    // One V8 helper thread, not four: seven Node processes start at once, and a short-lived child
    // gains nothing from compiling or collecting in parallel with itself (bench/RESULTS.md).
    // netproc trusts the system's OpenSSL store (what update-ca-certificates
    // maintains), not only the list compiled into Node.
    const nodeFlags = ['--v8-pool-size=1', ...(role === 'netproc' ? ['--use-openssl-ca'] : [])];
    let command: { file: string; args: string[] };
    if (unconfined) {
      command = { file: process.execPath, args: [...nodeFlags, script, ...args] };
    } else {
      const jailRoot = plan.jail === null ? null : mkdtempSync(join(tmpdir(), 'acme-client-jail-'));
      if (jailRoot !== null) this.jails.push(jailRoot);
      command = childCommand(plan, nodeFlags, script, args, this.caps, jailRoot);
    }
    return spawn(command.file, command.args, { stdio, env: childEnv(role) });
  }

  /** The jail's tmpfs lived in the child's own mount namespace: on the host these are empty. */
  cleanUp(): void {
    for (const dir of this.jails.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

type Word = 'current' | 'work' | 'ask';
const WORDS: readonly string[] = ['current', 'work', 'ask'];

/**
 * certproc's words on its lifeline, one a line: "current", "work", or "ask" then maybe "work".
 * next() gives null once certproc has ended or said something else.
 */
class Words {
  private text = '';
  private readonly waiting: ((word: Word | null) => void)[] = [];
  private ended = false;

  constructor(stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1');
      this.deliver();
    });
    for (const event of ['end', 'close', 'error']) {
      stream.once(event, () => {
        this.ended = true;
        this.deliver();
      });
    }
  }

  private deliver(): void {
    while (this.waiting.length > 0) {
      const nl = this.text.indexOf('\n');
      if (nl < 0 && !this.ended && this.text.length <= 16) return;
      const line = nl < 0 ? null : this.text.slice(0, nl);
      this.text = nl < 0 ? '' : this.text.slice(nl + 1);
      (this.waiting.shift() as (word: Word | null) => void)(line !== null && WORDS.includes(line) ? (line as Word) : null);
    }
  }

  next(): Promise<Word | null> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.deliver();
    });
  }
}

/** Nice value of the children not needed at once (see runChildren). */
const BACKGROUND_NICE = 10;

function startsInBackground(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    setPriority(child.pid, BACKGROUND_NICE);
  } catch {
    // Only an ordering hint: a run without it is slower, not wrong.
  }
}

interface Outcome {
  role: Role;
  code: number | null;
  signal: NodeJS.Signals | null;
}

function waitFor(role: Role, child: ChildProcess): Promise<Outcome> {
  return new Promise((resolve) => {
    child.once('error', (err) => {
      warn(role, `cannot start: ${err.message}`);
      resolve({ role, code: 1, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ role, code, signal }));
  });
}

/** A child's end that fails the run: a signal, or a status other than 0 (and fileproc's "changed"). */
function failed({ role, code, signal }: Outcome): boolean {
  return signal !== null || (code !== 0 && !(code === EXIT_CHANGED && (role === 'fileproc' || role === 'acctproc')));
}

/**
 * The children that wait on the world outside the run: netproc on the CA, chngproc on the -t
 * caller's answer. The others wait only on their peers, and end by themselves once those hang up,
 * after finishing what they were handed (certproc and fileproc keeping an order left processing).
 */
const WAIT_ON_THE_WORLD: readonly Role[] = ['netproc', 'chngproc'];

/**
 * The children of one run. A child that fails has said why, or is reported here as killed by a
 * signal that the parent did not send; netproc and chngproc are then stopped at once with SIGTERM,
 * whatever they wait for, and the rest follow as their peers hang up: before, a dead certproc or
 * fileproc left netproc waiting out the CA. The ends of those the parent stopped are its
 * consequence, not news.
 */
class Run {
  readonly ends: Promise<Outcome>[] = [];
  private readonly children: [Role, ChildProcess][] = [];
  private readonly signalled = new Set<ChildProcess>();
  private stopped = false;

  add(role: Role, child: ChildProcess): ChildProcess {
    this.children.push([role, child]);
    this.ends.push(waitFor(role, child).then((outcome) => {
      if (outcome.signal !== null && !this.signalled.has(child)) warn(role, `killed by ${outcome.signal}`);
      else if (failed(outcome)) debug(role, `exit status ${outcome.code}`);
      if (failed(outcome)) this.stop('SIGTERM', WAIT_ON_THE_WORLD);
      return outcome;
    }));
    return child;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Every child still running (of `roles`) gets `signal`. */
  stop(signal: NodeJS.Signals, roles: readonly Role[] = ROLES): void {
    this.stopped = true;
    for (const [role, child] of this.children) {
      if (!roles.includes(role) || child.exitCode !== null || child.signalCode !== null) continue;
      this.signalled.add(child);
      child.kill(signal);
    }
  }

  /** A signal to the parent ends the children too, and is said once: cron mails why a run ended. */
  forwardSignals(): void {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        if (!this.stopped) warn('acme-client', `stopped by ${sig}`);
        this.stop(sig);
      });
    }
  }

  /** Stops every child once `deadlineMs` has passed; cancel() when the run has ended. */
  deadline(deadlineMs: number): { overdue: () => boolean; cancel: () => void } {
    let overdue = false;
    const timer = setTimeout(() => {
      overdue = true;
      warn('acme-client', `run not finished after ${Math.round(deadlineMs / 1000)} s, stopping`);
      this.stop('SIGTERM');
    }, deadlineMs);
    return { overdue: () => overdue, cancel: () => clearTimeout(timer) };
  }
}

function usage(err: UsageError): number {
  process.stderr.write(`acme-client: ${err.problem}\n${USAGE}\n`);
  return 1;
}

async function main(): Promise<number> {
  // Started first, so that the probe's process runs while the command line is parsed.
  const probe = probeCapabilities();
  const argv = process.argv.slice(2);
  let opts: Options;
  try {
    opts = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) return usage(err);
    throw err;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\nSee acme-client(1).\n`);
    return 0;
  }
  if (opts.version) {
    process.stdout.write(`acme-client ${VERSION}\n`);
    return 0;
  }
  setVerbosity(opts.verbose);
  const external = opts.challengeType !== undefined;
  let names: string[];
  try {
    names = checkNames(opts.names, external);
  } catch (err) {
    if (!(err instanceof NameError)) throw err;
    warn(err.name, err.problem);
    return 1;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('acme-client: must be run as root\n');
    return 1;
  }
  if (opts.rolloverAccountKey !== undefined) return await rolloverAccountKey(opts, resolve(opts.rolloverAccountKey), await probe);
  const paths = resolvePaths(opts, names[0] ?? 'example.org');
  const csrFile = opts.csrFile === undefined ? null : resolve(opts.csrFile);
  const server = directoryUrl(opts);
  const user = resolveUser(opts.user);
  const caps = await probe;
  const configs = roleConfigs(opts, names, paths, server, { createAccountKey: opts.newAccountKey, createDomainKey: opts.newDomainKey }, csrFile);
  if (opts.isolationReport) {
    // The jails need their directories: say so as a run would, rather than show a mount error.
    const dirs: [string, string][] = [[paths.certDir, '-c directory must exist']];
    if (opts.challengeType === undefined) dirs.push([paths.challengeDir, '-C directory must exist']);
    const absent = dirs.filter(([dir]) => !readable(dir, true));
    for (const [dir, problem] of absent) warn(dir, problem);
    if (absent.length > 0) return 1;
    const plans = planAll(opts, paths, configs, user, caps);
    const spawner = new Spawner(configs, plans, caps);
    try {
      return await isolationReport(plans, caps, (role, unconfined) => spawner.start(role, { stdio: ['pipe', 'pipe', 'inherit'], report: true, unconfined }));
    } finally {
      spawner.cleanUp();
    }
  }
  if (opts.register) return await register(opts, paths, configs, user, caps);
  if (names.length === 0 && csrFile === null) throw new Failure('acme-client', 'no domain given');
  if (opts.multiDir) makeMultiDirs(opts, paths);
  const keys = preflight(opts, paths, csrFile);
  if (keys === null) return 1;
  configs.acctproc.create = keys.createAccountKey;
  configs.keyproc.create = keys.createDomainKey;

  for (const missing of caps.missing) warn('isolation', missing);
  const plans = planAll(opts, paths, configs, user, caps);
  const spawner = new Spawner(configs, plans, caps);
  try {
    // Every request and the wait for the CA are bounded; this bounds the whole run, whatever hangs.
    const deadlineMs = configs.netproc.pollTimeoutMs + 5 * configs.netproc.requestTimeoutMs;
    return await runChildren(spawner, opts.challengeType !== undefined, paths.certDir, deadlineMs, workIsCertain(opts, paths), csrFile === null);
  } finally {
    spawner.cleanUp();
  }
}

const ROLES: Role[] = ['netproc', 'acctproc', 'keyproc', 'chngproc', 'certproc', 'fileproc'];

function roleConfigs(opts: Options, names: string[], paths: Paths, server: string, keys: { createAccountKey: boolean; createDomainKey: boolean }, csrFile: string | null = null): RoleConfig {
  const verbose = opts.verbose;
  const external = opts.challengeType !== undefined;
  const challengeType = opts.challengeType ?? 'http-01';
  return {
    netproc: {
      directoryUrl: server, names, challengeType, external, agreement: opts.agreement ?? null, revoke: opts.revoke, userAgent: USER_AGENT,
      profile: opts.profile ?? null, ari: !opts.noAri, mustStaple: opts.mustStaple,
      requestTimeoutMs: (opts.timeout ?? 60) * 1000, pollTimeoutMs: (opts.pollTimeout ?? 300) * 1000, verbose,
      caFile: opts.caFile === undefined ? null : resolve(opts.caFile),
      contact: opts.contact ?? [],
      preferredChain: opts.preferredChain ?? null,
      rolloverAccountKey: opts.rolloverAccountKey !== undefined,
      requestFromCertproc: csrFile !== null,
      registerOnly: opts.register,
    },
    acctproc: { keyFile: paths.accountKey, create: keys.createAccountKey, verbose, keyType: opts.accountKeyType ?? DEFAULT_KEY_TYPE,
      eab: opts.eabKid === undefined || opts.eabHmacKeyFile === undefined ? null : { kid: opts.eabKid, keyFile: resolve(opts.eabHmacKeyFile) },
      rollover: opts.rolloverAccountKey === undefined ? null : { newKeyFile: resolve(opts.rolloverAccountKey), create: opts.newAccountKey } },
    keyproc: { keyFile: paths.domainKey, create: keys.createDomainKey, names, mustStaple: opts.mustStaple, verbose,
      keyType: opts.domainKeyType ?? DEFAULT_KEY_TYPE },
    chngproc: { challengeDir: external ? null : paths.challengeDir, challengeType, verbose },
    certproc: { certDir: paths.certDir, names, expand: opts.expand, force: opts.force, revoke: opts.revoke, ari: !opts.noAri, directoryUrl: server, csrFile, verbose },
    fileproc: { certDir: paths.certDir, backup: opts.backup, dated: opts.dated, keep: opts.keep ?? 0, verbose },
  };
}

/** What each role must be able to touch, and nothing more. */
function planAll(opts: Options, paths: Paths, configs: RoleConfig, user: Account, caps: Capabilities): Record<Role, ChildPlan> {
  const external = opts.challengeType !== undefined;
  // A key made with -n/-N is written to its temporary file first (src/fsutil/keyfile.ts).
  const keyFile = (file: string, create: boolean): RoleNeeds => {
    const files = create ? [file, keyTempPath(file)] : [file];
    return { reads: files, writes: create ? files : [], root: false, jailDir: null };
  };
  const dir = (d: string): RoleNeeds => ({ reads: [d], writes: [d], root: true, jailDir: d });
  const withReads = (role: RoleNeeds, more: string[]): RoleNeeds => ({ ...role, reads: [...role.reads, ...more] });
  const needs: Record<Role, RoleNeeds> = {
    netproc: { reads: trustFiles(configs.netproc.caFile), writes: [], root: false, jailDir: null },
    acctproc: configs.acctproc.rollover === null
      ? withReads(keyFile(paths.accountKey, configs.acctproc.create), configs.acctproc.eab === null ? [] : [configs.acctproc.eab.keyFile])
      : rolloverNeeds(paths.accountKey, configs.acctproc.rollover),
    keyproc: keyFile(paths.domainKey, configs.keyproc.create),
    chngproc: external ? { reads: [], writes: [], root: false, jailDir: null } : dir(paths.challengeDir),
    certproc: {
      reads: [...['cert.pem', 'chain.pem', 'fullchain.pem', STATE_FILE].map((f) => join(paths.certDir, f)), ...(configs.certproc.csrFile === null ? [] : [configs.certproc.csrFile])],
      writes: [], root: false, jailDir: null,
    },
    fileproc: dir(paths.certDir),
  };
  return Object.fromEntries(ROLES.map((role) => [role, planChild(role, needs[role], user, caps)])) as Record<Role, ChildPlan>;
}

/**
 * acctproc under --rollover-account-key: it replaces the account key file, and writes <file>.old,
 * in a directory root owns, so it stays root, jailed to that directory (where the new key must be
 * too), and touches exactly these files and their temporary files.
 */
function rolloverNeeds(accountKey: string, rollover: { newKeyFile: string; create: boolean }): RoleNeeds {
  const replaced = [accountKey, oldKeyPath(accountKey)].flatMap((file) => [file, keyTempPath(file)]);
  const made = rollover.create ? [rollover.newKeyFile, keyTempPath(rollover.newKeyFile)] : [];
  return { reads: [...replaced, ...(rollover.create ? made : [rollover.newKeyFile])], writes: [...replaced, ...made], root: true, jailDir: dirname(accountKey) };
}

/** Pre-flight of --rollover-account-key; null when a problem was reported. */
function rolloverPreflight(opts: Options, accountKey: string, newKeyFile: string): { createNewKey: boolean } | null {
  const problems: [string, string][] = [];
  if (!readable(accountKey, false)) problems.push([accountKey, '-f file must exist']);
  const newKeyExists = readable(newKeyFile, false);
  if (!newKeyExists && !opts.newAccountKey) problems.push([newKeyFile, '--rollover-account-key file must exist']);
  if (newKeyFile === accountKey) problems.push([newKeyFile, '--rollover-account-key file is the account key itself']);
  else if (dirname(newKeyFile) !== dirname(accountKey)) problems.push([newKeyFile, `--rollover-account-key file must be in the account key's directory, ${dirname(accountKey)}`]);
  if (opts.caFile !== undefined && !readable(opts.caFile, false)) problems.push([opts.caFile, '--ca-file file must exist']);
  for (const [subject, problem] of problems) warn(subject, problem);
  return problems.length > 0 ? null : { createNewKey: opts.newAccountKey && !newKeyExists };
}

/**
 * --rollover-account-key: netproc and acctproc alone, no certificate. acctproc holds both keys,
 * and replaces the -f file only once netproc reports that the CA has accepted the change; its
 * exit status EXIT_CHANGED is the run's "changed" (exit 0), as fileproc's is for a certificate.
 */
/**
 * netproc and acctproc alone (--rollover-account-key, --register): netproc's fds 4-6 (keyproc,
 * chngproc, certproc) stay closed, and it opens only acctproc's channel.
 */
async function runAccountPair(spawner: Spawner, deadlineMs: number): Promise<{ outcomes: Outcome[]; overdue: boolean }> {
  const run = new Run();
  run.forwardSignals();
  const deadline = run.deadline(deadlineMs);
  const net = run.add('netproc', spawner.start('netproc', { stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'ignore', 'ignore', 'ignore', 'pipe'] }));
  const channel = net.stdio[FD.netproc.acct] as Readable;
  run.add('acctproc', spawner.start('acctproc', { stdio: ['ignore', 'ignore', 'inherit', channel, 'pipe'] }));
  channel.destroy();
  const outcomes = await Promise.all(run.ends);
  deadline.cancel();
  return { outcomes, overdue: deadline.overdue() };
}

/** --register: the account (with -n its key first), and nothing else; 0 once it exists. */
async function register(opts: Options, paths: Paths, configs: RoleConfig, user: Account, caps: Capabilities): Promise<number> {
  const accountKeyExists = readable(paths.accountKey, false);
  const problems: [string, string][] = [];
  if (!accountKeyExists && !opts.newAccountKey) problems.push([paths.accountKey, '-f file must exist']);
  if (opts.eabHmacKeyFile !== undefined && !readable(opts.eabHmacKeyFile, false)) problems.push([opts.eabHmacKeyFile, '--eab-hmac-key-file file must exist']);
  for (const [subject, problem] of problems) warn(subject, problem);
  if (problems.length > 0) return 1;
  configs.acctproc.create = opts.newAccountKey && !accountKeyExists;
  for (const missing of caps.missing) warn('isolation', missing);
  const spawner = new Spawner(configs, planAll(opts, paths, configs, user, caps), caps);
  try {
    const { outcomes, overdue } = await runAccountPair(spawner, 5 * configs.netproc.requestTimeoutMs);
    if (overdue) return 1;
    return outcomes.every((o) => o.code === 0 && o.signal === null) ? 0 : 1;
  } finally {
    spawner.cleanUp();
  }
}

async function rolloverAccountKey(opts: Options, newKeyFile: string, caps: Capabilities): Promise<number> {
  const paths = resolvePaths(opts, 'example.org');
  const checked = rolloverPreflight(opts, paths.accountKey, newKeyFile);
  if (checked === null) return 1;
  const configs = roleConfigs(opts, [], paths, directoryUrl(opts), { createAccountKey: false, createDomainKey: false });
  configs.acctproc.rollover = { newKeyFile, create: checked.createNewKey };
  // The account exists already: no binding is made, and the jail holds the key directory alone.
  configs.acctproc.eab = null;
  for (const missing of caps.missing) warn('isolation', missing);
  const spawner = new Spawner(configs, planAll(opts, paths, configs, resolveUser(opts.user), caps), caps);
  try {
    const { outcomes, overdue } = await runAccountPair(spawner, 5 * configs.netproc.requestTimeoutMs);
    // The one line is said: the children's ends by SIGTERM are its consequence, not news.
    if (overdue) return 1;
    let changed = false;
    let failed = false;
    for (const { role, code, signal } of outcomes) {
      if (role === 'acctproc' && code === EXIT_CHANGED) changed = true;
      else if (code !== 0 || signal !== null) failed = true;
    }
    if (failed) {
      if (changed) warn(paths.accountKey, 'the account key was replaced, but the run failed');
      return 1;
    }
    if (!changed) warn(paths.accountKey, 'the account key was not changed');
    return changed ? 0 : 1;
  } finally {
    spawner.cleanUp();
  }
}

/**
 * What netproc reads of its trust before it drops root (src/acme/trust.ts): --ca-file and
 * SSL_CERT_FILE; and SSL_CERT_DIR, which it checks it can still search afterwards.
 */
function trustFiles(caFile: string | null): string[] {
  const { file, dirs } = trustStore(process.env);
  const directories = dirs.map((dir) => resolve(dir));
  // A directory on the list covers what is in it; on Node 20 a file listed as well, beneath it
  // (SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt beside SSL_CERT_DIR=/etc/ssl/certs), makes
  // the directory itself refused.
  const files = [...(caFile === null ? [] : [caFile]), ...(file === null ? [] : [resolve(file)])]
    .filter((path) => !directories.some((dir) => path.startsWith(`${dir}/`)));
  return [...files, ...directories];
}

/**
 * Whether the run has work whatever certproc finds: -F and -r always do (or fail), and so does a
 * certificate directory without cert.pem. Then the other children start without waiting for
 * certproc's word; they still send nothing to the CA before certproc has told netproc what to do.
 * Only the name is looked at, never the file.
 */
function workIsCertain(opts: Options, paths: Paths): boolean {
  if (opts.force || opts.revoke) return true;
  try {
    lstatSync(join(paths.certDir, 'cert.pem'));
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Starts the children as certproc's words ask for them, and waits for all. certproc comes first
 * and alone unless work is certain: the nightly "nothing to do" costs one child and no request.
 * On "ask" (the CA's renewal window decides) netproc and fileproc follow, and the children that
 * hold the keys or publish challenges come only on "work".
 */
async function runChildren(spawner: Spawner, external: boolean, certDir: string, deadlineMs: number, certain: boolean, withKeyproc: boolean): Promise<number> {
  // Each child's end is listened for from its start: one may end while the parent awaits another.
  const run = new Run();
  const spawnOne = (role: Role, stdio: StdioOptions): ChildProcess => run.add(role, spawner.start(role, { stdio }));
  run.forwardSignals();
  const deadline = run.deadline(deadlineMs);

  // Channels: netproc holds fds 3 acct, 4 key, 5 chng, 6 cert; certproc holds 3 net, 4 file.
  // Each peer gets the other end, and the parent then drops its copies; the ends for children that
  // never start are dropped at the end. The last 'pipe' of each is its lifeline (FD.*.lifeline),
  // which the parent keeps until it exits.
  const end = (child: ChildProcess, fd: number): Readable => child.stdio[fd] as Readable;
  const cert = spawnOne('certproc', ['ignore', 'ignore', 'inherit', 'pipe', 'pipe', 'pipe']);
  const startNetAndFile = (): ChildProcess => {
    const net = spawnOne('netproc', ['ignore', 'ignore', 'inherit', 'pipe', 'pipe', 'pipe', end(cert, 3), 'pipe']);
    const file = spawnOne('fileproc', ['ignore', 'ignore', 'inherit', end(cert, 4), 'pipe']);
    startsInBackground(file);
    for (const fd of [3, 4]) end(cert, fd).destroy();
    return net;
  };
  const startKeyHolders = (from: ChildProcess): void => {
    spawnOne('acctproc', ['ignore', 'ignore', 'inherit', end(from, 3), 'pipe']);
    // With --csr there is no keyproc: certproc hands netproc the request, and netproc leaves fd 4 alone.
    const key = withKeyproc ? spawnOne('keyproc', ['ignore', 'ignore', 'inherit', end(from, 4), 'pipe']) : null;
    spawnOne('chngproc', [external ? 'inherit' : 'ignore', external ? 'inherit' : 'ignore', 'inherit', end(from, 5), 'pipe']);
    // netproc's first requests need acctproc, and chngproc follows one order later; the CSR and
    // the writing come last. keyproc and fileproc start at a lower priority, so that on a machine
    // with fewer cores than children the conversation begins first.
    if (key !== null) startsInBackground(key);
  };

  const words = new Words(end(cert, FD.certproc.lifeline));
  let word: Word | null = certain ? 'work' : await words.next();
  // A run stopped meanwhile (a signal, the deadline) starts nobody more, whatever certproc said.
  if (word === 'current' || word === null || run.isStopped) {
    deadline.cancel();
    const [outcome] = (await Promise.all(run.ends)) as [Outcome];
    return word === 'current' && outcome.code === 0 ? 2 : 1;
  }
  const net = startNetAndFile();
  if (word === 'ask') word = await words.next();
  if (word === 'work' && !run.isStopped) startKeyHolders(net);
  for (const fd of [3, 4, 5]) end(net, fd).destroy();

  const outcomes = await Promise.all(run.ends);
  deadline.cancel();
  if (deadline.overdue()) return 1;
  const changed = outcomes.some(({ role, code, signal }) => role === 'fileproc' && code === EXIT_CHANGED && signal === null);
  if (outcomes.some(failed)) {
    if (changed) warn(certDir, 'certificate files were updated, but the run failed');
    return 1;
  }
  return changed ? 0 : 2;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    if (err instanceof Failure) warn(err.subject, err.problem);
    else warn('acme-client', err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
