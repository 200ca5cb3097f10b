// acme-client-server --register --agree-tos -f CONFIG: the account the service orders with. The key
// is made in the account dir (account.pem, mode 0600) and the account created at the CA by
// acme-client --register -n, whose acctproc alone ever holds the key (and the EAB key, if given).

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ACME_CLIENT, acmeClientEnv } from './coprocess.js';
import type { ServerConfig } from './config.js';
import { Failure } from '../log.js';

export function register(config: ServerConfig, eab: { kid: string; keyFile: string } | null, verbose: number): Promise<number> {
  try {
    // The key's directory is private; one that exists keeps the mode its owner gave it.
    mkdirSync(config.accountDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Failure(config.accountDir, `cannot create directory: ${(err as Error).message}`);
  }
  const args = [ACME_CLIENT, '--register', '-n', '-f', join(config.accountDir, 'account.pem'), '--server', config.acmeServer,
    ...(eab === null ? [] : ['--eab-kid', eab.kid, '--eab-hmac-key-file', resolve(eab.keyFile)]), ...(verbose > 0 ? ['-v'] : [])];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env: acmeClientEnv() });
    child.once('error', (err) => {
      process.stderr.write(`acme-client-server: ${ACME_CLIENT}: cannot start: ${err.message}\n`);
      resolve(1);
    });
    child.once('close', (status) => resolve(status === 0 ? 0 : 1));
  });
}
