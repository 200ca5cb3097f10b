// What acme-client-server does for an admitted CSR: the cached certificate while it is fresh,
// else one run of acme-client, the acme-client.js beside this file, as a coprocess:
//
//   acme-client --csr <runtime>/<sha256>.csr -c <cache>/<sha256> -f <account dir>/account.pem
//               --server <acme-server> -t http-01 [-F] name...
//
// or, for a dns01-dnsUpdate verification, the same behind acme-client-dns01, which publishes the
// TXT records with signed RFC 2136 updates to the block's dns-server:
//
//   acme-client-dns01 --provider nsupdate [--tsig-key-file <key>] --nsupdate-server <dns-server>
//                     --dns-server <dns-server> -- <acme-client's arguments, without -t>
//
// or, for a dns-persist01 verification, acme-client alone, which reads the standing records
// published for the service's account and publishes nothing:
//
//   acme-client <the same options> -t dns-persist-01 [--dns-server <dns-server>] name...
//
// Its children do the ACME work, each confined as in any run: acctproc alone reads the account
// key, netproc alone talks to the CA, certproc reads and checks the CSR again (it must name
// exactly the names given, so a lying front child gains nothing) and checks the chain, fileproc
// alone writes the cache directory, atomically: a run killed mid-order leaves the entry as it was.
// Each `http-01 <identifier> <key authorization>` line it prints is published to the front child,
// and echoed back once the front child has it. Identical CSRs in flight share one run.

import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACME_CLIENT, ACME_CLIENT_DNS01, acmeClientEnv } from './coprocess.js';
import type { Storage, Verification } from './config.js';
import { readFileCapped } from '../fsutil/read.js';
import { BUSY_RETRY_AFTER_S } from '../ipc/messages.js';
import { debug, relayChildOutput, warn } from '../log.js';

/** What goes back to the client: status, one line (or the chain), and for 429 when to retry. */
export interface Answer {
  status: number;
  body: string;
  retryAfter: number | null;
  /** For the log: cached, issued, or why not. */
  note: string;
}

export interface OrderSettings {
  acmeServer: string;
  accountKey: string;
  verbose: number;
  /** [mgmt] concurrent-orders: acme-client runs at once. */
  concurrentOrders: number;
  /** [mgmt] queue-length: orders that may wait for a run. */
  queueLength: number;
}

export interface Publisher {
  publish(token: string, keyAuthorization: string): Promise<void>;
  withdraw(token: string): void;
}

