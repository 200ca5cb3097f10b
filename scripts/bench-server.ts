// bench-server: acme-client-server under load, against a local Pebble with nginx in front.
//
//   npm run bench-server [-- --clients N] [--hits N] [--out FILE | --no-out]
//
// Twenty clients (by default) post distinct CSRs at once; reported are the certificates per second
// (clients / time until the last answer), the wall time of the slowest answer, and the peak of the
// proportional set size (PSS) summed over the server's whole process tree (frontproc and every
// acme-client run with its children), sampled every 50 ms. Then one of the CSRs is posted again
// `hits` times in turn: the time of a cache hit (median and range), with Pebble's request count
// checked unchanged. The Markdown goes to stdout and into bench/RESULTS.md between the markers
// <!-- bench-server --> and <!-- /bench-server -->, replacing only that part (scripts/bench.ts
// keeps it when it writes the rest of the file anew).

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePorts, startLab } from './pebble-lab.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER = join(ROOT, 'dist', 'acme-client-server.js');
const START = '<!-- bench-server -->';
const END = '<!-- /bench-server -->';

const { values } = parseArgs({ options: { clients: { type: 'string', default: '20' }, hits: { type: 'string', default: '20' }, out: { type: 'string' }, 'no-out': { type: 'boolean', default: false } } });
const clients = Number(values.clients);
const hits = Number(values.hits);
if (!(clients >= 1 && clients <= 200 && hits >= 1 && hits <= 1000)) throw new Error('bench-server: --clients 1..200, --hits 1..1000');


/** Every process below `root` (and root), from /proc. */
function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const all: number[] = [];
  const walk = (pid: number): void => {
    all.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root);
  return all;
}

function pssKiB(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function post(url: string, body: Buffer): Promise<{ status: number; text: string; ms: number }> {
  const began = performance.now();
  const res = await fetch(url, { method: 'POST', body: body.toString('latin1') });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - began };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-server-'));
  const [sign, challenge] = (await freePorts(2)) as [number, number];
  const lab = await startLab({ challengeUpstreams: [`127.0.0.1:${challenge}`] });
  let server: ChildProcess | null = null;
  try {
    const cache = join(work, 'cache');
    mkdirSync(cache);
    const config = join(work, 'server.ini');
    writeFileSync(config, `[account]\ndir = ${join(work, 'account')}\nacme-server = ${lab.directoryUrl}\n[mgmt]\nlistener = 127.0.0.1:${sign}\n`
      + `[verification "http"]\ntype = http01\nlistener = 127.0.0.1:${challenge}\n[storage "file"]\ntype = file\ndirectory = ${cache}\n`
      + '[auth "bench"]\nip = 127.0.0.0/8\ndomain = *.bench.example.test\n');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    execFileSync(process.execPath, [SERVER, '--register', '--agree-tos', '-f', config], { env, stdio: 'inherit' });
    const csrs = Array.from({ length: clients }, (_, i) => {
      const key = join(work, `client${i}.key`);
      execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
      return execFileSync('openssl', ['req', '-new', '-sha256', '-key', key, '-subj', `/CN=c${i}.bench.example.test`, '-addext', `subjectAltName=DNS:c${i}.bench.example.test`]);
    });

    const started = spawn(process.execPath, [SERVER, '-v', '-f', config], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    server = started;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      started.stderr?.setEncoding('utf8').on('data', (d: string) => {
        log += d;
        if (/listening for POST \/sign/.test(log)) resolve();
      });
      started.once('exit', () => reject(new Error(`bench-server: the server ended:\n${log}`)));
    });

    let peakKiB = 0;
    const sampler = setInterval(() => {
      peakKiB = Math.max(peakKiB, tree(started.pid as number).reduce((sum, pid) => sum + pssKiB(pid), 0));
    }, 50);
    const requestsBefore = lab.requestCount();
    const began = performance.now();
    const answers = await Promise.all(csrs.map((csr) => post(`http://127.0.0.1:${sign}/sign`, csr)));
    const loadSeconds = (performance.now() - began) / 1000;
    clearInterval(sampler);
    const failed = answers.filter((a) => a.status !== 200);
    if (failed.length > 0) throw new Error(`bench-server: ${failed.length} of ${clients} failed: ${failed[0]?.status} ${failed[0]?.text}\n${log.split('\n').filter((l) => / 500: /.test(l)).slice(0, 3).join('\n')}`);
    const caRequests = lab.requestCount() - requestsBefore;

    const beforeHits = lab.requestCount();
    const hitMs: number[] = [];
    for (let i = 0; i < hits; i++) {
      const hit = await post(`http://127.0.0.1:${sign}/sign`, csrs[0] as Buffer);
      if (hit.status !== 200 || hit.text !== answers[0]?.text) throw new Error('bench-server: a cache hit did not return the same certificate');
      hitMs.push(hit.ms);
    }
    if (lab.requestCount() !== beforeHits) throw new Error('bench-server: a cache hit asked the CA');

    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const lines = [
      START,
      '## acme-client-server: many clients at once, and the cache',
      '',
      `Measured ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} by \`npm run bench-server\` (scripts/bench-server.ts) on ${cpus().length} CPUs, `
        + `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, against one local Pebble behind nginx. Commit ${commit}.`,
      `${clients} clients post distinct CSRs (EC P-256, one name each) at once to one server (file storage; at most four orders run at once, `
        + 'each an acme-client --csr run of five processes).',
      '',
      '| measure | value |',
      '|---|---|',
      `| certificates per second, ${clients} at once | ${(clients / loadSeconds).toFixed(2)} |`,
      `| time until the last of the ${clients} answers | ${loadSeconds.toFixed(2)} s |`,
      `| slowest / fastest single answer | ${(Math.max(...answers.map((a) => a.ms)) / 1000).toFixed(2)} s / ${(Math.min(...answers.map((a) => a.ms)) / 1000).toFixed(2)} s |`,
      `| peak PSS of the server's process tree | ${(peakKiB / 1024).toFixed(0)} MiB |`,
      `| ACME requests for the ${clients} certificates | ${caRequests} |`,
      `| cache hit (same CSR again), median of ${hits} | ${median(hitMs).toFixed(1)} ms (${Math.min(...hitMs).toFixed(1)}–${Math.max(...hitMs).toFixed(1)}) |`,
      '| ACME requests for the cache hits | 0 |',
      END,
    ];
    const section = lines.join('\n');
    process.stdout.write(`${section}\n`);
    const out = values['no-out'] ? null : values.out ?? join(ROOT, 'bench', 'RESULTS.md');
    if (out !== null) {
      const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
      const at = previous.indexOf(START);
      const end = previous.indexOf(END);
      const next = at >= 0 && end > at ? previous.slice(0, at) + section + previous.slice(end + END.length) : `${previous.replace(/\n*$/, '\n\n')}${section}\n`;
      writeFileSync(out, next);
    }
    // The hashes the cache is keyed by: one directory per certificate.
    const entries = readdirSync(cache);
    const expected = new Set(csrs.map((csr) => createHash('sha256').update(Buffer.from(csr.toString().replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64')).digest('hex')));
    if (entries.length !== clients || !entries.every((e) => expected.has(e))) throw new Error('bench-server: the cache does not hold one entry per CSR');
  } finally {
    server?.kill('SIGTERM');
    await lab.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
