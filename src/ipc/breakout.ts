// Test-only: a confined child tries what its role must never be able to do, and reports each
// outcome on stderr as `breakout <role> <attempt>: <result>`. It is compiled into the test build
// alone (the build defines __BREAKOUT_HOOK__ false everywhere else and the call and this module
// are dropped), so no command line or environment can turn it on in a normal build.

import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { AnyRole } from './roles.js';

interface Targets {
  accountKey: string;
  domainKey: string;
  certDir: string;
  challengeDir: string;
  outside: string;
  symlink: string;
  port: number;
  /** The role that stops itself (SIGSTOP) once confined, so that a test can look at it from outside. */
  stop?: AnyRole;
}

async function attempt(role: AnyRole, what: string, action: () => unknown): Promise<void> {
  let result: string;
  try {
    await action();
    result = 'SUCCEEDED';
  } catch (err) {
    result = `failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  process.stderr.write(`breakout ${role} ${what}: ${result}\n`);
}

export async function attemptBreakouts(role: AnyRole): Promise<void> {
  const raw = process.env.ACME_CLIENT_BREAKOUT;
  if (raw === undefined) return;
  const t = JSON.parse(raw) as Targets;
  await attempt(role, 'spawn /bin/sh', () => execFileSync('/bin/sh', ['-c', 'true'], { stdio: 'ignore' }));
  await attempt(role, 'read /etc/shadow', () => readFileSync('/etc/shadow'));
  switch (role) {
    case 'netproc':
      await attempt(role, 'read account key', () => readFileSync(t.accountKey));
      await attempt(role, 'read domain key', () => readFileSync(t.domainKey));
      await attempt(role, 'write cert dir', () => writeFileSync(`${t.certDir}/cert.pem`, 'x'));
      break;
    case 'acctproc':
      await attempt(role, 'connect to loopback', () => new Promise<void>((resolve, reject) => {
        const socket = connect(t.port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', reject);
      }));
      break;
    case 'keyproc':
      await attempt(role, 'read account key', () => readFileSync(t.accountKey));
      break;
    case 'chngproc':
      await attempt(role, 'write outside challenge dir', () => writeFileSync(t.outside, 'x'));
      await attempt(role, 'write through planted symlink', () => writeFileSync(t.symlink, 'x'));
      break;
    case 'certproc':
      await attempt(role, 'write cert dir', () => writeFileSync(`${t.certDir}/cert.pem`, 'x'));
      await attempt(role, 'write outside', () => writeFileSync(t.outside, 'x'));
      break;
    case 'fileproc':
      await attempt(role, 'write outside cert dir', () => writeFileSync(t.outside, 'x'));
      await attempt(role, 'open outside cert dir', () => closeSync(openSync(t.outside, 'a')));
      break;
  }
  if (t.stop === role) process.kill(process.pid, 'SIGSTOP');
}
