// The issuing mode (acme-client [flags] domain [altnames...]): renews, issues or revokes the
// certificate. Unless work is certain (-F, -r, no cert.pem; then netproc starts first, and the others
// at once), certproc starts first and the parent waits for its word: "current" (nobody else starts), "work" (everybody does, but keyproc
// and chngproc for a revocation, which signs with the account key alone), or "ask" (netproc and
// fileproc start to fetch and keep the CA's renewal window; the children holding keys or publishing
// challenges follow on a later "work"). Exit 0 when fileproc changed the certificate files, 2 when
// there was nothing to do, 1 when any child failed.

import type { ChildProcess, StdioOptions } from 'node:child_process';
import { lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Options } from '../args.js';
import { PERSIST_CHALLENGE } from '../acme/persist.js';
import { EXIT_CHANGED, FD, NetConfig, Role } from '../ipc/roles.js';
import { Failure, debug, warn } from '../log.js';
import type { Paths } from '../defaults.js';
import { readable, writable } from '../fsutil/access.js';
import { Invocation, planAll } from '../parent/plans.js';
import { Run, Spawner, failed, startsInBackground } from '../parent/spawn.js';
import { sayMissing } from '../isolation.js';

export async function issue({ opts, names, paths, csrFile, configs, user, caps }: Invocation): Promise<number> {
  if (names.length === 0 && csrFile === null) throw new Failure('acme-client', 'no domain given');
  if (opts.multiDir) makeMultiDirs(opts, paths);
  const keys = preflight(opts, paths, csrFile);
  if (keys === null) return 1;
  configs.acctproc.create = keys.createAccountKey;
  configs.keyproc.create = keys.createDomainKey;

  sayMissing(caps);
  const spawner = new Spawner(configs, planAll(opts, paths, configs, user, caps), caps);
  try {
    // Every request and the wait for the CA are bounded; this bounds the whole run, whatever hangs.
    const deadlineMs = configs.netproc.pollTimeoutMs + 5 * configs.netproc.requestTimeoutMs;
    return await runChildren(spawner, configs.netproc, opts.challengeType !== undefined, paths.certDir, deadlineMs, workIsCertain(opts, paths),
      csrFile === null && !opts.revoke, opts.challengeType !== PERSIST_CHALLENGE && !opts.revoke);
  } finally {
    spawner.cleanUp();
  }
}

/** -m: create the per-name default directories that are missing; key directories are private. */
function makeMultiDirs(opts: Options, paths: Paths): void {
  const wanted: [boolean, string, number][] = [
    [opts.certDir === undefined, paths.certDir, 0o755],
    [opts.domainKey === undefined, join(paths.domainKey, '..'), 0o700],
    [opts.accountKey === undefined, join(paths.accountKey, '..'), 0o700],
  ];
  for (const [isDefault, dir, mode] of wanted) {
    if (!isDefault) continue;
    try {
      if (mkdirSync(dir, { mode, recursive: true }) !== undefined) debug(dir, 'created directory');
    } catch (err) {
      throw new Failure(dir, `cannot create directory: ${(err as Error).message}`);
    }
  }
}

