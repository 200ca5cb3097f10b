// acme-client: the parent. It parses and checks the command line and hands the run to its mode
// (src/modes/): issuing (the default), --register, --persist-records, --rollover-account-key,
// --isolation-report, or --config (acme-client.conf(5), each domain block through the issuing mode).
// Every mode spawns children, each confined, with a socketpair between each pair that talks (the C
// original's star around netproc, plus certproc -> fileproc), closes its copies of the channels,
// waits, and stops every child if the run outlives its deadline. The parent never reads a key, a
// certificate or the network.

import { resolve } from 'node:path';
import { ConfigOptions, NameError, Options, USAGE, UsageError, checkNames, parseCommandLine, parseConfigCommandLine, usesConfigFile } from './args.js';
import { Failure, setVerbosity, warn } from './log.js';
import { VERSION } from './version.js';
import { directoryUrl, resolvePaths } from './defaults.js';
import { Capabilities, childUser, probeCapabilities } from './isolation.js';
import { Invocation, roleConfigs } from './parent/plans.js';
import { issue } from './modes/issue.js';
import { register } from './modes/register.js';
import { persistRecords } from './modes/persist-records.js';
import { reportIsolation } from './modes/isolation-report.js';
import { runConfig } from './modes/config.js';
import { rolloverAccountKey } from './modes/rollover.js';

function usage(err: UsageError): number {
  process.stderr.write(`acme-client: ${err.problem}\n${USAGE}\n`);
  return 1;
}

async function main(): Promise<number> {
  // Started first, so that the probe's process runs while the command line is parsed.
  const probe = probeCapabilities();
  const argv = process.argv.slice(2);
  if (usesConfigFile(argv)) return await configMode(argv, probe);
  let opts: Options;
  try {
    opts = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) return usage(err);
    throw err;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\nSee acme-client(1) and acme-client.conf(5).\n`);
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
    // --persist-records prints the records of wildcard names too.
    names = checkNames(opts.names, external || opts.persistRecords);
  } catch (err) {
    if (!(err instanceof NameError)) throw err;
    warn(err.name, err.problem);
    return 1;
  }
  if (opts.rolloverAccountKey !== undefined) return await rolloverAccountKey(opts, resolve(opts.rolloverAccountKey), await probe);
  const paths = resolvePaths(opts, names[0] ?? 'example.org');
  const csrFile = opts.csrFile === undefined ? null : resolve(opts.csrFile);
  const configs = roleConfigs(opts, names, paths, directoryUrl(opts), { createAccountKey: opts.newAccountKey, createDomainKey: opts.newDomainKey }, csrFile);
  const caps = await probe;
  const invocation: Invocation = { opts, names, paths, csrFile, configs, user: childUser(opts.user, caps), caps };
  if (opts.isolationReport) return await reportIsolation(invocation);
  if (opts.register) return await register(invocation);
  if (opts.persistRecords) return await persistRecords(invocation);
  return await issue(invocation);
}

/** --config: acme-client.conf(5)'s mode, with OpenBSD's letters. */
async function configMode(argv: string[], probe: Promise<Capabilities>): Promise<number> {
  let conf: ConfigOptions;
  try {
    conf = parseConfigCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) return usage(err);
    throw err;
  }
  setVerbosity(conf.verbose);
  return await runConfig(conf, probe);
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

