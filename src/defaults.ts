// Where things are when the command line does not say: the 2017 man page's paths, and the ACME
// directory (Let's Encrypt production, or staging with -s, unless --server names another, by its
// URL or by one of the names below).

import { basename, dirname, join, resolve } from 'node:path';
import type { Options } from './args.js';
import type { CertFiles } from './ipc/roles.js';
import { Failure } from './log.js';
import { caUrlProblem } from './acme/caurl.js';

export const LETSENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETSENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

/** In the certificate directory: what the CA said of renewing the certificate (src/x509/renewal.ts). */
export const STATE_FILE = 'acme-client-state.json';

/** Where http-01 challenge files go when no -C (or challengedir) says otherwise. */
export const DEFAULT_CHALLENGE_DIR = '/var/www/acme';

/** The command line's certificate files, in -c's directory. */
export const DEFAULT_CERT_FILES: CertFiles = { cert: 'cert.pem', chain: 'chain.pem', fullchain: 'fullchain.pem', state: STATE_FILE };

/** CAs --server knows by name, with the directory URLs they publish. */
export const CA_DIRECTORIES: Readonly<Record<string, string>> = {
  letsencrypt: LETSENCRYPT,
  'letsencrypt-staging': LETSENCRYPT_STAGING,
  zerossl: 'https://acme.zerossl.com/v2/DV90',
  google: 'https://dv.acme-v02.api.pki.goog/directory',
  'google-staging': 'https://dv.acme-v02.test-api.pki.goog/directory',
};

export interface Paths {
  certDir: string;
  certFiles: CertFiles;
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
    certFiles: DEFAULT_CERT_FILES,
    challengeDir: resolve(opts.challengeDir ?? DEFAULT_CHALLENGE_DIR),
    domainKey: resolve(opts.domainKey ?? join(sub('/etc/ssl/acme/private'), 'privkey.pem')),
    accountKey: resolve(opts.accountKey ?? join(sub('/etc/acme'), 'privkey.pem')),
  };
}

export function directoryUrl(opts: Options): string {
  const named = opts.server !== undefined && Object.hasOwn(CA_DIRECTORIES, opts.server) ? CA_DIRECTORIES[opts.server] : undefined;
  const url = named ?? opts.server ?? (opts.staging ? LETSENCRYPT_STAGING : LETSENCRYPT);
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed === null || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new Failure(url, `not an https URL nor the name of a CA (${Object.keys(CA_DIRECTORIES).join(', ')})`);
  }
  const problem = caUrlProblem(parsed);
  if (problem !== null) throw new Failure(url, problem);
  return url;
}

/** Where OpenSSL's store is moved to by SSL_CERT_FILE, and SSL_CERT_DIR (a colon-separated list). */
export function trustStore(env: NodeJS.ProcessEnv): { file: string | null; dirs: string[] } {
  const file = env.SSL_CERT_FILE;
  return { file: file === undefined || file === '' ? null : file, dirs: (env.SSL_CERT_DIR ?? '').split(':').filter((dir) => dir !== '') };
}

/** Where --rollover-account-key keeps the account key it replaced. */
export function oldKeyPath(path: string): string {
  return `${path}.old`;
}

/** Where acctproc keeps the URL of the account of the key at `path`, and the CA it is at. */
export function accountFilePath(path: string): string {
  return `${path}.account.json`;
}

/** The temporary file a new key is written to first: the parent allows its child exactly this path. */
export function keyTempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp`);
}