/** The original's pre-flight checks: every problem is reported before giving up. */
function preflight(opts: Options, paths: Paths, csrFile: string | null): { createAccountKey: boolean; createDomainKey: boolean } | null {
  const problems: [string, string][] = [];
  if (!readable(paths.certDir, true)) problems.push([paths.certDir, '-c directory must exist']);
  else if (!writable(paths.certDir)) problems.push([paths.certDir, '-c directory is not writable']);
  // With --csr there is no domain key: the request is checked, by certproc, instead. A revocation
  // needs neither the domain key nor the challenges: the key may be gone, compromised.
  const withDomainKey = csrFile === null && !opts.revoke;
  const domainKeyExists = withDomainKey && readable(paths.domainKey, false);
  if (csrFile !== null && !readable(csrFile, false)) problems.push([csrFile, '--csr file must exist']);
  if (withDomainKey && !domainKeyExists && !opts.newDomainKey) problems.push([paths.domainKey, '-k file must exist']);
  if (opts.challengeType === undefined && !opts.revoke && !readable(paths.challengeDir, true)) problems.push([paths.challengeDir, '-C directory must exist']);
  if (opts.caFile !== undefined && !readable(opts.caFile, false)) problems.push([opts.caFile, '--ca-file file must exist']);
  if (opts.eabHmacKeyFile !== undefined && !readable(opts.eabHmacKeyFile, false)) problems.push([opts.eabHmacKeyFile, '--eab-hmac-key-file file must exist']);
  const accountKeyExists = readable(paths.accountKey, false);
  if (!accountKeyExists && !opts.newAccountKey) problems.push([paths.accountKey, '-f file must exist']);
  for (const [subject, problem] of problems) warn(subject, problem);
  if (problems.length > 0) return null;
  // Decided here, once, so that two children never race over whether a key exists.
  if (opts.newDomainKey && domainKeyExists) debug(paths.domainKey, 'domain key exists (not creating)');
  if (opts.newAccountKey && accountKeyExists) debug(paths.accountKey, 'account key exists (not creating)');
  return { createAccountKey: opts.newAccountKey && !accountKeyExists, createDomainKey: withDomainKey && opts.newDomainKey && !domainKeyExists };
}


type Word = 'current' | 'work' | 'ask';
const WORDS: readonly string[] = ['current', 'work', 'ask'];

/**
 * certproc's words on its lifeline, one a line: "current", "work", or "ask" then maybe "work".
 * next() gives null once certproc has ended or said something else.
 */
class Words {
  private text = '';
  private readonly waiting: ((word: Word | null) => void)[] = [];
  private ended = false;

  constructor(stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1');
      this.deliver();
    });
    for (const event of ['end', 'close', 'error']) {
      stream.once(event, () => {
        this.ended = true;
        this.deliver();
      });
    }
  }

  private deliver(): void {
    while (this.waiting.length > 0) {
      const nl = this.text.indexOf('\n');
      if (nl < 0 && !this.ended && this.text.length <= 16) return;
      const line = nl < 0 ? null : this.text.slice(0, nl);
      this.text = nl < 0 ? '' : this.text.slice(nl + 1);
      (this.waiting.shift() as (word: Word | null) => void)(line !== null && WORDS.includes(line) ? (line as Word) : null);
    }
  }

  next(): Promise<Word | null> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.deliver();
    });
  }
}

/**
 * Whether the run has work whatever certproc finds: -F and -r always do (or fail), and so does a
 * certificate directory without the certificate (cert.pem, or acme-client.conf's file). Then the other children start without waiting for
 * certproc's word; they still send nothing to the CA before certproc has told netproc what to do.
 * Only the name is looked at, never the file.
 */
