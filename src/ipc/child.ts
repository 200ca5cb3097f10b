// The common start and end of every child: read the configuration the parent passed, run the
// role, and turn the outcome into an exit status. A Failure is printed as one line on stderr by
// the child that knows what went wrong; the parent only adds that the run failed.
//
// Each role calls confine() once, as soon as it holds what it needs (its key, cert.pem) and
// before it reads any message: that is where it drops to the unprivileged user.

import { Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Failure, reportError, setVerbosity } from '../log.js';
import { AnyRole, ChildConfig, FD, parseConfig } from './roles.js';
import * as c from '../check.js';
import { attemptBreakouts } from './breakout.js';

/** Set at build time: true only in the test build that carries the breakout hook. */
declare const __BREAKOUT_HOOK__: boolean;

export interface Sandbox {
  /** Unprivileged user to become, or null to stay as started. */
  drop: { uid: number; gid: number } | null;
  /** --isolation-report: confine, describe the result on stdout, exit. */
  report: boolean;
}

function parseSandbox(v: unknown): Sandbox {
  const m = c.object(v, 'sandbox');
  const drop = m.drop === null ? null : c.object(m.drop, 'drop');
  return { drop: drop === null ? null : { uid: c.integer(drop, 'uid'), gid: c.integer(drop, 'gid') }, report: c.boolean(m, 'report') };
}

function dropPrivileges(drop: Sandbox['drop']): void {
  if (drop === null) return;
  const { setgroups, setgid, setuid } = process;
  if (!setgroups || !setgid || !setuid) throw new Failure('sandbox', 'this platform cannot drop privileges');
  setgroups([]);
  setgid(drop.gid);
  setuid(drop.uid);
  if (process.getuid?.() !== drop.uid || process.getgid?.() !== drop.gid) throw new Failure('sandbox', 'cannot drop privileges');
}

/** What the child can observe of its own confinement, for --isolation-report. */
function describeSelf(): Record<string, unknown> {
  const perm = (process as { permission?: { has(scope: string, ref?: string): boolean } }).permission;
  return {
    uid: process.getuid?.(),
    gid: process.getgid?.(),
    groups: process.getgroups?.(),
    interfaces: Object.keys(networkInterfaces()),
    readsShadow: perm ? perm.has('fs.read', '/etc/shadow') : true,
    spawns: perm ? perm.has('child') : true,
  };
}

const cleanups: (() => void)[] = [];
const TERMINATING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs the cleanups once, then dies of `signal`. The handlers stay installed until the cleanups
 * are done: a second signal (the kernel's on the parent's death beside the lifeline's, or Ctrl-C
 * beside the parent's forwarded SIGINT) must not find the default action and kill the child
 * half-way through removing what it published.
 */
let terminating = false;
function terminate(signal: NodeJS.Signals): void {
  if (terminating) return;
  terminating = true;
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // dying anyway: the next cleanup still runs
    }
  }
  for (const sig of TERMINATING_SIGNALS) process.off(sig, terminate);
  process.kill(process.pid, signal);
}

/**
 * Runs `cleanup` (synchronously) if the child is told to end by SIGINT, SIGTERM or SIGHUP — which
 * is also what a child does to itself when the parent dies — before it dies of that signal.
 */
export function atTermination(cleanup: () => void): void {
  if (cleanups.length === 0) for (const sig of TERMINATING_SIGNALS) process.on(sig, terminate);
  cleanups.push(cleanup);
}

/** The parent is gone when its end of the lifeline closes: end as if told to (SIGTERM). */
let lifeline: Socket | null = null;

function watchParent(fd: number): void {
  lifeline = new Socket({ fd, readable: true, writable: true });
  const parentGone = (): void => {
    process.kill(process.pid, 'SIGTERM');
  };
  lifeline.on('end', parentGone).on('close', parentGone).on('error', parentGone).on('data', () => undefined);
  lifeline.unref();
}

/**
 * certproc's word to the parent, up the lifeline: whether there is work. On "current" the parent
 * starts nobody else and the run ends with status 2 (unless it had started them already, sure of
 * work; they then stop when certproc hangs up). On "ask" it starts netproc and fileproc only, and
 * the rest on a later "work".
 */
export function tellParent(word: 'current' | 'work' | 'ask'): Promise<void> {
  return new Promise((resolve) => {
    if (lifeline === null) resolve();
    else lifeline.write(`${word}\n`, () => resolve());
  });
}

export function runChild<R extends AnyRole>(role: R, body: (config: ChildConfig[R], confine: () => Promise<void>) => Promise<number | void>): void {
  let config: ChildConfig[R];
  let sandbox: Sandbox;
  try {
    config = parseConfig[role](JSON.parse(process.argv[2] ?? 'null'));
    sandbox = parseSandbox(JSON.parse(process.argv[3] ?? 'null'));
  } catch (err) {
    reportError(role, new Failure(role, `bad configuration: ${err instanceof Error ? err.message : String(err)}`));
    process.exit(1);
  }
  setVerbosity(config.verbose);
  if (!sandbox.report) watchParent(FD[role].lifeline);
  let confined = false;
  const confine = async (): Promise<void> => {
    if (confined) return;
    confined = true;
    dropPrivileges(sandbox.drop);
    if (typeof __BREAKOUT_HOOK__ !== 'undefined' && __BREAKOUT_HOOK__) await attemptBreakouts(role);
  };
  const run = sandbox.report
    ? async (): Promise<number | void> => {
        await confine();
        process.stdout.write(`${JSON.stringify({ role, ...describeSelf() })}\n`);
        // Stay until the parent has measured us (it closes stdin).
        await new Promise((resolve) => process.stdin.on('end', resolve).on('error', resolve).resume());
      }
    : () => body(config, confine);
  run().then(
    (status) => process.exit(status ?? 0),
    (err: unknown) => {
      reportError(role, err);
      process.exit(1);
    },
  );
}
