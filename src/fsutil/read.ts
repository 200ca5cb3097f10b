// Reading a file that a user, or an attacker with a planted link, could have made anything: the
// path is opened without following a symlink (unless the caller needs links, as a CA bundle in
// /etc/ssl/certs is made of them), must be a regular file, and is read only up to a cap.
// Synchronous: the children read their few small files once, at start, before they drop root
// (and acme-client-server reads a configuration or a cached chain of a few kB).
// Each step of an asynchronous read is a trip to libuv's thread pool (started by the first one),
// and on a machine busy starting the other children every trip waits for a core; the pool's
// threads also make the privilege drop slower, as each must take the new uid.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { Failure, errnoText } from '../log.js';

/**
 * The file's text, or null when it does not exist. O_NONBLOCK: a FIFO put in the file's place
 * opens at once (and is then refused) rather than block, in a synchronous open, the whole process
 * and the signal handlers that would end it.
 */
export function readFileCapped(path: string, maxBytes: number, { followLinks = false } = {}): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (followLinks ? 0 : constants.O_NOFOLLOW));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new Failure(path, code === 'ELOOP' && !followLinks ? 'is a symbolic link' : errnoText(err));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Failure(path, 'not a regular file');
    const text = readUpTo(fd, maxBytes);
    if (text === null) throw new Failure(path, `larger than ${maxBytes} bytes`);
    return text;
  } finally {
    closeSync(fd);
  }
}

/**
 * The rest of `fd` as UTF-8, or null past `maxBytes`. The size fstat gave is not trusted: the
 * file may grow meanwhile, and some files say 0.
 */
function readUpTo(fd: number, maxBytes: number): string | null {
  const buffer = Buffer.allocUnsafe(maxBytes + 1);
  let length = 0;
  for (;;) {
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) return buffer.toString('utf8', 0, length);
    length += n;
    if (length > maxBytes) return null;
  }
}
