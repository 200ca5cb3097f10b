// fileproc: the only writer of the certificate directory. On "install" it writes chain.pem,
// cert.pem and fullchain.pem (= cert then chain), or the files acme-client.conf(5) names instead,
// each replaced atomically and durably, mode 0444, then the renewal state file; on "remove" (after -r) it deletes them all; on "state" it writes
// the state file alone (what the CA said of a certificate that stays). With -b it first hard-links
// the current files to cert-<epoch>.pem and so on. With --dated it also writes each new
// certificate as cert-<UTC time>.pem (chain- and fullchain- likewise) before the stable names,
// which stay files, not links; --keep then removes the dated sets past the newest N. Its exit status is the run's verdict:
// EXIT_CHANGED when it wrote or removed certificate files, 0 otherwise. Talks to certproc only.

import { promises as fs, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { atTermination, runChild } from '../ipc/child.js';
import { Channel } from '../ipc/channel.js';
import { CertFiles, EXIT_CHANGED, FD, FileConfig, certFileNames } from '../ipc/roles.js';
import { CertToFile, FileToCert, parseCertToFile } from '../ipc/messages.js';
import { splitPemCertificates } from '../x509/chain.js';
import { removeStaleTemps, removeTempsInFlight, syncDirectory, writeFileAtomic, writeFilesAtomic } from '../fsutil/atomic.js';
import { parseRenewalState } from '../x509/renewal.js';
import { Failure, debug, warn } from '../log.js';

/** -b and --dated are the command line's, whose files are always cert.pem, chain.pem and fullchain.pem. */
const FILES = ['cert', 'chain', 'fullchain'] as const;

/** Hard links of the current files under one epoch; the next free epoch when one is taken. */
async function backUp(certDir: string): Promise<void> {
  const first = Math.floor(Date.now() / 1000);
  for (let epoch = first; epoch < first + 1000; epoch++) {
    const made: string[] = [];
    let taken = false;
    for (const name of FILES) {
      const from = join(certDir, `${name}.pem`);
      const to = join(certDir, `${name}-${epoch}.pem`);
      try {
        await fs.link(from, to);
        made.push(to);
        debug(from, `linked to ${to}`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue; // nothing to back up under this name
        if (code === 'EEXIST') {
          taken = true;
          break;
        }
        throw new Failure(to, `cannot back up: ${(err as Error).message}`);
      }
    }
    if (!taken) return;
    await Promise.all(made.map((p) => fs.unlink(p)));
  }
  throw new Failure(certDir, 'cannot find a free backup name');
}

/** cert-20261206T162100Z.pem: the UTC second a dated set was installed, sortable as text. */
const DATED = /^cert-(\d{8}T\d{6}Z)\.pem$/;

/** The times of the dated sets in the directory. */
function datedStamps(certDir: string): string[] {
  return readdirSync(certDir).map((name) => DATED.exec(name)?.[1]).filter((s): s is string => s !== undefined);
}

/** Whether `name` is one of this certificate's files (a dated one included), which fileproc writes. */
function writesHere(files: CertFiles, name: string): boolean {
  const own = certFileNames(files);
  return own.includes(name) || own.includes(name.replace(/-\d{8}T\d{6}Z\.pem$/, '.pem'));
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The new set under the first second, from now on, that no dated set has: two runs within a
 * second get two sets, never one overwritten.
 */
async function writeDatedSet(certDir: string, files: readonly (readonly [string, string])[]): Promise<string> {
  const taken = new Set(datedStamps(certDir));
  let when = Date.now();
  while (taken.has(stamp(when))) when += 1000;
  const at = stamp(when);
  const dated = files.map(([name, text]) => [name.replace(/\.pem$/, `-${at}.pem`), text] as const);
  await writeFilesAtomic(certDir, dated, { mode: 0o444, durable: true });
  for (const [name] of dated) debug(join(certDir, name), 'created');
  return at;
}

/** Removes the dated sets past the `keep` newest (all three files of each). */
async function pruneDatedSets(certDir: string, keep: number): Promise<void> {
  const stamps = datedStamps(certDir).sort().reverse();
  for (const old of stamps.slice(keep)) {
    for (const name of FILES) {
      const path = join(certDir, `${name}-${old}.pem`);
      await fs.unlink(path).then(() => debug(path, 'removed (--keep)'), (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw new Failure(path, `cannot remove: ${err.message}`);
      });
    }
  }
}

/**
 * The renewal state, checked like everything from certproc. Not having it costs the next run one
 * question to the CA, so failing to write it is a warning: it never fails a run, nor hides that
 * the certificate changed.
 */
async function writeState(certDir: string, stateFile: string, text: string): Promise<void> {
  const path = join(certDir, stateFile);
  if (parseRenewalState(text) === null) {
    warn('certproc', 'sent a malformed renewal state; not written');
    return;
  }
  try {
    await writeFileAtomic(certDir, stateFile, text, { mode: 0o644, durable: false });
    debug(path, 'written');
  } catch (err) {
    warn(path, `${err instanceof Failure ? err.problem : `cannot write: ${(err as Error).message}`}; the next run asks the CA again`);
  }
}

/** What to write under which name: the chain, the certificate, the full chain, those configured. */
function certificateFiles(names: CertFiles, cert: string, chain: string): (readonly [string, string])[] {
  const all = [[names.chain, chain], [names.cert, cert], [names.fullchain, cert + chain]] as const;
  return all.filter((entry): entry is readonly [string, string] => entry[0] !== null);
}

/** fileproc does not trust certproc either: what it writes must be PEM certificates only. */
function checkPem(text: string, what: string): void {
  try {
    splitPemCertificates(text);
  } catch {
    throw new Failure('certproc', `sent a malformed ${what}`);
  }
}

runChild('fileproc', async (config: FileConfig, confine) => {
  // Killed mid-write: the target is whole either way (rename), but the temporary file must go.
  atTermination(removeTempsInFlight);
  await confine(); // stays root to write the root-owned cert dir: its jail is what confines it
  const cert = new Channel<CertToFile, FileToCert>(FD.fileproc.cert, 'certproc', parseCertToFile);
  try {
    // While certproc still works: the new certificate is written the moment it comes.
    for (const name of await removeStaleTemps(config.certDir, (target) => writesHere(config.files, target))) debug(join(config.certDir, name), 'removed a temporary file left by a killed run');
    const order = await cert.recv();
    if (order === null) return 0;
    if (order.op === 'state') {
      await writeState(config.certDir, config.files.state, order.state);
      return 0;
    }
    if (config.backup) await backUp(config.certDir);
    if (order.op === 'install') {
      checkPem(order.cert, 'certificate');
      checkPem(order.chain, 'chain');
      // Renamed chain first, fullchain last, as the original: cert.pem is the file most tools watch.
      const files = certificateFiles(config.files, order.cert, order.chain);
      // The dated set first: a crash in between leaves it beside the old stable files, and the
      // next run, seeing the old certificate still due, installs anew.
      if (config.dated) await writeDatedSet(config.certDir, files);
      await writeFilesAtomic(config.certDir, files, { mode: 0o444, durable: true });
      for (const [name] of files) debug(join(config.certDir, name), 'created');
      if (config.dated && config.keep > 0) await pruneDatedSets(config.certDir, config.keep);
      // After the certificate: a crash in between leaves no state, and the next run asks afresh.
      if (order.state !== null) await writeState(config.certDir, config.files.state, order.state);
    } else {
      for (const name of certFileNames(config.files)) {
        const path = join(config.certDir, name);
        await fs.unlink(path).then(
          () => debug(path, 'removed'),
          (err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw new Failure(path, `cannot remove: ${err.message}`);
          },
        );
      }
      await syncDirectory(config.certDir);
    }
    return EXIT_CHANGED;
  } finally {
    cert.close();
  }
});
