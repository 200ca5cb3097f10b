// Claims of acme-client-dns01(1), against real BIND servers (test/bind-lab.ts) and Pebble:
//   - a kill of acme-client-dns01 is passed on to acme-client, and the records added are removed
//     after (src/dns01/main.ts);
//   - --nsupdate-server is where the updates go;
//   - "name: no zone found by SOA lookups through the resolver; give --zone", and --zone then
//     publishing where SOA lookups cannot tell (a split view: a resolver that has no SOA records);
//   - "If that name is a CNAME, the record is published where the CNAME chain leads", with nsupdate;
//   - an exec hook "is killed after five minutes": not waited for; acme-client-dns01 runs with
//     test/virtual-clock.ts preloaded, which reports the long timers armed and fires them on SIGUSR2.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { BindLab, bindUnavailable, startBind } from './bind-lab.js';
import { ROOT, ecKeys, eventually, isRoot, prerequisite, workDir, procStat } from './helpers.js';

const DNS01 = join(ROOT, 'dist', 'acme-client-dns01.js');
const VIRTUAL_CLOCK = join(ROOT, 'build', 'test', 'virtual-clock.js');
const skip = prerequisite(!isRoot ? 'needs root (BIND listens on port 53)' : labUnavailable() ?? bindUnavailable());
const TYPE_SOA = 6;

