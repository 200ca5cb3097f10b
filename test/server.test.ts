// acme-client-server with real parts: Pebble; two nginx "web servers" (127.0.0.1 and 127.0.0.2, on
// Pebble's http-01 port) proxying /.well-known/acme-challenge/ to two server instances with
// proxy_next_upstream error timeout http_404; clients that are curl and openssl, as in seed 001_*;
// a fake CA only where Pebble cannot be made to rate-limit; BIND for dns01-dnsUpdate blocks.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { X509Certificate, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Lab, freePorts, labUnavailable, startLab } from '../scripts/pebble-lab.js';
import { FakeCa, problem } from './fakeca.js';
import { BindLab, bindUnavailable, startBind } from './bind-lab.js';
import { acmemsLayout } from '../src/server/orders.js';
import { childrenOf, eventually, needsRootAndLab, openssl, workDir, procStat } from './helpers.js';
import { SERVER, ServerProcess, postCsr, spawnServer } from './serverproc.js';

const skip = needsRootAndLab(labUnavailable);
const HMAC_KEY = 'n048aX0G2Gc8zAvUfcbz8fFIpRwi1D';


interface Instance extends ServerProcess {
  sign: string;
}

function startServer(config: string, env: NodeJS.ProcessEnv, signPort: number): Promise<Instance> {
  const server = spawnServer(['-v', '-f', config], env, workDir().dir);
  return server.logged(/listening for POST \/sign/).then(() => ({ ...server, sign: `http://127.0.0.1:${signPort}/sign` }));
}

/** The server run to its end (without blocking this process: a fake CA may answer from it). */
function runServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

interface CurlAnswer { status: number; body: string; headers: string }

function parseCurl(out: string): CurlAnswer {
  const split = out.indexOf('\r\n\r\n');
  const headers = out.slice(0, split);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]), headers, body: out.slice(split + 4) };
}

const register = (configFile: string, env: NodeJS.ProcessEnv): ReturnType<typeof runServer> => runServer(['--register', '--agree-tos', '-f', configFile], env);

function curl(args: string[]): CurlAnswer {
  return parseCurl(execFileSync('curl', ['-s', '-D', '-', ...args], { encoding: 'utf8' }));
}

/** curl without blocking this process, for a fake CA that answers from it. */
function curlAsync(args: string[]): Promise<CurlAnswer> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-s', '-D', '-', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(parseCurl(out)));
  });
}

/** The seed's client: openssl makes the key and the CSR, curl posts it (with the seed's HMAC header line). */
function seedClient(dir: string, names: string[], key?: string): string {
  const domainKey = key ?? join(dir, `${names[0]}.key`);
  if (key === undefined) writeFileSync(domainKey, openssl(['genrsa', '2048']));
  const csr = join(dir, `${names[0]}-${Date.now()}.csr`);
  openssl(['req', '-new', '-sha256', '-key', domainKey, '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-out', csr]);
  return csr;
}

function postWithHmac(url: string, csr: string, key: string): { status: number; body: string; headers: string } {
  // Exactly the seed's header line, with curl for wget: OpenSSL 3 names the digest SHA2-256 there.
  const header = execFileSync('sh', ['-c', `openssl dgst -sha256 -hmac '${key}' '${csr}' | sed -e 's/HMAC-\\(.*\\)(.*)= *\\(.*\\)/Authentication: hmac name=\\L\\1\\E, hash=\\2/'`], { encoding: 'utf8' }).trim();
  assert.match(header, /^Authentication: hmac name=sha2-256, hash=[0-9a-f]{64}$/);
  return curl(['--data-binary', `@${csr}`, '-H', header, url]);
}

/** One request written by hand: what curl would not send. */
function rawRequest(port: number, head: string, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.write(head + body);
  });
}

/** Every process below `root` (children, theirs...): pid -> command line. */
function descendants(root: number): Map<number, string> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = procStat(Number(entry))?.[1];
    if (parent !== undefined) parents.set(Number(entry), Number(parent));
  }
  const found = new Map<number, string>();
  const visit = (pid: number): void => {
    for (const [child, parent] of parents) {
      if (parent !== pid || found.has(child)) continue;
      try {
        found.set(child, readFileSync(`/proc/${child}/cmdline`, 'utf8').replaceAll('\0', ' '));
      } catch {
        continue;
      }
      visit(child);
    }
  };
  visit(root);
  return found;
}

