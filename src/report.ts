// --isolation-report: what confinement each child actually got on this machine, as the child
// itself observes it after confining itself, and what that confinement costs: all six children
// started confined and then unconfined, timed until each has described itself, with the
// proportional set size (PSS) of each summed while they are all alive.

import type { ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import type { Role } from './ipc/roles.js';
import type { Capabilities, ChildPlan } from './isolation.js';
import { describePlan } from './isolation.js';

interface SelfReport {
  role: string;
  uid?: number;
  gid?: number;
  groups?: number[];
  interfaces?: string[];
  readsShadow?: boolean;
  spawns?: boolean;
}

interface Round {
  reports: Map<Role, SelfReport>;
  /** Each child's user namespace as seen from here, while it is alive. */
  namespaces: Map<Role, string>;
  failures: Map<Role, string>;
  wallMs: number;
  pssKiB: number;
}

function pssKiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const match = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Which user namespace a child runs in, read by the parent: a child cannot see beyond its own, and
 * its uid there (0, not root) says nothing without the map.
 */
function userNamespaceOf(pid: number | undefined): string {
  if (pid === undefined) return 'unknown';
  try {
    if (readlinkSync(`/proc/${pid}/ns/user`) === readlinkSync('/proc/self/ns/user')) return "the parent's";
    const [inside, outside] = readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/);
    return `its own (uid ${inside} there is uid ${outside} here)`;
  } catch {
    return 'unknown';
  }
}

async function round(roles: Role[], start: (role: Role) => ChildProcess): Promise<Round> {
  const began = process.hrtime.bigint();
  const children = roles.map((role) => ({ role, child: start(role) }));
  const reports = new Map<Role, SelfReport>();
  const failures = new Map<Role, string>();
  await Promise.all(children.map(({ role, child }) => new Promise<void>((resolve) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        reports.set(role, JSON.parse(out.slice(0, nl)) as SelfReport);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      if (!reports.has(role)) failures.set(role, `ended before reporting (${signal ?? `exit status ${code}`})`);
      resolve();
    });
    child.once('error', (err) => {
      failures.set(role, err.message);
      resolve();
    });
  })));
  const wallMs = Number(process.hrtime.bigint() - began) / 1e6;
  const namespaces = new Map(children.map(({ role, child }) => [role, userNamespaceOf(child.pid)]));
  const pss = children.reduce((sum, { role, child }) => sum + (reports.has(role) ? pssKiB(child.pid) : 0), 0);
  await Promise.all(children.map(({ child }) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.stdin?.end();
  })));
  return { reports, namespaces, failures, wallMs, pssKiB: pss };
}

/** What a run that is not root's leaves open: said with every report. */
function openToInvokingUser(caps: Capabilities): string[] {
  const who = `not root: every child runs as uid ${process.getuid?.()}, the invoking user, with that user's access to files;`;
  return caps.userns
    ? [who, 'the kernel layers (user, network and mount namespaces) keep the children from each other and from',
      'the network, but not from other processes of that user, which can read their memory and signal them.']
    : [who, 'without user namespaces, the permission model alone confines them: each can read the others\' memory.'];
}

export async function isolationReport(plans: Record<Role, ChildPlan>, caps: Capabilities, start: (role: Role, unconfined: boolean) => ChildProcess): Promise<number> {
  const roles = Object.keys(plans) as Role[];
  const confined = await round(roles, (role) => start(role, false));
  const unconfined = await round(roles, (role) => start(role, true));
  const lines: string[] = ['acme-client isolation report', ''];
  for (const missing of caps.missing) lines.push(`missing layer: ${missing}`);
  if (caps.missing.length > 0) lines.push('');
  if (!caps.root) lines.push(...openToInvokingUser(caps), '');
  for (const role of roles) {
    const seen = confined.reports.get(role);
    const plan = plans[role];
    lines.push(`${role}:`);
    const failure = confined.failures.get(role);
    if (failure !== undefined) lines.push(`  FAILED to start confined: ${failure}`);
    else lines.push(`  observed: uid ${seen?.uid} gid ${seen?.gid} groups [${(seen?.groups ?? []).join(',')}]`
      + ` interfaces [${(seen?.interfaces ?? []).join(',')}] reads /etc/shadow: ${seen?.readsShadow ? 'yes' : 'no'}`
      + ` spawns processes: ${seen?.spawns ? 'yes' : 'no'} user namespace: ${confined.namespaces.get(role)}`);
    lines.push(`  planned:  ${describePlan(plan)}`);
    lines.push(`  not applied: ${plan.missing.length > 0 ? plan.missing.join(', ') : 'nothing'}`);
  }
  const mib = (kib: number): string => (kib / 1024).toFixed(1);
  lines.push('', 'cost of confinement (all six children started at once, until each has confined itself and reported):');
  lines.push(`  confined:   ${confined.wallMs.toFixed(0)} ms, ${mib(confined.pssKiB)} MiB PSS`);
  lines.push(`  unconfined: ${unconfined.wallMs.toFixed(0)} ms, ${mib(unconfined.pssKiB)} MiB PSS`);
  lines.push(`  difference: ${(confined.wallMs - unconfined.wallMs).toFixed(0)} ms, ${mib(confined.pssKiB - unconfined.pssKiB)} MiB`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return confined.failures.size > 0 ? 1 : 0;
}
