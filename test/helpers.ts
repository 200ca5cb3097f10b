// Shared by the end-to-end tests: run the built client as a user would, and make key files with
// the openssl CLI (keys made by another tool are what users bring).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, lstatSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLIENT = join(ROOT, 'dist', 'acme-client.js');

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The other Node the tests run on, installed by scripts/setup.mjs from the npm registry. */
export const NODE24 = join(ROOT, '.cache', 'node24', 'node_modules', '.bin', 'node');

/** options.node: the Node that runs the client (default: the one running the tests). */
export function runClient(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; uid?: number; gid?: number; client?: string; cwd?: string; node?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, [options.client ?? CLIENT, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
    });
    child.stdin.end(options.input ?? '');
    outcome(child).then(resolve, reject);
  });
}

/** What a child with piped stdout and stderr said, and how it ended. */
export function outcome(child: ChildProcess): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

export const isRoot = process.getuid?.() === 0;

/** The children whose confinement plan -v printed: those that started, sorted. */
export function childrenStarted(stderr: string): string[] {
  return [...stderr.matchAll(/^acme-client: (\w+): user .*; network /gm)].map((m) => m[1] as string).sort();
}

/** The renewal state file beside the certificates (src/defaults.ts). */
export const STATE_FILE = 'acme-client-state.json';
/** What a certificate directory holds after an issuance. */
export const ISSUED_SET = [STATE_FILE, 'cert.pem', 'chain.pem', 'fullchain.pem'];

const failedPrerequisites = new Set<string>();

/**
 * A test's `skip` option: the reason it cannot run here, or false. Outside CI the tests are
 * skipped with that reason; under CI=true (CI runs as root on a machine npm test has set up) a
 * missing prerequisite is a failure instead, once per reason and file: a suite that quietly skips
 * there could hide anything.
 */
export function prerequisite(reason: string | false | undefined): string | false {
  if (reason === undefined || reason === false) return false;
  if (process.env.CI === 'true' && !failedPrerequisites.has(reason)) {
    failedPrerequisites.add(reason);
    test(`prerequisite: ${reason}`, () => assert.fail(`${reason} (under CI=true a skip is a failure)`));
  }
  return reason;
}

/** prerequisite() for what most end-to-end tests need: root, and Pebble, challtestsrv and nginx. */
export function needsRootAndLab(labUnavailable: () => string | undefined): string | false {
  return prerequisite(!isRoot ? 'needs root (these tests run acme-client as root)' : labUnavailable());
}

/** Work areas made by this test file, removed when its process ends. */
const workDirs: string[] = [];
process.once('exit', () => {
  for (const dir of workDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // something still mounted there: its test has already failed on that
    }
  }
});

/** A fresh work area: certs/, private/ (0700), www/ (an unserved challenge dir). */
export function workDir(): { dir: string; certs: string; priv: string; www: string } {
  const dir = mkdtempSync(join(tmpdir(), 'acme-client-test-'));
  workDirs.push(dir);
  const certs = join(dir, 'certs');
  const priv = join(dir, 'private');
  const www = join(dir, 'www');
  mkdirSync(certs);
  mkdirSync(priv, { mode: 0o700 });
  mkdirSync(www);
  return { dir, certs, priv, www };
}

/** An account and a domain key (EC P-256, made by openssl: fast) in a work area's private/. */
export function ecKeys(w: { priv: string }): { acct: string; dom: string } {
  return { acct: makeKey(join(w.priv, 'account.pem'), 'ec-p256-sec1'), dom: makeKey(join(w.priv, 'domain.pem'), 'ec-p256-sec1') };
}

export type KeyKind = 'rsa2048-pkcs8' | 'rsa2048-pkcs1' | 'ec-p256-sec1' | 'ec-p256-params' | 'ec-p384-pkcs8';

export function makeKey(path: string, kind: KeyKind): string {
  const sh = (cmd: string): void => {
    execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  switch (kind) {
    case 'rsa2048-pkcs8': sh(`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '${path}'`); break;
    case 'rsa2048-pkcs1': sh(`openssl genrsa -traditional -out '${path}' 2048`); break;
    case 'ec-p256-sec1': sh(`openssl ecparam -name prime256v1 -genkey -noout -out '${path}'`); break;
    case 'ec-p256-params': sh(`openssl ecparam -name prime256v1 -genkey -out '${path}'`); break;
    case 'ec-p384-pkcs8': sh(`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out '${path}'`); break;
  }
  return path;
}

export function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/**
 * Runs the client with -t: every line it prints is handed to `answer`, whose result (a line, or
 * null to close stdin) is written back, as a dns-01 hook wrapper would.
 */
export function runWithHook(args: string[], env: NodeJS.ProcessEnv, answer: (line: string, pid: number) => Promise<string | null>, client = CLIENT, user?: { uid: number; gid: number }): Promise<RunResult & { lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [client, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'], ...user });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const lines: string[] = [];
    let queue = Promise.resolve();
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        lines.push(line);
        queue = queue.then(async () => {
          const reply = await answer(line, child.pid as number);
          if (reply === null) child.stdin.end();
          else child.stdin.write(reply);
        }).catch((err: unknown) => {
          // A failed assertion in the hook must fail the test, not leave the client waiting.
          child.kill('SIGKILL');
          reject(err);
        });
      }
    });
    child.stdin.on('error', () => undefined);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr, lines }));
  });
}

