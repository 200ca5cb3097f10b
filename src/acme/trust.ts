// What netproc trusts the CA's TLS certificate with: the system's OpenSSL store (netproc runs with
// --use-openssl-ca; SSL_CERT_FILE and SSL_CERT_DIR move it) plus the certificates of --ca-file.
// Everything that can be read is read before netproc drops root, so that a root-only CA file, or
// an SSL_CERT_FILE in a 0700 directory, works. An SSL_CERT_DIR cannot be: OpenSSL opens its files
// one at a time, when a certificate asks for them, by then as the unprivileged user.

import { X509Certificate } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { readFileCapped } from '../fsutil/read.js';
import { Failure, errnoText } from '../log.js';
import { trustStore } from '../defaults.js';

/** Far more than a bundle of every public root (about 200 kB). */
const MAX_CA_FILE = 4 << 20;
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?\r?\n-----END CERTIFICATE-----/g;

/** Node 20 has no public way to add to the default store; the native context's addCACert does it. */
interface NativeContext {
  addCACert(pem: string): void;
}

/**
 * The certificates of a CA file, each checked: PEM blocks, as a bundle may hold them, with
 * comments between them allowed. Symbolic links are followed: /etc/ssl/certs is made of them.
 */
function readCaFile(path: string): string[] {
  let text: string | null;
  try {
    text = readFileCapped(path, MAX_CA_FILE, { followLinks: true });
  } catch (err) {
    throw new Failure(path, `cannot read CA file: ${err instanceof Failure ? err.problem : errnoText(err)}`);
  }
  if (text === null) throw new Failure(path, 'cannot read CA file: no such file or directory');
  const blocks = text.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new Failure(path, 'no PEM certificate in the CA file');
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new Failure(path, `certificate ${index + 1} of the CA file does not parse: ${(err as Error).message}`);
    }
  }
  return blocks;
}

/**
 * The TLS context of every connection to the CA: the OpenSSL store, loaded now (as root), with the
 * certificates of `caFile` added to it, not put in its place.
 */
export function loadTrust(caFile: string | null, env: NodeJS.ProcessEnv): SecureContext {
  const storeFile = trustStore(env).file;
  if (storeFile !== null) {
    // OpenSSL would quietly start with an empty store, and every connection fail to verify.
    try {
      accessSync(storeFile, constants.R_OK);
    } catch (err) {
      throw new Failure(storeFile, `SSL_CERT_FILE cannot be read: ${errnoText(err)}`);
    }
  }
  const extra = caFile === null ? [] : readCaFile(caFile);
  const context = createSecureContext();
  const native = context.context as NativeContext;
  for (const pem of extra) native.addCACert(pem);
  return context;
}

/**
 * Once netproc has dropped root: an SSL_CERT_DIR it can no longer search is said, rather than left
 * to fail later as "unable to verify the first certificate".
 */
export function checkTrustDirectories(env: NodeJS.ProcessEnv): void {
  for (const dir of trustStore(env).dirs) {
    try {
      accessSync(dir, constants.R_OK | constants.X_OK);
    } catch {
      throw new Failure(dir, 'SSL_CERT_DIR cannot be read once netproc has dropped root: use --ca-file or SSL_CERT_FILE');
    }
  }
}
