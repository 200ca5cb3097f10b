// The parent's side of its children: how each is started (confined under its plan, with the
// environment its role needs), and a run: the children of one invocation, waited for together,
// stopped together when one fails, a signal comes, or the deadline passes.

import { spawn, ChildProcess, StdioOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { EXIT_CHANGED, FD, Role, RoleConfig } from '../ipc/roles.js';
import { debug, warn } from '../log.js';
import { Capabilities, ChildPlan, childCommand, describePlan } from '../isolation.js';

export const ROLES: Role[] = ['netproc', 'acctproc', 'keyproc', 'chngproc', 'certproc', 'fileproc'];

/** Children start with nothing of the parent's environment but what their role needs. */
function childEnv(role: Role): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
  if (role === 'netproc') {
    // How the CA's TLS certificate is trusted: the system store (which SSL_CERT_* may move) or
    // NODE_EXTRA_CA_CERTS.
    for (const name of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR']) {
      if (process.env[name] !== undefined) env[name] = process.env[name];
    }
  }
  // Test build only (see src/ipc/breakout.ts): what the children should try to reach.
  if (typeof __BREAKOUT_HOOK__ !== 'undefined' && __BREAKOUT_HOOK__ && process.env.ACME_CLIENT_BREAKOUT !== undefined) {
    env.ACME_CLIENT_BREAKOUT = process.env.ACME_CLIENT_BREAKOUT;
  }
  return env;
}

/** Set at build time: true only in the test build that carries the breakout hook. */
declare const __BREAKOUT_HOOK__: boolean;

export interface SpawnOptions {
  stdio: StdioOptions;
  /** --isolation-report: the child confines itself, describes the result and waits. */
  report?: boolean;
  /** Without any confinement: only to measure what confinement costs. */
  unconfined?: boolean;
}

/** Starts children under their plans, and removes their jail directories afterwards. */
export class Spawner {
  private readonly jails: string[] = [];

  constructor(private readonly configs: RoleConfig, private readonly plans: Record<Role, ChildPlan>, private readonly caps: Capabilities) {}

  start(role: Role, { stdio, report = false, unconfined = false }: SpawnOptions): ChildProcess {
    const plan = this.plans[role];
    if (!report) debug(role, describePlan(plan));
    const script = fileURLToPath(new URL(`./procs/${role}.js`, import.meta.url));
    const args = [JSON.stringify(this.configs[role]), JSON.stringify({ drop: unconfined ? null : plan.drop, report })];
    // One V8 helper thread, not four: seven Node processes start at once, and a short-lived child
    // gains nothing from compiling or collecting in parallel with itself (bench/RESULTS.md).
    // netproc trusts the system's OpenSSL store (what update-ca-certificates
    // maintains), not only the list compiled into Node.
    const nodeFlags = ['--v8-pool-size=1', ...(role === 'netproc' ? ['--use-openssl-ca'] : [])];
    let command: { file: string; args: string[] };
    if (unconfined) {
      command = { file: process.execPath, args: [...nodeFlags, script, ...args] };
    } else {
      const jailRoot = plan.jail === null ? null : mkdtempSync(join(tmpdir(), 'acme-client-jail-'));
      if (jailRoot !== null) this.jails.push(jailRoot);
      command = childCommand(plan, nodeFlags, script, args, this.caps, jailRoot);
    }
    return spawn(command.file, command.args, { stdio, env: childEnv(role) });
  }

