// acme-client-server from its first moment to its last, and under load and abuse: every connection
// it accepts is answered (at start, across SIGHUP, while SIGTERM finishes the orders in flight);
// the queue, the header timeout, the connection ceiling and max-size hold, on the signing and the
// challenge listeners alike. Nothing here needs an order to be issued by Pebble: a junk body is
// answered 415 by the front, and where orders must be in flight the CA is a fake one that stalls
// newOrder until told (a slow CA, which Pebble cannot be made to be at will), then issues.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseServerConfig } from '../src/server/config.js';
import { freePorts } from '../scripts/pebble-lab.js';
import { FakeCa } from './fakeca.js';
import { isRoot, openssl, prerequisite, workDir } from './helpers.js';
import { SERVER, ServerProcess, spawnServer as spawnServerProcess } from './serverproc.js';

const skip = prerequisite(isRoot ? false : 'needs root (acme-client-server must be run as root)');
const JUNK = 'POST /sign HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\njunk';
const CHALLENGE_GET = 'GET /.well-known/acme-challenge/nosuchtoken HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

type Instance = ServerProcess;

/** Servers still running: a failed test's are killed at the end, for the file to end. */
const running = new Set<ChildProcess>();

function spawnServer(configFile: string, env: NodeJS.ProcessEnv = {}, verbose = true): Instance {
  const server = spawnServerProcess([...(verbose ? ['-v'] : []), '-f', configFile], env, workDir().dir);
  running.add(server.proc);
  void server.exited.then(() => running.delete(server.proc));
  return server;
}

async function startServer(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<Instance> {
  const server = spawnServer(configFile, env);
  await server.logged(/answering http-01 challenges/);
  return server;
}

/** SIGTERM, and the exit status: 0 once the front is gone too (the parent waits for it). */
async function stop(server: Instance): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  server.proc.kill('SIGTERM');
  return server.exited;
}

/** A connection, or null when refused. */
function tryConnect(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
  });
}

/** The first connection the port accepts, tried again at once on each refusal (a bounded number of times). */
async function firstConnection(port: number, server: Instance): Promise<Socket> {
  let ended = false;
  void server.exited.then(() => (ended = true));
  for (let attempt = 0; attempt < 100_000 && !ended; attempt++) {
    const socket = await tryConnect(port);
    if (socket !== null) return socket;
  }
  throw new Error(`port ${port} never accepted:\n${server.stderr()}`);
}

/** Writes `request` and reads until the server closes: its answer, or what the connection did instead. */
function exchange(socket: Socket, request: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    let failed = '';
    socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
    // A write may fail (EPIPE) when the server closes first: what it answered still counts.
    socket.on('error', (err: NodeJS.ErrnoException) => (failed = `[${err.code}]`));
    socket.on('close', () => resolve(answer || failed));
    socket.write(request);
  });
}

async function ask(port: number, request: string): Promise<string> {
  const socket = await tryConnect(port);
  return socket === null ? '[refused]' : exchange(socket, request);
}

const statusOf = (answer: string): string => /^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? (answer.slice(0, 80) || '[closed unanswered]');

function configText(opts: { account: string; acme: string; sign: number; challenge: number; mgmt?: string }): string {
  return `[account]
dir = ${opts.account}
acme-server = ${opts.acme}
[mgmt]
listener = 127.0.0.1:${opts.sign}
${opts.mgmt ?? ''}
[verification "http"]
type = http01
listener = 127.0.0.1:${opts.challenge}
[auth "loopback"]
ip = 127.0.0.0/8
domain = *.load.test
`;
}

// The bound on each test: a connection accepted and never answered would otherwise hang it. Each
// takes a few seconds, the fifty starts ten or so.
const BOUND = { timeout: 60_000 };

