// The common start and end of every child: read the configuration the parent passed, run the
// role, and turn the outcome into an exit status. A Failure is printed as one line on stderr by
// the child that knows what went wrong; the parent only adds that the run failed.

import { Failure, reportError, setVerbosity } from '../log.js';
import { Role, RoleConfig, parseConfig } from './roles.js';

export function runChild<R extends Role>(role: R, body: (config: RoleConfig[R]) => Promise<number | void>): void {
  let config: RoleConfig[R];
  try {
    config = parseConfig[role](JSON.parse(process.argv[2] ?? 'null'));
  } catch (err) {
    reportError(role, new Failure(role, `bad configuration: ${err instanceof Error ? err.message : String(err)}`));
    process.exit(1);
  }
  setVerbosity(config.verbose);
  body(config).then(
    (status) => process.exit(status ?? 0),
    (err: unknown) => {
      reportError(role, err);
      process.exit(1);
    },
  );
}
