// Where things are when the command line does not say: the 2017 man page's paths, and the ACME
// directory (Let's Encrypt production, or staging with -s, unless --server names another).

import { basename, dirname, join, resolve } from 'node:path';
import type { Options } from './args.js';
import { Failure } from './log.js';

export const LETSENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETSENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

/** In the certificate directory: what the CA said of renewing the certificate (src/x509/renewal.ts). */
export const STATE_FILE = 'acme-client-state.json';

export interface Paths {
  certDir: string;
  challengeDir: string;
  domainKey: string;
  accountKey: string;
}

/** Defaults of the 2017 man page; -m puts each default not given under /<first name>. */
export function resolvePaths(opts: Options, first: string): Paths {
  const sub = (base: string): string => (opts.multiDir ? join(base, first) : base);
  // Absolute from here on: children run chrooted or under allow-lists, where a relative path
  // would mean something else or nothing.
  return {
    certDir: resolve(opts.certDir ?? sub('/etc/ssl/acme')),
    challengeDir: resolve(opts.challengeDir ?? '/var/www/acme'),
    domainKey: resolve(opts.domainKey ?? join(sub('/etc/ssl/acme/private'), 'privkey.pem')),
    accountKey: resolve(opts.accountKey ?? join(sub('/etc/acme'), 'privkey.pem')),
  };
}

export function directoryUrl(opts: Options): string {
  const url = opts.server ?? (opts.staging ? LETSENCRYPT_STAGING : LETSENCRYPT);
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed === null || parsed.protocol !== 'https:') throw new Failure(url, 'not an https URL');
  return url;
}

/** The temporary file a new key is written to first: the parent allows its child exactly this path. */
export function keyTempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp`);
}
