// acme-client.conf(5)'s mode (acme-client --config FILE [-Fnrv] [-e keyid:key] [handle ...]): the
// domain blocks named, or every one, each run in turn through the issuing mode with what its block
// and its authority say, as OpenBSD's acme-client(1) runs one. Exit 0 when a certificate changed
// and none failed, 2 when none changed, 1 when any failed; each failure ends with a line naming
// its domain.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ConfigOptions, NameError, Options, checkNames } from '../args.js';
import { Failure, debug, warn } from '../log.js';
import { DEFAULT_CHALLENGE_DIR, Paths, directoryUrl, resolvePaths } from '../defaults.js';
import { readable, writable } from '../fsutil/access.js';
import { Account, Capabilities, childUser } from '../isolation.js';
import { Authority, Config, ConfigError, ConfKeyType, Domain, certDirOf, parseConfig, printConfig } from '../conf/parse.js';
import type { KeyType } from '../x509/keytypes.js';
import { Invocation, roleConfigs } from '../parent/plans.js';
import { issue } from './issue.js';

/** What OpenBSD makes for a missing key of each type: RSA of 4096 bits, ECDSA on P-384. */
const KEY_TYPE_MADE: Record<ConfKeyType, KeyType> = { rsa: 'rsa4096', ecdsa: 'ec384' };

/** Beside the certificate, the renewal state of that certificate: one directory may hold many. */
export function stateFileOf(certificateFile: string): string {
  return `${certificateFile}.acme-client-state.json`;
}

export async function runConfig(conf: ConfigOptions, probe: Promise<Capabilities>): Promise<number> {
  let config: Config;
  try {
    config = parseConfig(conf.configFile);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const { place, problem } of err.problems) warn(place.line === 0 ? place.file : `${place.file}:${place.line}`, problem);
    return 1;
  }
  if (conf.verbose > 0) for (const name of config.unusedMacros) warn(conf.configFile, `macro '${name}' not used`);
  const unknown = conf.handles.filter((handle) => !config.domains.some((d) => d.handle === handle));
  for (const handle of unknown) warn(conf.configFile, `domain ${handle} not found`);
  if (unknown.length > 0) return 1;
  if (conf.check) {
    process.stdout.write(printConfig(config));
    return 0;
  }
  if (config.domains.length === 0) {
    warn(conf.configFile, 'no domain block');
    return 1;
  }
  // A handle given twice runs once.
  const chosen = conf.handles.length === 0 ? config.domains : [...new Set(conf.handles)].map((handle) => config.domains.find((d) => d.handle === handle) as Domain);

  // A signal stops the domain being run (its children are told) and every one after it.
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    stoppedBy = sig;
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  const eabDir = conf.eab === null ? null : mkdtempSync(join(tmpdir(), 'acme-client-eab-'));
  try {
    // -e's key goes to acctproc as --eab-hmac-key-file's would: in a file only its owner can read.
    let eab: { kid: string; keyFile: string } | null = null;
    if (conf.eab !== null && eabDir !== null) {
      eab = { kid: conf.eab.kid, keyFile: join(eabDir, 'mac-key') };
      writeFileSync(eab.keyFile, conf.eab.macKey, { mode: 0o600 });
    }
    const caps = await probe;
    const user = childUser(undefined, caps);
    let changed = 0;
    let failed = 0;
    for (const [index, domain] of chosen.entries()) {
      if (stoppedBy !== null) {
        warn(domain.handle, `not run: stopped by ${stoppedBy as NodeJS.Signals}`);
        failed++;
        continue;
      }
      // The isolation that is missing is said once, not for every domain.
      const status = await runDomain(conf, config, domain, eab, user, index === 0 ? caps : { ...caps, missing: [] });
      if (status === 0) changed++;
      if (status === 1) {
        warn(domain.handle, 'failed');
        failed++;
      }
    }
    return failed > 0 ? 1 : changed > 0 ? 0 : 2;
  } finally {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
    if (eabDir !== null) rmSync(eabDir, { recursive: true, force: true });
  }
}

/** One domain block through the issuing mode; a problem found here is said, and is that domain's failure. */
async function runDomain(conf: ConfigOptions, config: Config, domain: Domain, eab: { kid: string; keyFile: string } | null, user: Account | null, caps: Capabilities): Promise<number> {
  const authority = config.authorities.find((a) => a.name === domain.signWith) as Authority;
  let names: string[];
  try {
    // The domain's name may be listed again among the alternative names, as OpenBSD lets it.
    names = checkNames([...new Set([domain.name, ...domain.altNames])], false);
  } catch (err) {
    if (!(err instanceof NameError)) throw err;
    warn(err.name, err.problem);
    return 1;
  }
  const opts: Options = {
    backup: false, expand: true, force: conf.force, multiDir: false, mustStaple: false, revoke: conf.revoke, staging: false,
    verbose: conf.verbose, register: false, persistRecords: false, isolationReport: false, version: false, help: false, noAri: false, dated: false,
    // OpenBSD makes the keys that are missing.
    newAccountKey: true, newDomainKey: true,
    server: authority.apiUrl, accountKey: authority.accountKey, accountKeyType: KEY_TYPE_MADE[authority.accountKeyType],
    domainKey: domain.domainKey, domainKeyType: KEY_TYPE_MADE[domain.domainKeyType],
    certDir: certDirOf(domain), challengeDir: domain.challengeDir ?? DEFAULT_CHALLENGE_DIR,
    names,
    ...(authority.contact === null ? {} : { contact: [authority.contact] }),
    ...(domain.profile === null ? {} : { profile: domain.profile }),
    ...(eab === null ? {} : { eabKid: eab.kid, eabHmacKeyFile: eab.keyFile }),
  };
  debug(domain.handle, `${names.join(', ')}, signed by ${authority.name} (${authority.apiUrl})`);
  const certificate = domain.certificate ?? (domain.fullChainCertificate as string);
  const paths: Paths = {
    ...resolvePaths(opts, domain.name),
    certFiles: {
      cert: domain.certificate === null ? null : basename(domain.certificate),
      chain: domain.chainCertificate === null ? null : basename(domain.chainCertificate),
      fullchain: domain.fullChainCertificate === null ? null : basename(domain.fullChainCertificate),
      state: stateFileOf(basename(certificate)),
    },
  };
  // Said in this mode's words before the issuing mode's checks, which speak of -c and -C.
  const problems: [string, string][] = [];
  if (!readable(paths.certDir, true)) problems.push([paths.certDir, 'certificate directory must exist']);
  else if (!writable(paths.certDir)) problems.push([paths.certDir, 'certificate directory is not writable']);
  // A revocation publishes no challenge (as in the issuing mode).
  if (!conf.revoke && !readable(paths.challengeDir, true)) problems.push([paths.challengeDir, 'challenge directory must exist']);
  for (const [subject, problem] of problems) warn(subject, problem);
  if (problems.length > 0) return 1;
  try {
    const configs = roleConfigs(opts, names, paths, directoryUrl(opts), { createAccountKey: true, createDomainKey: true }, null, true);
    const invocation: Invocation = { opts, names, paths, csrFile: null, configs, user, caps };
    return await issue(invocation);
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    warn(err.subject, err.problem);
    return 1;
  }
}
