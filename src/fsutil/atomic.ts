// Replacing a file so that a reader, or a crash, sees either the old content or the new, never a
// mix: write a temporary file in the same directory (created exclusively, never through a
// symlink), set its mode, fsync it, rename it over the target, fsync the directory. rename()
// replaces a planted symlink itself rather than writing where it points.

import { constants, promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export interface AtomicWriteOptions {
  mode: number;
  /** fsync file and directory: certificates must survive a power cut; challenge files need not. */
  durable: boolean;
}

export async function writeFileAtomic(dir: string, name: string, data: string | Buffer, options: AtomicWriteOptions): Promise<void> {
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, options.mode);
  try {
    try {
      await handle.writeFile(data);
      if (options.durable) await handle.sync();
    } finally {
      await handle.close();
    }
    // By path: the permission model disables fchmod. The umask may have taken bits from the mode.
    await fs.chmod(temp, options.mode);
    await fs.rename(temp, join(dir, name));
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  if (options.durable) await syncDirectory(dir);
}

export async function syncDirectory(dir: string): Promise<void> {
  // 'r', not O_DIRECTORY: Node 20's permission model refuses numeric flags it does not know.
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