/** Each file of a directory and its text: to compare, or to put a file back as it was. */
export function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) out[name] = readFileSync(join(dir, name), 'utf8');
  return out;
}

/** Each file of a directory with its mode and bytes: "unchanged" means byte for byte, modes too. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    out[name] = `${(statSync(path).mode & 0o7777).toString(8)} ${readFileSync(path).toString('base64')}`;
  }
  return out;
}

/**
 * Waits until `condition` holds, looking every few milliseconds (the test process yields the CPU
 * to the processes it waits for), for at most 15 s. Whether it came to hold.
 */
export async function eventually(condition: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/**
 * A process's /proc/PID/stat fields from the state on (proc(5)'s third field: [0] the state letter,
 * [1] the parent, [2] the process group, [16] the nice value), read past the command name, which
 * may hold spaces and parentheses; null once the process is gone.
 */
export function procStat(pid: number): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process tree of a running client: role -> pid. */
export function childrenOf(parent: number): Map<string, number> {
  const found = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(procStat(Number(entry))?.[1]) !== parent) continue;
      const role = /procs\/(\w+)\.js/.exec(readFileSync(`/proc/${entry}/cmdline`, 'utf8'))?.[1];
      if (role) found.set(role, Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Whether Pebble 2.10 can take this certificate as an order's "replaces": it answers 500 for a
 * serial whose DER form begins with a zero byte (about one certificate in 200; the client then
 * orders without it, boulder.test). Tests of how "replaces" is answered issue such a one anew.
 */
export function pebbleTakesReplaces(certId: string): boolean {
  return Buffer.from(certId.split('.')[1] ?? '', 'base64url')[0] !== 0;
}

/** The unprivileged user the tests that are not root's run as (Node's spawn drops every group). */
export const NOBODY = { uid: 65534, gid: 65534 };

/** A work area (workDir()) that `user` owns, all of it: a run as that user can use every file. */
export function ownedBy(w: { dir: string }, user: { uid: number; gid: number }): void {
  const walk = (path: string): void => {
    lchownSync(path, user.uid, user.gid);
    if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(w.dir);
  // mkdtemp makes it 0700: the user must reach it (its private/ stays 0700).
  chmodSync(w.dir, 0o755);
}

/** A CA file the user can read (the lab's TLS CA is root's, in a directory of root's). */
export function readableCopy(file: string, w: { dir: string }, user: { uid: number; gid: number }): string {
  const copy = join(w.dir, 'lab-ca.pem');
  writeFileSync(copy, readFileSync(file), { mode: 0o644 });
  chownSync(copy, user.uid, user.gid);
  return copy;
}

/**
 * Runs the client as `user` in a user namespace of its own (every id mapped to itself) in which
 * the kernel refuses any further user namespace (user.max_user_namespaces=0 there), as a kernel
 * that refuses them to unprivileged users does. The limit belongs to that namespace alone: no
 * other process on the machine sees it, and it ends with the run. Needs root (it writes the maps).
 */
export function runWithoutUserNamespaces(args: string[], options: { env: NodeJS.ProcessEnv; user: { uid: number; gid: number }; client?: string }): Promise<RunResult> {
  // The first shell waits for its ids to be mapped, then executes the second: only a program
  // started after the mapping is the namespace's root to the kernel's sysctl checks.
  const handshake = 'echo ready >&3; read go <&3; exec 3>&-; exec "$@"';
  const limit = 'echo 0 > /proc/sys/user/max_user_namespaces; U=$1; G=$2; shift 2; exec /usr/bin/setpriv --reuid="$U" --regid="$G" --clear-groups -- "$@"';
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/unshare', ['--user', '--', '/bin/sh', '-ec', handshake, 'sh', '/bin/sh', '-ec', limit, 'sh',
      String(options.user.uid), String(options.user.gid), process.execPath, options.client ?? CLIENT, ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const ready = child.stdio[3] as Duplex;
    ready.once('data', () => {
      // The shell has entered its namespace and waits: its ids are mapped, then it goes on.
      try {
        writeFileSync(`/proc/${child.pid}/uid_map`, '0 0 4294967295\n');
        writeFileSync(`/proc/${child.pid}/gid_map`, '0 0 4294967295\n');
        ready.end('go\n');
      } catch (err) {
        child.kill('SIGKILL');
        reject(err);
      }
    });
    ready.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/**
 * The reason tests of children in user namespaces cannot run here, or false: whether nobody may
 * make a user namespace (asked as nobody: root always may). Needs root, to become nobody.
 */
export function nobodyHasNoUserNamespaces(): string | false {
  const run = spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', '/usr/bin/unshare', '--user', '--map-root-user', '--', '/bin/true']);
  return run.status === 0 ? false : 'the kernel refuses nobody a user namespace here';
}
