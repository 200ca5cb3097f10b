// Reading a file that a user, or an attacker with a planted link, could have made anything: the
// path is opened without following a symlink, must be a regular file, and is read only up to a cap.

import { constants, promises as fs } from 'node:fs';
import { Failure } from '../log.js';

/** The file's text, or null when it does not exist. */
export async function readFileCapped(path: string, maxBytes: number): Promise<string | null> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new Failure(path, code === 'ELOOP' ? 'is a symbolic link' : (err as Error).message);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Failure(path, 'not a regular file');
    if (st.size > maxBytes) throw new Failure(path, `larger than ${maxBytes} bytes`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
