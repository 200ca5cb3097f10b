// Test-only: a confined child tries what its role must never be able to do, and reports each
// outcome on stderr as `breakout <role> <attempt>: <result>`. It is compiled into the test build
// alone (the build defines __BREAKOUT_HOOK__ false everywhere else and the call and this module
// are dropped), so no command line or environment can turn it on in a normal build.

import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Role } from './roles.js';

interface Targets {
  accountKey: string;
  domainKey: string;
  certDir: string;
  challengeDir: string;
  outside: string;
  symlink: string;
  port: number;
}

function attempt(role: Role, what: string, action: () => void): void {
  let result: string;
  try {
    action();
    result = 'SUCCEEDED';
  } catch (err) {
    result = `failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  process.stderr.write(`breakout ${role} ${what}: ${result}\n`);
}

export function attemptBreakouts(role: Role): void {
  const raw = process.env.ACME_CLIENT_BREAKOUT;
  if (raw === undefined) return;
  const t = JSON.parse(raw) as Targets;
  attempt(role, 'spawn /bin/sh', () => execFileSync('/bin/sh', ['-c', 'true'], { stdio: 'ignore' }));
  attempt(role, 'read /etc/shadow', () => readFileSync('/etc/shadow'));
  switch (role) {
    case 'netproc':
      attempt(role, 'read account key', () => readFileSync(t.accountKey));
      attempt(role, 'read domain key', () => readFileSync(t.domainKey));
      attempt(role, 'write cert dir', () => writeFileSync(`${t.certDir}/cert.pem`, 'x'));
      break;
    case 'acctproc':
      attempt(role, 'connect to loopback', () => {
        // Synchronous view of an asynchronous connect: in a fresh network namespace the error is
        // immediate (ENETUNREACH); a success would show up as a later 'connect' line.
        const socket = connect(t.port, '127.0.0.1');
        socket.on('connect', () => {
          process.stderr.write(`breakout ${role} connect to loopback (late): SUCCEEDED\n`);
          socket.destroy();
        });
        socket.on('error', () => undefined);
      });
      break;
    case 'keyproc':
      attempt(role, 'read account key', () => readFileSync(t.accountKey));
      break;
    case 'chngproc':
      attempt(role, 'write outside challenge dir', () => writeFileSync(t.outside, 'x'));
      attempt(role, 'write through planted symlink', () => writeFileSync(t.symlink, 'x'));
      break;
    case 'certproc':
      attempt(role, 'write cert dir', () => writeFileSync(`${t.certDir}/cert.pem`, 'x'));
      attempt(role, 'write outside', () => writeFileSync(t.outside, 'x'));
      break;
    case 'fileproc':
      attempt(role, 'write outside cert dir', () => writeFileSync(t.outside, 'x'));
      attempt(role, 'open outside cert dir', () => closeSync(openSync(t.outside, 'a')));
      break;
  }
}
