// Reading a file that a user, or an attacker with a planted link, could have made anything: the
// path is opened without following a symlink, must be a regular file, and is read only up to a cap.
// Synchronous: the children read their few small files once, at start, before they drop root
// (and acme-client-server reads a configuration or a cached chain of a few kB).
// Each step of an asynchronous read is a trip to libuv's thread pool (started by the first one),
// and on a machine busy starting the other children every trip waits for a core; the pool's
// threads also make the privilege drop slower, as each must take the new uid.

import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { Failure } from '../log.js';

/** The file's text, or null when it does not exist. */
export function readFileCapped(path: string, maxBytes: number): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new Failure(path, code === 'ELOOP' ? 'is a symbolic link' : (err as Error).message);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Failure(path, 'not a regular file');
    if (st.size > maxBytes) throw new Failure(path, `larger than ${maxBytes} bytes`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