const MAX_CHAIN_FILE = 512 * 1024;
const DAY_MS = 86_400_000;
/** A CA that rate-limits without saying until when is asked again after an hour at the earliest. */
const DEFAULT_RETRY_AFTER_S = 3600;
const CHALLENGE_LINE = /^http-01 (\S+) (([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+)$/;

/**
 * The 200 answer as the ACME Management Server lays it out: the certificate, an empty line, then
 * its chain. The clients written for it split the body at that empty line.
 */
export function acmemsLayout(fullchain: string): string {
  const end = /-----END CERTIFICATE-----\r?\n/.exec(fullchain);
  if (end === null) return fullchain;
  const cut = end.index + end[0].length;
  const chain = fullchain.slice(cut).replace(/^\s+/, '');
  return chain === '' ? fullchain : `${fullchain.slice(0, cut)}\n${chain}`;
}

/** Whether a cached chain is still handed out: until a third of its lifetime (or renew-within days) is left. */
export function cacheIsFresh(pem: string, renewWithinDays: number | null, now: number): boolean {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(pem);
  } catch {
    return false;
  }
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  const left = notAfter - now;
  return renewWithinDays === null ? left > (notAfter - notBefore) / 3 : left > renewWithinDays * DAY_MS;
}

/** The answer for a run that failed, from the one-line reasons acme-client gave. */
export function failureAnswer(stderr: string): Answer {
  const lines = stderr.split('\n').filter((line) => line !== '');
  const reason = (pattern: RegExp): string | undefined => lines.find((line) => pattern.test(line));
  const rateLimited = reason(/urn:ietf:params:acme:error:rateLimited/);
  if (rateLimited !== undefined) {
    const until = /retry after (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)/.exec(rateLimited)?.[1];
    const seconds = until === undefined ? DEFAULT_RETRY_AFTER_S : Math.max(1, Math.ceil((Date.parse(until) - Date.now()) / 1000));
    return { status: 429, body: 'rate limited by the CA: try again later', retryAfter: seconds, note: rateLimited };
  }
  // A dns-persist-01 record missing or wrong fails as the CA's validation would, before it is asked.
  const invalid = reason(/: validation failed: |: (no )?TXT record at _validation-persist\./);
  if (invalid !== undefined) {
    return { status: 421, body: `validation failed: ${invalid.replace(/^acme-client: /, '')}`, retryAfter: null, note: invalid };
  }
  return { status: 500, body: 'internal error: the server has logged it', retryAfter: null, note: lines.join(' | ') || 'acme-client failed without a reason' };
}

/** At most `limit` at once; the rest wait their turn in order. The limit may change meanwhile. */
class Turns {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = limit;
    this.startWaiting();
  }

  /** Whether one more would have to wait behind `queueLength` already waiting. */
  full(queueLength: number): boolean {
    return this.running >= this.limit && this.queue.length >= queueLength;
  }

  async take(): Promise<() => void> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    return () => {
      this.running--;
      this.startWaiting();
    };
  }

  private startWaiting(): void {
    while (this.running < this.limit) {
      const next = this.queue.shift();
      if (next === undefined) return;
      this.running++;
      next();
    }
  }
}

export class Orders {
  private readonly inFlight = new Map<string, Promise<Answer>>();
  private readonly turns: Turns;
  private readonly runs = new Set<import('node:child_process').ChildProcess>();
  /** The CSRs handed to acme-client: private to this process, gone when it ends. */
  private readonly runtimeDir = mkdtempSync(join(tmpdir(), 'acme-client-server-'));

  constructor(private settings: OrderSettings, private readonly front: Publisher) {
    this.turns = new Turns(settings.concurrentOrders);
  }

  reconfigure(settings: OrderSettings): void {
    this.settings = settings;
    this.turns.setLimit(settings.concurrentOrders);
  }

  /** Orders running or waiting. */
  get pending(): number {
    return this.inFlight.size;
  }

