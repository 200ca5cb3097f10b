// The account's URL at the CA, kept by acctproc beside the account key (<key>.account.json), as
// lego and certbot keep theirs: with it a run signs its first request as the account straight
// away, instead of first asking the CA which account the key has (§7.3.1). It names the CA's
// directory too: the same key at another CA is looked up, and the file then names that one; and
// the key, by its thumbprint: a key replaced by hand is looked up too.
// The file is opened before acctproc drops root (the key's directory is root's), read at once, and
// written later through the same descriptor. It holds no secret. Anything unreadable in it is as
// if there were nothing: the run looks the account up, as without the file, and writes it anew.

import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import type { KnownAccount } from '../ipc/messages.js';
import { debug } from '../log.js';

/** Three URLs and a thumbprint: far less than this. */
const MAX_ACCOUNT_FILE = 16 * 1024;
/** As netproc takes them over the channel (src/ipc/messages.ts). */
const MAX_URL = 4096;

/** What the file holds: the account, and the key it is the account of (its RFC 7638 thumbprint). */
interface KeptAccount extends KnownAccount {
  key: string;
}

/**
 * The kept account, or null when the file is anything else: URLs that are not https or not of
 * one origin (the account is the directory's CA's), longer than a message may carry, or no key.
 */
function parse(text: string): KeptAccount | null {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return null;
    const { server, url, key, newNonce } = v as Record<string, unknown>;
    if (typeof server !== 'string' || typeof url !== 'string' || typeof key !== 'string') return null;
    const [directory, account] = [new URL(server), new URL(url)];
    if (account.protocol !== 'https:' || account.origin !== directory.origin) return null;
    if (server.length > MAX_URL || account.href.length > MAX_URL) return null;
    // The server as written, for findAccount to compare with --server as given. A nonce URL that
    // is not the directory's origin's is dropped: the account stays known.
    return { server, url: account.href, key, newNonce: sameOrigin(newNonce, directory) };
  } catch {
    return null;
  }
}

/** `value` as an https URL of `directory`'s origin, or null. */
function sameOrigin(value: unknown, directory: URL): string | null {
  if (typeof value !== 'string' || value.length > MAX_URL) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.origin === directory.origin ? url.href : null;
  } catch {
    return null;
  }
}

export class AccountFile {
  private constructor(private readonly path: string, private readonly fd: number, private readonly kept: KeptAccount | null) {}

  /**
   * Opens (creating it empty, mode 0600) and reads the file; null when it cannot be opened, or is
   * not a plain file of this user's with one name (a hard link planted in a directory others may
   * write would have root write through it), said with -v.
   */
  static open(path: string): AccountFile | null {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
    } catch (err) {
      debug(path, `account URL not kept: ${(err as Error).message}`);
      return null;
    }
    let kept: KeptAccount | null = null;
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile() || stat.nlink !== 1 || stat.uid !== process.geteuid?.()) {
        debug(path, 'not a plain file of this user\'s with one name: account URL neither read nor kept');
        closeSync(fd);
        return null;
      }
      if (stat.size > 0 && stat.size <= MAX_ACCOUNT_FILE) {
        const buffer = Buffer.alloc(stat.size);
        kept = parse(buffer.subarray(0, readSync(fd, buffer, 0, stat.size, 0)).toString('utf8'));
      }
      if (stat.size > 0 && kept === null) debug(path, 'not a kept account URL: ignored, and written anew');
    } catch (err) {
      debug(path, `cannot read the kept account URL: ${(err as Error).message}`);
    }
    return new AccountFile(path, fd, kept);
  }

  /**
   * The kept account of the key whose thumbprint is `key`, or null: a key replaced by hand, or made
   * anew after the old one was removed, has an account of its own (or none yet), and signing with
   * it as the old key's account would fail every run.
   */
  accountOf(key: string): KnownAccount | null {
    if (this.kept === null) return null;
    if (this.kept.key !== key) {
      debug(this.path, 'kept for another key: ignored, and written anew');
      return null;
    }
    return { server: this.kept.server, url: this.kept.url, newNonce: this.kept.newNonce };
  }

  /**
   * Keeps `account` of the key `key` for the next runs. Not synced (the permission model refuses
   * fsync, and the file is only a shortcut): a write lost in a crash costs the next run one lookup,
   * as any failure here, which is said with -v only.
   */
  keep(account: KnownAccount, key: string): void {
    try {
      ftruncateSync(this.fd, 0);
      writeSync(this.fd, `${JSON.stringify({ ...account, key })}\n`, 0);
      debug(this.path, 'account URL kept');
    } catch (err) {
      debug(this.path, `account URL not kept: ${(err as Error).message}`);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
