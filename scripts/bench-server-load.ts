// bench-server-load: what abuse costs a well-behaved client of acme-client-server. No CA is
// needed: the well-behaved client posts a CSR no auth block admits, answered 403 by the parent
// after the front has read and checked it (the path of every request but the order itself).
//
//   npm run bench-server-load [-- --rounds N]
//
// Printed (Markdown): the time from the server's spawn to the first answer of a request sent the
// moment the port accepts; then the well-behaved client's latency (median and worst of `rounds`
// requests in turn) with nothing else going on, and while each abuse runs: 100 clients dribbling
// their headers a byte a second; connections held open up to max-connections and past it; ten
// clients pushing 64 MB bodies over max-size; 200 clients posting CSRs at once, one order running
// and two queued (the CA a closed port: those fail). The figures go in the README by hand.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePorts } from './pebble-lab.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER = join(ROOT, 'dist', 'acme-client-server.js');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '50' } } });
const rounds = Number(values.rounds);

function tryConnect(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
  });
}

/** One request on its own connection: the status line's code and the milliseconds it took. */
async function request(port: number, head: string, body: Buffer | string = ''): Promise<{ status: string; ms: number }> {
  const began = performance.now();
  const socket = await tryConnect(port);
  if (socket === null) return { status: 'refused', ms: performance.now() - began };
  return new Promise((resolve) => {
    let answer = '';
    socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ status: /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'closed', ms: performance.now() - began }));
    socket.write(head);
    socket.write(body);
  });
}

const post = (body: Buffer): string => `POST /sign HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;

function startServer(config: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [SERVER, '-v', '-f', config], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      if (/answering http-01 challenges/.test(log)) resolve(proc);
    });
    proc.once('exit', () => reject(new Error(`bench-server-load: the server ended:\n${log}`)));
  });
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-server-load-'));
  const servers: ChildProcess[] = [];
  try {
    const [sign, challenge, deadCa] = (await freePorts(3)) as [number, number, number];
    const account = join(work, 'account');
    execFileSync('mkdir', ['-p', account]);
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(account, 'account.pem')]);
    const key = join(work, 'domain.key');
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    const csr = (name: string): Buffer => execFileSync('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`]);
    const refused = csr('outside.example.test');
    const config = (mgmt: string): string => {
      const file = join(work, 'server.ini');
      // The CA: a port nothing listens on; the orders taken fail, each after its acme-client run.
      writeFileSync(file, `[account]\ndir = ${account}\nacme-server = https://127.0.0.1:${deadCa}/dir\n[mgmt]\nlistener = 127.0.0.1:${sign}\n${mgmt}\n`
        + `[verification "http"]\ntype = http01\nlistener = 127.0.0.1:${challenge}\n[auth "load"]\nip = 127.0.0.0/8\ndomain = *.load.test\n`);
      return file;
    };
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: work };

    process.stderr.write('bench-server-load: ten starts\n');
    // Spawn to the first answer, the request sent the moment the port accepts.
    const firstAnswer: number[] = [];
    for (let i = 0; i < 10; i++) {
      const began = performance.now();
      const proc = spawn(process.execPath, [SERVER, '-f', config('')], { env, stdio: 'ignore' });
      let socket: Socket | null = null;
      for (let attempt = 0; socket === null; attempt++) {
        if (attempt === 100_000) throw new Error('bench-server-load: the port never accepted');
        socket = await tryConnect(sign);
      }
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        socket?.setEncoding('utf8').on('data', (d: string) => (text += d)).on('close', () => resolve(text)).on('error', () => undefined);
        socket?.write(`${post(Buffer.from('junk'))}junk`);
      });
      if (!answer.startsWith('HTTP/1.1 415 ')) throw new Error(`bench-server-load: a first request was answered ${answer.slice(0, 40) || 'nothing'}`);
      firstAnswer.push(performance.now() - began);
      await stop(proc);
    }

    const wellBehaved = async (): Promise<string> => {
      const ms: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const answer = await request(sign, post(refused), refused);
        if (answer.status !== '403') return `answered ${answer.status}`;
        ms.push(answer.ms);
      }
      ms.sort((a, b) => a - b);
      return `${ms[Math.floor(ms.length / 2)]?.toFixed(1)} ms / ${ms[ms.length - 1]?.toFixed(1)} ms`;
    };
    const rows: [string, string][] = [];
    const measure = async (name: string, mgmt: string, abuse: () => Promise<() => void>): Promise<void> => {
      process.stderr.write(`bench-server-load: ${name}\n`);
      const proc = await startServer(config(mgmt), env);
      servers.push(proc);
      const end = await abuse();
      rows.push([name, await wellBehaved()]);
      end();
      await stop(proc);
    };

    await measure('nothing else', '', async () => () => undefined);
    await measure('100 clients dribbling their headers, a byte a second', '', async () => {
      const sockets = (await Promise.all(Array.from({ length: 100 }, () => tryConnect(sign)))).filter((s): s is Socket => s !== null);
      for (const s of sockets) s.on('error', () => undefined);
      const drip = setInterval(() => sockets.forEach((s) => s.writable && s.write('X')), 1000);
      for (const s of sockets) s.write('POST /sign HTTP/1.1\r\nX-Slow: ');
      return () => {
        clearInterval(drip);
        sockets.forEach((s) => s.destroy());
      };
    });
    await measure('max-connections = 512: 500 connections held open', '', async () => {
      const sockets = (await Promise.all(Array.from({ length: 500 }, () => tryConnect(sign)))).filter((s): s is Socket => s !== null);
      for (const s of sockets) s.on('error', () => undefined);
      return () => sockets.forEach((s) => s.destroy());
    });
    await measure('ten clients pushing 64 MB bodies over max-size, again and again', '', async () => {
      let running = true;
      const body = Buffer.alloc(64 << 20, 0x41);
      const push = async (): Promise<void> => {
        while (running) await request(sign, 'POST /sign HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n', body);
      };
      const pushers = Array.from({ length: 10 }, push);
      return () => {
        running = false;
        void Promise.all(pushers);
      };
    });
    await measure('200 clients posting CSRs at once (concurrent-orders 1, queue-length 2: the rest answered 503)', 'concurrent-orders = 1\nqueue-length = 2', async () => {
      const bodies = Array.from({ length: 200 }, (_, i) => csr(`c${i}.load.test`));
      const answers = bodies.map((body) => request(sign, post(body), body));
      // Measured while they are answered: the 197 past the queue get 503 at once.
      return () => void Promise.all(answers);
    });

    firstAnswer.sort((a, b) => a - b);
    const lines = [
      `acme-client-server under abuse (\`npm run bench-server-load\`, ${cpus().length} CPUs, Node ${process.version}):`,
      '',
      `Spawn to the first answer of a request sent the moment the port accepts: median ${firstAnswer[5]?.toFixed(0)} ms (${firstAnswer[0]?.toFixed(0)}–${firstAnswer[9]?.toFixed(0)}) over 10 starts.`,
      '',
      `| while | a well-behaved request (403), median / worst of ${rounds} |`,
      '|---|---|',
      ...rows.map(([name, figure]) => `| ${name} | ${figure} |`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const proc of servers) proc.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
