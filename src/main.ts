// acme-client: the parent. It parses and checks the command line, runs the pre-flight checks,
// spawns the six children with a socketpair between each pair that talks (the C original's star
// around netproc, plus certproc -> fileproc), closes its own copies, and then only waits. It never
// reads a key, a certificate or the network. Its exit status: 0 when fileproc changed the
// certificate files, 2 when there was nothing to do, 1 when any child failed.

import { spawn, ChildProcess, StdioOptions } from 'node:child_process';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { NameError, Options, USAGE, UsageError, checkNames, parseCommandLine } from './args.js';
import { EXIT_CHANGED, Role, RoleConfig } from './ipc/roles.js';
import { Failure, debug, setVerbosity, warn } from './log.js';
import { USER_AGENT } from './version.js';
import { Paths, directoryUrl, resolvePaths } from './defaults.js';

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

/** The original's pre-flight checks: every problem is reported before giving up. */
function preflight(opts: Options, paths: Paths): { createAccountKey: boolean; createDomainKey: boolean } | null {
  const problems: [string, string][] = [];
  if (!readable(paths.certDir, true)) problems.push([paths.certDir, '-c directory must exist']);
  const domainKeyExists = readable(paths.domainKey, false);
  if (!domainKeyExists && !opts.newDomainKey) problems.push([paths.domainKey, '-k file must exist']);
  if (opts.challengeType === undefined && !readable(paths.challengeDir, true)) problems.push([paths.challengeDir, '-C directory must exist']);
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
  return env;
}

function spawnRole<R extends Role>(role: R, config: RoleConfig[R], stdio: StdioOptions): ChildProcess {
  const script = fileURLToPath(new URL(`./procs/${role}.js`, import.meta.url));
  // netproc trusts the system's OpenSSL store (what update-ca-certificates maintains), not only
  // the list compiled into Node.
  const flags = role === 'netproc' ? ['--use-openssl-ca'] : [];
  return spawn(process.execPath, [...flags, script, JSON.stringify(config)], { stdio, env: childEnv(role) });
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

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = await parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`acme-client: ${err.problem}\n${USAGE}\n`);
    return 1;
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
  const first = names[0] as string;
  const paths = resolvePaths(opts, first);
  const server = directoryUrl(opts);
  if (opts.multiDir) makeMultiDirs(opts, paths);
  const keys = preflight(opts, paths);
  if (keys === null) return 1;
  const { createAccountKey, createDomainKey } = keys;
  const verbose = opts.verbose;

  // Channels: netproc holds fds 3 acct, 4 key, 5 chng, 6 cert; certproc holds 4 file. Each peer
  // gets the other end as its fd 3, and the parent then drops its copies.
  const net = spawnRole('netproc', {
    directoryUrl: server, names, challengeType: opts.challengeType ?? 'http-01', external, agreement: opts.agreement ?? null,
    revoke: opts.revoke, userAgent: USER_AGENT, verbose,
  }, ['ignore', 'ignore', 'inherit', 'pipe', 'pipe', 'pipe', 'pipe']);
  const end = (child: ChildProcess, fd: number): Readable => child.stdio[fd] as Readable;
  const acct = spawnRole('acctproc', { keyFile: paths.accountKey, create: createAccountKey, verbose },
    ['ignore', 'ignore', 'inherit', end(net, 3)]);
  const key = spawnRole('keyproc', { keyFile: paths.domainKey, create: createDomainKey, names, mustStaple: opts.mustStaple, verbose },
    ['ignore', 'ignore', 'inherit', end(net, 4)]);
  const chng = spawnRole('chngproc', { challengeDir: external ? null : paths.challengeDir, challengeType: opts.challengeType ?? 'http-01', verbose },
    external ? ['inherit', 'inherit', 'inherit', end(net, 5)] : ['ignore', 'ignore', 'inherit', end(net, 5)]);
  const cert = spawnRole('certproc', { certDir: paths.certDir, names, expand: opts.expand, force: opts.force, revoke: opts.revoke, verbose },
    ['ignore', 'ignore', 'inherit', end(net, 6), 'pipe']);
  const file = spawnRole('fileproc', { certDir: paths.certDir, backup: opts.backup, verbose },
    ['ignore', 'ignore', 'inherit', end(cert, 4)]);
  for (const fd of [3, 4, 5, 6]) end(net, fd).destroy();
  end(cert, 4).destroy();

  const children: [Role, ChildProcess][] = [['netproc', net], ['acctproc', acct], ['keyproc', key], ['chngproc', chng], ['certproc', cert], ['fileproc', file]];
  // A signal to the parent ends the children too: none is left running after the parent exits.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      for (const [, child] of children) child.kill(sig);
    });
  }
  const outcomes = await Promise.all(children.map(([role, child]) => waitFor(role, child)));

  let failed = false;
  let changed = false;
  for (const { role, code, signal } of outcomes) {
    if (signal !== null) {
      warn(role, `killed by ${signal}`);
      failed = true;
    } else if (role === 'fileproc' && code === EXIT_CHANGED) {
      changed = true;
    } else if (code !== 0) {
      debug(role, `exit status ${code}`);
      failed = true;
    }
  }
  if (failed) {
    if (changed) warn(paths.certDir, 'certificate files were updated, but the run failed');
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