  /** The jail's tmpfs lived in the child's own mount namespace: on the host these are empty. */
  cleanUp(): void {
    for (const dir of this.jails.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Nice value of the children not needed at once (see runChildren). */
const BACKGROUND_NICE = 10;

export function startsInBackground(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    setPriority(child.pid, BACKGROUND_NICE);
  } catch {
    // Only an ordering hint: a run without it is slower, not wrong.
  }
}

export interface Outcome {
  role: Role;
  code: number | null;
  signal: NodeJS.Signals | null;
}

function waitFor(role: Role, child: ChildProcess): Promise<Outcome> {
  return new Promise((resolve) => {
    child.once('error', (err) => {
      warn(role, `cannot start: ${err.message}`);
      resolve({ role, code: 1, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ role, code, signal }));
  });
}

/** A child's end that fails the run: a signal, or a status other than 0 (and fileproc's "changed"). */
export function failed({ role, code, signal }: Outcome): boolean {
  return signal !== null || (code !== 0 && !(code === EXIT_CHANGED && (role === 'fileproc' || role === 'acctproc')));
}

/**
 * The children that wait on the world outside the run: netproc on the CA, chngproc on the -t
 * caller's answer. The others wait only on their peers, and end by themselves once those hang up,
 * after finishing what they were handed (certproc and fileproc keeping an order left processing).
 */
const WAIT_ON_THE_WORLD: readonly Role[] = ['netproc', 'chngproc'];

/** The run a signal to the parent stops, once a run has begun. */
let signalledRun: Run | null = null;
let forwarding = false;

/**
 * The children of one run. A child that fails has said why, or is reported here as killed by a
 * signal that the parent did not send; netproc and chngproc are then stopped at once with SIGTERM,
 * whatever they wait for, and the rest follow as their peers hang up: before, a dead certproc or
 * fileproc left netproc waiting out the CA. The ends of those the parent stopped are its
 * consequence, not news.
 */
export class Run {
  readonly ends: Promise<Outcome>[] = [];
  private readonly children: [Role, ChildProcess][] = [];
  private readonly signalled = new Set<ChildProcess>();
  private stopped = false;

  add(role: Role, child: ChildProcess): ChildProcess {
    this.children.push([role, child]);
    this.ends.push(waitFor(role, child).then((outcome) => {
      if (outcome.signal !== null && !this.signalled.has(child)) warn(role, `killed by ${outcome.signal}`);
      else if (failed(outcome)) debug(role, `exit status ${outcome.code}`);
      if (failed(outcome)) this.stop('SIGTERM', WAIT_ON_THE_WORLD);
      return outcome;
    }));
    return child;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Every child still running (of `roles`) gets `signal`. */
  stop(signal: NodeJS.Signals, roles: readonly Role[] = ROLES): void {
    this.stopped = true;
    for (const [role, child] of this.children) {
      if (!roles.includes(role) || child.exitCode !== null || child.signalCode !== null) continue;
      this.signalled.add(child);
      child.kill(signal);
    }
  }

  /**
   * A signal to the parent ends the children too, and is said once: cron mails why a run ended.
   * The handlers are installed once and reach the latest run: acme-client.conf's domains run one
   * after another, and each run's own handlers would pile up.
   */
  forwardSignals(): void {
    signalledRun = this;
    if (forwarding) return;
    forwarding = true;
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        const run = signalledRun as Run;
        if (!run.stopped) warn('acme-client', `stopped by ${sig}`);
        run.stop(sig);
      });
    }
  }

  /** Stops every child once `deadlineMs` has passed; cancel() when the run has ended. */
  deadline(deadlineMs: number): { overdue: () => boolean; cancel: () => void } {
    let overdue = false;
    const timer = setTimeout(() => {
      overdue = true;
      warn('acme-client', `run not finished after ${Math.round(deadlineMs / 1000)} s, stopping`);
      this.stop('SIGTERM');
    }, deadlineMs);
    return { overdue: () => overdue, cancel: () => clearTimeout(timer) };
  }
}

/**
 * netproc and acctproc alone (--rollover-account-key, --register, --persist-records): netproc's
 * fds 4-6 (keyproc, chngproc, certproc) stay closed, and it opens only acctproc's channel. Its
 * standard output is the run's only with --persist-records, which prints there.
 */
export async function runAccountPair(spawner: Spawner, deadlineMs: number, netStdout: 'ignore' | 'inherit' = 'ignore'): Promise<{ outcomes: Outcome[]; overdue: boolean }> {
  const run = new Run();
  run.forwardSignals();
  const deadline = run.deadline(deadlineMs);
  const net = run.add('netproc', spawner.start('netproc', { stdio: ['ignore', netStdout, 'inherit', 'pipe', 'ignore', 'ignore', 'ignore', 'pipe'] }));
  const channel = net.stdio[FD.netproc.acct] as Readable;
  run.add('acctproc', spawner.start('acctproc', { stdio: ['ignore', 'ignore', 'inherit', channel, 'pipe'] }));
  channel.destroy();
  const outcomes = await Promise.all(run.ends);
  deadline.cancel();
  return { outcomes, overdue: deadline.overdue() };
}
