// Reading, creating and replacing private key files. A key is never written in place: it goes to
// a temporary file beside the key, created exclusively (O_EXCL) without following a symlink
// (O_NOFOLLOW), mode 0600 from the first byte, synced, and only then linked to the key's name, which
// fails if anything is there by now, or renamed over it when it replaces a key. A crash or a full
// disk leaves the old key or a whole new one, never a truncated one, and the key is never readable
// by others even for an instant.

import { promises as fs, rmSync } from 'node:fs';
import { forgetTemporary, openTemporary } from './atomic.js';
import { Failure, debug } from '../log.js';
import { generateKeyPem, keyTypeDescription } from '../x509/keys.js';
import type { KeyType } from '../x509/keytypes.js';
import { readFileCapped } from './read.js';
import { keyTempPath, oldKeyPath } from '../defaults.js';

const MAX_KEY_FILE = 64 * 1024;

export function readKeyFile(path: string): string {
  const pem = readFileCapped(path, MAX_KEY_FILE);
  if (pem === null) throw new Failure(path, 'no such file');
  return pem;
}

/** Writes `pem` to `path` through its temporary file: linked when new, renamed over it when `replace`. */
async function writeKeyFile(path: string, pem: string, replace: boolean): Promise<void> {
  const temp = keyTempPath(path);
  const fail = (err: unknown): Failure => new Failure(path, `cannot ${replace ? 'replace' : 'create'} key: ${(err as Error).message}`);
  // One left by a run killed mid-write holds nothing anyone uses: the key was never linked.
  rmSync(temp, { force: true });
  let handle: fs.FileHandle;
  try {
    handle = await openTemporary(temp, 0o600);
  } catch (err) {
    throw fail(err);
  }
  try {
    await handle.writeFile(pem);
    await handle.sync();
    await (replace ? fs.rename(temp, path) : fs.link(temp, path));
    // The permission model allows no handle on the directory to fsync; syncing the inode again,
    // now under its name, commits the journal that holds the name on ext4 and XFS.
    await handle.sync();
  } catch (err) {
    throw fail(err);
  } finally {
    await handle.close();
    rmSync(temp, { force: true });
    forgetTemporary(temp);
  }
}

/** The key's PEM: read, or with -n/-N (decided by the parent) made of `type` and stored first. */
export async function loadOrCreateKey(path: string, create: boolean, what: 'account' | 'domain', type: KeyType): Promise<string> {
  if (!create) return readKeyFile(path);
  debug(path, `generating ${keyTypeDescription(type)} ${what} key`);
  const pem = await generateKeyPem(type);
  await writeKeyFile(path, pem, false);
  return pem;
}

/**
 * Replaces the key at `path` with `newPem`, keeping `oldPem` (its content) beside it as
 * <path>.old, which is written first: at every moment one of the two files holds the old key.
 */
export async function replaceKeyFile(path: string, newPem: string, oldPem: string): Promise<void> {
  await writeKeyFile(oldKeyPath(path), oldPem, true);
  await writeKeyFile(path, newPem, true);
}