function workIsCertain(opts: Options, paths: Paths): boolean {
  if (opts.force || opts.revoke) return true;
  try {
    lstatSync(join(paths.certDir, paths.certFiles.cert ?? (paths.certFiles.fullchain as string)));
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Starts the children as certproc's words ask for them, and waits for all. certproc comes first
 * and alone unless work is certain: the nightly "nothing to do" costs one child and no request.
 * On "ask" (the CA's renewal window decides) netproc and fileproc follow, and the children that
 * hold the keys or publish challenges come only on "work". Sure of work, netproc comes first, so
 * that the first request leaves while the others start.
 */
async function runChildren(spawner: Spawner, netConfig: NetConfig, external: boolean, certDir: string, deadlineMs: number, certain: boolean, withKeyproc: boolean,
  withChngproc: boolean): Promise<number> {
  // Each child's end is listened for from its start: one may end while the parent awaits another.
  const run = new Run();
  const spawnOne = (role: Role, stdio: StdioOptions): ChildProcess => run.add(role, spawner.start(role, { stdio }));
  run.forwardSignals();
  const deadline = run.deadline(deadlineMs);

  // Channels: netproc holds fds 3 acct, 4 key, 5 chng, 6 cert; certproc holds 3 net, 4 file.
  // Each peer gets the other end, and the parent then drops its copies; the ends for children that
  // never start are dropped at the end. The last 'pipe' of each is its lifeline (FD.*.lifeline),
  // which the parent keeps until it exits.
  const end = (child: ChildProcess, fd: number): Readable => child.stdio[fd] as Readable;
  /** The parent's copy of a channel end, when it has one: not for an end passed on to the child. */
  const drop = (child: ChildProcess | null, fd: number): void => {
    (child?.stdio[fd] as Readable | null | undefined)?.destroy();
  };
  const netStdio = (toCert: Readable | 'pipe'): StdioOptions => ['ignore', 'ignore', 'inherit', 'pipe', 'pipe', 'pipe', toCert, 'pipe'];
  // Sure of work, netproc comes first: it connects to the CA and fetches the directory while the
  // others start; it signs nothing before certproc's verdict.
  netConfig.signs = certain;
  let early: ChildProcess | null = certain ? spawnOne('netproc', netStdio('pipe')) : null;
  const cert = spawnOne('certproc', ['ignore', 'ignore', 'inherit', early === null ? 'pipe' : end(early, FD.netproc.cert), 'pipe', 'pipe']);
  // Until netproc's first request has left, the others only compete with it for the CPU.
  if (early !== null) startsInBackground(cert);
  drop(early, FD.netproc.cert);
  const startNetAndFile = (signs: boolean): ChildProcess => {
    netConfig.signs ||= signs;
    const net = early ?? spawnOne('netproc', netStdio(end(cert, 3)));
    early = null;
    const file = spawnOne('fileproc', ['ignore', 'ignore', 'inherit', end(cert, 4), 'pipe']);
    startsInBackground(file);
    for (const fd of [3, 4]) drop(cert, fd);
    return net;
  };
  const startKeyHolders = (from: ChildProcess): void => {
    const acct = spawnOne('acctproc', ['ignore', 'ignore', 'inherit', end(from, 3), 'pipe']);
    // With --csr there is no keyproc: certproc hands netproc the request, and netproc leaves fd 4
    // alone; nor with -r, whose request is the certificate.
    const key = withKeyproc ? spawnOne('keyproc', ['ignore', 'ignore', 'inherit', end(from, 4), 'pipe']) : null;
    // dns-persist-01 and -r publish nothing: there is no chngproc, and netproc leaves fd 5 alone.
    const chng = withChngproc ? spawnOne('chngproc', [external ? 'inherit' : 'ignore', external ? 'inherit' : 'ignore', 'inherit', end(from, 5), 'pipe']) : null;
    // netproc's first requests need acctproc, and chngproc follows one order later; the CSR and
    // the writing come last. keyproc and fileproc start at a lower priority, so that on a machine
    // with fewer cores than children the conversation begins first.
    if (key !== null) startsInBackground(key);
    if (certain) for (const child of [acct, chng]) if (child !== null) startsInBackground(child);
  };

  const words = new Words(end(cert, FD.certproc.lifeline));
  let word: Word | null = certain ? 'work' : await words.next();
  // A run stopped meanwhile (a signal, the deadline) starts nobody more, whatever certproc said.
  if (word === 'current' || word === null || run.isStopped) {
    // netproc, when it came first, stops once its peers hang up.
    for (const fd of [3, 4, 5]) drop(early, fd);
    deadline.cancel();
    const outcomes = await Promise.all(run.ends);
    return word === 'current' && outcomes.every((o) => o.code === 0 && o.signal === null) ? 2 : 1;
  }
  const net = startNetAndFile(word === 'work');
  if (word === 'ask') word = await words.next();
  if (word === 'work' && !run.isStopped) startKeyHolders(net);
  for (const fd of [3, 4, 5]) drop(net, fd);

  const outcomes = await Promise.all(run.ends);
  deadline.cancel();
  if (deadline.overdue()) return 1;
  const changed = outcomes.some(({ role, code, signal }) => role === 'fileproc' && code === EXIT_CHANGED && signal === null);
  if (outcomes.some(failed)) {
    if (changed) warn(certDir, 'certificate files were updated, but the run failed');
    return 1;
  }
  return changed ? 0 : 2;
}

