// Reading and creating private key files. A new key is created exclusively (O_EXCL) without
// following a symlink (O_NOFOLLOW), mode 0600 from the first byte: a planted file or link is an
// error, never a target, and the key is never readable by others even for an instant (the umask
// can only take bits away from 0600).

import { constants, promises as fs } from 'node:fs';
import { Failure, debug } from '../log.js';
import { generateRsaKeyPem } from '../x509/keys.js';

const MAX_KEY_FILE = 64 * 1024;

export async function readKeyFile(path: string): Promise<string> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw new Failure(path, (err as NodeJS.ErrnoException).code === 'ELOOP' ? 'is a symbolic link' : (err as Error).message);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Failure(path, 'not a regular file');
    if (st.size > MAX_KEY_FILE) throw new Failure(path, 'too large for a key file');
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

export async function createKeyFile(path: string, pem: string): Promise<void> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw new Failure(path, `cannot create key: ${(err as Error).message}`);
  }
  try {
    await handle.writeFile(pem);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The key's PEM: read, or with -n/-N (decided by the parent) made as RSA-4096 and stored first. */
export async function loadOrCreateKey(path: string, create: boolean, what: 'account' | 'domain'): Promise<string> {
  if (!create) return readKeyFile(path);
  debug(path, `generating RSA ${what} key`);
  const pem = await generateRsaKeyPem(4096);
  await createKeyFile(path, pem);
  return pem;
}
