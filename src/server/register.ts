// The account the service orders with: made by acme-client-server --register --agree-tos -f CONFIG,
// or at start-up when [account] accept-terms-of-service is set and there is none yet. The key is
// made in the account dir (account.pem, mode 0600) and the account created at the CA by
// acme-client --register -n, whose acctproc alone ever holds the key (and the EAB key, if given)
// and whose netproc alone reads the CA's terms (--accept-terms): this process does neither.

import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ACME_CLIENT, acmeClientEnv } from './coprocess.js';
import type { ServerConfig } from './config.js';
import { Failure, relayChildOutput } from '../log.js';

/**
 * At start-up (accept-terms-of-service): the key is made under another name and becomes
 * account.pem only once the account exists. A run refused (terms not accepted, no binding) leaves
 * no account.pem, which the next start would take for an account and order with, and whose
 * account acme-client would then create whatever the CA's terms.
 */
export async function registerAtStartUp(config: ServerConfig, acceptTerms: string[], verbose: number): Promise<number> {
  const accountKey = join(config.accountDir, 'account.pem');
  const staged = join(config.accountDir, 'account-unregistered.pem');
  const status = await register(config, config.eab, acceptTerms, verbose, staged);
  try {
    // Linked, not renamed: an account.pem that came meanwhile is not replaced.
    if (status === 0) linkSync(staged, accountKey);
    rmSync(staged, { force: true });
  } catch (err) {
    throw new Failure(staged, `cannot ${status === 0 ? `link to ${accountKey}` : 'remove'}: ${(err as Error).message}`);
  }
  return status;
}

/**
 * eab: the binding to make the account with, or none. acceptTerms: the terms URLs the CA's must be
 * one of; empty, whatever they are (--agree-tos, accept-terms-of-service = yes).
 */
export function register(config: ServerConfig, eab: { kid: string; keyFile: string } | null, acceptTerms: string[], verbose: number, keyFile = join(config.accountDir, 'account.pem')): Promise<number> {
  try {
    // The key's directory is private; one that exists keeps the mode its owner gave it.
    mkdirSync(config.accountDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Failure(config.accountDir, `cannot create directory: ${(err as Error).message}`);
  }
  const args = [ACME_CLIENT, '--register', '-n', '-f', keyFile, '--server', config.acmeServer,
    ...(eab === null ? [] : ['--eab-kid', eab.kid, '--eab-hmac-key-file', resolve(eab.keyFile)]),
    ...acceptTerms.flatMap((url) => ['--accept-terms', url]), ...(verbose > 0 ? ['-v'] : [])];
  return new Promise((resolve) => {
    // Its lines go where the service's go ([logging]); without -v they are its failures.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: acmeClientEnv() });
    child.stderr.setEncoding('utf8').on('data', (text: string) => relayChildOutput(text, 'error'));
    child.once('error', (err) => {
      process.stderr.write(`acme-client-server: ${ACME_CLIENT}: cannot start: ${err.message}\n`);
      resolve(1);
    });
    child.once('close', (status) => resolve(status === 0 ? 0 : 1));
  });
}
