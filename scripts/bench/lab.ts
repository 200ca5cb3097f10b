// Around the lab: our client's revision, checks of the certificates issued, and the ARI proxy and
// the latency relay in front of Pebble.
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Lab } from '../pebble-lab.js';
import { ROOT, ARI_PROXY, RELAY } from './common.js';
/** Which state of our client was measured: the commit, and whether src/ differs from it (read-only git). */
export function clientRevision(): string {
  const git = (a: string[]): string | null => {
    const r = spawnSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const rev = git(['rev-parse', '--short', 'HEAD']);
  if (rev === null) return 'not a git checkout';
  const dirty = git(['status', '--porcelain', '--', 'src', 'scripts/build.mjs', 'package-lock.json']);
  return `commit ${rev}${dirty ? ', with uncommitted changes in src/' : ''}`;
}

export function readPackageVersion(): string {
  try { return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version; } catch { return '?'; }
}

/** A problem with the certificate an issuance left, or undefined. */
export function checkCert(path: string, names: string[], sinceMs: number): string | undefined {
  let pem: string;
  try {
    if (statSync(path).mtimeMs < sinceMs - 1000) return `${path} was not renewed`;
    pem = readFileSync(path, 'utf8');
  } catch { return `no certificate at ${path}`; }
  try {
    const san = new X509Certificate(pem).subjectAltName ?? '';
    const have = new Set(san.split(', ').map((s) => s.replace(/^DNS:/, '')));
    const miss = names.filter((n) => !have.has(n));
    return miss.length > 0 ? `certificate lacks ${miss.length} name(s), e.g. ${miss[0]}` : undefined;
  } catch (e) { return `unreadable certificate ${path}: ${(e as Error).message}`; }
}

export function serialOf(path: string): string | undefined {
  try { return new X509Certificate(readFileSync(path)).serialNumber; } catch { return undefined; }
}

/** scripts/bench-ariproxy.ts, running: the proxy's URL, and its two commands. */
export interface AriProxyProcess {
  directoryUrl: string;
  /** What renewalInfo answers from now on. */
  setWindow(start: number, end: number): Promise<void>;
  /** "METHOD PATH" of every request the proxy got since the last call. */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Starts the ARI proxy in front of the lab's Pebble, from the bench's own copy of node (so that it
 * shares no page with the clients' node) and, like Pebble, before the bench lowers its priority.
 */
export async function startAriProxyProcess(lab: Lab): Promise<AriProxyProcess> {
  const child = spawn(process.execPath, [ARI_PROXY, JSON.stringify({ directoryUrl: lab.directoryUrl, tlsCaFile: lab.tlsCaFile, dir: lab.dir })],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.once('error', () => resolve()); });
  // One answer line for each command line, in turn (the bench awaits each before the next).
  const answer = async <T>(command: object | null): Promise<T> => {
    if (command !== null) child.stdin.write(`${JSON.stringify(command)}\n`);
    const line = await lines.next();
    if (line.done === true) throw new Error(`the ARI proxy (${ARI_PROXY}) ended`);
    return JSON.parse(line.value) as T;
  };
  const { directoryUrl } = await answer<{ directoryUrl: string }>(null);
  return {
    directoryUrl,
    async setWindow(start, end) { await answer({ op: 'window', start, end }); },
    async requests() { return (await answer<{ requests: string[] }>({ op: 'requests' })).requests; },
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** scripts/latency-relay.ts, running in front of Pebble: its directory URL, and the connections it accepted. */
export interface RelayProcess {
  directoryUrl: string;
  /** CLOCK_MONOTONIC ns of each connection accepted since the last call. */
  accepted(): Promise<bigint[]>;
  stop(): Promise<void>;
}

/**
 * Starts the delaying relay in front of the lab's Pebble, in a node process of its own started
 * before the bench lowers its priority (its timers are the latency: they must not wait for a core
 * behind the bench's sampling).
 */
export async function startRelayProcess(lab: Lab, rttMs: number): Promise<RelayProcess> {
  const upstream = new URL(lab.directoryUrl);
  const child = spawn(process.execPath, [RELAY, upstream.port, String(rttMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.once('error', () => resolve()); });
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(`the relay (${RELAY}) ended`);
    return line.value;
  };
  const port = Number(await next());
  return {
    directoryUrl: `${upstream.protocol}//${upstream.hostname}:${port}${upstream.pathname}`,
    async accepted() {
      child.stdin.write('\n');
      return (JSON.parse(await next()) as string[]).map((ns) => BigInt(ns));
    },
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}
