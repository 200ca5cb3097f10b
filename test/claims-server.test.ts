// Claims of acme-client-server(8) and acme-client-server.conf(5), against Pebble:
//   - "The same CSR is answered from there, without asking the CA, until a third of the
//     certificate's lifetime is left (or renew-within days)": certificates with chosen dates are
//     put in the cache entry of a CSR, just either side of each rule.
//   - "at most four orders run at once, the others wait": the configuration does not set it.
//   - SIGTERM "finish the orders in flight, answer them, and exit 0. Orders still running after two
//     minutes are stopped."
// Orders are held in flight by holding Pebble's http-01 validation: every name resolves to a gate
// (127.0.0.7 on Pebble's http-01 port) that keeps each request until the test lets it through to
// the server's challenge listener. The two minutes are not waited for: the server runs with
// test/virtual-clock.ts preloaded, which reports the long timers it arms and fires them on SIGUSR2.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate, createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, get, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import forge from 'node-forge';
import { Lab, freePorts, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { acmemsLayout } from '../src/server/orders.js';
import { ROOT, eventually, needsRootAndLab, openssl, workDir } from './helpers.js';
import { SERVER, ServerProcess, postCsr, spawnServer } from './serverproc.js';

const VIRTUAL_CLOCK = join(ROOT, 'build', 'test', 'virtual-clock.js');
const GATE_ADDRESS = '127.0.0.7';
const DAY_MS = 86_400_000;
const skip = needsRootAndLab(labUnavailable);

/** A bounded wait for an event: the promise, or a failure saying what did not happen. */
function within<T>(promise: Promise<T>, what: string, ms = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms / 1000} s: ${what}`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

type Instance = ServerProcess;

/** The server with the virtual clock preloaded; every wait on its log bounded. */
function startServer(config: string, env: NodeJS.ProcessEnv, tmp: string): Promise<Instance> {
  const server = spawnServer(['-v', '-f', config], env, tmp, ['--import', VIRTUAL_CLOCK]);
  const logged = (pattern: RegExp, from = 0): Promise<string> => within(server.logged(pattern, from), `the server logs ${pattern}\n${server.stderr()}`);
  const instance = { ...server, logged };
  return logged(/listening for POST \/sign/).then(() => instance);
}

/** curl posting a CSR, in the background: status and body. */
/** A POST /sign's status and Retry-After, or 'refused' when the connection is refused. */
function lateAnswer(url: string, csrFile: string): Promise<{ status: number; retryAfter: string | undefined } | 'refused'> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/pkcs10' } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
    });
    req.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve('refused') : reject(err)));
    req.end(readFileSync(csrFile));
  });
}

/** A CSR made by openssl, and the name of its cache entry (the SHA-256 of its DER). */
function makeCsr(dir: string, name: string): { csr: string; sha256: string } {
  const key = join(dir, `${name}.key`);
  writeFileSync(key, openssl(['genrsa', '2048']));
  const csr = join(dir, `${name}.csr`);
  openssl(['req', '-new', '-sha256', '-key', key, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-out', csr]);
  const der = Buffer.from(readFileSync(csr, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
  return { csr, sha256: createHash('sha256').update(der).digest('hex') };
}

/** A self-signed certificate for `name`, valid from `notBefore` to `notAfter`, in PEM. */
function certificate(name: string, notBefore: Date, notAfter: Date): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '0badcafe';
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: name }]);
  cert.setIssuer([{ name: 'commonName', value: name }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/**
 * Pebble's http-01 requests for the names resolved to it: held while `holding`, then passed to the
 * server's challenge listener.
 */
class ChallengeGate {
  holding = true;
  private readonly waiting: { path: string; res: ServerResponse }[] = [];
  private server: Server | null = null;

  constructor(private readonly upstreamPort: number) {}

  /** Validations held: Pebble asks for a token more than once (from each of its perspectives). */
  get held(): number {
    return new Set(this.waiting.map(({ path }) => path)).size;
  }

  async start(port: number): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (this.holding) this.waiting.push({ path: req.url ?? '/', res });
      else this.pass(req.url ?? '/', res);
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, GATE_ADDRESS, resolve);
    });
  }

  release(): void {
    this.holding = false;
    for (const { path, res } of this.waiting.splice(0)) this.pass(path, res);
  }

  private pass(path: string, res: ServerResponse): void {
    get({ host: '127.0.0.1', port: this.upstreamPort, path }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { 'content-type': 'text/plain' });
      answer.pipe(res);
    }).on('error', () => res.writeHead(502).end());
  }

  /** The held requests are cut: Pebble's validation of them fails. */
  drop(): void {
    for (const { res } of this.waiting.splice(0)) res.destroy();
  }

  async stop(): Promise<void> {
    this.drop();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }
}

describe('acme-client-server claims: cache freshness, four orders at once, the stop on SIGTERM', { skip }, () => {
  let lab: Lab;
  let gate: ChallengeGate;
  const w = workDir();
  const account = join(w.dir, 'account');
  const cache = join(w.dir, 'cache');
  const within30 = join(w.dir, 'within30');
  const configFile = join(w.dir, 'server.ini');
  let sign = '';
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const [signPort, challengePort] = (await freePorts(2)) as [number, number];
    sign = `http://127.0.0.1:${signPort}/sign`;
    lab = await startLab();
    gate = new ChallengeGate(challengePort);
    await gate.start(lab.httpPort);
    env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    mkdirSync(cache);
    mkdirSync(within30);
    // No setting for the number of orders at once: the default is what is claimed.
    writeFileSync(configFile, `[account]
dir = ${account}
acme-server = ${lab.directoryUrl}
[mgmt]
listener = 127.0.0.1:${signPort}
default-verification = http
default-storage = third
[verification "http"]
type = http01
listener = 127.0.0.1:${challengePort}
[storage "third"]
type = file
directory = ${cache}
[storage "within30"]
type = file
directory = ${within30}
renew-within = 30
[auth "within"]
ip = 127.0.0.1
storage = within30
domain = *.within.example.test
[auth "plain"]
ip = 127.0.0.1
domain = *.plain.example.test
`);
    const registered = spawn(process.execPath, [SERVER, '--register', '--agree-tos', '-f', configFile], { env: { PATH: process.env.PATH, ...env }, stdio: 'inherit' });
    assert.equal(await new Promise((resolve) => registered.once('exit', resolve)), 0);
  });
  after(async () => {
    await gate?.stop();
    await lab?.stop();
  });

  /** A CSR for `name`, which Pebble will look up at the gate. */
  const csrFor = async (name: string): Promise<{ csr: string; sha256: string }> => {
    await lab.resolveTo(name, GATE_ADDRESS);
    return makeCsr(w.dir, name);
  };

  test('a cached certificate is handed out until a third of its lifetime is left, or renew-within days; then a new one is ordered', async () => {
    // Would fail if cacheIsFresh (src/server/orders.ts) took another share than a third, or
    // ignored renew-within: each pair of certificates sits either side of its rule.
    gate.release();
    const server = await startServer(configFile, env, w.dir);
    try {
      const now = Date.now();
      const cases = [
        // 90 days' lifetime: a third is 30 days.
        { name: 'fresh.plain.example.test', dir: cache, from: -58, to: 32, fresh: true },
        { name: 'stale.plain.example.test', dir: cache, from: -62, to: 28, fresh: false },
        // renew-within = 30 on a year's lifetime: the third (121 days) no longer decides.
        { name: 'fresh.within.example.test', dir: within30, from: -330, to: 35, fresh: true },
        { name: 'stale.within.example.test', dir: within30, from: -340, to: 25, fresh: false },
      ];
      for (const c of cases) {
        const { csr, sha256 } = await csrFor(c.name);
        const planted = certificate(c.name, new Date(now + c.from * DAY_MS), new Date(now + c.to * DAY_MS));
        mkdirSync(join(c.dir, sha256));
        writeFileSync(join(c.dir, sha256, 'fullchain.pem'), planted);
        const requests = lab.requestCount();
        const answer = await postCsr(sign, csr);
        assert.equal(answer.status, 200, `${c.name}: ${answer.body}`);
        if (c.fresh) {
          assert.equal(answer.body, planted, `${c.name}: the cached certificate`);
          assert.equal(lab.requestCount(), requests, `${c.name}: the CA was not asked`);
        } else {
          const issued = new X509Certificate(answer.body);
          assert.notEqual(issued.serialNumber, '0BADCAFE', `${c.name}: a new certificate`);
          assert.equal(issued.subjectAltName, `DNS:${c.name}`);
          assert.equal(acmemsLayout(readFileSync(join(c.dir, sha256, 'fullchain.pem'), 'utf8')), answer.body, `${c.name}: cached in its place`);
        }
      }
    } finally {
      server.proc.kill('SIGKILL');
      await server.exited;
      gate.drop();
      gate.holding = true;
    }
  });

  test('at most four orders run at once, the others wait their turn', async () => {
    // Would fail if CONCURRENT_ORDERS (src/server/orders.ts) were more than 4 (a fifth order would
    // log "ordering" before the SIGHUP line) or less (four validations would never be held at once).
    const server = await startServer(configFile, env, w.dir);
    try {
      const csrs = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => csrFor(`q${n}.plain.example.test`)));
      const ordering = (): number => server.stderr().split('\n').filter((l) => /: q\d\.plain\.example\.test: ordering \(http01\)$/.test(l)).length;
      const answers = csrs.map(({ csr }) => postCsr(sign, csr));
      // The cache entry is made before an order waits for its turn: all six have arrived once all
      // six are there; four are being validated.
      assert.ok(await eventually(() => gate.held === 4 && csrs.every(({ sha256 }) => existsSync(join(cache, sha256)))),
        `held ${gate.held}, arrived ${csrs.filter(({ sha256 }) => existsSync(join(cache, sha256))).length}\n${server.stderr()}`);
      // An order that had its turn logs "ordering" at once; SIGHUP's line comes after any such line.
      const mark = server.stderr().length;
      server.proc.kill('SIGHUP');
      await server.logged(/configuration read again/, mark);
      assert.equal(ordering(), 4, 'four orders running');
      assert.equal(gate.held, 4);
      gate.release();
      const results = await within(Promise.all(answers), 'the six answers');
      for (const result of results) assert.equal(result.status, 200, result.body);
      assert.equal(ordering(), 6, 'the other two ran after');
    } finally {
      server.proc.kill('SIGKILL');
      await server.exited;
      gate.drop();
      gate.holding = true;
    }
  });

  /** An order held in flight, SIGTERM, and what must follow (the test below). */
  const finishesInFlight = async (server: Instance): Promise<void> => {
    const { csr } = await csrFor('term.plain.example.test');
    const answer = postCsr(sign, csr);
    assert.ok(await eventually(() => gate.held === 1), server.stderr());
    const mark = server.stderr().length;
    server.proc.kill('SIGTERM');
    assert.equal(await server.logged(/^virtual-clock: armed/, mark), 'virtual-clock: armed 120000');
    // A request after the SIGTERM starts no order: it is answered 503 with Retry-After (or, once
    // the server is gone, refused at the socket), never accepted and dropped (#20 point 1).
    const { csr: late } = await csrFor('term-late.plain.example.test');
    const refusal = await lateAnswer(sign, late);
    assert.ok(refusal === 'refused' || (refusal.status === 503 && refusal.retryAfter !== undefined), JSON.stringify(refusal));
    assert.doesNotMatch(server.stderr(), /term-late/, 'no order started for it');
    assert.equal(server.proc.exitCode, null, 'still running: the order is in flight');
    gate.release();
    const { status, body } = await within(answer, 'the answer');
    assert.equal(status, 200, body);
    assert.equal(new X509Certificate(body).subjectAltName, 'DNS:term.plain.example.test');
    assert.deepEqual(await within(server.exited, 'the exit'), { code: 0, signal: null });
    assert.doesNotMatch(server.stderr(), /virtual-clock: fired|still running after/);
  };

  test('SIGTERM: no new request is taken, the order in flight is finished and answered, then exit 0; the grace armed is two minutes', async () => {
    // Would fail if SIGTERM stopped the order in flight, kept taking requests, or armed another
    // grace than SHUTDOWN_GRACE_MS = 120 s (src/server/main.ts).
    const server = await startServer(configFile, env, w.dir);
    try {
      await finishesInFlight(server);
    } finally {
      server.proc.kill('SIGKILL');
      gate.drop();
      gate.holding = true;
    }
  });

  test('SIGTERM: an order still running when the two minutes are up is stopped, answered 500, and the server exits 0', async () => {
    // Would fail if the grace's expiry did not stop the runs (Orders.stopRuns): the held order
    // would never end, nor the server.
    const server = await startServer(configFile, env, w.dir);
    try {
      const { csr } = await csrFor('late.plain.example.test');
      const answer = postCsr(sign, csr);
      assert.ok(await eventually(() => gate.held === 1), server.stderr());
      const mark = server.stderr().length;
      server.proc.kill('SIGTERM');
      await server.logged(/^virtual-clock: armed 120000$/, mark);
      server.proc.kill('SIGUSR2');
      assert.equal(await server.logged(/still running after/, mark), 'acme-client-server: shutdown: 1 order(s) still running after 120 s: stopping them');
      const { status, body } = await within(answer, 'the answer');
      assert.equal(status, 500, body);
      assert.deepEqual(await within(server.exited, 'the exit'), { code: 0, signal: null });
    } finally {
      server.proc.kill('SIGKILL');
      gate.drop();
      gate.holding = true;
    }
  });
});
