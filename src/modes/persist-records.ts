// --persist-records: as --register, netproc and acctproc alone; netproc then orders the names only
// to read the CA's issuer domain name from a dns-persist-01 challenge, and prints the records that
// authorize the account for them on the standard output it alone is given.

import type { Invocation } from '../parent/plans.js';
import { accountOnly } from './register.js';

export function persistRecords(invocation: Invocation): Promise<number> {
  return accountOnly(invocation, 'inherit');
}
