// Replacing a file so that a reader, or a crash, sees either the old content or the new, never a
// mix: write a temporary file in the same directory (created exclusively, never through a
// symlink), set its mode, fsync it, rename it over the target, fsync the directory. rename()
// replaces a planted symlink itself rather than writing where it points.

import { closeSync, constants, openSync, promises as fs, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Failure, errnoText } from '../log.js';

export interface AtomicWriteOptions {
  mode: number;
  /** fsync file and directory: certificates must survive a power cut; challenge files need not. */
  durable: boolean;
}

/** .<target>.<12 hex digits>.tmp, as writeFileAtomic names them. */
const TEMP_NAME = /^\.(.+)\.[0-9a-f]{12}\.tmp$/;

/**
 * Temporary files a killed writer left behind for the targets `isTarget` owns: another run may be
 * writing other files in the same directory right now, and its temporaries are not stale.
 * `olderThanMs`: where the targets cannot be told apart (challenge tokens), only files last
 * written that long ago: one being written lives milliseconds.
 */
export async function removeStaleTemps(dir: string, isTarget: (target: string) => boolean, olderThanMs = 0): Promise<string[]> {
  const candidates = (await fs.readdir(dir)).filter((name) => {
    const target = TEMP_NAME.exec(name)?.[1];
    return target !== undefined && isTarget(target);
  });
  const stale: string[] = [];
  for (const name of candidates) {
    if (olderThanMs > 0) {
      const written = await fs.lstat(join(dir, name)).then((stat) => stat.mtimeMs, () => null);
      if (written === null || written > Date.now() - olderThanMs) continue;
    }
    await fs.rm(join(dir, name), { force: true });
    stale.push(name);
  }
  return stale;
}

/** Temporary files being written right now, for a process that is killed to remove. */
const inFlight = new Set<string>();

export function removeTempsInFlight(): void {
  for (const temp of inFlight) rmSync(temp, { force: true });
}

/**
 * A new temporary file, listed in inFlight before it exists, created exclusively without following
 * a symlink and with `mode` (and its owner's write) from the first byte, and opened for writing. It
 * is created synchronously: a signal is then handled either before it exists or after it is listed,
 * never while a worker thread is still creating it behind the handler's back; and opened again for
 * the writing (Node's permission model allows fsync only through a FileHandle). The caller removes
 * it from the list with forgetTemporary once it is renamed, linked or removed.
 */
export async function openTemporary(temp: string, mode: number): Promise<fs.FileHandle> {
  inFlight.add(temp);
  try {
    // Writable by its owner until the caller's chmod: a user who is not root could not open a
    // 0444 file again for writing. No one else gains anything meanwhile.
    closeSync(openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode | 0o200));
    return await fs.open(temp, constants.O_WRONLY | constants.O_NOFOLLOW);
  } catch (err) {
    inFlight.delete(temp);
    throw err;
  }
}

export function forgetTemporary(temp: string): void {
  inFlight.delete(temp);
}

export async function writeFileAtomic(dir: string, name: string, data: string | Buffer, options: AtomicWriteOptions): Promise<void> {
  await writeFilesAtomic(dir, [[name, data]], options);
}

/**
 * Several files of one directory replaced together: every temporary file is written and synced at
 * once, then each is renamed over its target in the order given, then the directory is synced
 * once. A crash leaves each target whole, old or new; the set may be torn (certproc renews it).
 */
export async function writeFilesAtomic(dir: string, files: readonly (readonly [string, string | Buffer])[], options: AtomicWriteOptions): Promise<void> {
  const staged = files.map(([name, data]) => ({ target: join(dir, name), temp: join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`), data }));
  try {
    const written = await Promise.allSettled(staged.map((file) => writeTemporary(file, options)));
    const failed = written.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    for (const { temp, target } of staged) {
      try {
        await fs.rename(temp, target);
      } catch (err) {
        throw new Failure(target, `cannot write: ${errnoText(err)}`);
      }
    }
  } catch (err) {
    // Must not hide the first error (EROFS after a remount, say).
    await Promise.all(staged.map(({ temp }) => fs.rm(temp, { force: true }).catch(() => undefined)));
    throw err;
  } finally {
    for (const { temp } of staged) forgetTemporary(temp);
  }
  if (options.durable) {
    try {
      await syncDirectory(dir);
    } catch (err) {
      throw new Failure(dir, `cannot sync directory: ${errnoText(err)}`);
    }
  }
}

/** Any failure names the file that could not be replaced, never the temporary one. */
async function writeTemporary({ temp, target, data }: { temp: string; target: string; data: string | Buffer }, options: AtomicWriteOptions): Promise<void> {
  let handle: fs.FileHandle;
  try {
    handle = await openTemporary(temp, options.mode);
  } catch (err) {
    throw new Failure(target, `cannot write: ${errnoText(err)}`);
  }
  try {
    try {
      await handle.writeFile(data);
      if (options.durable) await handle.sync();
    } finally {
      await handle.close();
    }
    // By path: the permission model disables fchmod. The umask may have taken bits from the mode.
    await fs.chmod(temp, options.mode);
  } catch (err) {
    throw new Failure(target, `cannot write: ${errnoText(err)}`);
  }
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