describe('acme-client-server answers every connection it accepts, under load and abuse', { skip }, () => {
  const w = workDir();
  const account = join(w.dir, 'account');
  const domainKey = join(w.priv, 'domain.pem');
  let ca: FakeCa;
  let env: NodeJS.ProcessEnv;
  /** newOrder is held until release(); each arrival is counted. */
  let release: () => void = () => undefined;
  let held = Promise.resolve();
  let newOrders = 0;
  let newOrderWaiters: (() => void)[] = [];
  /** Resolves once the CA has been sent `count` newOrder requests in all. */
  const newOrdersReach = (count: number): Promise<void> => new Promise((resolve) => {
    if (newOrders >= count) resolve();
    else newOrderWaiters.push(() => newOrdersReach(count).then(resolve, () => undefined));
  });
  const hold = (): void => {
    held = new Promise((resolve) => (release = resolve));
  };
  let csrCount = 0;
  const csr = (name: string): string => {
    const file = join(w.dir, `${name}-${csrCount++}.csr`);
    openssl(['req', '-new', '-key', domainKey, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-out', file]);
    return file;
  };
  const writeConfig = async (name: string, mgmt = ''): Promise<{ file: string; sign: number; challenge: number }> => {
    const [sign, challenge] = (await freePorts(2)) as [number, number];
    const file = join(w.dir, `${name}.ini`);
    writeFileSync(file, configText({ account, acme: ca.directoryUrl, sign, challenge, mgmt }));
    return { file, sign, challenge };
  };

  before(async () => {
    ca = await FakeCa.start(async (ex) => {
      if (ex.route !== 'newOrder') return undefined;
      newOrders++;
      const waiters = newOrderWaiters;
      newOrderWaiters = [];
      for (const wake of waiters) wake();
      await held;
      return undefined;
    });
    env = { NODE_EXTRA_CA_CERTS: ca.caFile };
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', domainKey]);
    const { file } = await writeConfig('register');
    const registered = spawn(process.execPath, [SERVER, '--register', '--agree-tos', '-f', file], { env: { PATH: process.env.PATH, ...env }, stdio: 'inherit' });
    assert.equal(await new Promise((resolve) => registered.once('exit', resolve)), 0);
  });
  after(async () => {
    release();
    for (const proc of running) proc.kill('SIGKILL');
    await ca?.stop();
  });

  // Fails when the parent's listening sockets accept connections they never hand over, or when
  // frontproc's copy accepts before its HTTP server has it (before this change: 6 of 6 unanswered).
  test('fifty starts: a request sent the moment each port accepts is answered (415, 404), and SIGTERM then exits 0', { timeout: 120_000 }, async () => {
    const { file, sign, challenge } = await writeConfig('starts');
    for (let start = 0; start < 50; start++) {
      const server = spawnServer(file, env, false);
      const [signed, challenged] = await Promise.all([
        firstConnection(sign, server).then((socket) => exchange(socket, JUNK)),
        firstConnection(challenge, server).then((socket) => exchange(socket, CHALLENGE_GET)),
      ]);
      assert.equal(statusOf(signed), '415', `start ${start}: ${signed}\n${server.stderr()}`);
      assert.equal(statusOf(challenged), '404', `start ${start}: ${challenged}\n${server.stderr()}`);
      assert.deepEqual(await stop(server), { code: 0, signal: null }, server.stderr());
    }
  });

  // Fails when SIGHUP is not handled from the first moment (its default is to end the process) or
  // when a reload disturbs the front.
  test('SIGHUP, at start and while serving: every request sent meanwhile is answered, and new limits apply', BOUND, async () => {
    const { file, sign, challenge } = await writeConfig('hup');
    const server = spawnServer(file, env);
    const first = await firstConnection(sign, server);
    server.proc.kill('SIGHUP');
    assert.equal(statusOf(await exchange(first, JUNK)), '415');
    await server.logged(/configuration read again/);
    for (let round = 0; round < 20; round++) {
      server.proc.kill('SIGHUP');
      assert.equal(statusOf(await ask(sign, JUNK)), '415', `round ${round}`);
    }
    // max-connections 1 read again: a second connection, the first still open, is answered 503
    // (tried until the front has the new settings, which nothing announces).
    writeFileSync(file, configText({ account, acme: ca.directoryUrl, sign, challenge, mgmt: 'max-connections = 1' }));
    const mark = server.stderr().length;
    server.proc.kill('SIGHUP');
    await server.logged(/configuration read again/, mark);
    let second = '';
    for (let attempt = 0; attempt < 1000 && statusOf(second) !== '503'; attempt++) {
      const first = await tryConnect(sign);
      second = await ask(sign, JUNK);
      first?.destroy();
    }
    assert.equal(statusOf(second), '503');
    assert.match(second, /\r\nretry-after: 10\r\n/i);
    assert.deepEqual(await stop(server), { code: 0, signal: null });
  });

  /** POST of a CSR file over its own connection: status, Retry-After and body, or how it failed. */
  const post = (port: number, file: string): Promise<{ status: number | string; retryAfter: string | undefined; body: string }> => new Promise((resolve) => {
    const body = openssl(['req', '-in', file]);
    const req = http.request({ host: '127.0.0.1', port, path: '/sign', method: 'POST', agent: false, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: text }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: `[${err.code}]`, retryAfter: undefined, body: '' }));
    req.end(body);
  });

  // Fails when the drain closes the signing listener (what waits in its backlog is reset), when a
  // request reaching the parent after SIGTERM starts an order, or when the order in flight is cut.
  test('SIGTERM with an order in flight: new requests get 503 with Retry-After, the order is finished and answered, exit 0', BOUND, async () => {
    const { file, sign } = await writeConfig('term');
    const server = await startServer(file, env);
    hold();
    const before = newOrders;
    const inFlight = post(sign, csr('inflight.load.test'));
    await newOrdersReach(before + 1);
    const mark = server.stderr().length;
    server.proc.kill('SIGTERM');
    await server.logged(/stopping: 1 request\(s\) in flight/, mark);
    // Until the front has the drain, a request may still be judged (415 for junk, or 503 by the
    // parent for a CSR): each is answered; then every one is 503.
    const answers: string[] = [];
    for (let attempt = 0; attempt < 1000 && (answers.length === 0 || statusOf(answers.at(-1) as string) === '415'); attempt++) answers.push(await ask(sign, JUNK));
    assert.ok(answers.every((a) => ['415', '503'].includes(statusOf(a))), answers.map(statusOf).join(' '));
    const busy = answers.at(-1) ?? '';
    assert.equal(statusOf(busy), '503');
    assert.match(busy, /\r\nretry-after: 10\r\n/i);
    const late = await post(sign, csr('late.load.test'));
    assert.deepEqual([late.status, late.retryAfter], [503, '10']);
    assert.equal(newOrders - before, 1, 'no order started after SIGTERM');
    release();
    const answer = await inFlight;
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, /^-----BEGIN CERTIFICATE-----/);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });

  // Fails when the queue has no bound (every request waits) or when a full queue is not answered
  // 503 with Retry-After; concurrent-orders = 1 fails if more than one order runs at once.
  test('200 clients posting at once: each answered, 200 for the orders taken (one running, two queued), 503 with Retry-After for the rest', BOUND, async () => {
    const { file, sign } = await writeConfig('crowd', 'concurrent-orders = 1\nqueue-length = 2');
    const server = await startServer(file, env);
    try {
      hold();
      const before = newOrders;
      const files = Array.from({ length: 200 }, (_, i) => csr(`c${i}.load.test`));
      const answers = files.map((f) => post(sign, f));
      // 197 answered while the CA holds the one order it was sent, the two queued waiting behind it.
      let busy = 0;
      await new Promise<void>((resolve) => {
        for (const answer of answers) {
          void answer.then((r) => {
            if (r.status === 503 && ++busy === 197) resolve();
          });
        }
      });
      await newOrdersReach(before + 1);
      assert.equal(newOrders - before, 1, 'one order at once');
      release();
      const all = await Promise.all(answers);
      const tally = new Map<string, number>();
      for (const r of all) {
        const key = `${r.status}${r.retryAfter === undefined ? '' : ` retry-after ${r.retryAfter}`}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
      }
      assert.deepEqual(Object.fromEntries(tally), { 200: 3, '503 retry-after 10': 197 });
      assert.equal(server.stderr().split('\n').filter((line) => /: c\d+\.load\.test: ordering \(/.test(line)).length, 3, 'three runs');
    } finally {
      release();
      await stop(server);
    }
  });

  /**
   * A client sending a 150-byte request head one byte every 100 ms: resolves with what the server
   * said and how much it had sent when the connection ended. Done in 15 s, it outlasts a
   * header-timeout of 1 s looked at each second, and finishes before Node's own timeouts (60 s
   * for headers, 30 s between looks) or a request timeout of 21 s would cut it.
   */
  const slowClient = (port: number, path: string): Promise<{ answer: string; sent: number; whole: number }> => new Promise((resolve) => {
    const start = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nX-Slow: `;
    const head = `${start}${'a'.repeat(146 - start.length)}\r\n\r\n`;
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < head.length && socket.writable) socket.write(head[sent++] as string);
    }, 100);
    socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(drip);
      resolve({ answer, sent, whole: head.length });
    });
  });

  // Fails when header-timeout is not applied (Node's own is 60 s, looked at every 30 s) or is not
  // applied to the challenge listener; the 415s fail if the slow clients hold up the others.
  test('header-timeout: a client dribbling its headers, or sending nothing, is cut (408) on either listener; the others are answered meanwhile', BOUND, async () => {
    const { file, sign, challenge } = await writeConfig('slow', 'header-timeout = 1');
    const server = await startServer(file, env);
    try {
      const slow = [slowClient(sign, '/sign'), slowClient(challenge, '/.well-known/acme-challenge/x')];
      const silent = [tryConnect(sign), tryConnect(challenge)].map(async (connecting) => exchange((await connecting) as Socket, ''));
      for (let i = 0; i < 5; i++) {
        assert.equal(statusOf(await ask(sign, JUNK)), '415');
        assert.equal(statusOf(await ask(challenge, CHALLENGE_GET)), '404');
      }
      for (const { answer, sent, whole } of await Promise.all(slow)) {
        assert.equal(statusOf(answer), '408');
        assert.ok(sent < whole, `cut after ${sent} of ${whole} bytes`);
      }
      for (const answer of await Promise.all(silent)) assert.equal(statusOf(answer), '408');
    } finally {
      await stop(server);
    }
  });

  // Fails without the ceiling (every connection is served), when a connection past it is closed
  // unanswered rather than given 503, or when past twice the ceiling connections are still held.
  test('max-connections on each listener: past it a request is answered 503 with Retry-After, past twice it the connection is closed at once', BOUND, async () => {
    const { file, sign, challenge } = await writeConfig('ceiling', 'max-connections = 3\nheader-timeout = 60');
    const server = await startServer(file, env);
    try {
      for (const [port, request] of [[sign, JUNK], [challenge, CHALLENGE_GET]] as const) {
        const served = await Promise.all([1, 2, 3].map(() => tryConnect(port)));
        const turnedAway = await Promise.all([1, 2, 3].map(() => tryConnect(port)));
        // The seventh: accepted after the six (in order) and closed at once, before any request.
        assert.equal(await exchange((await tryConnect(port)) as Socket, ''), '');
        const answers = await Promise.all(turnedAway.map((socket) => exchange(socket as Socket, request)));
        for (const answer of answers) {
          assert.equal(statusOf(answer), '503', answer);
          assert.match(answer, /\r\nretry-after: 10\r\n/i);
        }
        // The served three still are.
        assert.equal(statusOf(await exchange(served[0] as Socket, request)), port === sign ? '415' : '404');
        for (const socket of served) socket?.destroy();
        // Once the front has seen them go, a new connection is served again.
        let again = '';
        for (let attempt = 0; attempt < 1000 && statusOf(again) !== (port === sign ? '415' : '404'); attempt++) again = await ask(port, request);
        assert.equal(statusOf(again), port === sign ? '415' : '404');
      }
    } finally {
      await stop(server);
    }
  });

  // Fails when the front reads a body it will refuse: a 413 (or a 404 on the challenge
  // listener) would then come only after the 64 MB.
  test('a body over max-size is refused (413) without being read, and a body on the challenge listener is not read either', BOUND, async () => {
    const { file, sign, challenge } = await writeConfig('big', 'max-size = 4k');
    const server = await startServer(file, env);
    try {
      for (const [port, head, status] of [
        [sign, 'POST /sign HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n', '413'],
        [challenge, 'GET /.well-known/acme-challenge/x HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n', '404'],
      ] as const) {
        const socket = (await tryConnect(port)) as Socket;
        let sent = 0;
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        const pump = (): void => {
          while (socket.writable && sent < 64 << 20 && socket.write(chunk)) sent += chunk.length;
        };
        socket.on('drain', () => {
          sent += chunk.length;
          pump();
        });
        const answer = exchange(socket, head);
        pump();
        assert.equal(statusOf(await answer), status);
        assert.ok(sent < 64 << 20, `the connection was closed after ${sent} bytes of 64 MB`);
      }
    } finally {
      await stop(server);
    }
  });
});

test('the load settings: defaults, values, and one line for a bad value', () => {
  const base = '[account]\ndir=/var/lib/acme\n[mgmt]\n';
  assert.deepEqual(parseServerConfig('a.ini', base).limits, { concurrentOrders: 4, queueLength: 100, headerTimeout: 10, maxConnections: 512 });
  assert.deepEqual(parseServerConfig('a.ini', `${base}concurrent-orders = 2\nqueue-length = 0\nheader-timeout = 3\nmax-connections = 64\n`).limits,
    { concurrentOrders: 2, queueLength: 0, headerTimeout: 3, maxConnections: 64 });
  for (const [line, message] of [
    ['concurrent-orders = 0', 'a.ini:4: concurrent-orders: not a whole number from 1 to 64: 0'],
    ['queue-length = -1', 'a.ini:4: queue-length: not a whole number from 0 to 10000: -1'],
    ['header-timeout = 10s', 'a.ini:4: header-timeout: not a whole number from 1 to 300: 10s'],
    ['max-connections = 0', 'a.ini:4: max-connections: not a whole number from 1 to 100000: 0'],
  ]) {
    assert.throws(() => parseServerConfig('a.ini', `${base}${line}\n`), { message });
  }
});
