// The exec provider, for every other DNS service: `CMD present FQDN VALUE` publishes,
// `CMD cleanup FQDN VALUE` removes. FQDN ends with a dot, as lego's exec provider passes it, so a
// hook written for lego works unchanged. The hook gets this process's environment (where its API
// token may live), which acme-client itself never sees.

import { spawn } from 'node:child_process';
import { Failure } from '../log.js';
import type { Provider, TxtRecord } from './provider.js';

/** A hook that hangs must not hold the run (and the CA's pending order) forever. */
const HOOK_TIMEOUT_MS = 300_000;

export class ExecProvider implements Provider {
  constructor(private readonly hook: string) {}

  private run(action: 'present' | 'cleanup', record: TxtRecord): Promise<void> {
    const fqdn = `${record.name}.`;
    return new Promise((resolve, reject) => {
      // stdout is the user's terminal or cron mail, as stderr: the hook's chatter goes to stderr.
      const child = spawn(this.hook, [action, fqdn, record.value], { stdio: ['ignore', 2, 2], timeout: HOOK_TIMEOUT_MS, killSignal: 'SIGKILL' });
      child.once('error', (err: NodeJS.ErrnoException) => reject(new Failure(this.hook, `cannot run the hook: ${err.code ?? err.message}`)));
      child.once('exit', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Failure(this.hook, `${action} ${fqdn}: ${signal !== null ? `killed by ${signal}` : `exit status ${code}`}`));
      });
    });
  }

  present(record: TxtRecord): Promise<void> {
    return this.run('present', record);
  }

  cleanUp(record: TxtRecord): Promise<void> {
    return this.run('cleanup', record);
  }
}
