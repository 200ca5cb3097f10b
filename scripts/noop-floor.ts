// The least a no-op of this design costs, for the bench's reference rows (scripts/bench.ts): the
// parent's parse of the same command line by yargs (src/args.ts), the namespace probe, and one
// child started confined as certproc is (its own network namespace, the permission model), which
// does nothing at all. Bundled with its code cache like dist/ by scripts/build.mjs.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from '../src/args.js';
import { childCommand, planChild, probeCapabilities, resolveUser } from '../src/isolation.js';

async function main(): Promise<void> {
  const probe = probeCapabilities();
  const opts = parseCommandLine(process.argv.slice(2));
  const caps = await probe;
  const plan = planChild('certproc', { reads: [], writes: [], root: false, jailDir: null }, resolveUser(opts.user), caps);
  const child = fileURLToPath(new URL('./noop-floor-child.js', import.meta.url));
  const command = childCommand(plan, ['--v8-pool-size=1'], child, [], caps, null);
  process.exitCode = spawnSync(command.file, command.args, { stdio: 'ignore' }).status ?? 1;
}

void main();
