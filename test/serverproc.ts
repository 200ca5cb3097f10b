// acme-client-server run by a test: its stderr read as it comes, a wait for a line it logs, its end.
// Shared by the server's test files; each adds what it needs (its sign URL, a preload, a bound).

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

export const SERVER = join(ROOT, 'dist', 'acme-client-server.js');

export interface ServerProcess {
  proc: ChildProcess;
  stderr: () => string;
  /** Resolves once the server's log has a line matching `pattern` (after `from` characters); rejects if it ends first. */
  logged: (pattern: RegExp, from?: number) => Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The server with `args`, Node started with `nodeArgs` (a preload), and its runtime directory (and
 * the jails of its acme-client runs) under `tmp`, a work area: a server a test kills leaves
 * nothing in /tmp.
 */
export function spawnServer(args: string[], env: NodeJS.ProcessEnv, tmp: string, nodeArgs: string[] = []): ServerProcess {
  const proc = spawn(process.execPath, [...nodeArgs, SERVER, ...args],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: tmp, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  const waiters: { pattern: RegExp; from: number; resolve: (line: string) => void }[] = [];
  const check = (): void => {
    for (const waiter of [...waiters]) {
      const line = text.slice(waiter.from).split('\n').find((l) => waiter.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    text += d;
    check();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const logged = (pattern: RegExp, from = 0): Promise<string> => Promise.race([
    new Promise<string>((resolve) => {
      waiters.push({ pattern, from, resolve });
      check();
    }),
    exited.then(({ code, signal }) => {
      throw new Error(`server ended (${signal ?? code}) before logging ${pattern}:\n${text}`);
    }),
  ]);
  return { proc, stderr: () => text, logged, exited };
}

/**
 * curl posting a CSR file to the service, as its users' clients do, without blocking this process
 * (the service and its children run while it waits): the HTTP status and the body.
 */
export function postCsr(url: string, csr: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-s', '-w', '\n%{http_code}', '--data-binary', `@${csr}`, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => {
      const nl = out.lastIndexOf('\n');
      resolve({ status: Number(out.slice(nl + 1)), body: out.slice(0, nl) });
    });
  });
}