/** Whether a process is gone (or a zombie: it has ended, its parent has not looked yet). */
function ended(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state === undefined || state === 'Z';
}

function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}

function config(opts: { account: string; acme: string; sign: number; challenge: number; cache: string; extra?: string }): string {
  return `# acme-client-server test configuration, in the Management Server's format
[account]
dir = ${opts.account}
acme-server = ${opts.acme}

[mgmt]
listener=127.0.0.1:${opts.sign}
max-size = 4k
default-verification = http
default-storage = file

[verification "http"]
type = http01
listener=127.0.0.1:${opts.challenge}

[storage "file"]
type = file
directory = ${opts.cache}

[storage "none"]
type = none

[auth "plain"]
ip=127.0.0.0/8
domain=*.plain.example.test

[auth "signed"]
ip=127.0.0.1
hmac_type=sha256
hmac_key=${HMAC_KEY}
domain=*.signed.example.test

[auth "elsewhere"]
ip=192.0.2.0/24
domain=*.elsewhere.example.test

[auth "unreachable"]
storage = none
domain=*.unreachable.example.test
${opts.extra ?? ''}`;
}

describe('acme-client-server behind two nginx web servers, against Pebble', { skip }, () => {
  let lab: Lab;
  const w = workDir();
  const account = join(w.dir, 'account');
  const ports = { sign1: 0, sign2: 0, challenge1: 0, challenge2: 0 };
  const files = { config1: join(w.dir, 'server1.ini'), config2: join(w.dir, 'server2.ini'), cache1: join(w.dir, 'cache1'), cache2: join(w.dir, 'cache2') };
  const servers: Instance[] = [];
  let env: NodeJS.ProcessEnv;

  before(async () => {
    [ports.sign1, ports.sign2, ports.challenge1, ports.challenge2] = (await freePorts(4)) as [number, number, number, number];
    lab = await startLab({ challengeUpstreams: [`127.0.0.1:${ports.challenge1}`, `127.0.0.1:${ports.challenge2}`] });
    env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    for (const dir of [files.cache1, files.cache2]) mkdirSync(dir);
    writeFileSync(files.config1, config({ account, acme: lab.directoryUrl, sign: ports.sign1, challenge: ports.challenge1, cache: files.cache1 }));
    writeFileSync(files.config2, config({ account, acme: lab.directoryUrl, sign: ports.sign2, challenge: ports.challenge2, cache: files.cache2 }));
    assert.deepEqual(await register(files.config1, env), { code: 0, output: '' });
    servers.push(await startServer(files.config1, env, ports.sign1), await startServer(files.config2, env, ports.sign2));
  });
  after(async () => {
    for (const server of servers) server.proc.kill('SIGKILL');
    await lab?.stop();
  });

  test('--register made the account key in the account dir, mode 0600, and the account', () => {
    const key = join(account, 'account.pem');
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.match(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(lab.requestLog(), /POST \/sign-me-up -> calling handler\(\)/);
  });

  // Would fail if frontproc kept root in any of its uids (a setreuid that changed the real uid
  // alone, or a seteuid alone), shared the server's network namespace, or held a file open.
  test('frontproc runs unprivileged, in a network namespace of its own, holding sockets and no file', () => {
    const front = childrenOf(servers[0]!.proc.pid as number).get('frontproc');
    assert.ok(front !== undefined, 'frontproc found');
    const status = readFileSync(`/proc/${front}/status`, 'utf8');
    // Real, effective, saved and filesystem uid and gid, as isolation.test.ts checks the children.
    for (const field of ['Uid', 'Gid']) {
      const ids = new RegExp(`^${field}:\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)$`, 'm').exec(status)?.slice(1).map(Number);
      assert.equal(ids?.length, 4, `${field} line of /proc/${front}/status`);
      assert.ok(ids.every((id) => id !== 0), `${field}: ${ids.join(' ')}`);
      assert.equal(new Set(ids).size, 1, `${field}: ${ids.join(' ')}: one unprivileged id, no way back`);
    }
    assert.notEqual(readlinkSync(`/proc/${front}/ns/net`), readlinkSync('/proc/self/ns/net'));
    const open = readdirSync(`/proc/${front}/fd`).map((fd) => readlinkSync(`/proc/${front}/fd/${fd}`));
    const files = open.filter((target) => !/^(socket|pipe|anon_inode):/.test(target) && target !== '/dev/null');
    assert.deepEqual(files, []);
    assert.ok(open.filter((target) => target.startsWith('socket:')).length >= 2, 'its listening sockets');
  });

  test('a CSR posted to the second server is validated through both web servers, each trying the first server, then the next on 404', async () => {
    const names = ['a.plain.example.test', 'b.plain.example.test'];
    await lab.resolveTo(names[1] as string, lab.secondWebServer as string);
    const csr = seedClient(w.dir, names);
    const answer = curl(['--data-binary', `@${csr}`, servers[1]!.sign]);
    assert.equal(answer.status, 200, answer.body);
    const blocks = answer.body.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    assert.ok(blocks.length >= 2, 'leaf and chain');
    const leaf = new X509Certificate(answer.body);
    assert.equal(leaf.subjectAltName, 'DNS:a.plain.example.test, DNS:b.plain.example.test');
    const csrKey = createPublicKey(openssl(['req', '-in', csr, '-noout', '-pubkey']));
    assert.ok(leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(csrKey.export({ type: 'spki', format: 'der' })));
    const roots = join(w.dir, 'issuers.pem');
    writeFileSync(roots, await lab.issuerPems());
    writeFileSync(join(w.dir, 'answer.pem'), answer.body);
    assert.match(openssl(['verify', '-CAfile', roots, '-untrusted', join(w.dir, 'answer.pem'), join(w.dir, 'answer.pem')]), /OK/);
    // Each web server asked the first server (404: not its order), then the second (200).
    for (const log of ['nginx-access.log', 'nginx-b-access.log']) {
      assert.match(readFileSync(join(lab.logDir, log), 'utf8'),
        new RegExp(`GET /\\.well-known/acme-challenge/\\S+ HTTP/1\\.1" 200 .*upstream=127\\.0\\.0\\.1:${ports.challenge1}, 127\\.0\\.0\\.1:${ports.challenge2} statuses=404, 200`), log);
    }
  });

  // Fails if the answer is fullchain.pem as it is (no empty line: one part) or keeps the type
  // application/pem-certificate-chain; the cached answer is checked too.
  test('a client written for the ACME Management Server: text/plain, split at the empty line into the certificate and its chain', () => {
    const csr = seedClient(w.dir, ['split.plain.example.test']);
    for (const answer of [curl(['--data-binary', `@${csr}`, servers[0]!.sign]), curl(['--data-binary', `@${csr}`, servers[0]!.sign])]) {
      assert.equal(answer.status, 200, answer.body);
      assert.match(answer.headers, /^content-type: text\/plain\r?$/im);
      const [leaf, chain, ...more] = answer.body.split('\n\n');
      assert.deepEqual(more, []);
      const certificate = new X509Certificate(leaf as string);
      assert.equal(certificate.subjectAltName, 'DNS:split.plain.example.test');
      assert.ok(certificate.checkIssued(new X509Certificate(chain as string)), 'the chain starts with the issuer');
    }
  });

  test('an identical CSR again: the same certificate from the cache, no request to the CA; together: one order', async () => {
    const names = ['cached.plain.example.test'];
    const csr = seedClient(w.dir, names);
    const first = curl(['--data-binary', `@${csr}`, servers[0]!.sign]);
    assert.equal(first.status, 200, first.body);
    const requests = lab.requestCount();
    const started = Date.now();
    const again = curl(['--data-binary', `@${csr}`, servers[0]!.sign]);
    assert.equal(again.status, 200);
    assert.equal(serialOf(again.body), serialOf(first.body));
    assert.equal(again.body, first.body);
    assert.equal(lab.requestCount(), requests, 'the CA was not asked');
    assert.ok(Date.now() - started < 60_000);

    const twins = seedClient(w.dir, ['twins.plain.example.test']);
    // The server logs each acme-client run it starts (Pebble's log cannot tell a new order from a badNonce retry).
    const orders = (): number => servers[0]!.stderr().split('\n').filter((l) => /: twins\.plain\.example\.test: ordering \(http01\)$/.test(l)).length;
    const before = orders();
    const post = (): Promise<string> => new Promise((resolve, reject) => {
      const child = spawn('curl', ['-s', '--data-binary', `@${twins}`, servers[0]!.sign], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('error', reject);
      child.on('close', () => resolve(out));
    });
    const [one, two] = await Promise.all([post(), post()]);
    assert.equal(serialOf(one), serialOf(two));
    assert.equal(orders() - before, 1, 'one order for two identical CSRs in flight');
  });

  test('with HMAC as the seed computes it (openssl dgst | sed, curl); without it, or with another key, 403', () => {
    const csr = seedClient(w.dir, ['mail.signed.example.test']);
    const signed = postWithHmac(servers[0]!.sign, csr, HMAC_KEY);
    assert.equal(signed.status, 200, signed.body);
    assert.equal(new X509Certificate(signed.body).subjectAltName, 'DNS:mail.signed.example.test');
    const unsigned = curl(['--data-binary', `@${csr}`, servers[0]!.sign]);
    assert.equal(unsigned.status, 403);
    assert.equal(unsigned.body, 'forbidden: no auth block admits mail.signed.example.test from 127.0.0.1\n');
    assert.equal(postWithHmac(servers[0]!.sign, csr, 'not the key').status, 403);
  });

  test('each refusal: 403, 404, 405, 411, 413 before the body is read, 415, 421; every one a line of plain text', async () => {
    const requests = lab.requestCount();
    const elsewhere = curl(['--data-binary', `@${seedClient(w.dir, ['x.elsewhere.example.test'])}`, servers[0]!.sign]);
    assert.equal(elsewhere.status, 403);
    const mixed = curl(['--data-binary', `@${seedClient(w.dir, ['y.plain.example.test', 'y.elsewhere.example.test'])}`, servers[0]!.sign]);
    assert.equal(mixed.status, 403, 'one name outside the block');
    assert.equal(curl([`http://127.0.0.1:${ports.sign1}/other`]).status, 404);
    const get = curl([servers[0]!.sign]);
    assert.equal(get.status, 405);
    assert.match(get.headers, /^allow: POST/mi);

    const noLength = await rawRequest(ports.sign1, 'POST /sign HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', '0\r\n\r\n');
    assert.match(noLength, /^HTTP\/1\.1 411 /);
    // Headers announcing 100 kB and not a byte of body: the answer comes all the same.
    const tooLarge = await rawRequest(ports.sign1, 'POST /sign HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
    assert.match(tooLarge, /^HTTP\/1\.1 413 /);
    assert.match(tooLarge, /\r\n\r\nCSR too large: 100000 bytes, max-size is 4096\n$/);

    const garbage = join(w.dir, 'garbage.csr');
    writeFileSync(garbage, 'not a CSR at all\n');
    const notCsr = curl(['--data-binary', `@${garbage}`, servers[0]!.sign]);
    assert.equal(notCsr.status, 415);
    assert.equal(notCsr.body, 'not a usable CSR: not a PEM certificate request\n');
    const good = readFileSync(seedClient(w.dir, ['z.plain.example.test']), 'utf8');
    const der = Buffer.from(good.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 1] ^= 1;
    const forged = join(w.dir, 'forged.csr');
    writeFileSync(forged, `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`);
    const bad = curl(['--data-binary', `@${forged}`, servers[0]!.sign]);
    assert.equal(bad.status, 415);
    assert.equal(bad.body, 'not a usable CSR: bad signature: the request was not signed by its own key\n');
    assert.equal(lab.requestCount(), requests, 'no refusal so far asked the CA');

    // Validation fails: the name resolves where no web server listens.
    await lab.resolveTo('v.unreachable.example.test', '127.0.0.3');
    const invalid = curl(['--data-binary', `@${seedClient(w.dir, ['v.unreachable.example.test'])}`, servers[0]!.sign]);
    assert.equal(invalid.status, 421);
    assert.match(invalid.body, /^validation failed: v\.unreachable\.example\.test: validation failed: urn:ietf:params:acme:error:connection: .+\n$/);
    assert.equal(invalid.body.split('\n').length, 2, 'one line');
  });

  test('SIGHUP reads the configuration again; a bad one is reported and the running one kept', async () => {
    const csr = seedClient(w.dir, ['n.added.example.test']);
    assert.equal(curl(['--data-binary', `@${csr}`, servers[0]!.sign]).status, 403);
    const original = readFileSync(files.config1, 'utf8');
    writeFileSync(files.config1, `${original}\n[auth "added"]\nip=127.0.0.1\ndomain=*.added.example.test\n`);
    let mark = servers[0]!.stderr().length;
    servers[0]!.proc.kill('SIGHUP');
    await servers[0]!.logged(/configuration read again/, mark);
    assert.equal(curl(['--data-binary', `@${csr}`, servers[0]!.sign]).status, 200);

    writeFileSync(files.config1, `${original}\n[auth "typo"]\ndomian=*.added.example.test\n`);
    mark = servers[0]!.stderr().length;
    servers[0]!.proc.kill('SIGHUP');
    const line = await servers[0]!.logged(/domian/, mark);
    assert.match(line, new RegExp(`^acme-client-server: ${files.config1}:\\d+: domian: unknown key in \\[auth "typo"\\]$`));
    assert.equal(curl(['--data-binary', `@${seedClient(w.dir, ['m.added.example.test'])}`, servers[0]!.sign]).status, 200, 'the running configuration is kept');
    writeFileSync(files.config1, original);
  });
});

describe('acme-client-server: stopping and starting', { skip }, () => {
  let lab: Lab;
  const w = workDir();
  const account = join(w.dir, 'account');
  let ports: { sign: number; challenge: number };
  const cache = join(w.dir, 'cache');
  const configFile = join(w.dir, 'server.ini');
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const [sign, challenge] = (await freePorts(2)) as [number, number];
    ports = { sign, challenge };
    lab = await startLab({ challengeUpstreams: [`127.0.0.1:${ports.challenge}`] });
    env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    mkdirSync(cache);
    writeFileSync(configFile, config({ account, acme: lab.directoryUrl, sign: ports.sign, challenge: ports.challenge, cache }));
    assert.equal((await register(configFile, env)).code, 0);
  });
  after(async () => {
    await lab?.stop();
  });

  const postInBackground = (csr: string): Promise<{ status: number; body: string }> => postCsr(`http://127.0.0.1:${ports.sign}/sign`, csr);

  test('SIGTERM finishes the request in flight: answered, cached, and the server exits 0', async () => {
    const server = await startServer(configFile, env, ports.sign);
    const csr = seedClient(w.dir, ['term.plain.example.test']);
    const answer = postInBackground(csr);
    await server.logged(/term\.plain\.example\.test: http-01 challenge published/);
    server.proc.kill('SIGTERM');
    const { status, body } = await answer;
    assert.equal(status, 200, body);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    const entries = readdirSync(cache);
    assert.ok(entries.some((e) => existsSync(join(cache, e, 'fullchain.pem')) && acmemsLayout(readFileSync(join(cache, e, 'fullchain.pem'), 'utf8')) === body), 'cached');
  });

  // Would fail if a certificate file of an entry were written other than atomically and all
  // together (a cert.pem without its fullchain.pem, a fullchain.pem that is not cert + chain), or
  // if the acme-client run of a killed server ran on for ever.
  test('a server killed mid-order leaves no broken cache entry, and the next request succeeds', async () => {
    const server = await startServer(configFile, env, ports.sign);
    const csr = seedClient(w.dir, ['killed.plain.example.test']);
    const answer = postInBackground(csr);
    await server.logged(/killed\.plain\.example\.test: http-01 challenge published/);
    // The server's process tree, its acme-client run among it, as it is when the server dies.
    const tree = descendants(server.proc.pid as number);
    assert.ok([...tree.values()].some((command) => command.includes('acme-client.js') && command.includes(cache)), 'the acme-client run for the order');
    server.proc.kill('SIGKILL');
    assert.notEqual((await answer).status, 200);
    await server.exited;
    assert.equal(await eventually(() => [...tree.keys()].every(ended)), true, `still running: ${[...tree.keys()].filter((pid) => !ended(pid)).map((pid) => tree.get(pid)).join('; ')}`);
    // Whatever the killed run got to: every entry holds all three certificate files, consistent, or none.
    const whole = ['cert.pem', 'chain.pem', 'fullchain.pem'];
    for (const entry of readdirSync(cache)) {
      const dir = join(cache, entry);
      const certificates = readdirSync(dir).filter((f) => whole.includes(f)).sort();
      if (certificates.length === 0) continue;
      assert.deepEqual(certificates, whole, `${entry}: a whole entry or none`);
      const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      assert.doesNotThrow(() => new X509Certificate(cert), `${entry}: cert.pem is a certificate`);
      assert.equal(readFileSync(join(dir, 'fullchain.pem'), 'utf8'), cert + readFileSync(join(dir, 'chain.pem'), 'utf8'));
    }
    const restarted = await startServer(configFile, env, ports.sign);
    try {
      const again = await postInBackground(csr);
      assert.equal(again.status, 200, again.body);
      assert.equal(new X509Certificate(again.body).subjectAltName, 'DNS:killed.plain.example.test');
    } finally {
      restarted.proc.kill('SIGKILL');
    }
  });

  // An unknown key in [mgmt] is only a warning, as in the Management Server (test/acmems.test.ts); in [auth] it fails.
  test('a configuration it does not understand: one line naming file, line and key, nothing listens, exit 1', async () => {
    const bad = join(w.dir, 'bad.ini');
    const text = readFileSync(configFile, 'utf8').replace('domain=*.signed.example.test', 'domain=*.signed.example.test\nhmac-key = typo');
    writeFileSync(bad, text);
    const line = text.split('\n').indexOf('hmac-key = typo') + 1;
    assert.deepEqual(await runServer(['-f', bad]), { code: 1, output: `acme-client-server: ${bad}:${line}: hmac-key: unknown key in [auth "signed"]\n` });
  });

  test('the account key must be there: said in one line, with the command that makes it', async () => {
    const other = join(w.dir, 'noaccount.ini');
    writeFileSync(other, readFileSync(configFile, 'utf8').replace(`dir = ${account}`, `dir = ${join(w.dir, 'none')}`));
    assert.deepEqual(await runServer(['-f', other]),
      { code: 1, output: `acme-client-server: ${join(w.dir, 'none', 'account.pem')}: no account key: make one with acme-client-server --register --agree-tos -f ${other}\n` });
  });
});

describe('acme-client-server: the CA rate-limits (429 with Retry-After), a run fails (500, logged)', { skip: needsRootAndLab(() => undefined) }, () => {
  test('429 carries the CA\'s Retry-After; 500 is one line and the log says why', async () => {
    const ca = await FakeCa.start((ex) => (ex.route === 'newOrder'
      ? { ...problem(429, 'rateLimited', 'too many certificates'), headers: { 'content-type': 'application/problem+json', 'retry-after': '7200' } }
      : undefined));
    const w = workDir();
    const [sign, challenge] = (await freePorts(2)) as [number, number];
    const account = join(w.dir, 'account');
    const cache = join(w.dir, 'cache');
    mkdirSync(cache);
    const configFile = join(w.dir, 'server.ini');
    writeFileSync(configFile, config({ account, acme: ca.directoryUrl, sign, challenge, cache }));
    const env = { NODE_EXTRA_CA_CERTS: ca.caFile };
    assert.equal((await register(configFile, env)).code, 0);
    const server = await startServer(configFile, env, sign);
    try {
      const limited = await curlAsync(['--data-binary', `@${seedClient(w.dir, ['r.plain.example.test'])}`, server.sign]);
      assert.equal(limited.status, 429);
      assert.equal(limited.body, 'rate limited by the CA: try again later\n');
      const retryAfter = Number(/^retry-after: (\d+)/mi.exec(limited.headers)?.[1]);
      assert.ok(retryAfter > 7100 && retryAfter <= 7200, String(retryAfter));

      writeFileSync(join(account, 'account.pem'), 'not a key\n');
      const mark = server.stderr().length;
      const failed = await curlAsync(['--data-binary', `@${seedClient(w.dir, ['f.plain.example.test'])}`, server.sign]);
      assert.equal(failed.status, 500);
      assert.equal(failed.body, 'internal error: the server has logged it\n');
      assert.match(await server.logged(/POST \/sign f\.plain\.example\.test: 500: /, mark), /no PEM private key found/);
    } finally {
      server.proc.kill('SIGKILL');
      await ca.stop();
    }
  });
});

describe('acme-client-server with a dns01-dnsUpdate block: acme-client-dns01 updates BIND, Pebble resolves through it', { skip: needsRootAndLab(() => labUnavailable() ?? bindUnavailable()) }, () => {
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

  test('a CSR admitted to the block issues over dns-01, its records removed after; a block without a TSIG key updates unsigned, as the Management Server did', async () => {
    const w = workDir();
    const [sign, challenge] = (await freePorts(2)) as [number, number];
    const configFile = join(w.dir, 'server.ini');
    const cache = join(w.dir, 'cache');
    mkdirSync(cache);
    writeFileSync(configFile, `[account]
dir = ${join(w.dir, 'account')}
acme-server = ${lab.directoryUrl}
[mgmt]
listener = 127.0.0.1:${sign}
default-verification = dns
[verification "http"]
type = http01
listener = 127.0.0.1:${challenge}
[verification "dns"]
type = dns01-dnsUpdate
dns-server = ${bind.primary}
ttl = 60
timeout = 10
tsig-key-file = ${bind.keys.example}
[verification "unsigned"]
type = dns01-dnsUpdate
dns-server = ${bind.primary}
[storage "file"]
type = file
directory = ${cache}
[auth "unsigned"]
ip = 127.0.0.1
verification = unsigned
domain = *.open.test
[auth "dns"]
ip = 127.0.0.1
domain = *.example.test
`);
    const env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    assert.equal((await register(configFile, env)).code, 0);
    const server = await startServer(configFile, env, sign);
    try {
      const answer = await curlAsync(['--data-binary', `@${seedClient(w.dir, ['srv.example.test'])}`, server.sign]);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(new X509Certificate(answer.body).subjectAltName, 'DNS:srv.example.test');
      await bind.secondaryInSync();
      assert.deepEqual([await bind.txt(bind.primary, '_acme-challenge.srv.example.test'), await bind.txt(bind.secondary, '_acme-challenge.srv.example.test')], [[], []]);

      // The Management Server's own dns01-dnsUpdate blocks have no key; BIND allows open.test by address.
      const unsigned = await curlAsync(['--data-binary', `@${seedClient(w.dir, ['srv.open.test'])}`, server.sign]);
      assert.equal(unsigned.status, 200, unsigned.body);
      assert.equal(new X509Certificate(unsigned.body).subjectAltName, 'DNS:srv.open.test');
      assert.deepEqual(await bind.txt(bind.primary, '_acme-challenge.srv.open.test'), []);
    } finally {
      server.proc.kill('SIGKILL');
    }
  });
});

describe('acme-client-server --register at a CA that wants an external account binding', { skip }, () => {
  const kid = 'server-kid';
  const macKey = randomBytes(32).toString('base64url');
  let lab: Lab;
  before(async () => {
    lab = await startLab({ externalAccountMACKeys: { [kid]: macKey } });
  });
  after(async () => {
    await lab?.stop();
  });

  test('without the binding: one line naming --eab-kid, no account; with it: the account and its key', async () => {
    const w = workDir();
    const [sign] = (await freePorts(1)) as [number];
    const account = join(w.dir, 'account');
    const configFile = join(w.dir, 'server.ini');
    writeFileSync(configFile, `[account]\ndir = ${account}\nacme-server = ${lab.directoryUrl}\n[mgmt]\nlistener = 127.0.0.1:${sign}\n`);
    const env = { NODE_EXTRA_CA_CERTS: lab.tlsCaFile };
    const refused = await register(configFile, env);
    assert.equal(refused.code, 1);
    assert.match(refused.output, /^acme-client: \S+\/sign-me-up: the CA requires External Account Binding for a new account: give --eab-kid and --eab-hmac-key-file\n$/);

    const macFile = join(w.priv, 'eab.key');
    writeFileSync(macFile, `${macKey}\n`, { mode: 0o600 });
    const made = await runServer(['--register', '--agree-tos', '--eab-kid', kid, '--eab-hmac-key-file', macFile, '-f', configFile], env);
    assert.deepEqual(made, { code: 0, output: '' });
    assert.equal(statSync(join(account, 'account.pem')).mode & 0o777, 0o600);
  });
});
