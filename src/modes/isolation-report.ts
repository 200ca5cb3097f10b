// --isolation-report: the children confined as a run would confine them, each describing what it
// got (src/report.ts), instead of a run.

import { warn } from '../log.js';
import { readable } from '../fsutil/access.js';
import { isolationReport } from '../report.js';
import { Invocation, planAll } from '../parent/plans.js';
import { Spawner } from '../parent/spawn.js';

export async function reportIsolation({ opts, paths, configs, user, caps }: Invocation): Promise<number> {
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
