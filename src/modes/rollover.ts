// --rollover-account-key: netproc and acctproc alone, no certificate. acctproc holds both keys, and
// replaces the -f file only once netproc reports that the CA has accepted the change; its exit
// status EXIT_CHANGED is the run's "changed" (exit 0), as fileproc's is for a certificate.

import { dirname } from 'node:path';
import type { Options } from '../args.js';
import { EXIT_CHANGED } from '../ipc/roles.js';
import { warn } from '../log.js';
import { directoryUrl, resolvePaths } from '../defaults.js';
import { Capabilities, childUser, sayMissing } from '../isolation.js';
import { readable } from '../fsutil/access.js';
import { planAll, roleConfigs } from '../parent/plans.js';
import { Spawner, runAccountPair } from '../parent/spawn.js';

export async function rolloverAccountKey(opts: Options, newKeyFile: string, caps: Capabilities): Promise<number> {
  const paths = resolvePaths(opts, 'example.org');
  const checked = rolloverPreflight(opts, paths.accountKey, newKeyFile);
  if (checked === null) return 1;
  const configs = roleConfigs(opts, [], paths, directoryUrl(opts), { createAccountKey: false, createDomainKey: false });
  configs.acctproc.rollover = { newKeyFile, create: checked.createNewKey };
  // The account exists already: no binding is made, and the jail holds the key directory alone.
  configs.acctproc.eab = null;
  sayMissing(caps);
  const spawner = new Spawner(configs, planAll(opts, paths, configs, childUser(opts.user, caps), caps), caps);
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