/** A bounded wait for an event: the promise, or a failure saying what did not happen. */
function within<T>(promise: Promise<T>, what: string, ms = 120_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms / 1000} s: ${what}`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Polls an asynchronous condition until it holds (every few ms, at most 30 s): whether it did. */
async function until(condition: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

interface Run {
  pid: number;
  stderr: () => string;
  /** Resolves once stderr has a line matching `pattern`. */
  logged: (pattern: RegExp) => Promise<string>;
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** acme-client-dns01 started (with the virtual clock preloaded), watched as it runs. */
function start(args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(process.execPath, ['--import', VIRTUAL_CLOCK, DNS01, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const check = (): void => {
    for (const waiter of [...waiters]) {
      const line = text.split('\n').find((l) => waiter.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    text += d;
    check();
  });
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.once('close', (status, signal) => resolve({ status, signal, stderr: text }));
  });
  const logged = (pattern: RegExp): Promise<string> => within(Promise.race([
    new Promise<string>((resolve) => {
      waiters.push({ pattern, resolve });
      check();
    }),
    done.then(() => {
      throw new Error(`ended before logging ${pattern}:\n${text}`);
    }),
  ]), `logging ${pattern}`);
  return { pid: child.pid as number, stderr: () => text, logged, done };
}

/**
 * A resolver with a split view's blind spot: it has no SOA record for anything (NXDOMAIN), and
 * asks `upstream` every other question.
 */
class NoSoaResolver {
  private readonly socket: UdpSocket = createSocket('udp4');
  port = 0;

  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    this.socket.on('message', (query, client) => {
      let at = 12;
      while (at < query.length && query[at] !== 0) at += (query[at] as number) + 1;
      const questionEnd = at + 5;
      if (questionEnd <= query.length && query.readUInt16BE(at + 1) === TYPE_SOA) {
        const answer = Buffer.concat([query.subarray(0, 12), query.subarray(12, questionEnd)]);
        answer[2] = 0x80 | ((query[2] as number) & 0x01); // QR, RD as asked
        answer[3] = 0x80 | 3; // RA, NXDOMAIN
        answer.writeUInt16BE(1, 4);
        answer.fill(0, 6, 12);
        this.socket.send(answer, client.port, client.address);
        return;
      }
      const relay = createSocket('udp4');
      relay.once('message', (answer) => {
        this.socket.send(answer, client.port, client.address);
        relay.close();
      });
      relay.send(query, 53, this.upstream);
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    this.port = this.socket.address().port;
  }

  stop(): void {
    this.socket.close();
  }
}

describe('acme-client-dns01 claims against BIND and Pebble', { skip }, () => {
  let bind: BindLab;
  let lab: Lab;
  before(async () => {
    bind = await startBind();
    lab = await startLab({ dnsServer: `${bind.primary}:53` });
  });
  after(async () => {
    await lab?.stop();
    await bind?.stop();
  });

  const env = (): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: lab.tlsCaFile });
  const acmeArgs = (): { w: ReturnType<typeof workDir>; args: string[] } => {
    const w = workDir();
    const { acct, dom } = ecKeys(w);
    return { w, args: ['--server', lab.directoryUrl, '-c', w.certs, '-f', acct, '-k', dom] };
  };
  const names = (certs: string): string => new X509Certificate(readFileSync(join(certs, 'cert.pem'))).subjectAltName ?? '';
  const ourLines = (stderr: string): string[] => stderr.split('\n').filter((line) => line.startsWith('acme-client-dns01:'));
  /** The processes whose parent is `pid`. */
  const childrenOf = (pid: number): number[] => readdirSync('/proc').filter((e) => /^\d+$/.test(e) && Number(procStat(Number(e))?.[1]) === pid).map(Number);

  /** A run left behind by a failed test must not keep this process alive. */
  const stopped = (run: Run): void => {
    try {
      process.kill(run.pid, 'SIGKILL');
    } catch {
      // ended
    }
  };

  /** A run waiting with its record published, SIGTERM, and what must follow (the test below). */
  const signalledRun = async (run: Run, certs: string): Promise<void> => {
    assert.ok(await until(async () => (await bind.txt(bind.primary, '_acme-challenge.stale.test')).length === 1), run.stderr());
    const acmeClients = childrenOf(run.pid);
    assert.equal(acmeClients.length, 1, 'acme-client is running');
    process.kill(run.pid, 'SIGTERM');
    const { status, stderr } = await within(run.done, 'acme-client-dns01 ends', 60_000);
    assert.equal(status, 1, stderr);
    // acme-client got the SIGTERM, says so once and passes it on; acme-client-dns01 adds nothing.
    assert.equal(stderr, 'acme-client: acme-client: stopped by SIGTERM\n');
    assert.deepEqual(await bind.txt(bind.primary, '_acme-challenge.stale.test'), [], 'removed');
    assert.ok(!existsSync(`/proc/${acmeClients[0]}`) || readFileSync(`/proc/${acmeClients[0]}/stat`, 'utf8').includes(') Z '), 'acme-client has ended');
    assert.deepEqual(readdirSync(certs), []);
  };

  test('SIGTERM to acme-client-dns01 alone is passed on to acme-client; the record it added is removed after', async () => {
    // Would fail without the signal forwarding of runAcmeClient (src/dns01/main.ts): killed at once,
    // acme-client-dns01 would leave its record on the primary, and acme-client running; or if the
    // wait for the value went on after acme-client's end (the clean-up an hour later).
    const { w, args } = acmeArgs();
    // stale.test's second server never gets the record: the run waits there, with the record published.
    // The propagation timeout is an hour: the clean-up must not wait for it.
    const run = start(['--provider', 'nsupdate', '--tsig-key-file', bind.keys.example, '--dns-server', bind.primary, '--propagation-timeout', '3600',
      '--', ...args, 'stale.test'], env());
    try {
      await signalledRun(run, w.certs);
    } finally {
      stopped(run);
    }
  });

  test('--nsupdate-server: the updates go there, not to the primary of the SOA record', async () => {
    // Would fail if --nsupdate-server were ignored (NsupdateProvider.target): the update would go
    // to the primary, which takes it, and the run would issue.
    const { w, args } = acmeArgs();
    const run = start(['--provider', 'nsupdate', '--tsig-key-file', bind.keys.example, '--dns-server', bind.primary,
      '--nsupdate-server', `${bind.secondary}:53`, '--', ...args, 'example.test'], env());
    const { status, stderr } = await within(run.done, 'the run');
    assert.equal(status, 1, stderr);
    assert.match(ourLines(stderr)[0] ?? '', new RegExp(`^acme-client-dns01: ${bind.secondary.replace(/\./g, '\\.')}:53: update of zone example\\.test: server answered (REFUSED|NOTAUTH)`));
    assert.deepEqual(readdirSync(w.certs), []);
  });

  test('a resolver without SOA records: "no zone found ...; give --zone"; with --zone and --nsupdate-server, the names issue', async () => {
    // Would fail if --zone were not used for the update and the wait (NsupdateProvider.target,
    // runAcmeClient's servers): the SOA lookups it replaces find nothing here.
    const resolver = new NoSoaResolver(bind.primary);
    await resolver.start();
    try {
      const through = `127.0.0.1:${resolver.port}`;
      const { w, args } = acmeArgs();
      const lost = await within(start(['--provider', 'nsupdate', '--tsig-key-file', bind.keys.example, '--dns-server', through,
        '--', ...args, 'example.test'], env()).done, 'the run without --zone');
      assert.equal(lost.status, 1, lost.stderr);
      assert.deepEqual(ourLines(lost.stderr), [`acme-client-dns01: _acme-challenge.example.test: no zone found by SOA lookups through the ${through}; give --zone`]);

      const found = await within(start(['--provider', 'nsupdate', '--tsig-key-file', bind.keys.example, '--dns-server', through,
        '--zone', 'example.test', '--nsupdate-server', bind.primary, '--', ...args, 'zone.example.test', '*.zone.example.test'], env()).done, 'the run with --zone');
      assert.equal(found.status, 0, found.stderr);
      assert.equal(names(w.certs), 'DNS:zone.example.test, DNS:*.zone.example.test');
      await bind.secondaryInSync();
      assert.deepEqual([await bind.txt(bind.primary, '_acme-challenge.zone.example.test'), await bind.txt(bind.secondary, '_acme-challenge.zone.example.test')], [[], []]);
    } finally {
      resolver.stop();
    }
  });

  test('nsupdate: _acme-challenge.NAME a CNAME: the record is added and removed where it leads', async () => {
    // Would fail if followCnames (src/dns01/propagation.ts) were not asked: BIND ignores a TXT
    // record added beside a CNAME, and the value is never seen.
    bind.nsupdate(bind.keys.example, ['update add _acme-challenge.alias.example.test 60 CNAME _acme-challenge.dest.example.test.']);
    try {
      await bind.secondaryInSync();
      const log = join(bind.dir, 'primary.log');
      const logged = readFileSync(log, 'utf8').length;
      const { w, args } = acmeArgs();
      const run = await within(start(['--provider', 'nsupdate', '--tsig-key-file', bind.keys.example, '--dns-server', bind.primary,
        '--propagation-timeout', '30', '--', ...args, 'alias.example.test'], env()).done, 'the run');
      assert.equal(run.status, 0, run.stderr);
      assert.equal(names(w.certs), 'DNS:alias.example.test');
      // BIND writes its log as it goes: the clean-up's line may come a moment after the run's end.
      const updates = (): string[] => readFileSync(log, 'utf8').slice(logged).split('\n').filter((l) => /updating zone 'example\.test\/IN'/.test(l))
        .map((l) => /: (adding|deleting) an RR at '?([^' ]+?)'? TXT/.exec(l)?.slice(1, 3).join(' ')).filter((l) => l !== undefined);
      await until(async () => updates().length >= 2);
      assert.deepEqual(updates(), ['adding _acme-challenge.dest.example.test', 'deleting _acme-challenge.dest.example.test'], readFileSync(log, 'utf8').slice(logged));
      assert.deepEqual(await bind.txt(bind.primary, '_acme-challenge.dest.example.test'), []);
    } finally {
      bind.nsupdate(bind.keys.example, ['update delete _acme-challenge.alias.example.test CNAME']);
    }
  });

  /** A hook that hangs, its limit fired, and what must follow (the test below). */
  const hookKilled = async (run: Run, hook: string, calls: string, certs: string): Promise<void> => {
    assert.equal(await run.logged(/^virtual-clock: armed/), 'virtual-clock: armed 300000');
    // Its line written, not only its file made: the shell creates the file before it writes, and a
    // kill in between left a log without 'present' (1 fresh-clone run in 3).
    assert.ok(await eventually(() => existsSync(calls) && readFileSync(calls, 'utf8') === 'present\n'), 'the hook runs');
    process.kill(run.pid, 'SIGUSR2');
    const { status, stderr } = await within(run.done, 'the run');
    assert.equal(status, 1, stderr);
    assert.deepEqual(ourLines(stderr), [`acme-client-dns01: ${hook}: present _acme-challenge.example.test.: killed by SIGKILL`]);
    assert.deepEqual(readFileSync(calls, 'utf8').split('\n'), ['present', 'cleanup', '']);
    assert.deepEqual(readdirSync(certs), []);
  };

  test('exec: a hook that does not end is killed when five minutes are up; the run fails, and the clean-up still runs', async () => {
    // Would fail if the hook's limit (HOOK_TIMEOUT_MS, src/dns01/exec.ts) were another than five
    // minutes, or none: no timer of 300000 ms would be armed for it.
    const { w, args } = acmeArgs();
    const calls = join(w.dir, 'hook.log');
    const hook = join(w.dir, 'hook.sh');
    // present never ends (a hung API call); cleanup does.
    writeFileSync(hook, `#!/bin/sh\necho "$1" >> '${calls}'\n[ "$1" = cleanup ] && exit 0\nexec tail -f /dev/null\n`, { mode: 0o755 });
    const run = start(['--provider', 'exec', '--hook', hook, '--dns-server', bind.primary, '--', ...args, 'example.test'], env());
    try {
      await hookKilled(run, hook, calls, w.certs);
    } finally {
      stopped(run);
    }
  });

});