  /** The certificate for a CSR admitted to `storage`; identical CSRs arriving together share one. */
  sign(csrPem: Buffer, sha256: string, names: string[], storage: Storage, verification: Verification): Promise<Answer> {
    const key = `${storage.type === 'file' ? storage.directory : ''}\0${sha256}`;
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    const answer = this.serve(csrPem, sha256, names, storage, verification).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, answer);
    return answer;
  }

  private async serve(csrPem: Buffer, sha256: string, names: string[], storage: Storage, verification: Verification): Promise<Answer> {
    const certDir = storage.type === 'file' ? join(storage.directory, sha256) : mkdtempSync(join(this.runtimeDir, 'order-'));
    try {
      let cached: string | null = null;
      if (storage.type === 'file') {
        cached = readFileCapped(join(certDir, 'fullchain.pem'), MAX_CHAIN_FILE);
        if (cached !== null && cacheIsFresh(cached, storage.renewWithinDays, Date.now())) return { status: 200, body: acmemsLayout(cached), retryAfter: null, note: 'from the cache' };
      }
      if (this.turns.full(this.settings.queueLength)) {
        return { status: 503, body: 'busy: every order slot is taken and the queue is full; try again later', retryAfter: BUSY_RETRY_AFTER_S, note: 'queue full' };
      }
      if (storage.type === 'file') mkdirSync(certDir, { recursive: true, mode: 0o755 });
      const done = await this.turns.take();
      try {
        const csrFile = join(this.runtimeDir, `${sha256}.csr`);
        writeFileSync(csrFile, csrPem, { mode: 0o600 });
        debug(names.join(','), `ordering (${verification.type}${cached === null ? '' : ', renewing the cached certificate'})`);
        const { status, stderr } = await this.runAcmeClient(verification, csrFile, certDir, names, cached !== null);
        rmSync(csrFile, { force: true });
        if (status !== 0 && status !== 2) return failureAnswer(stderr);
        const chain = readFileCapped(join(certDir, 'fullchain.pem'), MAX_CHAIN_FILE);
        if (chain === null) return failureAnswer(`acme-client: ${certDir}: exit status ${status} without a certificate`);
        return { status: 200, body: acmemsLayout(chain), retryAfter: null, note: 'issued' };
      } finally {
        done();
      }
    } finally {
      if (storage.type === 'none') rmSync(certDir, { recursive: true, force: true });
    }
  }

  /** The command of one order: acme-client speaking http-01 to us, or on its own (dns-persist-01), or acme-client-dns01 in front of it. */
  private command(verification: Verification, options: string[], names: string[]): string[] {
    if (verification.type === 'http01') return [ACME_CLIENT, ...options, '-t', 'http-01', ...names];
    if (verification.type === 'dns-persist01') {
      return [ACME_CLIENT, ...options, '-t', 'dns-persist-01', ...(verification.dnsServer === null ? [] : ['--dns-server', verification.dnsServer]), ...names];
    }
    const server = verification.dnsServers[0] as string;
    // Without tsig-key-file (the Management Server's own setups) the updates go unsigned.
    const key = verification.tsigKeyFile === null ? [] : ['--tsig-key-file', verification.tsigKeyFile];
    return [ACME_CLIENT_DNS01, '--provider', 'nsupdate', ...key, '--nsupdate-server', server, '--dns-server', server, '--', ...options, ...names];
  }

  private runAcmeClient(verification: Verification, csrFile: string, certDir: string, names: string[], force: boolean): Promise<{ status: number | null; stderr: string }> {
    const { acmeServer, accountKey, verbose } = this.settings;
    const args = this.command(verification, ['--csr', csrFile, '-c', certDir, '-f', accountKey, '--server', acmeServer,
      ...(force ? ['-F'] : []), ...(verbose > 1 ? ['-v'] : [])], names);
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: acmeClientEnv() });
    this.runs.add(child);
    const published: string[] = [];
    let stderr = '';
    let pending = '';
    let lines = Promise.resolve();
    child.stdin.on('error', () => undefined);
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      if (verbose > 1) relayChildOutput(text, 'debug');
    });
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        lines = lines.then(async () => {
          const match = CHALLENGE_LINE.exec(line);
          if (match === null) {
            warn(csrFile, `unexpected line from acme-client: ${line.slice(0, 120)}`);
            child.stdin.end();
            return;
          }
          const [, identifier, keyAuthorization, token] = match as unknown as [string, string, string, string];
          published.push(token);
          await this.front.publish(token, keyAuthorization);
          debug(identifier, 'http-01 challenge published');
          child.stdin.write(`${line}\n`);
        }).catch((err: Error) => {
          warn(csrFile, `cannot publish a challenge: ${err.message}`);
          child.stdin.end();
        });
      }
    });
    return new Promise((resolve) => {
      child.once('error', (err) => {
        stderr += `acme-client: ${ACME_CLIENT}: cannot start: ${err.message}\n`;
      });
      child.once('close', (status) => {
        this.runs.delete(child);
        for (const token of published) this.front.withdraw(token);
        resolve({ status, stderr });
      });
    });
  }

  /** SIGTERM past the grace: the runs stop (their children remove what they published). */
  stopRuns(): void {
    for (const child of this.runs) child.kill('SIGTERM');
  }

  close(): void {
    rmSync(this.runtimeDir, { recursive: true, force: true });
  }
}
