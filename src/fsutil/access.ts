// Whether the parent may read or write a path, checked before any child starts: every problem of a
// run is said at once, before the CA is asked.

import { accessSync, constants, statSync } from 'node:fs';

export function readable(path: string, directory: boolean): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isDirectory() === directory;
  } catch {
    return false;
  }
}

/** As root only a read-only file system (or an immutable directory) refuses: said before the CA is asked. */
export function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

