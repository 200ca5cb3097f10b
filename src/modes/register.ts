// --register: netproc and acctproc alone make the account (with -n its key first) and nothing else.

import { warn } from '../log.js';
import { readable } from '../fsutil/access.js';
import { Invocation, planAll } from '../parent/plans.js';
import { Spawner, runAccountPair } from '../parent/spawn.js';
import { sayMissing } from '../isolation.js';

/** --register: the account (with -n its key first), and nothing else; 0 once it exists. */
export function register(invocation: Invocation): Promise<number> {
  return accountOnly(invocation, 'ignore');
}

/** The account (with -n its key first), then whatever netproc's config asks of it, printing on `netStdout`. */
export async function accountOnly({ opts, paths, configs, user, caps }: Invocation, netStdout: 'ignore' | 'inherit'): Promise<number> {
  const accountKeyExists = readable(paths.accountKey, false);
  const problems: [string, string][] = [];
  if (!accountKeyExists && !opts.newAccountKey) problems.push([paths.accountKey, '-f file must exist']);
  if (opts.eabHmacKeyFile !== undefined && !readable(opts.eabHmacKeyFile, false)) problems.push([opts.eabHmacKeyFile, '--eab-hmac-key-file file must exist']);
  for (const [subject, problem] of problems) warn(subject, problem);
  if (problems.length > 0) return 1;
  configs.acctproc.create = opts.newAccountKey && !accountKeyExists;
  sayMissing(caps);
  const spawner = new Spawner(configs, planAll(opts, paths, configs, user, caps), caps);
  try {
    const { outcomes, overdue } = await runAccountPair(spawner, 5 * configs.netproc.requestTimeoutMs, netStdout);
    if (overdue) return 1;
    return outcomes.every((o) => o.code === 0 && o.signal === null) ? 0 : 1;
  } finally {
    spawner.cleanUp();
  }
}
