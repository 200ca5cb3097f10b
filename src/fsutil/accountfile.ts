// The account's URL at the CA, kept by acctproc beside the account key (<key>.account.json), as
// lego and certbot keep theirs: with it a run signs its first request as the account straight
// away, instead of first asking the CA which account the key has (§7.3.1). It names the CA's
// directory too: the same key at another CA is looked up, and the file then names that one.
// The file is opened before acctproc drops root (the key's directory is root's), read at once, and
// written later through the same descriptor. It holds no secret. Anything unreadable in it is as
// if there were nothing: the run looks the account up, as without the file, and writes it anew.

import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import type { KnownAccount } from '../ipc/messages.js';
import { debug } from '../log.js';

/** Two URLs and their names: far less than this. */
const MAX_ACCOUNT_FILE = 16 * 1024;

function parse(text: string): KnownAccount | null {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return null;
    const { server, url } = v as Record<string, unknown>;
    if (typeof server !== 'string' || typeof url !== 'string' || new URL(url).protocol !== 'https:') return null;
    return { server, url };
  } catch {
    return null;
  }
}

export class AccountFile {
  private constructor(private readonly path: string, private readonly fd: number, readonly known: KnownAccount | null) {}

  /** Opens (creating it empty, mode 0600) and reads the file; null when it cannot be opened, said with -v. */
  static open(path: string): AccountFile | null {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      debug(path, `account URL not kept: ${(err as Error).message}`);
      return null;
    }
    let known: KnownAccount | null = null;
    try {
      const size = fstatSync(fd).size;
      if (size > 0 && size <= MAX_ACCOUNT_FILE) {
        const buffer = Buffer.alloc(size);
        known = parse(buffer.subarray(0, readSync(fd, buffer, 0, size, 0)).toString('utf8'));
      }
      if (size > 0 && known === null) debug(path, 'not a kept account URL: ignored, and written anew');
    } catch (err) {
      debug(path, `cannot read the kept account URL: ${(err as Error).message}`);
    }
    return new AccountFile(path, fd, known);
  }

  /**
   * Keeps `account` for the next runs. Not synced (the permission model refuses fsync, and the file
   * is only a shortcut): a write lost in a crash costs the next run one lookup, as any failure here,
   * which is said with -v only.
   */
  keep(account: KnownAccount): void {
    try {
      ftruncateSync(this.fd, 0);
      writeSync(this.fd, `${JSON.stringify(account)}\n`, 0);
      debug(this.path, 'account URL kept');
    } catch (err) {
      debug(this.path, `account URL not kept: ${(err as Error).message}`);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
