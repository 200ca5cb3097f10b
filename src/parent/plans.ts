// What each child is told (its configuration, from the command line) and what it may touch (its
// plan): the one place where a run's options become the children's least privilege.

import { dirname, join, resolve } from 'node:path';
import type { Options } from '../args.js';
import { Role, RoleConfig, certFileNames } from '../ipc/roles.js';
import { USER_AGENT } from '../version.js';
import { Paths, accountFilePath, keyTempPath, oldKeyPath, trustStore } from '../defaults.js';
import { Account, Capabilities, ChildPlan, RoleNeeds, planChild } from '../isolation.js';
import { DEFAULT_KEY_TYPE } from '../x509/keytypes.js';
import { ROLES } from './spawn.js';

/** One invocation as the parent has resolved it: what every mode starts from. */
export interface Invocation {
  opts: Options;
  names: string[];
  paths: Paths;
  csrFile: string | null;
  configs: RoleConfig;
  /** Whom the children that need no root drop to; null when not run as root. */
  user: Account | null;
  caps: Capabilities;
}

export function roleConfigs(opts: Options, names: string[], paths: Paths, server: string, keys: { createAccountKey: boolean; createDomainKey: boolean }, csrFile: string | null = null,
  renewOnDroppedNames = false): RoleConfig {
  const verbose = opts.verbose;
  const external = opts.challengeType !== undefined;
  const challengeType = opts.challengeType ?? 'http-01';
  return {
    netproc: {
      directoryUrl: server, names, challengeType, external, agreement: opts.agreement ?? null, revoke: opts.revoke, userAgent: USER_AGENT,
      profile: opts.profile ?? null, ari: !opts.noAri, mustStaple: opts.mustStaple,
      requestTimeoutMs: (opts.timeout ?? 60) * 1000, pollTimeoutMs: (opts.pollTimeout ?? 300) * 1000, verbose,
      caFile: opts.caFile === undefined ? null : resolve(opts.caFile),
      contact: opts.contact ?? [], acceptTerms: opts.acceptTerms ?? [],
      preferredChain: opts.preferredChain ?? null,
      rolloverAccountKey: opts.rolloverAccountKey !== undefined,
      requestFromCertproc: csrFile !== null,
      registerOnly: opts.register,
      persistRecords: opts.persistRecords,
      dnsServer: opts.dnsServer ?? null,
      // Set by the issuing mode, which knows by then (src/modes/issue.ts).
      signs: false,
    },
    acctproc: { keyFile: paths.accountKey, create: keys.createAccountKey, verbose, keyType: opts.accountKeyType ?? DEFAULT_KEY_TYPE,
      eab: opts.eabKid === undefined || opts.eabHmacKeyFile === undefined ? null : { kid: opts.eabKid, keyFile: resolve(opts.eabHmacKeyFile) },
      rollover: opts.rolloverAccountKey === undefined ? null : { newKeyFile: resolve(opts.rolloverAccountKey), create: opts.newAccountKey } },
    keyproc: { keyFile: paths.domainKey, create: keys.createDomainKey, names, mustStaple: opts.mustStaple, verbose,
      keyType: opts.domainKeyType ?? DEFAULT_KEY_TYPE },
    chngproc: { challengeDir: external ? null : paths.challengeDir, challengeType, verbose },
    certproc: { certDir: paths.certDir, files: paths.certFiles, names, expand: opts.expand, renewOnDroppedNames, force: opts.force, revoke: opts.revoke, ari: !opts.noAri, directoryUrl: server, csrFile, verbose },
    fileproc: { certDir: paths.certDir, files: paths.certFiles, backup: opts.backup, dated: opts.dated, keep: opts.keep ?? 0, verbose },
  };
}

/** What each role must be able to touch, and nothing more. */
export function planAll(opts: Options, paths: Paths, configs: RoleConfig, user: Account | null, caps: Capabilities): Record<Role, ChildPlan> {
  const external = opts.challengeType !== undefined;
  // A key made with -n/-N is written to its temporary file first (src/fsutil/keyfile.ts).
  const keyFile = (file: string, create: boolean): RoleNeeds => {
    const files = create ? [file, keyTempPath(file)] : [file];
    return { reads: files, writes: create ? files : [], root: false, jailDir: null };
  };
  const dir = (d: string): RoleNeeds => ({ reads: [d], writes: [d], root: true, jailDir: d });
  const withReads = (role: RoleNeeds, more: string[]): RoleNeeds => ({ ...role, reads: [...role.reads, ...more] });
  // The account's URL, kept beside its key (src/fsutil/accountfile.ts).
  const withAccountFile = (role: RoleNeeds, key: string): RoleNeeds => ({ ...role, reads: [...role.reads, accountFilePath(key)], writes: [...role.writes, accountFilePath(key)] });
  const needs: Record<Role, RoleNeeds> = {
    netproc: { reads: trustFiles(configs.netproc.caFile), writes: [], root: false, jailDir: null },
    // A key made in this run has no account file opened beside it (src/procs/acctproc.ts).
    acctproc: configs.acctproc.rollover !== null ? rolloverNeeds(paths.accountKey, configs.acctproc.rollover)
      : configs.acctproc.create ? withReads(keyFile(paths.accountKey, true), configs.acctproc.eab === null ? [] : [configs.acctproc.eab.keyFile])
      : withAccountFile(withReads(keyFile(paths.accountKey, false), configs.acctproc.eab === null ? [] : [configs.acctproc.eab.keyFile]), paths.accountKey),
    keyproc: keyFile(paths.domainKey, configs.keyproc.create),
    chngproc: external ? { reads: [], writes: [], root: false, jailDir: null } : dir(paths.challengeDir),
    certproc: {
      reads: [...certFileNames(paths.certFiles).map((f) => join(paths.certDir, f)), ...(configs.certproc.csrFile === null ? [] : [configs.certproc.csrFile])],
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
